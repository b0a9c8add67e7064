"""Benchmark: our whole pipeline against Splink 5 on the same generated data.

`run_bench([200_000, 1_000_000], Path("data/bench"))` generates each size with
`synth.generate`, then in the same run, on the same data, measures

* ours as users run it (the headline): the `reconcile run` process, start to exit,
  Prefect and its temporary server included;
* ours in-process: `run_pipeline` on the same files (ingest, validate, scope, match,
  discrepancies, outputs: everything from the CSV/Parquet files to the published run);
* Splink 5: link_and_dedupe on clean-contract frames of the same files
  (`synth.bench.data`; configuration in `synth.bench.splink_baseline`),

each in its own subprocess (python -m synth.bench.worker) so that peak memory
(ru_maxrss) is per engine, and returns one markdown table per size.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from synth.bench.data import bench_data

ROWS = (
    ("link precision", "link_precision"), ("link recall", "link_recall"),
    ("link F1", "link_f1"), ("not-in-register rows linked", "nir_linked"),
    ("dedupe precision", "dedupe_precision"), ("dedupe recall", "dedupe_recall"),
    ("dedupe F1", "dedupe_f1"),
)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _measure(kind: str, folder: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "synth.bench.worker", kind, str(folder)],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"bench worker {kind} failed on {folder}:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _best(splink: dict, key: str) -> tuple[str, dict]:
    t = max(splink["quality"], key=lambda t: splink["quality"][t][key])
    return t, splink["quality"][t]


def _stages(timings: dict, skip: tuple[str, ...] = ("total",)) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in timings.items() if k not in skip)


def _table(people: int, cli: dict, ours: dict, splink: dict) -> list[str]:
    t_link, q_link = _best(splink, "link_f1")
    t_dd, q_dd = _best(splink, "dedupe_f1")
    lines = [f"\n### {people:,} register people, {ours['kemensos_rows']:,} Kemensos rows\n",
             "| metric | ours: `reconcile run` | ours in-process | Splink 5 (best threshold) |",
             "|---|---|---|---|"]
    for label, key in ROWS:
        q, t = (q_dd, t_dd) if key.startswith("dedupe") else (q_link, t_link)
        lines.append(f"| {label} | {cli['quality'][key]:.4f} | {ours['quality'][key]:.4f} | "
                     f"{q[key]:.4f} (p>={t}) |")
    nir = [v["nir_linked"] for v in splink["quality"].values()]
    cli_t, ours_t, sp_t = cli["timings"], ours["timings"], splink["timings"]
    splink_s = sp_t["total_best"]
    lines += [
        f"| not-in-register linked, Splink range over thresholds | | | "
        f"{min(nir):.3f}-{max(nir):.3f} |",
        f"| wall time (s): ours start to exit / ingest to outputs, Splink link + dedupe | "
        f"{cli_t['total']:.1f} | {ours_t['total']:.1f} | {splink_s:.1f} |",
        f"| **Splink's time / ours** | **{splink_s / cli_t['total']:.1f}x** | "
        f"{splink_s / ours_t['total']:.1f}x | 1 |",
        f"| stages (s) | {_stages(cli_t)} | {_stages(ours_t)} | "
        f"{_stages(sp_t, ('total_best',))} |",
        f"| matching steps (s) | | {_stages(ours['match_timings'])} | |",
        f"| ingest rows/s | | {ours['ingest_rows_per_s']:,.0f} | |",
        f"| validate rows/s | | {ours['validate_rows_per_s']:,.0f} | |",
        f"| peak memory (MiB) | {cli['peak_rss_mb']:.0f} | {ours['peak_rss_mb']:.0f} | "
        f"{splink['peak_rss_mb']:.0f} |",
    ]
    return lines


def run_bench(people: list[int], out: Path, seed: int = 7) -> str:
    """Generate each size, run both engines, return the markdown tables."""
    lines = ["## Bench: whole pipeline vs Splink 5 (same data, same machine, same run)"]
    for n in people:
        folder = out / f"people_{n}"
        folder.mkdir(parents=True, exist_ok=True)
        _log(f"bench {n:,}: generating")
        kem, bps = bench_data(n, seed, folder / "generated")
        kem.to_parquet(folder / "kemensos.parquet")
        bps.to_parquet(folder / "bps.parquet")
        del kem, bps
        _log(f"bench {n:,}: reconcile run")
        cli = _measure("cli", folder)
        _log(f"bench {n:,}: our pipeline in-process")
        ours = _measure("ours", folder)
        _log(f"bench {n:,}: Splink")
        table = _table(n, cli, ours, _measure("splink", folder))
        _log("\n".join(table))
        lines += table
    return "\n".join(lines)
