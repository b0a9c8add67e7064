"""Synthetic BPS register and Kemensos beneficiary lists with a known truth.

`generate(out, people, seed, provinces)` writes, deterministically for a seed:

- bps_register.parquet        the DTSEN-style register (all text)
- bps_poverty_stats.csv       BPS-style poverty figures per regency, consistent with it
- kemensos_<program>.csv      one messy export per program (all cells quoted text)
- truth_kemensos.parquet      per Kemensos row: the true person, duplicate / inclusion /
                              not-in-register flags and the corruption codes applied
- truth_register.parquet      per register row: the true person id
- corruption_rates.json       configured and realised rate of every corruption
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from reconcile.tables import BPS_COLUMNS, KEMENSOS_COLUMNS, STATS_COLUMNS

from .corrupt import AS_CONFIGURED, UNUSABLE_NIK, ErrorProfile
from .kemensos import PROGRAMS, enrol, export, truth
from .register import draw_people, register_frame
from .stats import poverty_table

OFF_REGISTER_SHARE = 0.06   # size of the population the register missed, vs the register
MIN_OFF_REGISTER = 200
TRUTH_KEMENSOS_COLUMNS = (
    "id_penerima", "program", "true_person_id", "true_id_individu", "true_id_keluarga",
    "true_desil", "is_duplicate_enrolment", "is_inclusion_error", "is_not_in_register",
    "corruptions",
)


def _text_table(frame: pd.DataFrame, columns: Sequence[str]) -> pa.Table:
    return pa.table({c: pa.array(frame[c], pa.string(), from_pandas=True) for c in columns})


def _write_csv(frame: pd.DataFrame, columns: Sequence[str], path: Path) -> None:
    options = pacsv.WriteOptions(quoting_style="all_valid")
    pacsv.write_csv(_text_table(frame, columns), path, write_options=options)


def program_file(program: str) -> str:
    """File name of a program's list.

    >>> program_file("PBI-JK")
    'kemensos_pbi-jk.csv'
    """
    return f"kemensos_{program.lower()}.csv"


def _write_kemensos(out: Path, rows: pd.DataFrame) -> dict[str, int]:
    counts = {}
    for prog in PROGRAMS:
        part = rows[rows["program"] == prog.name]
        _write_csv(part, KEMENSOS_COLUMNS, out / program_file(prog.name))
        counts[prog.name] = len(part)
    truth_table = _text_table(rows, TRUTH_KEMENSOS_COLUMNS[:5]).append_column(
        "true_desil", pa.array(rows["true_desil"], pa.int8()))
    for flag in TRUTH_KEMENSOS_COLUMNS[6:9]:
        truth_table = truth_table.append_column(flag, pa.array(rows[flag].to_numpy(bool)))
    truth_table = truth_table.append_column("corruptions", pa.array(rows["corruptions"], pa.string()))
    pq.write_table(truth_table, out / "truth_kemensos.parquet")
    return counts


def _rates_report(rates: dict, rows: pd.DataFrame, register: pd.DataFrame) -> dict:
    nik_unusable = rows["corruptions"].str.contains(
        "(?:^|,)(?:" + "|".join(UNUSABLE_NIK) + ")(?:,|$)", regex=True)
    return {
        **rates,
        "register": {"nik_missing": float(register["nik"].isna().mean()),
                     "nik_date_mismatch": float(
                         register["corruptions"].str.contains("nik_date_mismatch").mean())},
        "kemensos_rows": {
            "nik_unusable_share": round(float(nik_unusable.mean()), 5),
            "inclusion_error_share": round(float(rows["is_inclusion_error"].mean()), 5),
            "not_in_register_share": round(float(rows["is_not_in_register"].mean()), 5),
            "duplicate_share": round(float(rows["is_duplicate_enrolment"].mean()), 5),
        },
    }


def generate(out: Path, people: int = 20_000, seed: int = 7,
             provinces: Sequence[str] = ("17",), profile: ErrorProfile = AS_CONFIGURED) -> dict:
    """Write the synthetic register, poverty table, Kemensos lists and truth into `out`.

    Args:
        out: output folder (created if needed; files in it are overwritten).
        people: number of people in the register.
        seed: random seed; the same seed gives byte-identical files.
        provinces: Kemendagri province codes to place people in, e.g. ("17", "16").
        profile: how messy the Kemensos lists are (error rates, careless rows).

    Returns:
        Counts: people, families, kemensos rows per program, seconds taken, files written.
    """
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    off_register = max(int(people * OFF_REGISTER_SHARE), MIN_OFF_REGISTER)
    fam, persons, villages = draw_people(rng, people, off_register, tuple(provinces))

    register = register_frame(rng, fam, persons, villages)
    pq.write_table(_text_table(register, BPS_COLUMNS), out / "bps_register.parquet")
    pq.write_table(_text_table(register, ("id_individu", "person_id", "corruptions")),
                   out / "truth_register.parquet")

    reg_fam = fam[fam["in_register"]]
    stats = poverty_table(rng, np.unique(villages["regency_code"]), reg_fam["regency"].to_numpy(),
                          reg_fam["desil"].to_numpy(), reg_fam["size"].to_numpy())
    _write_csv(stats, STATS_COLUMNS, out / "bps_poverty_stats.csv")

    rows = enrol(rng, fam, persons)
    exported, rates = export(rng, rows, fam, persons, villages, profile)
    kemensos = truth(rng, rows, exported, fam, persons)
    counts = _write_kemensos(out, kemensos)
    report = _rates_report(rates, kemensos, register)
    (out / "corruption_rates.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")

    files = ["bps_register.parquet", "truth_register.parquet", "bps_poverty_stats.csv",
             *(program_file(p.name) for p in PROGRAMS), "truth_kemensos.parquet",
             "corruption_rates.json"]
    return {"people": len(register), "families": int(fam["in_register"].sum()),
            "not_in_register_people": int((~persons["in_register"]).sum()),
            "kemensos_rows": counts, "kemensos_rows_total": int(sum(counts.values())),
            "seconds": round(time.perf_counter() - started, 2), "files": files}
