"""A schema's checks run as one DuckDB aggregate over the whole table, before pandera.

Pulling a million-row table into pandas to run regular expressions in Python cost
seconds per clean table at 1M register people, and the tables almost always pass.
`passes` answers "does every row satisfy the schema?" in one set-based scan; only when
it cannot say yes (a violation, or a check it does not translate) does `validate_table`
run pandera as before, so a broken contract is still reported by pandera, in the same
words. The translation is never looser than pandera: where the two could differ
(`$` before a trailing newline, NaN against a range) the SQL side counts a violation and
pandera decides.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pandera.pandas as pa

# pandera dtype (as str()) -> DuckDB column types holding exactly such values
DUCKDB_TYPES = {
    "int64": {"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UINTEGER", "USMALLINT",
              "UTINYINT"},
    "bool": {"BOOLEAN"},
    "float64": {"DOUBLE", "FLOAT"},
    "str": {"VARCHAR"},
}
DUCKDB_TYPES["Int64"] = DUCKDB_TYPES["int64"]
DUCKDB_TYPES["string[pyarrow]"] = DUCKDB_TYPES["str"]
DUCKDB_TYPES["string[python]"] = DUCKDB_TYPES["str"]
FLOATS = DUCKDB_TYPES["float64"]


class Untranslated(Exception):
    """A part of the schema this module does not express in SQL: pandera checks it."""


@dataclass
class _Counts:
    """The aggregate's terms (each counts violating rows) and what they bind."""

    terms: list[str] = field(default_factory=list)
    params: dict[str, object] = field(default_factory=dict)

    def placeholder_sql(self, value: object) -> str:
        """Bind `value`; its $placeholder."""
        name = "p" + str(len(self.params))  # the placeholder's name, never the value
        self.params[name] = value
        return "$" + name


def passes(con, table: str, schema: pa.DataFrameSchema) -> bool:
    """Whether every row of `table` satisfies `schema`; False when unsure (pandera then
    checks as before)."""
    # schemas sit below the library (they never import reconcile): DuckDB is called direct
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {table})")
                 .fetchall())
    try:
        counts = _counts(table, schema, types)
    except Untranslated:
        return False
    if not counts.terms:
        return True
    select = ", ".join(counts.terms)
    violations = con.execute(f"SELECT {select} FROM {table}", counts.params or None).fetchone()
    return not any(violations or ())


def _counts(table: str, schema: pa.DataFrameSchema, types: dict[str, str]) -> _Counts:
    if schema.checks or schema.ordered or schema.strict not in (True, False):
        raise Untranslated("schema-wide checks")
    if schema.strict is True and set(types) - set(schema.columns):
        raise Untranslated("columns the strict schema does not name")
    counts = _Counts()
    for name, column in schema.columns.items():
        if column.regex or name not in types:
            raise Untranslated(name)
        if types[name] not in DUCKDB_TYPES.get(str(column.dtype), ()):
            raise Untranslated(f"{name}: {types[name]} as {column.dtype}")
        counts.terms += list(_column_terms(name, column, types[name] in FLOATS, counts))
    if schema.unique:
        together = ", ".join(schema.unique)
        counts.terms.append(
            f"count(*) - (SELECT count(*) FROM (SELECT DISTINCT {together} FROM {table}))")
    return counts


def _column_terms(column: str, spec: pa.Column, is_float: bool,
                  counts: _Counts) -> Iterator[str]:
    """One violation count per rule of one column; NULL (and NaN, which pandas reads as
    missing) is judged by `nullable` only, as pandera does."""
    missing = f"({column} IS NULL OR isnan({column}))" if is_float else f"{column} IS NULL"
    if not spec.nullable:
        yield f"count_if({missing})"
    if spec.unique:  # pandera counts repeated missing values as duplicates too
        yield (f"(count({column}) > count(DISTINCT {column})"
               f" OR count(*) - count({column}) > 1)::INTEGER")
    for check in spec.checks:
        valid = _check_sql(column, check, counts)
        yield f"count_if(NOT ({missing}) AND NOT coalesce({valid}, false))"


def _check_sql(column: str, check: pa.Check, counts: _Counts) -> str:
    """The condition a valid value meets, for the checks the schemas use."""
    stats = check.statistics or {}
    if check.name == "greater_than_or_equal_to":
        least = counts.placeholder_sql(stats["min_value"])
        return f"{column} >= {least}"
    if check.name == "in_range":
        low = ">=" if stats.get("include_min", True) else ">"
        high = "<=" if stats.get("include_max", True) else "<"
        least, most = counts.placeholder_sql(stats["min_value"]), counts.placeholder_sql(stats["max_value"])
        return f"{column} {low} {least} AND {column} {high} {most}"
    if check.name == "isin":
        if not all(isinstance(v, str) for v in stats["allowed_values"]):
            raise Untranslated(check.name)
        allowed = counts.placeholder_sql(list(stats["allowed_values"]))
        return f"list_contains({allowed}, {column})"
    if check.name == "str_matches":  # re.match: anchored at the start
        pattern = counts.placeholder_sql("^(?:" + stats["pattern"] + ")")
        return f"regexp_matches({column}, {pattern})"
    if check.name == "no_full_nik":  # schemas.outputs.NO_FULL_NIK: a search, not a match
        from schemas.outputs import FULL_NIK

        full_nik = counts.placeholder_sql(FULL_NIK)
        return f"NOT regexp_matches({column}, {full_nik})"
    raise Untranslated(check.name)
