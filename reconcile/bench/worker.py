"""One bench measurement in its own process, so peak memory is its own.

    python -m reconcile.bench.worker {ours|splink} <folder>   -> prints one JSON line
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import pandas as pd

from reconcile import db
from reconcile.bench.metrics import dedupe_metrics, link_metrics
from reconcile.match import match

TRUTH = ["rid", "true_person_id", "true_id_individu"]
SPLINK_THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999)


def _quality(pred: pd.DataFrame, truth: pd.DataFrame) -> dict:
    both = pred.merge(truth, on="rid")
    return {**link_metrics(both["id_individu"], both["true_id_individu"],
                           both["true_id_individu"].isna()),
            **dedupe_metrics(both["person_id"], both["true_person_id"])}


def ours(folder: Path) -> dict:
    """Load the clean tables into DuckDB, match, and score against the truth."""
    started = time.perf_counter()
    con = db.connect(folder / "work.duckdb", memory_limit="3GB")
    con.execute(f"CREATE OR REPLACE TABLE clean_kemensos AS SELECT * EXCLUDE "
                f"(true_person_id, true_id_individu) FROM '{folder / 'kemensos.parquet'}'")
    con.execute(f"CREATE OR REPLACE TABLE clean_bps AS SELECT * FROM '{folder / 'bps.parquet'}'")
    load = time.perf_counter() - started
    stats = match(con)
    pred = db.df(con, "SELECT p.rid, p.person_id, l.id_individu FROM kemensos_persons p"
                      " JOIN links l USING (person_id)")
    con.close()
    (folder / "work.duckdb").unlink(missing_ok=True)
    timings = {"load": load, **stats["timings"]}
    timings["total"] = time.perf_counter() - started
    truth = pd.read_parquet(folder / "kemensos.parquet", columns=TRUTH)
    return {"quality": _quality(pred, truth), "timings": timings}


def splink(folder: Path) -> dict:
    """Run the Splink baseline at several thresholds; keep every threshold's quality."""
    from reconcile.bench.splink_baseline import run_splink

    kem = pd.read_parquet(folder / "kemensos.parquet")
    bps = pd.read_parquet(folder / "bps.parquet")
    timings, results = run_splink(kem, bps, SPLINK_THRESHOLDS)
    truth = kem[TRUTH]
    return {"quality": {str(t): _quality(r, truth) for t, r in results.items()},
            "timings": timings}


def main() -> None:
    kind, folder = sys.argv[1], Path(sys.argv[2])
    result = {"ours": ours, "splink": splink}[kind](folder)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result, default=float))


if __name__ == "__main__":
    main()
