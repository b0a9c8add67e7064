"""Quality metrics of a matching run against the generator's truth.

Link metrics are per Kemensos row: the row's predicted id_individu (through its person)
against true_id_individu. Dedupe metrics are over pairs of Kemensos rows: same predicted
person versus same true person. `estimates_vs_truth` checks the pipeline's label-free
accuracy estimates (reconcile.accuracy) against the same truth.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from reconcile import accuracy
from reconcile.tables import Table


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def link_metrics(pred: pd.Series, truth: pd.Series, not_in_register: pd.Series) -> dict:
    """Precision, recall, F1 of row links and the share of not-in-register rows linked."""
    predicted, true = pred.notna(), truth.notna()
    correct = int((predicted & true & (pred == truth)).sum())
    p = correct / max(int(predicted.sum()), 1)
    r = correct / max(int(true.sum()), 1)
    nir = not_in_register.astype(bool)
    return {"link_precision": p, "link_recall": r, "link_f1": _f1(p, r),
            "nir_linked": float(predicted[nir].mean()) if nir.any() else 0.0}


def dedupe_metrics(pred_person: pd.Series, true_person: pd.Series) -> dict:
    """Pairwise precision, recall and F1 of the row clustering."""
    both = pd.DataFrame({"p": pred_person.to_numpy(), "t": true_person.to_numpy()})
    tp = _pairs(both.groupby(["p", "t"]).size())
    pp, tt = _pairs(both.groupby("p").size()), _pairs(both.groupby("t").size())
    p, r = tp / max(pp, 1), tp / max(tt, 1)
    return {"dedupe_precision": p, "dedupe_recall": r, "dedupe_f1": _f1(p, r)}


# --- label-free estimates against the truth -----------------------------------------

GOAL_PP = 0.5  # issue 12: estimates within 0.5 percentage points of the truth

# Right links and rows in the register per group of reconciled rows, grouped exactly as
# reconcile.accuracy groups its estimates, joined to them.
TRUTH_VS_ESTIMATE_SQL = f"""
WITH r AS (
    SELECT {accuracy.PROGRAM_SQL} AS program, {accuracy.REGENCY_SQL} AS kode_kabupaten,
           id_individu, t.true_id_individu AS t
    FROM {Table.RECONCILED} LEFT JOIN bench_truth t USING (id_penerima)),
g AS (
    SELECT {accuracy.LEVEL_SQL} AS level, program, kode_kabupaten,
           count(*) FILTER (id_individu = t) / nullif(count(id_individu), 0) AS true_precision,
           count(*) FILTER (id_individu = t) / nullif(count(t), 0) AS true_recall
    FROM r GROUP BY {accuracy.GROUPING_SETS})
SELECT e.level, e.program, e.kode_kabupaten, e.links, e.estimated_precision,
       g.true_precision, e.estimated_recall, g.true_recall
FROM {accuracy.ESTIMATES} e JOIN g ON e.level = g.level
     AND e.program IS NOT DISTINCT FROM g.program
     AND e.kode_kabupaten IS NOT DISTINCT FROM g.kode_kabupaten
"""


def estimates_vs_truth(con: duckdb.DuckDBPyConnection, truth: pd.DataFrame) -> dict:
    """reconcile.accuracy's estimates on the `reconciled` rows of `con` against the truth
    (`id_penerima`, `true_id_individu`) of the same rows: overall, per program, and per
    regency summarised as the largest error and the count within GOAL_PP; rows without a
    region code apart.

    The truth side counts only reconciled rows, as the estimate does: quarantined rows
    (the bench's link recall counts them as missed) are outside what the model sees.
    """
    accuracy.estimate(con)
    con.register("bench_truth_frame", truth[["id_penerima", "true_id_individu"]])
    con.execute("CREATE OR REPLACE TEMP TABLE bench_truth AS SELECT id_penerima::VARCHAR "
                "AS id_penerima, true_id_individu::VARCHAR AS true_id_individu "
                "FROM bench_truth_frame")
    both = con.execute(TRUTH_VS_ESTIMATE_SQL).df()
    for kind in ("precision", "recall"):
        both[f"{kind}_error_pp"] = 100 * (both[f"estimated_{kind}"] - both[f"true_{kind}"])
    regencies = both[(both["level"] == "kabupaten") & (both["kode_kabupaten"] != "unknown")]
    unknown = both[(both["level"] == "kabupaten") & (both["kode_kabupaten"] == "unknown")]
    return {"overall": _record(both[both["level"] == "overall"].iloc[0]),
            "per_program": {str(r["program"]): _record(r)
                            for _, r in both[both["level"] == "program"].iterrows()},
            "regencies": {"n": len(regencies), **_spread(regencies, "precision"),
                          **_spread(regencies, "recall")},
            "no_region_code": _record(unknown.iloc[0]) if len(unknown) else None}


def _record(row: pd.Series) -> dict:
    keys = ("links", "estimated_precision", "true_precision", "precision_error_pp",
            "estimated_recall", "true_recall", "recall_error_pp")
    return {k: None if pd.isna(row[k]) else float(row[k]) for k in keys}


def _spread(regencies: pd.DataFrame, kind: str) -> dict:
    """Largest absolute error across regencies, where, and how many are within GOAL_PP
    (rows without a region code are reported apart: they are no regency)."""
    error = regencies.set_index("kode_kabupaten")[f"{kind}_error_pp"].dropna().abs()
    return {f"{kind}_max_abs_error_pp": float(error.max()) if len(error) else None,
            f"{kind}_worst_regency": str(error.idxmax()) if len(error) else None,
            f"{kind}_within_goal": int((error <= GOAL_PP).sum()),
            f"{kind}_regencies": len(error)}
