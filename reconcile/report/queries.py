"""SQL shared by the HTML and Excel reports: aggregates run in DuckDB, not in Python.

Free text from the discrepancy table passes through `safe_text_sql` first. The upstream
contract says evidence never holds a full NIK; masking any 16-digit run again costs
nothing and keeps the reports safe if that contract is ever broken.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from reconcile import db
from reconcile.accuracy import ESTIMATES
from reconcile.privacy import mask_long_digits_sql
from reconcile.report.labels import REGION_COLUMNS
from reconcile.tables import Table

DISCREPANCIES = Table.DISCREPANCIES
REGION_SUMMARY = Table.REGION_SUMMARY
RECONCILED = Table.RECONCILED
ACCURACY = ESTIMATES
NO_REGION_CODE = "tanpa kode wilayah / no region code"


SEVERITY_RANK_SQL = "CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 " \
                    "WHEN 'low' THEN 2 ELSE 3 END"
# Dotted codes: the regency is the first 5 characters ('17.01.02.2003' -> '17.01').
REGENCY_SQL = "coalesce(left(kode_wilayah, 5), '')"


def safe_text_sql(column: str) -> str:
    """SQL for a text column with long digit runs masked and control characters removed
    (those Excel and XML 1.0 reject; tab, LF and CR are allowed)."""
    return (f"regexp_replace({mask_long_digits_sql(column)},"
            " '[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]', '', 'g')")


def category_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Findings per category and severity, open and already handled by officers (a
    field-verification outcome recorded), with the amount involved where known."""
    has_status = db.scalar(con, "SELECT count(*) FROM duckdb_columns() WHERE table_name = $t"
                                " AND column_name = 'status'", {"t": str(DISCREPANCIES)})
    status = "coalesce(status, 'open')" if has_status else "'open'"
    return db.df(con, f"""
        SELECT category,
               count(*) AS n,
               count(*) FILTER (WHERE {status} = 'open') AS n_open,
               count(*) FILTER (WHERE {status} <> 'open') AS n_handled,
               count(*) FILTER (WHERE severity = 'high') AS n_high,
               count(*) FILTER (WHERE severity = 'medium') AS n_medium,
               count(*) FILTER (WHERE severity = 'low') AS n_low,
               sum(cost) AS cost
        FROM {DISCREPANCIES} GROUP BY category ORDER BY category""")


def region_rows(con: duckdb.DuckDBPyConnection, level: str) -> pd.DataFrame:
    """Region summary rows of one level ('kabupaten' or 'kecamatan'), by code."""
    columns = ", ".join(REGION_COLUMNS)
    return db.df(con, f"SELECT {columns} FROM {REGION_SUMMARY} WHERE level = $level "
                      "ORDER BY kode_wilayah", {"level": level})


def regency_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Regency code -> name, from the region summary."""
    rows = db.df(con, f"SELECT kode_wilayah, any_value(nama_wilayah) AS nama "
                      f"FROM {REGION_SUMMARY} WHERE level = 'kabupaten' GROUP BY ALL")
    return dict(zip(rows["kode_wilayah"], rows["nama"].fillna(""), strict=True))


def accuracy_rows(con: duckdb.DuckDBPyConnection, level: str) -> pd.DataFrame | None:
    """The accuracy estimates of one level ('overall', 'program', 'kabupaten'), regencies
    with their names; None when the run wrote no estimates."""
    if not db.has_table(con, ACCURACY):  # older work databases have none
        return None
    return db.df(con, f"""
        SELECT a.*, coalesce(r.nama_wilayah, CASE WHEN a.kode_kabupaten = 'unknown'
                                                  THEN $no_code END) AS nama_wilayah
        FROM {ACCURACY} a
        LEFT JOIN (SELECT kode_wilayah, any_value(nama_wilayah) AS nama_wilayah
                   FROM {REGION_SUMMARY} WHERE level = 'kabupaten' GROUP BY ALL) r
               ON r.kode_wilayah = a.kode_kabupaten
        WHERE a.level = $level ORDER BY a.program, a.kode_kabupaten""",
                 {"level": level, "no_code": NO_REGION_CODE})
