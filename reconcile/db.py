"""The one module that talks to DuckDB.

Stage modules build SQL; this module runs it, logs it at debug level and re-raises
failures with the SQL attached, so an error in a nightly log says what was running.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from reconcile.errors import InputError
from reconcile.resources import default_memory_limit

log = logging.getLogger(__name__)

Frame = pd.DataFrame | pa.Table
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NAME = re.compile(r"[a-z_][a-z0-9_]*")


class SqlError(RuntimeError):
    """A DuckDB statement failed; the message carries the statement."""


def connect(path: Path | str | None = None, *, threads: int | None = None,
            memory_limit: str | None = None,
            temp_directory: Path | None = None) -> duckdb.DuckDBPyConnection:
    """Open the run's work database (in memory when `path` is None). Threads default to
    every core, the memory limit to a share of the machine (reconcile.resources), the
    spill folder to DuckDB's `<database>.tmp`."""
    con = duckdb.connect(str(path) if path else ":memory:")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute("SET memory_limit = $m", {"m": memory_limit or default_memory_limit()})
    if temp_directory:
        con.execute("SET temp_directory = $t", {"t": str(temp_directory)})
    con.execute("SET preserve_insertion_order = true")
    return con


def run(con: duckdb.DuckDBPyConnection, sql: str,
        params: Mapping[str, Any] | None = None) -> None:
    """Execute one statement whose result is not needed."""
    log.debug("sql: %s", sql)
    try:
        con.execute(sql, dict(params) if params else None).fetchall()
    except duckdb.Error as exc:
        raise SqlError(f"{exc}\n--- while running ---\n{sql}") from exc


def df(con: duckdb.DuckDBPyConnection, sql: str,
       params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Run a query and return a pandas DataFrame."""
    log.debug("sql: %s", sql)
    try:
        return con.execute(sql, dict(params) if params else None).df()
    except duckdb.Error as exc:
        raise SqlError(f"{exc}\n--- while running ---\n{sql}") from exc


def arrow(con: duckdb.DuckDBPyConnection, sql: str,
          params: Mapping[str, Any] | None = None) -> pa.Table:
    """Run a query and return a pyarrow Table."""
    log.debug("sql: %s", sql)
    try:
        return con.sql(sql, params=dict(params) if params else None).to_arrow_table()
    except duckdb.Error as exc:
        raise SqlError(f"{exc}\n--- while running ---\n{sql}") from exc


def scalar(con: duckdb.DuckDBPyConnection, sql: str,
           params: Mapping[str, Any] | None = None) -> Any:
    """Run a query that returns one value."""
    rows = con.execute(sql, dict(params) if params else None).fetchall()
    return rows[0][0] if rows else None


def put(con: duckdb.DuckDBPyConnection, name: str, frame: Frame) -> None:
    """Store a pandas or arrow frame as table `name`, replacing any earlier one."""
    con.register("__put_frame", frame)
    try:
        run(con, f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM __put_frame')
    finally:
        con.unregister("__put_frame")


def count(con: duckdb.DuckDBPyConnection, name: str) -> int:
    """Number of rows in a table."""
    return int(scalar(con, f'SELECT count(*) FROM "{name}"'))


def quote(text: str) -> str:
    """A SQL string literal of one of the code's own constants (a reason, a category);
    values from users or files are bound instead."""
    return "'" + text.replace("'", "''") + "'"


def in_list(texts) -> str:
    """`('a', 'b')` for `x IN ...` over the code's own constants (see `quote`)."""
    return "(" + ", ".join(quote(t) for t in texts) + ")"


def has_table(con: duckdb.DuckDBPyConnection, name: str, database: str | None = None) -> bool:
    """Whether a table (temporary ones included) exists, in `database` if given (an
    attached alias) or in any; the names are bound, never written into the SQL."""
    return bool(scalar(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = $t "
                            "AND database_name = coalesce($d, database_name)",
                       {"t": str(name), "d": database}))


def sql_path(path: Path | str) -> str:
    """A filesystem path as DuckDB receives it: always as a bound parameter, never as text.

    DuckDB 2.0 binds paths in COPY ... TO, ATTACH and read_parquet($p), so a quote or
    `;` in a path cannot change a statement. Control characters (NUL, newline, CR ...)
    are still refused: no file name needs them and they corrupt logs and manifests.
    """
    text = Path(path).as_posix()
    if _CONTROL.search(text):
        raise InputError(f"path {text!r} contains a control character (NUL, newline or "
                         "similar); rename it or choose another folder")
    return text


def attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str,
           read_only: bool = False) -> None:
    """Attach the DuckDB file `path` as `alias` (a name from code), the path bound."""
    if not _NAME.fullmatch(alias):
        raise ValueError(f"not a database alias: {alias!r}")
    mode = " (READ_ONLY)" if read_only else ""
    run(con, f"ATTACH $path AS {alias}{mode}", {"path": sql_path(path)})


def set_variables(con: duckdb.DuckDBPyConnection, values: Mapping[str, Any]) -> None:
    """Session variables read in SQL with getvariable('name'): values bound, never spliced.

    Used for settings one statement needs in many places (eligibility cut-offs, keys),
    where exact per-statement parameter lists would be fragile.
    """
    for name, value in values.items():
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a variable name: {name!r}")
        run(con, f"SET VARIABLE {name} = $value", {"value": value})


def copy_parquet(con: duckdb.DuckDBPyConnection, query: str, path: Path,
                 partition_by: str | None = None) -> None:
    """Write a query's result as Parquet (zstd); a folder when partitioned."""
    options = "FORMAT parquet, COMPRESSION zstd"
    if partition_by:
        options += f", PARTITION_BY ({partition_by}), OVERWRITE_OR_IGNORE"
    run(con, f"COPY ({query}) TO $path ({options})", {"path": sql_path(path)})
