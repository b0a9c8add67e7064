"""Schema of the raw tables: text as read, each row with its file and row number."""

from __future__ import annotations

import pandera.pandas as pa

Raw = pa.DataFrameSchema(
    {"source_file": pa.Column(str), "source_row": pa.Column("int64", pa.Check.ge(1))},
    unique=["source_file", "source_row"], strict=False, coerce=True, name="raw")
