"""Evaluate a run's findings against the generator's truth (synthetic data only).

Precision and recall per category: of the rows the run flagged, how many the truth
flags, and of the rows the truth flags, how many the run found.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from reconcile import db

CATEGORIES = {
    "inclusion_error": "is_inclusion_error",
    "not_in_register": "is_not_in_register",
}


def evaluate_run(out_dir: Path, truth_dir: Path, exclusion_desil: int = 1) -> pd.DataFrame:
    """One row per category: flagged, true, correct, precision and recall."""
    con = db.connect()
    for table, path in (("found", Path(out_dir) / "discrepancies.parquet"),
                        ("truth", Path(truth_dir) / "truth_kemensos.parquet"),
                        ("register", Path(truth_dir) / "bps_register.parquet")):
        db.run(con, f"CREATE TABLE {table} AS SELECT * FROM read_parquet($path)",
               {"path": db.sql_path(path)})
    rows = [_rows_vs_truth(con, category, flag) for category, flag in CATEGORIES.items()]
    rows.append(_duplicates_vs_truth(con))
    rows.append(_exclusion_vs_truth(con, exclusion_desil))
    frame = pd.DataFrame(rows)
    frame["precision"] = (frame["correct"] / frame["flagged"]).round(4)
    frame["recall"] = (frame["correct"] / frame["true"]).round(4)
    return frame


def _counts(con: duckdb.DuckDBPyConnection, category: str, flagged_sql: str,
            true_sql: str) -> dict:
    """How many record ids the run flagged, the truth holds, and both."""
    flagged, true, correct = con.execute(f"""
        WITH f AS ({flagged_sql}), t AS ({true_sql})
        SELECT (SELECT count(*) FROM f), (SELECT count(*) FROM t),
               (SELECT count(*) FROM f JOIN t USING (record_id))""").fetchall()[0]
    return {"category": category, "flagged": flagged, "true": true, "correct": correct}


def _found(category: str) -> str:
    return f"SELECT DISTINCT record_id FROM found WHERE category = '{category}'"


def _rows_vs_truth(con: duckdb.DuckDBPyConnection, category: str, flag: str) -> dict:
    return _counts(con, category, _found(category),
                   f"SELECT id_penerima AS record_id FROM truth WHERE {flag}")


def _duplicates_vs_truth(con: duckdb.DuckDBPyConnection) -> dict:
    """Per (true person, program) enrolled more than once: found when any of its rows is
    flagged; which row is the extra one is a choice (the pipeline keeps the best match)."""
    return _counts(con, "duplicate_enrolment", """
        SELECT DISTINCT t.true_person_id || '|' || t.program AS record_id
        FROM found f JOIN truth t ON t.id_penerima = f.record_id
        WHERE f.category = 'duplicate_enrolment'""", """
        SELECT true_person_id || '|' || program AS record_id FROM truth
        GROUP BY ALL HAVING count(*) > 1""")


def _exclusion_vs_truth(con: duckdb.DuckDBPyConnection, desil: int) -> dict:
    """True exclusion errors: poorest register families with no true enrolment."""
    return _counts(con, "exclusion_error", _found("exclusion_error"), f"""
        SELECT DISTINCT id_keluarga AS record_id FROM register
        WHERE try_cast(desil AS INT) <= {int(desil)}
          AND id_keluarga NOT IN (SELECT true_id_keluarga FROM truth
                                  WHERE true_id_keluarga IS NOT NULL)""")
