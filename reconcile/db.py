"""The one module that talks to DuckDB.

Stage modules build SQL; this module runs it, logs it at debug level and re-raises
failures with the SQL attached, so an error in a nightly log says what was running.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import duckdb
import pandas as pd
import pyarrow as pa

from reconcile.errors import InputError
from reconcile.resources import default_memory_limit

log = logging.getLogger(__name__)

Frame: TypeAlias = pd.DataFrame | pa.Table
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NAME = re.compile(r"[a-z_][a-z0-9_]*")


class SqlError(RuntimeError):
    """A DuckDB statement failed: the message names the stage, the table it was building
    and the statement's first line, then DuckDB's error and the whole statement (its text
    holds no value: values are bound, and bound values are never shown)."""


_STAGE: ContextVar[str | None] = ContextVar("stage", default=None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Name the stage whose statements run inside (a failed one says so)."""
    token = _STAGE.set(name)
    try:
        yield
    finally:
        _STAGE.reset(token)


def _identifier(text: str, what: str) -> None:
    """Refuse a table, alias, variable or parameter name that is not a plain name: it goes
    into the SQL text, where only names may go."""
    if not _NAME.fullmatch(text):
        raise ValueError(f"not a {what}: {text!r}")


@dataclass(frozen=True)
class Step:
    """A statement or query built by a stage module and the values it binds by name."""

    sql: str
    params: Mapping[str, Any] = field(default_factory=dict)


Statement: TypeAlias = str | Step
_CONSTANTS: dict[str, Any] = {}
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
# What a failed statement was doing, from its first words: (pattern, description).
_DOING = ((re.compile(r"\s*CREATE (?:OR REPLACE )?(?:TEMP(?:ORARY)? )?(?:TABLE|VIEW) "
                      r"(?:IF NOT EXISTS )?([\w.\"]+)", re.I), "building {}"),
          (re.compile(r"\s*INSERT INTO ([\w.\"]+)", re.I), "adding rows to {}"),
          (re.compile(r"\s*UPDATE ([\w.\"]+)", re.I), "updating {}"),
          (re.compile(r"\s*DELETE FROM ([\w.\"]+)", re.I), "deleting from {}"),
          (re.compile(r"\s*COPY ", re.I), "writing a file"))


def connect(path: Path | str | None = None, *, threads: int | None = None,
            memory_limit: str | None = None,
            temp_directory: Path | None = None) -> duckdb.DuckDBPyConnection:
    """Open the run's work database (in memory when `path` is None). Threads default to
    every core, the memory limit to a share of the machine (reconcile.resources), the
    spill folder to DuckDB's `<database>.tmp`."""
    con = duckdb.connect(str(path) if path else ":memory:")
    if threads:
        con.execute("SET threads = $n", {"n": int(threads)})
    con.execute("SET memory_limit = $m", {"m": memory_limit or default_memory_limit()})
    if temp_directory:
        con.execute("SET temp_directory = $t", {"t": str(temp_directory)})
    con.execute("SET preserve_insertion_order = true")
    return con


def constants(values: Mapping[str, Any]) -> None:
    """Register the code's own SQL constants (comparison levels, reasons, phrases) as
    named parameters. Every statement run here binds the ones it names ($name), so a
    fragment can use them without each caller passing them. Never user values: those are
    passed with the statement."""
    for name, value in values.items():
        _identifier(name, "parameter name")
        if name in _CONSTANTS and _CONSTANTS[name] != value:
            raise ValueError(f"SQL constant ${name} is registered twice")
        _CONSTANTS[name] = value


def _bound(statement: Statement, params: Mapping[str, Any] | None) -> tuple[str, dict | None]:
    """The SQL text and exactly the parameters it names (DuckDB refuses extra ones): the
    statement's own, the caller's, then the registered constants. A statement composed of
    fragments can so take the union of their parameters."""
    sql = statement.sql if isinstance(statement, Step) else statement
    given = {**_CONSTANTS, **(statement.params if isinstance(statement, Step) else {}),
             **(params or {})}
    names = set(_PARAM.findall(sql))
    bound = {name: given[name] for name in names if name in given}
    return sql, bound or None


def _failed(exc: duckdb.Error, sql: str, bound: Mapping[str, Any] | None) -> SqlError:
    """The error of a failed statement: what it was doing (the table it was building)
    and its first line, then DuckDB's message and the whole statement. A bound text that
    DuckDB quotes in its message (a value that did not convert) is shown by its name."""
    message = str(exc)
    for name, value in (bound or {}).items():
        if isinstance(value, str) and len(value) >= 3:
            message = message.replace(value, f"${name}")
    first = next((line.strip() for line in sql.splitlines() if line.strip()), "")
    doing = "running a query"
    for pattern, description in _DOING:
        found = pattern.match(sql)
        if found:
            doing = description.format(*found.groups())
            break
    where = f"stage {_STAGE.get()}: " if _STAGE.get() else ""
    return SqlError(f"{where}{doing} ({first[:120]}): {message}\n--- while running ---\n"
                    f"{sql}")


@contextmanager
def _statement(statement: Statement, params: Mapping[str, Any] | None) -> Iterator[tuple]:
    """The SQL text and its bound parameters; a DuckDB error raised while it runs or while
    its result is fetched becomes the SqlError naming what it was doing."""
    sql, bound = _bound(statement, params)
    log.debug("sql: %s", sql)
    try:
        yield sql, bound
    except duckdb.Error as exc:
        raise _failed(exc, sql, bound) from None


def cursor(con: duckdb.DuckDBPyConnection, statement: Statement,
           params: Mapping[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    """Execute a query and return DuckDB's result, to read in batches (fetchmany)."""
    with _statement(statement, params) as (sql, bound):
        return con.execute(sql, bound)


def run(con: duckdb.DuckDBPyConnection, statement: Statement,
        params: Mapping[str, Any] | None = None) -> None:
    """Execute one statement whose result is not needed."""
    with _statement(statement, params) as (sql, bound):
        con.execute(sql, bound).fetchall()


def materialise(con: duckdb.DuckDBPyConnection, table: str, query: Statement,
                params: Mapping[str, Any] | None = None, temp: bool = False) -> None:
    """Store a query's result as `table` (a name from code), replacing any earlier one;
    temporary tables live in the connection's memory and spill past its memory limit."""
    _identifier(table, "table name")
    step = query if isinstance(query, Step) else Step(query)
    kind = "TEMP TABLE" if temp else "TABLE"
    run(con, Step(f"CREATE OR REPLACE {kind} {table} AS {step.sql}", step.params), params)


def df(con: duckdb.DuckDBPyConnection, statement: Statement,
       params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Run a query and return a pandas DataFrame."""
    with _statement(statement, params) as (sql, bound):
        return con.execute(sql, bound).df()


def arrow(con: duckdb.DuckDBPyConnection, statement: Statement,
          params: Mapping[str, Any] | None = None) -> pa.Table:
    """Run a query and return a pyarrow Table."""
    with _statement(statement, params) as (sql, bound):
        return con.sql(sql, params=bound).to_arrow_table()


def row(con: duckdb.DuckDBPyConnection, statement: Statement,
        params: Mapping[str, Any] | None = None) -> tuple[Any, ...]:
    """Run a query and return its first row (empty when there is none)."""
    with _statement(statement, params) as (sql, bound):
        rows = con.execute(sql, bound).fetchall()
    return tuple(rows[0]) if rows else ()


def scalar(con: duckdb.DuckDBPyConnection, statement: Statement,
           params: Mapping[str, Any] | None = None) -> Any:
    """Run a query that returns one value."""
    return (row(con, statement, params) or (None,))[0]


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
                         "similar); rename it or choose another folder", f"jalur {text!r} "
                         "berisi karakter kendali (NUL, baris baru atau sejenisnya); ganti "
                         "namanya atau pilih folder lain")
    return text


def attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str,
           read_only: bool = False) -> None:
    """Attach the DuckDB file `path` as `alias` (a name from code), the path bound."""
    _identifier(alias, "database alias")
    mode = " (READ_ONLY)" if read_only else ""
    run(con, f"ATTACH $path AS {alias}{mode}", {"path": sql_path(path)})


def variable_sql(name: str) -> str:
    """`getvariable('name')` of a session variable set by `set_variables` (a name from
    code, checked; DuckDB needs it as a literal)."""
    _identifier(name, "variable name")
    return f"getvariable('{name}')"


def set_variables(con: duckdb.DuckDBPyConnection, values: Mapping[str, Any]) -> None:
    """Session variables read in SQL with getvariable('name'): values bound, never spliced.

    Used for settings one statement needs in many places (eligibility cut-offs, keys),
    where exact per-statement parameter lists would be fragile.
    """
    for name, value in values.items():
        _identifier(name, "variable name")
        run(con, f"SET VARIABLE {name} = $value", {"value": value})


def copy_parquet(con: duckdb.DuckDBPyConnection, query: Statement, path: Path,
                 partition_by: str | None = None) -> None:
    """Write a query's result as Parquet (zstd); a folder when partitioned."""
    options = "FORMAT parquet, COMPRESSION zstd"
    if partition_by:
        options += f", PARTITION_BY ({partition_by}), OVERWRITE_OR_IGNORE"
    step = query if isinstance(query, Step) else Step(query)
    run(con, Step(f"COPY ({step.sql}) TO $path ({options})", step.params),
        {"path": sql_path(path)})
