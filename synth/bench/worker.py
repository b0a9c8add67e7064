"""One bench measurement in its own process, so peak memory is its own.

    python -m synth.bench.worker {cli|ours|splink|calibration} <folder>
        -> prints one JSON line

`cli` times the `reconcile run` process as users start it (Prefect and its temporary
server included) on the generator's raw files in `<folder>/generated`; `ours` runs the
same pipeline in this process (`run_pipeline`, no Prefect); `splink` runs the baseline
on the library's standardised rows of the same files, `<folder>/{kemensos,bps}.parquet`
(written by `synth.bench.data.splink_inputs`).
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd

from synth.bench.data import MEMORY_LIMIT, TRUTH, cleaned, inputs
from synth.bench.metrics import dedupe_metrics, estimates_vs_truth, link_metrics
from synth.bench.review_queue import queue_quality

KEY = "id_penerima"
# the manifest's timings that follow one another from ingest to outputs (startup comes
# before them; what is left of the process's time is Prefect's end of the run)
STAGE_NAMES = ("ingest", "validate", "scope", "decisions", "plan", "match", "split",
               "match_partitions", "discrepancies", "review", "outputs")
SPLINK_THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 0.9999, 0.99999)


def _quality(pred: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """Metrics over every Kemensos row of the truth.

    A row missing from the predictions (quarantined by validation) is unlinked and a
    person of its own.
    """
    both = truth.merge(pred, on=KEY, how="left")
    alone = both["person_id"].isna()
    both.loc[alone, "person_id"] = "unpredicted:" + both.loc[alone, KEY].astype(str)
    return {**link_metrics(both["id_individu"], both["true_id_individu"],
                           both["true_id_individu"].isna()),
            **dedupe_metrics(both["person_id"], both["true_person_id"])}


def _predictions(run: Path) -> pd.DataFrame:
    """id_penerima -> (person_id, id_individu) from the published reconciled.parquet."""
    con = duckdb.connect()
    try:
        glob = str(run / "reconciled.parquet" / "**" / "*.parquet")
        return con.execute("SELECT id_penerima, person_id, id_individu FROM read_parquet("
                           "$glob, hive_partitioning = false)", {"glob": glob}).df()
    finally:
        con.close()


def _accuracy(run: Path, truth: pd.DataFrame) -> dict:
    """The run's label-free accuracy estimates against the truth (reconcile.accuracy is
    re-run on the published reconciled.parquet, so per regency comes too)."""
    con = duckdb.connect()
    try:
        glob = str(run / "reconciled.parquet" / "**" / "*.parquet")
        con.read_parquet(glob, hive_partitioning=False).create_view("reconciled")
        return estimates_vs_truth(con, truth)
    finally:
        con.close()


def _throughput(run: Path, timings: dict) -> dict:
    """Rows read (from the manifest) per second of ingest and of validation."""
    files = json.loads((run / "manifest.json").read_text())["rows_per_file"]
    rows = sum(int(f["rows_read"]) for f in files)
    kemensos = sum(int(f["rows_read"]) for f in files
                   if Path(f["source_file"]).name.startswith("kemensos_"))
    return {"rows_read": rows, "kemensos_rows": kemensos,
            "ingest_rows_per_s": rows / max(timings.get("ingest", 0), 1e-9),
            "validate_rows_per_s": rows / max(timings.get("validate", 0), 1e-9)}


def _findings(run: Path, gen: Path) -> dict:
    """Precision and recall of each finding category against the truth."""
    from synth.evaluate import evaluate_run

    table = evaluate_run(run, gen)
    return {r["category"]: {"precision": float(r["precision"]), "recall": float(r["recall"])}
            for r in table.to_dict("records")}


def ours(folder: Path) -> dict:
    """Run the whole pipeline in this process on the generated files; score it."""
    from reconcile.config import RunConfig
    from reconcile.pipeline import run_pipeline

    logging.getLogger("reconcile").setLevel(logging.WARNING)
    gen, run = folder / "generated", folder / "run"
    shutil.rmtree(run, ignore_errors=True)
    config = RunConfig(**inputs(gen), out=run, memory_limit=MEMORY_LIMIT, force=True)
    started = time.perf_counter()
    result = run_pipeline(config)
    total = time.perf_counter() - started
    timings = {**result["timings"], "total": total}
    truth = pd.read_parquet(gen / "truth_kemensos.parquet", columns=TRUTH)
    pred = _predictions(run)
    return {"quality": _quality(pred, truth), "timings": timings,
            "peak_rss_mb": peak_mb(json.loads((run / "manifest.json").read_text()),
                                    resource.RUSAGE_SELF),
            "review_queue": queue_quality(run, pred, truth),
            "findings": _findings(run, gen), "accuracy": _accuracy(run, truth),
            "match_timings": result.get("match", {}).get("timings", {}),
            **_throughput(run, result["timings"])}


def cli(folder: Path) -> dict:
    """Time the `reconcile run` process, start to exit, as an officer runs it; score its
    outputs. Peak memory is the largest of its processes (the CLI, Prefect's server)."""
    gen, run = folder / "generated", folder / "cli-run"
    shutil.rmtree(run, ignore_errors=True)
    files = inputs(gen)
    command = [str(Path(sys.executable).with_name("reconcile")), "run",
               "--kemensos", *map(str, files["kemensos"]), "--bps", str(files["bps"]),
               "--stats", str(files["stats"]), "--out", str(run), "--force"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          env={**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"})
    total = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"reconcile run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    manifest = json.loads((run / "manifest.json").read_text())
    truth = pd.read_parquet(gen / "truth_kemensos.parquet", columns=TRUTH)
    stages = sum(v for k, v in manifest["timings_s"].items() if k in STAGE_NAMES)
    return {"quality": _quality(_predictions(run), truth),
            "timings": {**manifest["timings_s"], "total": total,
                        "after_stages": total - manifest["timings_s"].get("startup", 0) - stages},
            "peak_rss_mb": peak_mb(manifest, resource.RUSAGE_CHILDREN)}


def peak_mb(manifest: dict, who: int) -> float:
    """The run's peak memory: the largest of its stages' (the manifest's resources; each
    stage resets the kernel's peak counter, so the exit's ru_maxrss holds the last stage
    only) and of every process it ran (Prefect's server, or the CLI before the stages)."""
    stages = [use["peak_rss_mb"] for use in manifest.get("resources", {}).values()]
    return max([*stages, resource.getrusage(who).ru_maxrss / 1024])


def splink(folder: Path) -> dict:
    """Run the Splink baseline at several thresholds; keep every threshold's quality
    (over every Kemensos row of the truth, as ours: a quarantined row is unlinked)."""
    from synth.bench.splink_baseline import run_splink

    kem = pd.read_parquet(folder / "kemensos.parquet")
    bps = pd.read_parquet(folder / "bps.parquet")
    timings, results = run_splink(kem, bps, SPLINK_THRESHOLDS)
    keys = kem[["rid", "src_id"]].rename(columns={"src_id": KEY})
    truth = pd.read_parquet(folder / "generated" / "truth_kemensos.parquet", columns=TRUTH)
    return {"quality": {str(t): _quality(r.merge(keys, on="rid").drop(columns="rid"), truth)
                        for t, r in results.items()},
            "timings": timings}


BANDS = (0.0, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0000001)
CALIBRATION_SQL = """
WITH best AS (
    SELECT x.match_probability AS p, b.src_id = t.true_id_individu AS correct
    FROM match_row_links x JOIN std_kemensos k USING (rid)
    JOIN std_bps b ON b.rid = x.bps_rid JOIN truth t ON t.id_penerima = k.src_id
)
SELECT band, count(*) AS pairs, avg(p) AS predicted, avg(coalesce(correct, false)::INT) AS observed
FROM (SELECT *, list_position($bands, list_last(list_filter($bands, lambda b: b <= p))) AS band
      FROM best)
GROUP BY band ORDER BY band
"""


def calibration(folder: Path) -> dict:
    """Predicted against observed match rate of each row's best candidate, per band of
    match probability (ingest, validate and match in this process, on the truth)."""
    from reconcile.match import match
    from reconcile.match.settings import MatchSettings

    gen = folder / "generated"
    with cleaned(gen, folder / "calibration.duckdb") as con:
        match(con, MatchSettings(keep_intermediate=True))
        con.register("truth_frame", pd.read_parquet(gen / "truth_kemensos.parquet",
                                                    columns=["id_penerima", "true_id_individu"]))
        con.execute("CREATE TABLE truth AS SELECT * FROM truth_frame")
        bands = con.execute(CALIBRATION_SQL, {"bands": list(BANDS)}).df()
    bands["band"] = [f"[{BANDS[b - 1]:g}, {min(BANDS[b], 1):g})" for b in bands["band"]]
    return {"bands": bands.to_dict("records")}


def main() -> None:
    kind, folder = sys.argv[1], Path(sys.argv[2])
    result = {"cli": cli, "ours": ours, "splink": splink,
              "calibration": calibration}[kind](folder)
    result.setdefault("peak_rss_mb",
                      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result, default=float))


if __name__ == "__main__":
    main()
