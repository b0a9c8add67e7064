"""pandera schemas, one per boundary table of the pipeline.

`validate_table` checks a DuckDB table against its schema lazily, so one error lists
every failing column and value. The clean tables and the published tables are checked
whole. Tables the pipeline derives set-wise from checked ones (raw structure, the
standardised keys, the scored pairs: millions of rows at national scale) are checked on a
fixed hash-ordered sample, said so in the call, to keep validation from dominating a run.
"""

from __future__ import annotations

import pandera.pandas as pa


def validate_table(con, table: str, schema: pa.DataFrameSchema,
                   sample_rows: int | None = None) -> None:
    """Raise pandera's SchemaErrors (with every failure) if `table` breaks `schema`."""
    names = [n for n, c in schema.columns.items() if not c.regex]
    has_regex = any(c.regex for c in schema.columns.values())
    select = "*" if has_regex else ", ".join(names)
    limit = f" ORDER BY hash(rowid) LIMIT {int(sample_rows)}" if sample_rows else ""
    frame = con.execute(f"SELECT {select} FROM {table}{limit}").df()
    schema.validate(frame, lazy=True)
