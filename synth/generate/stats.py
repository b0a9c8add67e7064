"""Family welfare deciles and the BPS-style poverty table that goes with them.

Desil is a national ranking of families (DTSEN, domain brief §1.8), so a poor province has
more than 10% of its families in desil 1. Each regency's latent welfare level is calibrated
so that people in desil 1 plus half of desil 2 match its real poverty rate; the published
table is then a survey-like noisy estimate of that (macro vs micro data, §5.6).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# BPS P0 (%) for Bengkulu's regencies, 2024 where reported, else 2023 (domain brief §5.4).
# Bengkulu Utara is not in the brief: it gets the provincial March 2024 rate.
BENGKULU_P0 = {
    "17.01": 17.10, "17.02": 14.65, "17.03": 13.56, "17.04": 17.12, "17.05": 17.23,
    "17.06": 10.76, "17.07": 11.15, "17.08": 14.12, "17.09": 9.40, "17.71": 13.76,
}
OTHER_P0 = (8.0, 16.0)             # drawn for regencies outside Bengkulu
NORMAL_DECILES = np.array([-1.2816, -0.8416, -0.5244, -0.2533, 0.0,
                           0.2533, 0.5244, 0.8416, 1.2816])
URBAN_BONUS = 0.25                 # kelurahan families are better off
SIZE_PENALTY = 0.12                # per member above the mean: big families are poorer
POOR_SHARE_OF_DESIL_2 = 0.5
SURVEY_NOISE = 0.04                # relative s.d. of the Susenas-like estimate
EXTREME_SHARE_OF_POOR = (0.06, 0.09)  # extreme poor ($2.15 PPP-2017 line) ~1% of people
STATS_YEAR = "2024"


def regency_p0(rng: np.random.Generator, regencies: np.ndarray) -> np.ndarray:
    """Target poverty rate (fraction) per regency code ('PP.KK')."""
    drawn = rng.uniform(*OTHER_P0, len(regencies))
    known = pd.Series(regencies).map(BENGKULU_P0).to_numpy(dtype=float)
    return np.where(np.isnan(known), drawn, known) / 100


def _desil(level: np.ndarray) -> np.ndarray:
    return np.searchsorted(NORMAL_DECILES, level) + 1


def _poor_share(desil: np.ndarray, size: np.ndarray, regency: np.ndarray, k: int) -> np.ndarray:
    poor = np.bincount(regency, size * ((desil == 1) + POOR_SHARE_OF_DESIL_2 * (desil == 2)), k)
    people = np.bincount(regency, size, k)
    return np.divide(poor, people, out=np.zeros(k), where=people > 0)


def draw_desil(rng: np.random.Generator, regency: np.ndarray, urban: np.ndarray,
               size: np.ndarray, target_p0: np.ndarray) -> np.ndarray:
    """Desil 1-10 per family; `regency` indexes `target_p0`."""
    k = len(target_p0)
    base = URBAN_BONUS * urban - SIZE_PENALTY * (size - size.mean()) + rng.normal(0, 1, len(size))
    lo, hi = np.full(k, -3.0), np.full(k, 3.0)
    for _ in range(30):  # bisection on each regency's welfare shift, all regencies at once
        mid = (lo + hi) / 2
        too_poor = _poor_share(_desil(base + mid[regency]), size, regency, k) > target_p0
        lo, hi = np.where(too_poor, mid, lo), np.where(too_poor, hi, mid)
    return _desil(base + ((lo + hi) / 2)[regency])


def poverty_table(rng: np.random.Generator, regency_codes: np.ndarray, regency: np.ndarray,
                  desil: np.ndarray, size: np.ndarray) -> pd.DataFrame:
    """One row per regency: population from the register, poverty as a noisy estimate."""
    k = len(regency_codes)
    population = np.bincount(regency, size, k).astype(np.int64)
    poor_true = _poor_share(desil, size, regency, k) * population
    poor = np.round(poor_true * np.exp(rng.normal(0, SURVEY_NOISE, k))).astype(np.int64)
    extreme = poor * rng.uniform(*EXTREME_SHARE_OF_POOR, k)
    pct = np.divide(100 * poor, population, out=np.zeros(k), where=population > 0)
    pct_extreme = np.divide(100 * extreme, population, out=np.zeros(k), where=population > 0)
    return pd.DataFrame({
        "kode_wilayah": regency_codes,
        "tahun": STATS_YEAR,
        "jumlah_penduduk": population.astype(str),
        "penduduk_miskin": poor.astype(str),
        "persen_miskin": np.char.mod("%.2f", pct),
        "persen_miskin_ekstrem": np.char.mod("%.2f", pct_extreme),
    })[population > 0].reset_index(drop=True)
