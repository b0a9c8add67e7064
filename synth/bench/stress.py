"""Stress matrix: our matcher and Splink on data of rising messiness, and on independent data.

Each row is one data set: our generator with every error rate times 0.5, 1, 2 and 3,
with errors spread evenly over the rows or piled up on careless rows (15% of rows with
four times the rates: `ErrorProfile.low_quality_share`), plus the shared dataset of an
independent generator (`../shared/data/independent-200k`), whose truth is converted to
our generator's truth layout. Both engines run on the same files, each in its own
process (`synth.bench.worker`); the findings are scored with `synth.evaluate`, and the
run's label-free accuracy estimates are set against the truth of every data set.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import duckdb

from synth.bench import _measure, accuracy_table
from synth.bench.data import splink_inputs
from synth.generate import generate
from synth.generate.corrupt import ErrorProfile

PROFILES = tuple(
    (f"ours x{scale:g}{', careless rows' if tiers else ''}",
     ErrorProfile(scale=scale, low_quality_share=0.15 if tiers else 0.0))
    for tiers in (False, True) for scale in (0.5, 1.0, 2.0, 3.0))
INDEPENDENT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "independent-200k"
FINDINGS = ("not_in_register", "inclusion_error", "duplicate_enrolment", "exclusion_error")
HEADER = ("| data | link P | link R | link F1 | not-in-register linked | dedupe F1 | "
          + " | ".join(f"{f} P / R" for f in FINDINGS)
          + " | Splink best link F1 | ours above Splink |")

# The independent truth as our generator's truth_kemensos.parquet: the same scorer serves.
TRUTH_SQL = """
SELECT t.record_id AS id_penerima, t.program, t.person_key AS true_person_id,
       t.id_individu AS true_id_individu, b.id_keluarga AS true_id_keluarga,
       t.desil::TINYINT AS true_desil, t.is_duplicate_copy AS is_duplicate_enrolment,
       coalesce(t.in_register AND t.desil > CASE WHEN t.program = 'PBI-JK' THEN 5 ELSE 4 END,
                false) AS is_inclusion_error,
       NOT t.in_register AS is_not_in_register, t.errors AS corruptions
FROM read_parquet($truth) t
LEFT JOIN read_parquet($register) b USING (id_individu)
WHERE t.source = 'kemensos'
"""


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def independent(source: Path, folder: Path) -> Path:
    """Lay the independent dataset out as our generator does; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "kemensos.csv", folder / "kemensos_independent.csv")
    for name in ("bps_register.parquet", "bps_poverty_stats.csv"):
        shutil.copy(source / name, folder / name)
    con = duckdb.connect()
    try:
        con.execute(f"COPY ({TRUTH_SQL}) TO $target",
                    {"truth": str(source / "truth.parquet"),
                     "register": str(source / "bps_register.parquet"),
                     "target": str(folder / "truth_kemensos.parquet")})
    finally:
        con.close()
    return folder


def _prepare(folder: Path, label: str, profile: ErrorProfile | None, people: int,
             seed: int) -> None:
    """Write the generated (or independent) files and Splink's inputs from them."""
    gen = folder / "generated"
    if profile is None:
        independent(INDEPENDENT, gen)
    else:
        generate(gen, people=people, seed=seed, profile=profile)
    splink_inputs(gen, folder)


def _row(label: str, ours: dict, splink: dict) -> tuple[str, bool]:
    q = ours["quality"]
    best = max(v["link_f1"] for v in splink["quality"].values())
    findings = " | ".join(
        f"{ours['findings'][f]['precision']:.3f} / {ours['findings'][f]['recall']:.3f}"
        for f in FINDINGS)
    above = q["link_f1"] > best
    return (f"| {label} | {q['link_precision']:.4f} | {q['link_recall']:.4f} | "
            f"{q['link_f1']:.4f} | {q['nir_linked']:.2%} | {q['dedupe_f1']:.4f} | {findings} | "
            f"{best:.4f} | {'yes' if above else 'NO'} |"), above


def _calibration(label: str, bands: list[dict]) -> list[str]:
    return [f"| {label} | {b['band']} | {b['pairs']:,} | {b['predicted']:.4f} | "
            f"{b['observed']:.4f} |" for b in bands]


def run_stress(out: Path, people: int = 200_000, seed: int = 7) -> str:
    """Every profile, then the independent data: the matrix and a calibration table."""
    cases = [*PROFILES, *([("independent-200k (shared)", None)] if INDEPENDENT.exists() else [])]
    lines = [f"## Stress matrix ({people:,} register people per generated set)\n", HEADER,
             "|" + "---|" * (HEADER.count("|") - 1)]
    calibration = ["\n## Calibration: each row's best candidate, per band of match probability\n",
                   "| data | band | rows | predicted match rate | observed |", "|---|---|---|---|---|"]
    estimates = []
    for n, (label, profile) in enumerate(cases):
        folder = out / f"stress_{n}"
        _log(f"stress: {label}: preparing")
        _prepare(folder, label, profile, people, seed)
        _log(f"stress: {label}: ours, Splink, calibration")
        ours = _measure("ours", folder)
        row, _ = _row(label, ours, _measure("splink", folder))
        _log(row)
        lines.append(row)
        estimates.append((label, ours["accuracy"]))
        if profile is None or profile == ErrorProfile(low_quality_share=0.15):
            calibration += _calibration(label, _measure("calibration", folder)["bands"])
    return "\n".join(lines + calibration + accuracy_table(estimates))


if __name__ == "__main__":  # python -m synth.bench.stress [people]
    print(run_stress(Path("data/bench"), int(sys.argv[1]) if len(sys.argv) > 1 else 200_000))
