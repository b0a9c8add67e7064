"""pandera schemas, one per boundary table of the pipeline.

`validate_table` checks a DuckDB table against its schema lazily, so one error lists
every failing column and value. The clean tables and the published tables are checked
whole. Tables the pipeline derives set-wise from checked ones (raw structure, the
standardised keys, the scored pairs: millions of rows at national scale) are checked on a
fixed hash-ordered sample, said so in the call, to keep validation from dominating a run.
Every table is first checked whole in one DuckDB scan (`schemas.in_sql`); pandera reads
the table (or its sample) only when that scan cannot vouch for it.

A broken contract is reported by place (table, column, check, rows and where they came
from), never by value: the failing values are NIKs, names and ids, and the message goes
to the console, run.log and Prefect's database.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from schemas import in_sql

SHOWN_ROWS = 3


class ContractError(ValueError):
    """A table breaks its schema; the message says where, never the values."""


def validate_table(con, table: str, schema: pa.DataFrameSchema,
                   sample_rows: int | None = None) -> None:
    """Raise ContractError (every failing column and check, with row counts) if `table`
    breaks `schema`. The whole table is checked in SQL first (schemas.in_sql); pandera
    runs only when that finds a violation or a check it does not translate."""
    if in_sql.passes(con, table, schema):
        return
    names = [n for n, c in schema.columns.items() if not c.regex]
    has_regex = any(c.regex for c in schema.columns.values())
    located = [] if has_regex or schema.strict is True else _located(con, table)
    select = "*" if has_regex else ", ".join(dict.fromkeys([*names, *located]))
    sample = " ORDER BY hash(rowid) LIMIT $rows" if sample_rows else ""
    frame = con.execute(f"SELECT {select} FROM {table}{sample}",
                        {"rows": int(sample_rows)} if sample_rows else None).df()
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        raise ContractError(contract_message(table, exc.failure_cases, frame)) from None


def _located(con, table: str) -> list[str]:
    """source_file and source_row when the table has them: where a bad row came from."""
    columns = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
    return [c for c in ("source_file", "source_row") if c in columns]


def contract_message(table: str, failures: pd.DataFrame, frame: pd.DataFrame) -> str:
    """One line per failing column and check: how many rows, and the first few rows'
    file and row number where the table records them. No value is ever shown."""
    lines = [f"{table} breaks its contract (values not shown: they may be personal data):"]
    failures = failures.assign(column=failures["column"].fillna("(table)").astype(str),
                               check=failures["check"].astype(str))
    for (column, check), group in failures.groupby(["column", "check"], sort=True):
        rows = pd.to_numeric(group["index"], errors="coerce").dropna().astype(int).unique()
        lines.append(f"  column {column}: {check} fails in {len(rows) or len(group)} "
                     f"row(s){_where(frame, rows)}")
    return "\n".join(lines)


def _where(frame: pd.DataFrame, rows) -> str:
    if not {"source_file", "source_row"} <= set(frame.columns) or not len(rows):
        return ""
    shown = frame.iloc[rows[:SHOWN_ROWS]]
    places = ", ".join(f"{f} row {r}" for f, r in zip(shown["source_file"],
                                                       shown["source_row"], strict=True))
    return f", e.g. {places}"
