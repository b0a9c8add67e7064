"""Family addresses: a street in a kelurahan, a dusun in a desa, plus RT/RW.

The parts are kept per family so that each source can write them in its own style
(RT 003 / RT 3 / RT.003, with or without RW), as real exports do (domain brief §6.5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import vocab as v
from .text import concat, pick, zfill

MAX_RT, MAX_RW, MAX_HOUSE_NO = 15, 6, 150
STYLES = 3  # style 0 is the register's


def draw_addresses(rng: np.random.Generator, urban: np.ndarray) -> pd.DataFrame:
    """Address parts for families; `urban` marks kelurahan (street addresses)."""
    n = len(urban)
    return pd.DataFrame({
        "urban": urban,
        "place": np.where(urban, pick(rng, v.STREETS, n), pick(rng, v.DUSUN_ROMAN, n)),
        "house_no": rng.integers(1, MAX_HOUSE_NO + 1, n),
        "rt": rng.integers(1, MAX_RT + 1, n),
        "rw": rng.integers(1, MAX_RW + 1, n),
    })


def _styled(place: np.ndarray, no: np.ndarray, rt: np.ndarray, rw: np.ndarray,
            urban: np.ndarray, style: int) -> np.ndarray:
    if style == 0:
        street = concat("JL. ", place, " NO. ", no, " RT ", zfill(rt, 2), "/RW ", zfill(rw, 2))
        dusun = concat("DUSUN ", place, " RT ", zfill(rt, 3), " RW ", zfill(rw, 3))
    elif style == 1:
        street = concat("JL ", place, " NO ", no, " RT ", zfill(rt, 3), " RW ", zfill(rw, 3))
        dusun = concat("DUSUN ", place, " RT.", zfill(rt, 3), "/RW.", zfill(rw, 3))
    else:
        street = concat("JALAN ", place, " ", no, " RT ", rt.astype(str))
        dusun = concat("DSN ", place, " RT ", rt.astype(str), " RW ", rw.astype(str))
    return np.where(urban, street, dusun)


def format_addresses(parts: pd.DataFrame, style: np.ndarray | int = 0) -> np.ndarray:
    """Address text in one of STYLES styles (0 is the register's).

    >>> parts = pd.DataFrame({"urban": [True, False], "place": ["MERDEKA", "II"],
    ...                       "house_no": [12, 0], "rt": [2, 3], "rw": [5, 1]})
    >>> format_addresses(parts).tolist()
    ['JL. MERDEKA NO. 12 RT 02/RW 05', 'DUSUN II RT 003 RW 001']
    >>> format_addresses(parts, 2).tolist()
    ['JALAN MERDEKA 12 RT 2', 'DSN II RT 3 RW 1']
    """
    style = np.broadcast_to(style, len(parts))
    out = np.empty(len(parts), dtype=object)
    for s in np.unique(style):
        sub = parts[style == s]
        out[style == s] = _styled(sub["place"].to_numpy(str), sub["house_no"].to_numpy().astype(str),
                                  sub["rt"].to_numpy(), sub["rw"].to_numpy(),
                                  sub["urban"].to_numpy(bool), int(s))
    return out.astype(str)
