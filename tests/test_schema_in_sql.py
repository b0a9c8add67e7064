"""The schemas' SQL pre-check (schemas.in_sql) never lets through what pandera refuses."""

from __future__ import annotations

import pandera.pandas as pa
import pytest

from schemas import ContractError, in_sql, validate_table
from schemas.clean import DIGITS16
from schemas.outputs import NO_FULL_NIK

SCHEMA = pa.DataFrameSchema({
    "rid": pa.Column("int64", pa.Check.ge(0), unique=True),
    "nik": pa.Column(str, pa.Check.str_matches(DIGITS16), nullable=True),
    "sex": pa.Column(str, pa.Check.isin(("L", "P")), nullable=True),
    "p": pa.Column(float, pa.Check.in_range(0.0, 1.0)),
    "note": pa.Column(str, NO_FULL_NIK, nullable=True),
}, unique=["nik", "sex"], strict=False, coerce=True)

GOOD = "(0, '1234567890123456', 'L', 0.5, 'ok'), (1, NULL, NULL, 1.0, NULL)"
BROKEN = {  # one broken rule per case, each as a third row
    "regex": "(2, '12345', 'P', 0.1, NULL)",
    "regex before a newline": "(2, '1234567890123456\n', 'P', 0.1, NULL)",
    "isin": "(2, NULL, 'X', 0.1, NULL)",
    "range": "(2, NULL, 'P', 1.5, NULL)",
    "not nullable": "(2, NULL, 'P', NULL, NULL)",
    "NaN is missing": "(2, NULL, 'P', 'NaN'::DOUBLE, NULL)",
    "ge": "(-1, NULL, 'P', 0.1, NULL)",
    "unique column": "(1, NULL, 'P', 0.1, NULL)",
    "unique together": "(2, '1234567890123456', 'L', 0.1, NULL)",
    "a full NIK in a text": "(2, NULL, 'P', 0.1, 'nik 1234567890123456')",
}


def _table(con, rows: str) -> None:
    con.execute("CREATE OR REPLACE TABLE t (rid BIGINT, nik VARCHAR, sex VARCHAR, p DOUBLE,"
                f" note VARCHAR); INSERT INTO t VALUES {rows}")


def test_a_table_that_conforms_is_vouched_for_without_pandera(con):
    _table(con, GOOD)
    assert in_sql.passes(con, "t", SCHEMA)
    validate_table(con, "t", SCHEMA)


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_every_broken_rule_goes_to_pandera(con, case):
    _table(con, f"{GOOD}, {BROKEN[case]}")
    assert not in_sql.passes(con, "t", SCHEMA)
    pandera_refuses = case != "regex before a newline"  # Python's $ allows a final \n
    if pandera_refuses:
        with pytest.raises(ContractError, match="breaks its contract"):
            validate_table(con, "t", SCHEMA)
    else:
        validate_table(con, "t", SCHEMA)


def test_a_column_of_another_type_is_left_to_pandera(con):
    con.execute("CREATE TABLE t AS SELECT '7' AS rid, NULL::VARCHAR AS nik, 'L' AS sex,"
                " 0.5::DOUBLE AS p, NULL::VARCHAR AS note")
    assert not in_sql.passes(con, "t", SCHEMA)  # pandera coerces text to int64 itself
    validate_table(con, "t", SCHEMA)


def test_the_clean_tables_pass_in_sql_as_in_pandera(small_data, tmp_path):
    from schemas.clean import CleanBps, CleanKemensos
    from synth.bench.data import cleaned

    with cleaned(small_data, tmp_path / "w.duckdb") as con:
        for table, schema in (("clean_kemensos", CleanKemensos), ("clean_bps", CleanBps)):
            assert in_sql.passes(con, table, schema)
            schema.validate(con.execute(f"SELECT * FROM {table}").df(), lazy=True)
