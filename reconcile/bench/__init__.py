"""Benchmark: our matching engine against Splink 5 on the same generated data.

`run_bench([200_000, 1_000_000], Path("data/bench"))` prints and returns one table.
Each engine runs in its own subprocess (python -m reconcile.bench.worker) so that peak
memory (ru_maxrss) is per engine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from reconcile.bench.data import bench_data

ROWS = (
    ("link precision", "link_precision"), ("link recall", "link_recall"),
    ("link F1", "link_f1"), ("not-in-register rows linked", "nir_linked"),
    ("dedupe precision", "dedupe_precision"), ("dedupe recall", "dedupe_recall"),
    ("dedupe F1", "dedupe_f1"),
)


def _measure(kind: str, folder: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "reconcile.bench.worker", kind, str(folder)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _best(splink: dict, key: str, lower_is_better: bool = False) -> tuple[str, dict]:
    pick = min if lower_is_better else max
    t = pick(splink["quality"], key=lambda t: splink["quality"][t][key])
    return t, splink["quality"][t]


def _table(people: int, ours: dict, splink: dict) -> list[str]:
    t_link, q_link = _best(splink, "link_f1")
    t_dd, q_dd = _best(splink, "dedupe_f1")
    lines = [f"\n### {people:,} register people\n",
             "| metric | ours | Splink (best threshold) |", "|---|---|---|"]
    for label, key in ROWS:
        q = q_dd if key.startswith("dedupe") else q_link
        t = t_dd if key.startswith("dedupe") else t_link
        lines.append(f"| {label} | {ours['quality'][key]:.4f} | {q[key]:.4f} (p>={t}) |")
    nir = [v["nir_linked"] for v in splink["quality"].values()]
    lines.append(f"| not-in-register linked, Splink range over thresholds | | "
                 f"{min(nir):.3f}-{max(nir):.3f} |")
    ours_t = ours["timings"]
    stages = ", ".join(f"{k} {v:.1f}" for k, v in ours_t.items() if k != "total")
    sp_t = splink["timings"]
    sp_stages = ", ".join(f"{k} {v:.1f}" for k, v in sp_t.items())
    lines += [f"| wall time (s) | {ours_t['total']:.1f} | {sp_t['total_best']:.1f} |",
              f"| stages (s) | {stages} | {sp_stages} |",
              f"| peak memory (MiB) | {ours['peak_rss_mb']:.0f} | {splink['peak_rss_mb']:.0f} |",
              f"| our time / Splink's | {ours_t['total'] / sp_t['total_best']:.3f} | |"]
    return lines


def run_bench(people: list[int], out: Path, seed: int = 7) -> str:
    """Generate each size, run both engines, print and return the markdown table."""
    lines = ["## Matching bench (same data, same machine, same run)"]
    for n in people:
        folder = out / f"people_{n}"
        folder.mkdir(parents=True, exist_ok=True)
        kem, bps = bench_data(n, seed, folder / "generated")
        kem.to_parquet(folder / "kemensos.parquet")
        bps.to_parquet(folder / "bps.parquet")
        del kem, bps
        lines += _table(n, _measure("ours", folder), _measure("splink", folder))
    table = "\n".join(lines)
    print(table)
    return table


