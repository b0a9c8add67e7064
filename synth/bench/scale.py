"""One national-scale run as officers start it (`make bench-scale`): `reconcile run` on a
generated folder, then its seconds, peak memory and spill per stage from the manifest, the
process's peak RSS, and link P/R/F1, false links and dedupe F1 against the truth; with the
regency split, what the cross pass linked and merged and the evidence it judged by.

    python -m synth.bench.scale DATA OUT [--split-above N]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from synth.bench.metrics import dedupe_metrics, link_metrics
from synth.bench.worker import peak_mb


def run(data: Path, out: Path, split_above: int | None) -> float:
    """`reconcile run` on `data` into `out`; its wall seconds."""
    command = [str(Path(sys.executable).parent / "reconcile"), "run",
               "--kemensos", *map(str, sorted(data.glob("kemensos_*.csv"))),
               "--bps", str(data / "bps_register.parquet"),
               "--stats", str(data / "bps_poverty_stats.csv"), "--out", str(out), "--force"]
    if split_above is not None:
        command += ["--regency-split-above", str(split_above)]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def accuracy(out: Path, truth: Path) -> dict:
    """Link and dedupe figures of a run's reconciled rows against the generator's truth."""
    rows = duckdb.execute(
        "SELECT t.true_id_individu, t.true_person_id, t.is_not_in_register, r.id_individu, "
        "r.person_id FROM read_parquet($truth) t LEFT JOIN read_parquet($out) r "
        "USING (id_penerima)", {"truth": str(truth / "truth_kemensos.parquet"),
                                "out": str(out / "reconciled.parquet" / "**" / "*.parquet")}
    ).df()
    figures = link_metrics(rows["id_individu"], rows["true_id_individu"],
                           rows["is_not_in_register"])
    wrong = rows["id_individu"].notna() & (rows["id_individu"] != rows["true_id_individu"])
    figures["false_links"] = int(wrong.sum())
    kept = rows[rows["person_id"].notna()]
    return figures | dedupe_metrics(kept["person_id"], kept["true_person_id"])


def report(out: Path, wall: float, figures: dict) -> str:
    manifest = json.loads((out / "manifest.json").read_text())
    used = manifest.get("resources", {})
    peak = peak_mb(manifest, resource.RUSAGE_CHILDREN) / 1024
    lines = [f"wall {wall:.1f} s, peak RSS of the run {peak:.2f} GiB",
             "| stage | seconds | peak MiB | spill MiB |", "|---|---:|---:|---:|"]
    for stage, seconds in manifest["timings_s"].items():
        use = used.get(stage, {})
        lines.append(f"| {stage} | {seconds:.1f} | {use.get('peak_rss_mb', 0):.0f} | "
                     f"{use.get('spill_peak_mb', 0):.0f} |")
    lines.append(json.dumps({k: round(v, 5) if isinstance(v, float) else v
                             for k, v in figures.items()}))
    # what the partitioned matcher's cross pass did (links, merges, the evidence it used)
    cross = {k: v for k, v in manifest.get("match", {}).items() if k.startswith("cross_")}
    if cross:
        lines.append(json.dumps(cross))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m synth.bench.scale")
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--split-above", type=int, help="regency split threshold")
    args = parser.parse_args(argv)
    wall = run(args.data, args.out, args.split_above)
    print(report(args.out, wall, accuracy(args.out, args.data)))


if __name__ == "__main__":
    main()
