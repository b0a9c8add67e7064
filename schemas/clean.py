"""Schemas of the clean tables: what every stage after validation may rely on.

Checked lazily on the whole table after cleaning, so a broken contract is reported once
with every failing column and value, instead of surfacing as a wrong match later.
"""

from __future__ import annotations

import pandera.pandas as pa

NIK_STATUSES = ("valid", "blank", "placeholder", "excel_damaged", "bad_length", "is_kk",
                "temporary", "bad_date", "bad_region")
REGION = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$"
DIGITS16 = r"^[0-9]{16}$"

_person = {
    "rid": pa.Column("int64", pa.Check.ge(0), unique=True),
    "source_file": pa.Column(str),
    "source_row": pa.Column("int64", pa.Check.ge(1)),
    "nik": pa.Column(str, pa.Check.str_matches(DIGITS16), nullable=True),
    "nik_status": pa.Column(str, pa.Check.isin(NIK_STATUSES)),
    "no_kk": pa.Column(str, pa.Check.str_matches(DIGITS16), nullable=True),
    "jenis_kelamin": pa.Column(str, pa.Check.isin(("L", "P")), nullable=True),
    "kode_wilayah": pa.Column(str, pa.Check.str_matches(REGION), nullable=True),
    "nik_dob_conflict": pa.Column(bool),
    "nik_sex_conflict": pa.Column(bool),
}

CleanKemensos = pa.DataFrameSchema(
    {**_person, "id_penerima": pa.Column(str),
     "program": pa.Column(str, nullable=True)},
    unique=["source_file", "source_row"], strict=False, coerce=True, name="clean_kemensos")

CleanBps = pa.DataFrameSchema(
    {**_person, "id_individu": pa.Column(str), "id_keluarga": pa.Column(str, nullable=True),
     "desil": pa.Column("Int64", pa.Check.in_range(1, 10), nullable=True)},
    unique=["id_individu"], strict=False, coerce=True, name="clean_bps")


def check_clean(con) -> None:
    """Validate clean_kemensos and clean_bps; raise pandera's SchemaErrors with every failure."""
    from schemas import validate_table

    validate_table(con, "clean_kemensos", CleanKemensos)
    validate_table(con, "clean_bps", CleanBps)
