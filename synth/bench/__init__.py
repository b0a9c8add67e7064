"""Benchmark: our whole pipeline against Splink 5 on the same generated data.

`run_bench([200_000, 1_000_000], Path("data/bench"))` generates each size with
`synth.generate`, then in the same run, on the same data, measures

* ours as users run it (the headline): the `reconcile run` process, start to exit,
  Prefect and its temporary server included;
* ours in-process: `run_pipeline` on the same files (ingest, validate, scope, match,
  discrepancies, outputs: everything from the CSV/Parquet files to the published run);
* Splink 5: link_and_dedupe on the same files as our pipeline cleans and standardises
  them (`synth.bench.data`; configuration in `synth.bench.splink_baseline`),

each in its own subprocess (python -m synth.bench.worker) so that peak memory is per
engine (ours: the largest stage peak of the manifest's resources, or of any process the
run started), and returns one markdown table per size, then one table of the run's
label-free accuracy estimates against the truth (issue 12, must-show 4).
`run_independent` (`python -m synth.bench independent`) measures the same three on the
shared independent data.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from synth.bench.data import splink_inputs
from synth.bench.metrics import GOAL_PP
from synth.generate import generate

ROWS = (
    ("link precision", "link_precision"), ("link recall", "link_recall"),
    ("link F1", "link_f1"), ("not-in-register rows linked", "nir_linked"),
    ("dedupe precision", "dedupe_precision"), ("dedupe recall", "dedupe_recall"),
    ("dedupe F1", "dedupe_f1"),
)


ACCURACY_HEADER = (
    f"| data | links | precision: estimated / true (pp off) | recall: estimated / true "
    f"(pp off) | regencies within ±{GOAL_PP} pp, precision / recall | largest regency "
    f"error (pp), precision / recall | rows without region code: recall est. / true | "
    f"overall within ±{GOAL_PP} pp |")


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


def _table(label: str, cli: dict, ours: dict, splink: dict) -> list[str]:
    t_link, q_link = _best(splink, "link_f1")
    t_dd, q_dd = _best(splink, "dedupe_f1")
    lines = [f"\n### {label}, {ours['kemensos_rows']:,} Kemensos rows\n",
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


def _pp(estimated: float | None, true: float | None) -> str:
    if estimated is None or true is None:
        return "–"
    return f"{estimated:.5f} / {true:.5f} ({100 * (estimated - true):+.3f})"


def accuracy_table(rows: list[tuple[str, dict]]) -> list[str]:
    """Estimated against true link precision and recall per data set (worker
    'accuracy'): overall, per regency, and the rows that have no region code."""
    lines = ["\n### Label-free accuracy estimates against the truth (reconciled rows)\n",
             ACCURACY_HEADER, "|" + "---|" * (ACCURACY_HEADER.count("|") - 1)]
    for label, acc in rows:
        o, g, u = acc["overall"], acc["regencies"], acc.get("no_region_code") or {}
        goal = max(abs(o["precision_error_pp"] or 0), abs(o["recall_error_pp"] or 0))
        lines.append(
            f"| {label} | {o['links']:,.0f} | {_pp(o['estimated_precision'], o['true_precision'])} "
            f"| {_pp(o['estimated_recall'], o['true_recall'])} | "
            f"{g['precision_within_goal']}/{g['precision_regencies']} / "
            f"{g['recall_within_goal']}/{g['recall_regencies']} | "
            f"{_num(g['precision_max_abs_error_pp'])} ({g['precision_worst_regency']}) / "
            f"{_num(g['recall_max_abs_error_pp'])} ({g['recall_worst_regency']}) | "
            f"{_pp(u.get('estimated_recall'), u.get('true_recall'))} | "
            f"{'yes' if goal <= GOAL_PP else f'NO, off by {goal:.2f} pp'} |")
    return lines


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def bench_folder(folder: Path, label: str) -> tuple[list[str], dict]:
    """The three measurements on a folder whose `generated` files (and Splink's inputs)
    are written: our CLI, ours in-process, Splink; one table, and ours in-process."""
    _log(f"bench {label}: reconcile run")
    cli = _measure("cli", folder)
    _log(f"bench {label}: our pipeline in-process")
    ours = _measure("ours", folder)
    _log(f"bench {label}: Splink")
    table = _table(label, cli, ours, _measure("splink", folder))
    _log("\n".join(table))
    return table, ours


def run_independent(folder: Path) -> str:
    """The bench on the shared independent data (../shared/data/independent-200k)."""
    from synth.bench.stress import INDEPENDENT, independent

    independent(INDEPENDENT, folder / "generated")
    splink_inputs(folder / "generated", folder)
    return "\n".join(["## Bench on the independent data (same run, same machine)",
                      *bench_folder(folder, "independent-200k")[0]])


def run_bench(people: list[int], out: Path, seed: int = 7) -> str:
    """Generate each size, run both engines, return the markdown tables."""
    lines = ["## Bench: whole pipeline vs Splink 5 (same data, same machine, same run)"]
    estimates = []
    for n in people:
        folder = out / f"people_{n}"
        folder.mkdir(parents=True, exist_ok=True)
        _log(f"bench {n:,}: generating")
        generate(folder / "generated", people=n, seed=seed)
        splink_inputs(folder / "generated", folder)
        table, ours = bench_folder(folder, f"{n:,} register people")
        lines += table
        estimates.append((f"ours, {n:,} people", ours["accuracy"]))
    return "\n".join(lines + accuracy_table(estimates))
