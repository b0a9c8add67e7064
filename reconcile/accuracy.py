"""Accuracy without labels: how many links the model expects to be wrong or missing.

fastLink-style estimates from the row probabilities, published as model indicators: they
are over-confident where fields err together (README_MATCHING, "Label-free accuracy
estimates", compares them with truth). Per row:

* a linked row is right with its `match_probability` p, so wrong with 1 - p;
* its person is in the register at all with `in_register_probability` q (the row
  probabilities of all its candidates summed, so q >= p);
* a missed link is a row whose person is in the register but not (correctly) linked:
  q for an unlinked row, q - p for a linked one (linked to someone else). That is the
  scorer's rule (score.py: a wrong id is a false and a missed link at once).

Estimated precision = expected right links / links; recall = expected right links /
(expected right + expected missed) = expected right / expected rows in the register.

Once officers have reviewed a blind audit sample, `audit_precision` turns the reviewed
links per probability band into a measured precision with an interval.
"""

from __future__ import annotations

import math

import duckdb
import pandas as pd

from reconcile import db
from reconcile.tables import Table

ESTIMATES = "accuracy_estimates"
Z95 = 1.959963984540054  # two-sided 95% normal quantile
FIGURES = ("links", "expected_false_links", "expected_missed_links", "estimated_precision",
           "estimated_recall")

# The group keys, shared with the bench's truth side (synth.bench.metrics).
PROGRAM_SQL = "coalesce(program, 'unknown')"
REGENCY_SQL = "coalesce(left(kode_wilayah, 5), 'unknown')"
LEVEL_SQL = """CASE WHEN grouping(program) = 0 THEN 'program'
                WHEN grouping(kode_kabupaten) = 0 THEN 'kabupaten' ELSE 'overall' END"""
GROUPING_SETS = "GROUPING SETS ((), (program), (kode_kabupaten))"

# One row per clean Kemensos row: p(right link) and q(in the register), both 0 if unknown
# for an unlinked row; a linked row without a probability counts as certain (NIK rules).
_ROWS_SQL = f"""
SELECT {PROGRAM_SQL} AS program, {REGENCY_SQL} AS kode_kabupaten,
       (id_individu IS NOT NULL)::INT AS linked,
       CASE WHEN id_individu IS NULL THEN 0.0 ELSE coalesce(match_probability, 1.0) END AS p,
       greatest(coalesce(in_register_probability, 0.0), p) AS q
FROM {Table.RECONCILED}
"""

ESTIMATES_SQL = f"""
CREATE OR REPLACE TABLE {ESTIMATES} AS
WITH r AS ({_ROWS_SQL}),
g AS (
    SELECT {LEVEL_SQL} AS level,
           program, kode_kabupaten, count(*) AS rows, sum(linked)::BIGINT AS links,
           sum(p) AS expected_right_links, sum(linked - p) AS expected_false_links,
           sum(q - p) AS expected_missed_links
    FROM r GROUP BY {GROUPING_SETS})
SELECT level, program, kode_kabupaten, rows, links, expected_false_links,
       expected_missed_links,
       CASE WHEN links > 0 THEN expected_right_links / links END AS estimated_precision,
       CASE WHEN expected_right_links + expected_missed_links > 0
            THEN expected_right_links / (expected_right_links + expected_missed_links)
       END AS estimated_recall
FROM g
ORDER BY list_position(['overall', 'program', 'kabupaten'], level), program, kode_kabupaten
"""


def estimate(con: duckdb.DuckDBPyConnection) -> dict:
    """Write ESTIMATES (overall, per program, per regency) from `reconciled`; return the
    overall figures and the per-program ones for the manifest (regencies are too many
    for it: they stay in the table, which the reports read)."""
    db.run(con, ESTIMATES_SQL)
    rows = db.df(con, f"SELECT * FROM {ESTIMATES} WHERE level IN ($overall, $program)",
                 {"overall": "overall", "program": "program"})
    overall = rows[rows["level"] == "overall"].iloc[0]
    programs = rows[rows["level"] == "program"]
    return {**_figures(overall), "kind": "model estimate, no labels",
            "per_program": {str(r["program"]): _figures(r) for _, r in programs.iterrows()}}


def _figures(row: pd.Series) -> dict:
    """The manifest's rounded figures of one estimates row (None where undefined)."""
    def number(key: str, digits: int) -> float | None:
        value = row[key]
        return None if pd.isna(value) else round(float(value), digits)

    return {"links": int(row["links"]),
            "expected_false_links": number("expected_false_links", 1),
            "expected_missed_links": number("expected_missed_links", 1),
            "estimated_precision": number("estimated_precision", 5),
            "estimated_recall": number("estimated_recall", 5)}


# --- measured precision from audit samples ------------------------------------------

def wilson(correct: float, reviewed: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of correct/reviewed: unlike the normal interval it stays
    inside [0, 1] and is not zero-width when every reviewed link was right.

    >>> [round(x, 4) for x in wilson(90, 100)]
    [0.8256, 0.9448]
    """
    if reviewed <= 0:
        return math.nan, math.nan
    share, z2 = correct / reviewed, z * z
    centre = (share + z2 / (2 * reviewed)) / (1 + z2 / reviewed)
    half = z / (1 + z2 / reviewed) * math.sqrt(
        share * (1 - share) / reviewed + z2 / (4 * reviewed * reviewed))
    return max(0.0, centre - half), min(1.0, centre + half)


def audit_precision(bands: pd.DataFrame, z: float = Z95) -> pd.DataFrame:
    """Precision measured on an audit sample drawn per probability band.

    `bands` has one row per band: `band`, `population` (links in the band), `reviewed`
    (sampled links an officer decided) and `correct` (of those, judged the same person).
    Returns one row per band (precision = correct / reviewed, 95% Wilson interval) and a
    last row `band = 'overall'`: the Horvitz-Thompson estimate, each band weighted by its
    share of the links W_h, because the sample over-represents the uncertain bands.

    Its interval is normal with the stratified variance sum W_h^2 p~_h (1 - p~_h) / (n_h
    + z^2) (1 - n_h / N_h): p~ is the Agresti-Coull proportion so an all-correct band
    still carries uncertainty, and a fully reviewed band carries none. A band nobody
    reviewed has no precision; the overall point estimate is over the reviewed bands
    (re-weighted), and its interval is widened to hold the unreviewed links all wrong
    (lower end) or all right (upper end); `coverage` is the reviewed bands' share.
    """
    out = bands[["band", "population", "reviewed", "correct"]].copy()
    reviewed = out["reviewed"].astype(float)
    out["precision"] = (out["correct"] / reviewed).where(reviewed > 0)
    limits = [wilson(c, n, z) for c, n in zip(out["correct"], reviewed, strict=True)]
    out["ci_low"] = [low for low, _ in limits]
    out["ci_high"] = [high for _, high in limits]
    out["coverage"] = (reviewed > 0).astype(float)
    return pd.concat([out, _horvitz_thompson(out, z)], ignore_index=True)


def _horvitz_thompson(bands: pd.DataFrame, z: float) -> pd.DataFrame:
    """The band-weighted overall row of `audit_precision`."""
    population = bands["population"].astype(float)
    seen = bands[bands["reviewed"] > 0]
    total, covered = population.sum(), population[bands["reviewed"] > 0].sum()
    row = {"band": "overall", "population": total, "reviewed": bands["reviewed"].sum(),
           "correct": bands["correct"].sum(), "precision": math.nan, "ci_low": math.nan,
           "ci_high": math.nan, "coverage": covered / total if total else math.nan}
    if covered > 0:
        weight = seen["population"].astype(float) / covered
        n = seen["reviewed"].astype(float)
        adjusted = (seen["correct"] + z * z / 2) / (n + z * z)
        finite = (1 - n / seen["population"].astype(float)).clip(lower=0)
        variance = (weight ** 2 * adjusted * (1 - adjusted) / (n + z * z) * finite).sum()
        point = float((weight * seen["correct"] / n).sum())
        half, share = z * math.sqrt(variance), float(covered / total)
        row.update(precision=point, ci_low=share * max(0.0, point - half),
                   ci_high=share * min(1.0, point + half) + (1 - share))
    return pd.DataFrame([row])
