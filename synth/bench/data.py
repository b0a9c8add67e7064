"""Bench inputs cleaned by the library itself, so that every matcher sees the same data.

The generated files go through reconcile's own ingest and validate (`load_inputs`,
`validate_inputs`: the rows a run keeps, cleaned as a run cleans them). The Splink
baseline then gets the matcher's own comparison keys of those rows (`reconcile.match.std`:
name key and first name word, usable NIK and KK, birth date, sex, village, regency). The
bench has no cleaner of its own.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from reconcile import db
from reconcile.config import RunConfig
from reconcile.ingest import load_inputs
from reconcile.match import std
from reconcile.tables import Table
from reconcile.validate import validate_inputs

MEMORY_LIMIT = "2GB"  # DuckDB's share; the rest of the 3 GiB budget is Python and Arrow
TRUTH = ["id_penerima", "true_person_id", "true_id_individu"]
# Each side's comparison keys as Splink reads them (synth.bench.splink_baseline); an
# empty name key is no name.
SPLINK_COLUMNS = """rid, src_id, nullif(name_key, '') AS name_key,
    nullif(name_first, '') AS name_first, dob, nik, sex, village, kab, no_kk"""


def inputs(gen: Path) -> dict[str, object]:
    """The generated files of `gen` as a run's inputs (RunConfig's keyword arguments)."""
    return {"kemensos": tuple(sorted(gen.glob("kemensos_*.csv"))),
            "bps": gen / "bps_register.parquet", "stats": gen / "bps_poverty_stats.csv"}


@contextmanager
def cleaned(gen: Path, work_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A work database at `work_db` holding clean_kemensos and clean_bps of the files in
    `gen`, as the pipeline's ingest and validate stages write them; removed on exit."""
    spill = work_db.with_name(work_db.name + ".tmp")
    _remove(work_db, spill)
    con = db.connect(work_db, memory_limit=MEMORY_LIMIT, temp_directory=spill)
    try:
        load_inputs(con, RunConfig(**inputs(gen), out=work_db.parent / "out"))
        validate_inputs(con)
        yield con
    finally:
        con.close()
        _remove(work_db, spill)


def _remove(work_db: Path, spill: Path) -> None:
    for path in (work_db, work_db.with_name(work_db.name + ".wal")):
        path.unlink(missing_ok=True)
    shutil.rmtree(spill, ignore_errors=True)


def splink_inputs(gen: Path, folder: Path) -> None:
    """Write `folder`/kemensos.parquet and bps.parquet: the standardised rows of each
    side (std_kemensos, std_bps) that the Splink baseline reads."""
    with cleaned(gen, folder / "splink-inputs.duckdb") as con:
        std.standardise(con)
        for table, name in ((Table.STD_KEMENSOS, "kemensos.parquet"),
                            (Table.STD_BPS, "bps.parquet")):
            db.copy_parquet(con, f"SELECT {SPLINK_COLUMNS} FROM {table} ORDER BY rid",
                            folder / name)


def clean_frames(gen: Path, work_db: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """clean_kemensos and clean_bps of the files in `gen` as frames, each Kemensos row
    with its truth (true_person_id, true_id_individu). Through Arrow, so that dates stay
    dates (not timestamps) when the frames are stored in DuckDB again."""
    with cleaned(gen, work_db) as con:
        kem, bps = (db.arrow(con, f"SELECT * FROM {table} ORDER BY rid").to_pandas()
                    for table in (Table.CLEAN_KEMENSOS, Table.CLEAN_BPS))
    truth = pd.read_parquet(gen / "truth_kemensos.parquet", columns=TRUTH)
    return kem.merge(truth, on="id_penerima", how="left", validate="1:1"), bps
