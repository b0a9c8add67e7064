"""report.xlsx: a summary sheet, the accuracy estimates, then one filterable sheet per
discrepancy category.

openpyxl writes the summary sheet and each category sheet's header, widths, frozen row and
filter; the category rows themselves (hundreds of thousands at a million people) are
rendered as sheet XML by DuckDB and streamed into the file, about 20x faster than
appending them through openpyxl, which took 20 s for 210,000 findings. Text that Excel would read as a formula
('=', '+', '-', '@' first) gets a leading apostrophe (CSV/formula injection): the
evidence column echoes values typed into source spreadsheets by anyone.
"""

from __future__ import annotations

import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from reconcile import db
from reconcile.report.labels import (
    ACCURACY_BENCH_NOTE,
    ACCURACY_COLUMNS,
    ACCURACY_EXPECTED,
    ACCURACY_LEVELS,
    ACCURACY_NOTE,
    ACCURACY_RATES,
    ACCURACY_TITLE,
    DESIL_COLUMNS,
    DISCREPANCY_COLUMNS,
    FINDING_STATUS,
    REGION_COLUMNS,
    RUN_INFO,
    SEVERITIES,
    SHARE_COLUMNS,
    SURVEY_NOTE,
    category_label,
    is_missing,
    ordered_categories,
)
from reconcile.report.queries import (
    ACCURACY,
    DISCREPANCIES,
    RECONCILED,
    REGION_SUMMARY,
    SEVERITY_RANK_SQL,
    accuracy_rows,
    category_counts,
    safe_text_sql,
)

EXCEL_MAX_ROWS = 1_048_575          # 1,048,576 rows per sheet, one is the header
SUMMARY_SHEET = "Ringkasan (Summary)"
ACCURACY_SHEET = "Akurasi (Accuracy)"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START_RE = "^[=+@\\t\\r-]"
SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
BATCH_ROWS = 50_000
NOT_XML = re.compile("[\ufffe\uffff\ud800-\udfff]")  # openpyxl lets these through
BOLD = Font(bold=True)
REGION_HEADERS = {"level": "Tingkat / Level", **REGION_COLUMNS, **DESIL_COLUMNS}


def neutralise(value: Any) -> Any:
    """A cell value Excel will not run as a formula; other values pass unchanged.

    >>> neutralise("=SUM(A1)")
    "'=SUM(A1)"
    >>> neutralise("-5"), neutralise(-5), neutralise("ok")
    ("'-5", -5, 'ok')
    """
    if not isinstance(value, str):
        return value
    value = xml_safe(value)
    return "'" + value if value.startswith(FORMULA_START) else value


def xml_safe(text: str) -> str:
    """Text without the characters an .xlsx file (XML) cannot hold."""
    return NOT_XML.sub("", ILLEGAL_CHARACTERS_RE.sub("", text))


def excel_text_sql(column: str) -> str:
    """The SQL twin of `neutralise` (plus NIK masking), so 1M rows need no Python loop."""
    text = safe_text_sql(column)
    return f"CASE WHEN regexp_matches({text}, '{_FORMULA_START_RE}') " \
           f"THEN '''' || {text} ELSE {text} END"


def sheet_names(categories: list[str]) -> dict[str, str]:
    """Category -> a valid, unique sheet name (at most 31 characters, no []:*?/\\).

    >>> names = sheet_names(["invalid_nik", "x:y" * 20, "x:y" * 21])
    >>> names["invalid_nik"], names["x:y" * 20][-4:], names["x:y" * 21][-4:]
    ('invalid_nik', 'x_yx', 'x__2')
    """
    taken = {SUMMARY_SHEET.lower(), ACCURACY_SHEET.lower()}
    names = {}
    for category in categories:
        base = SHEET_NAME_BAD.sub("_", category or "kategori")[:31].strip("'") or "kategori"
        name, n = base, 1
        while name.lower() in taken:
            n += 1
            name = f"{base[:31 - len(str(n)) - 1]}_{n}"
        taken.add(name.lower())
        names[category] = name
    return names


def write_report_xlsx(con: duckdb.DuckDBPyConnection, path: Path,
                      run_info: dict | None = None) -> None:
    """Write the officers' workbook to `path`; `run_info` adds the run's own numbers."""
    counts = category_counts(con)
    categories = ordered_categories(counts["category"].dropna().tolist())
    names = sheet_names(categories)
    rows = dict(zip(counts["category"], counts["n"].astype(int), strict=True))
    book = Workbook(write_only=True)
    _write_summary(book.create_sheet(SUMMARY_SHEET), con, counts, names, run_info)
    if db.has_table(con, ACCURACY):  # older work databases have no estimates
        _write_accuracy(book.create_sheet(ACCURACY_SHEET), con)
    first = len(book.worksheets) + 1
    for category in categories:
        _write_category(book.create_sheet(names[category]), min(rows[category], EXCEL_MAX_ROWS))
    skeleton = Path(path).with_suffix(".skeleton.xlsx")
    book.save(skeleton)
    try:
        _fill_category_sheets(con, skeleton, Path(path), categories, first)
    finally:
        skeleton.unlink(missing_ok=True)


# --- summary sheet ------------------------------------------------------------------

def _bold(sheet: WriteOnlyWorksheet, value: Any) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=neutralise(value))
    cell.font = BOLD
    return cell


def _write_summary(sheet: WriteOnlyWorksheet, con: duckdb.DuckDBPyConnection,
                   counts: pd.DataFrame, names: dict[str, str], run_info: dict | None) -> None:
    for column, width in zip("ABCDEFGHIJK", (44, 40, 14, 12, 12, 12, 18, 22, 60, 12, 16),
                             strict=True):
        sheet.column_dimensions[column].width = width
    sheet.append([_bold(sheet, "Laporan Rekonsiliasi Kemensos-BPS / "
                               "Kemensos-BPS Reconciliation Report")])
    for key, label, value in _run_facts(con, run_info):
        sheet.append([neutralise(label), _region_cell(sheet, key, value)])
    sheet.append([])
    _write_category_counts(sheet, counts, names)
    sheet.append([])
    _write_regions(sheet, con)
    sheet.append([])
    sheet.append([SURVEY_NOTE])
    sheet.append(["Lembar ini tidak memuat nama maupun NIK lengkap. / "
                  "This workbook contains no names and no full NIKs."])


def _run_facts(con: duckdb.DuckDBPyConnection, run_info: dict | None) -> list[tuple]:
    """(key, label, value) for the scalar run facts: the given run_info, else what the
    work database can tell (outputs.py passes none)."""
    if run_info is None:
        row = db.df(con, f"""
            SELECT count(*) AS reconciled_rows, count(DISTINCT person_id) AS persons,
                   round(avg((id_individu IS NOT NULL)::INT), 4) AS share_matched
            FROM {RECONCILED}""").iloc[0]
        run_info = {k: _python(v) for k, v in row.items()}
    facts = [(str(k), RUN_INFO.get(str(k), str(k)), _python(v)) for k, v in run_info.items()
             if not isinstance(v, dict | list | tuple | set)]
    facts = [(k, label, v if v is None or isinstance(v, int | float) else str(v))
             for k, label, v in facts]
    total = db.scalar(con, f"SELECT count(*) FROM {DISCREPANCIES}")
    return facts + [("findings", "Jumlah temuan / Findings", int(total)),
                    ("generated", "Dibuat / Generated",
                     datetime.now().strftime("%Y-%m-%d %H:%M"))]


def _write_category_counts(sheet: WriteOnlyWorksheet, counts: pd.DataFrame,
                           names: dict[str, str]) -> None:
    sheet.append([_bold(sheet, "Temuan per kategori / Findings per category")])
    sheet.append([_bold(sheet, h) for h in (
        "Kategori / Category", "Kode / Code", "Jumlah / Count", SEVERITIES["high"],
        SEVERITIES["medium"], SEVERITIES["low"], "Nilai (Rp) / Amount (IDR)",
        "Lembar / Sheet", "Catatan / Note", *FINDING_STATUS.values())])
    by_category = counts.set_index("category")
    for category, sheet_name in names.items():
        row = by_category.loc[category]
        n = int(row["n"])
        note = "" if n <= EXCEL_MAX_ROWS else (
            f"Dipotong: {EXCEL_MAX_ROWS:,} dari {n:,} baris (batas Excel); daftar lengkap di "
            f"discrepancies.parquet. / Truncated: {EXCEL_MAX_ROWS:,} of {n:,} rows (Excel "
            "limit); the full list is in discrepancies.parquet.")
        cost = None if is_missing(row["cost"]) else float(row["cost"])
        sheet.append([neutralise(category_label(category)), neutralise(category), n,
                      int(row["n_high"]), int(row["n_medium"]), int(row["n_low"]), cost,
                      neutralise(sheet_name), note, int(row["n_open"]),
                      int(row["n_handled"])])


def _write_regions(sheet: WriteOnlyWorksheet, con: duckdb.DuckDBPyConnection) -> None:
    columns = list(REGION_HEADERS)
    frame = db.df(con, f"SELECT {', '.join(columns)} FROM {REGION_SUMMARY} "
                       "ORDER BY level = 'kecamatan', kode_wilayah")
    sheet.append([_bold(sheet, "Ringkasan wilayah / Region summary")])
    sheet.append([_bold(sheet, REGION_HEADERS[c]) for c in columns])
    for row in frame.itertuples(index=False):
        sheet.append([_region_cell(sheet, c, v) for c, v in zip(columns, row, strict=True)])


def _python(value: Any) -> Any:
    """A pandas/numpy scalar as the plain Python value openpyxl writes natively."""
    if is_missing(value):
        return None
    return value.item() if hasattr(value, "item") else value


def _region_cell(sheet: WriteOnlyWorksheet, column: str, value: Any) -> Any:
    """Values as numbers Excel can sum; shares carry a percent format; text neutralised."""
    value = _python(value)
    if value is None:
        return None
    if column in SHARE_COLUMNS or (column.startswith("share_") and isinstance(value, float)):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "0.0%"
        return cell
    return neutralise(value)


# --- accuracy estimates -------------------------------------------------------------

def _write_accuracy(sheet: WriteOnlyWorksheet, con: duckdb.DuckDBPyConnection) -> None:
    """The label-free estimates, overall then per programme then per regency, under the
    notes that say they are model estimates and how far they were from truth."""
    columns = list(ACCURACY_COLUMNS)
    for i, width in enumerate((30, 12, 12, 28, 12, 14, 18, 18, 16, 16), start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.append([_bold(sheet, ACCURACY_TITLE)])
    sheet.append([ACCURACY_NOTE])
    sheet.append([ACCURACY_BENCH_NOTE])
    sheet.append([])
    sheet.append([_bold(sheet, h) for h in ("Tingkat / Level", *ACCURACY_COLUMNS.values())])
    for level, label in ACCURACY_LEVELS.items():
        for row in accuracy_rows(con, level)[columns].itertuples(index=False):
            sheet.append([neutralise(label)] + [_accuracy_cell(sheet, c, v)
                                                for c, v in zip(columns, row, strict=True)])


def _accuracy_cell(sheet: WriteOnlyWorksheet, column: str, value: Any) -> Any:
    """Rates as percentages to 0.001%, expected counts to one decimal, numbers summable."""
    value = _python(value)
    if value is None or column not in ACCURACY_RATES | ACCURACY_EXPECTED:
        return neutralise(value)
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = "0.000%" if column in ACCURACY_RATES else "#,##0.0"
    return cell


# --- one sheet per category ---------------------------------------------------------

def _category_sql(category_param: str) -> str:
    severity = "CASE severity " + " ".join(
        f"WHEN '{code}' THEN '{label}'" for code, label in SEVERITIES.items()) \
        + " ELSE severity END"
    text = [c for c in DISCREPANCY_COLUMNS if c not in ("severity", "cost")]
    columns = ", ".join([excel_text_sql(severity)] + [excel_text_sql(c) for c in text]
                        + ["cost"])
    return (f"SELECT {columns} FROM {DISCREPANCIES} WHERE category = ${category_param} "
            f"ORDER BY {SEVERITY_RANK_SQL}, cost DESC NULLS LAST, kode_wilayah NULLS LAST, "
            f"record_id LIMIT {EXCEL_MAX_ROWS}")


def _write_category(sheet: WriteOnlyWorksheet, rows: int) -> None:
    """Header, widths, frozen header and filter; the rows are streamed in afterwards."""
    headers = list(DISCREPANCY_COLUMNS.values())
    widths = {"evidence": 50, "action_id": 45, "action_en": 45}
    for i, column in enumerate(DISCREPANCY_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = widths.get(column, 16)
    sheet.freeze_panes = "A2"
    sheet.append([_bold(sheet, h) for h in headers])
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{rows + 1}"


def _xml_text_sql(expression: str) -> str:
    """An inline-string cell: XML-escaped, characters XML forbids removed."""
    clean = (f"replace(replace(replace(regexp_replace({expression}, "
             f"'[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\ufffe\uffff]', '', 'g'), '&', '&amp;'), "
             f"'<', '&lt;'), '>', '&gt;')")
    return (f"coalesce('<c t=\"inlineStr\"><is><t xml:space=\"preserve\">' || {clean} "
            f"|| '</t></is></c>', '<c/>')")


def _rows_xml_sql() -> str:
    """One `<row>` of sheet XML per finding of a category, in the sheet's order."""
    severity = "CASE severity " + " ".join(
        f"WHEN '{code}' THEN '{label}'" for code, label in SEVERITIES.items()) \
        + " ELSE severity END"
    text = [c for c in DISCREPANCY_COLUMNS if c not in ("severity", "cost")]
    cells = [_xml_text_sql(excel_text_sql(severity))]
    cells += [_xml_text_sql(excel_text_sql(c)) for c in text]
    cells.append("coalesce('<c><v>' || cost::VARCHAR || '</v></c>', '<c/>')")
    return (f"SELECT '<row r=\"' || (row_number() OVER (ORDER BY {SEVERITY_RANK_SQL}, "
            f"cost DESC NULLS LAST, kode_wilayah NULLS LAST, record_id) + 1) || '\">' || "
            f"{' || '.join(cells)} || '</row>' AS xml FROM {DISCREPANCIES} "
            f"WHERE category = $category ORDER BY {SEVERITY_RANK_SQL}, cost DESC NULLS LAST, "
            f"kode_wilayah NULLS LAST, record_id LIMIT {EXCEL_MAX_ROWS}")


def _fill_category_sheets(con: duckdb.DuckDBPyConnection, skeleton: Path, path: Path,
                          categories: list[str], first: int) -> None:
    """Copy the skeleton workbook, streaming each category's rows into its sheet XML.

    openpyxl numbers sheets in creation order: sheet1 is the summary, the accuracy sheet
    may follow, then the categories from sheet number `first`.
    """
    sheets = {f"xl/worksheets/sheet{n}.xml": c for n, c in enumerate(categories, start=first)}
    with (zipfile.ZipFile(skeleton) as source,
          zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target):
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename not in sheets:
                target.writestr(item, data)
                continue
            head, tail = data.decode("utf-8").split("</sheetData>", 1)
            with target.open(item.filename, "w") as out:
                out.write(head.encode())
                reader = con.execute(_rows_xml_sql(), {"category": sheets[item.filename]})
                while batch := reader.fetchmany(BATCH_ROWS):
                    out.write("".join(row[0] for row in batch).encode())
                out.write(("</sheetData>" + tail).encode())
