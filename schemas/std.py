"""Schema of the standardised persons (std_kemensos, std_bps): the matcher's input keys."""

from __future__ import annotations

import pandera.pandas as pa

from schemas.clean import DIGITS16, REGION

Standardised = pa.DataFrameSchema(
    {
        "rid": pa.Column("int64", pa.Check.ge(0), unique=True),
        "name_key": pa.Column(str, pa.Check.str_matches(r"^[A-Z0-9 ]*$"), nullable=True),
        "nik": pa.Column(str, pa.Check.str_matches(DIGITS16), nullable=True),
        "nik_ok": pa.Column(bool),
        "no_kk": pa.Column(str, pa.Check.str_matches(DIGITS16), nullable=True),
        "sex": pa.Column(str, pa.Check.isin(("L", "P")), nullable=True),
        "village": pa.Column(str, pa.Check.str_matches(REGION), nullable=True),
    },
    strict=False, coerce=True, name="standardised")
