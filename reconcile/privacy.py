"""Personal data handling (UU PDP): masked NIKs for people, keyed tokens for analysts.

Public tables, logs and reports never show a full NIK, KK number or name. Analysts who
need to join runs get HMAC-SHA256 tokens: the same value and key always give the same
token, and without the key a token cannot be turned back into a NIK.
"""

from __future__ import annotations

import os

import duckdb

from reconcile import db

KEY_VARIABLE = "RECONCILE_HMAC_KEY"
MASK_SQL = "CASE WHEN length({col}) > 8 THEN left({col}, 4) || repeat('*', length({col}) - 8) " \
           "|| right({col}, 4) WHEN {col} IS NOT NULL THEN repeat('*', length({col})) END"


def mask_nik(value: str | None) -> str | None:
    """A NIK or KK number with only its region prefix and serial visible.

    >>> mask_nik("1771010101900001")
    '1771********0001'
    >>> mask_nik("123")
    '***'
    """
    if value is None:
        return None
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_sql(column: str) -> str:
    """SQL expression masking a NIK-like text column the way mask_nik does."""
    return MASK_SQL.format(col=column)


def hmac_key() -> str:
    """The pseudonymisation key; refusing to run without one is safer than a default."""
    key = os.environ.get(KEY_VARIABLE, "")
    if len(key) < 16:
        raise ValueError(f"set {KEY_VARIABLE} to a secret of at least 16 characters "
                         "to write pseudonymised outputs")
    return key


def pseudonymise_columns(con: duckdb.DuckDBPyConnection, table: str,
                         columns: tuple[str, ...]) -> str:
    """Create `<table>_pseudonymised` with `columns` replaced by HMAC tokens; return its name.

    Tokens are computed once per distinct value (NIKs repeat across programs), in Python's
    hmac (DuckDB has no keyed hash), and joined back set-wise.
    """
    import hashlib
    import hmac

    import pandas as pd

    key = hmac_key().encode()
    values = db.df(con, " UNION ".join(
        f"SELECT DISTINCT {c}::VARCHAR AS v FROM {table} WHERE {c} IS NOT NULL" for c in columns))
    values["token"] = [hmac.new(key, v.encode(), hashlib.sha256).hexdigest()[:32]
                       for v in values["v"]]
    db.put(con, "__tokens", pd.DataFrame(values))
    target = f"{table}_pseudonymised"
    replaced = ", ".join(f"(SELECT token FROM __tokens WHERE v = t.{c}) AS {c}" for c in columns)
    db.run(con, f"CREATE OR REPLACE TABLE {target} AS "
                f"SELECT * REPLACE ({replaced}) FROM {table} t")
    return target
