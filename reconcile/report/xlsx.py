"""report.xlsx: a summary sheet, the accuracy estimates, the region summary, the
quarantined rows, then one filterable sheet per discrepancy category.

openpyxl writes the summary sheets and each table sheet's header, widths, frozen row,
filter and page setup; the table rows themselves (hundreds of thousands at a million
people) are rendered as sheet XML by DuckDB and streamed into the file, about 20x faster
than appending them through openpyxl, which took 20 s for 210,000 findings. Text that
Excel would read as a formula ('=', '+', '-', '@' first) gets a leading apostrophe
(CSV/formula injection): the evidence column echoes values typed into source
spreadsheets by anyone.

Every sheet prints on A4 landscape, all its columns on one page wide, with its header
row repeated on every page and the page number in the footer: officers print the
workbook or save it as PDF, and a label on one page with its number on another is
useless on paper. Each label shares its row with its number, so no page break can part
them.
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
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.cell_range import CellRange
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.worksheet import Worksheet

from reconcile import db
from reconcile.privacy import mask_digits
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
    ESTIMATE_COLUMNS,
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
from reconcile.tables import Table

EXCEL_MAX_ROWS = 1_048_575          # 1,048,576 rows per sheet, one is the header
SUMMARY_SHEET = "Ringkasan (Summary)"
ACCURACY_SHEET = "Akurasi (Accuracy)"
REGION_SHEET = "Wilayah (Regions)"
DESIL_SHEET = "Desil per wilayah (Desil)"
QUARANTINE_SHEET = "Karantina (Quarantine)"
FIXED_SHEETS = (SUMMARY_SHEET, ACCURACY_SHEET, REGION_SHEET, DESIL_SHEET, QUARANTINE_SHEET)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
BATCH_ROWS = 50_000
NOT_XML = re.compile("[\ufffe\uffff\ud800-\udfff]")  # openpyxl lets these through
BOLD = Font(name="Calibri", size=11, bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")
# Wrapped rows get their height set, as LibreOffice does not grow a row for the wrapped
# text it imports: points per line of 11-point text, and characters per unit of column
# width (a width counts '0's; plain text is narrower, bold text about as wide).
LINE_HEIGHT, ROW_PADDING = 13, 2
CHARS_PER_WIDTH = {False: 1.2, True: 0.9}
QUARANTINE = Table.QUARANTINE
QUARANTINE_COLUMNS = {
    "source_file": "Berkas / File",
    "source_row": "Baris / Row",
    "reason": "Alasan / Reason",
    "raw_values": "Nilai (disamarkan) / Values (masked)",
    "reason_code": "Kode alasan / Reason code",
    "column_name": "Kolom / Column",
    "source": "Sumber / Source",
}
NUMBER_COLUMNS = frozenset({"cost", "source_row"})
REGION_HEADERS = {"level": "Tingkat / Level", **REGION_COLUMNS}
DESIL_HEADERS = {"level": "Tingkat / Level", "kode_wilayah": REGION_COLUMNS["kode_wilayah"],
                 "nama_wilayah": REGION_COLUMNS["nama_wilayah"], **DESIL_COLUMNS}
# Column widths (characters) chosen so a table fits A4 landscape at a readable scale;
# long text wraps inside its column instead of widening the page.
SUMMARY_WIDTHS = [40, 20, 10, 9, 9, 9, 15, 20, 10, 11]
ACCURACY_WIDTHS = [26, 10, 10, 24, 10, 12, 14, 14, 13, 13]
# Identifiers and codes get their whole width (an id broken over two lines misleads);
# the free text wraps.
CATEGORY_WIDTHS = {"severity": 12, "category": 18, "source": 9, "record_id": 14,
                   "person_id": 16, "id_individu": 14, "id_keluarga": 12, "program": 8,
                   "kode_wilayah": 13, "evidence": 28, "action_id": 30, "action_en": 30,
                   "cost": 11}
QUARANTINE_WIDTHS = {"source_file": 24, "source_row": 8, "reason": 40, "raw_values": 50,
                     "reason_code": 16, "column_name": 12, "source": 10}
REGION_WIDTHS = [10, 11, 24, 12, 12, 8, 8, 8, 8, 9, 11, 10, 10, 10, 10, 13, 13]
DESIL_WIDTHS = [10, 11, 24] + [9] * 11
# The printed page: A4 landscape, narrow margins, sheet name and page of pages below.
MARGINS = PageMargins(left=0.4, right=0.4, top=0.5, bottom=0.6, header=0.2, footer=0.25)
FOOTER = "&A - &P / &N"
SEVERITY_LABEL_SQL = ("CASE severity WHEN 'high' THEN $xlsx_severity_high "
                      "WHEN 'medium' THEN $xlsx_severity_medium "
                      "WHEN 'low' THEN $xlsx_severity_low ELSE severity END")
db.constants({"xlsx_formula_start": "^[=+@\\t\\r-]",
              "xlsx_line_height": LINE_HEIGHT, "xlsx_row_padding": ROW_PADDING,
              **{f"xlsx_severity_{code}": label for code, label in SEVERITIES.items()}})


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
    return f"CASE WHEN regexp_matches({text}, $xlsx_formula_start) " \
           f"THEN '''' || {text} ELSE {text} END"


def sheet_names(categories: list[str]) -> dict[str, str]:
    """Category -> a valid, unique sheet name (at most 31 characters, no []:*?/\\).

    >>> names = sheet_names(["invalid_nik", "x:y" * 20, "x:y" * 21])
    >>> names["invalid_nik"], names["x:y" * 20][-4:], names["x:y" * 21][-4:]
    ('invalid_nik', 'x_yx', 'x__2')
    """
    taken = {name.lower() for name in FIXED_SHEETS}
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
    has_regions = bool(db.count(con, REGION_SUMMARY))
    book = Workbook(write_only=True)
    summary = PrintedSheet(book, SUMMARY_SHEET, SUMMARY_WIDTHS)
    wrap = _wrap_style(summary.sheet)
    _write_summary(summary, con, counts, names, run_info, has_regions)
    if db.has_table(con, ACCURACY):  # older work databases have no estimates
        _write_accuracy(PrintedSheet(book, ACCURACY_SHEET, ACCURACY_WIDTHS, "5:5"), con)
    if has_regions:
        _write_regions(PrintedSheet(book, REGION_SHEET, REGION_WIDTHS), con, REGION_HEADERS)
        _write_regions(PrintedSheet(book, DESIL_SHEET, DESIL_WIDTHS), con, DESIL_HEADERS)
    streamed: dict[str, db.Step] = {}  # sheet part -> the query of its rows
    quarantined = _quarantined(con)
    if quarantined:
        sheet = _table_sheet(book, QUARANTINE_SHEET, QUARANTINE_COLUMNS, QUARANTINE_WIDTHS,
                             min(quarantined, EXCEL_MAX_ROWS))
        streamed[sheet.part] = _table_rows(QUARANTINE_COLUMNS, QUARANTINE_WIDTHS, QUARANTINE,
                                           "true", QUARANTINE_ORDER_SQL, wrap)
    for category in categories:
        sheet = _table_sheet(book, names[category], DISCREPANCY_COLUMNS, CATEGORY_WIDTHS,
                             min(rows[category], EXCEL_MAX_ROWS))
        streamed[sheet.part] = _table_rows(DISCREPANCY_COLUMNS, CATEGORY_WIDTHS, DISCREPANCIES,
                                           "category = $category", CATEGORY_ORDER_SQL, wrap,
                                           {"category": category})
    skeleton = Path(path).with_suffix(".skeleton.xlsx")
    book.save(skeleton)
    try:
        _fill_sheets(con, skeleton, Path(path), streamed)
    finally:
        skeleton.unlink(missing_ok=True)


# --- print layout -------------------------------------------------------------------

class PrintedSheet:
    """A write-only sheet laid out for print: A4 landscape, all columns one page wide,
    `title_rows` repeated on every page, and each row as tall as its wrapped text."""

    def __init__(self, book: Workbook, title: str, widths: list[int],
                 title_rows: str = "1:1") -> None:
        sheet = book.create_sheet(title)
        sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A4
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0  # as many pages down as the rows need
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.page_margins = MARGINS
        sheet.print_options.gridLines = True
        sheet.oddFooter.center.text = FOOTER
        sheet.print_title_rows = title_rows
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = width
        self.sheet, self.widths, self.rows = sheet, widths, 0
        self.part = f"xl/worksheets/sheet{len(book.worksheets)}.xml"  # creation order

    def append(self, values: list[Any], bold: bool = False, wrap: bool = False,
               span: bool = False) -> None:
        """Append a row; `wrap` wraps its text and sets its height, `span` merges its
        one value over every column (long notes)."""
        self.rows += 1
        cells = [self._cell(v, bold, wrap or span) for v in values]
        widths = [sum(self.widths)] if span else self.widths
        lines = max([text_lines(c.value, w, bold) for c, w in zip(cells, widths, strict=False)
                     if isinstance(c, Cell) and (wrap or span)], default=1)
        if lines > 1:
            self.sheet.row_dimensions[self.rows].height = LINE_HEIGHT * lines + ROW_PADDING
        if span:
            self.sheet.merged_cells.add(CellRange(
                f"A{self.rows}:{get_column_letter(len(self.widths))}{self.rows}"))
        self.sheet.append(cells)

    def _cell(self, value: Any, bold: bool, wrap: bool) -> Any:
        if isinstance(value, Cell):
            return value
        if not (bold or wrap) or value is None:
            return neutralise(value)
        cell = WriteOnlyCell(self.sheet, value=neutralise(value))
        if bold:
            cell.font = BOLD
        if wrap:
            cell.alignment = WRAP
        return cell


def text_lines(value: Any, width: int, bold: bool = False) -> int:
    """Lines a text needs when wrapped in a column `width` wide.

    >>> text_lines("Kategori / Category", 10, bold=True), text_lines(12, 10)
    (3, 1)
    """
    if not isinstance(value, str) or not value:
        return 1
    return max(1, -(-len(value) // line_chars(width, bold)))


def line_chars(width: int, bold: bool = False) -> int:
    """Characters of text that fit on one line of a column `width` wide (a character
    short of full, as words do not fill a line)."""
    return max(int(width * CHARS_PER_WIDTH[bold]) - 1, 1)


def _wrap_style(sheet: WriteOnlyWorksheet) -> int:
    """The workbook's style index of wrapped, top-aligned text, for streamed cells."""
    probe = WriteOnlyCell(sheet, value="")
    probe.alignment = WRAP
    return probe.style_id


# --- summary sheet ------------------------------------------------------------------

def _write_summary(sheet: PrintedSheet, con: duckdb.DuckDBPyConnection,
                   counts: pd.DataFrame, names: dict[str, str], run_info: dict | None,
                   has_regions: bool) -> None:
    """Run facts, findings per category and the notes on reading the files: each label
    in the same row as its number."""
    sheet.append(["Laporan Rekonsiliasi Kemensos-BPS / Kemensos-BPS Reconciliation Report"],
                 bold=True)
    for key, label, value in _run_facts(con, run_info):
        sheet.append([label, _region_cell(sheet.sheet, key, value)])
    sheet.append([])
    _write_category_counts(sheet, counts, names)
    notes = _reading_notes(con)
    if notes:
        sheet.append([])
        sheet.append(["Catatan pembacaan berkas / Notes on reading the files"], bold=True)
        for file, note in notes:
            sheet.append([f"{file}: {note}"], span=True)
    sheet.append([])
    if has_regions:
        sheet.append([f"Ringkasan wilayah: lembar '{REGION_SHEET}' dan '{DESIL_SHEET}'. / "
                      f"Region summary: sheets '{REGION_SHEET}' and '{DESIL_SHEET}'."],
                     span=True)
    sheet.append([SURVEY_NOTE], span=True)
    sheet.append(["Lembar ini tidak memuat nama maupun NIK lengkap. / "
                  "This workbook contains no names and no full NIKs."], span=True)


def _run_facts(con: duckdb.DuckDBPyConnection, run_info: dict | None) -> list[tuple]:
    """(key, label, value) for the scalar run facts: the given run_info, else what the
    work database can tell (outputs.py passes none)."""
    if run_info is None:
        row = db.df(con, f"""
            SELECT count(*) AS reconciled_rows, count(DISTINCT person_id) AS persons,
                   round(avg((id_individu IS NOT NULL)::INT), 4) AS share_matched
            FROM {RECONCILED}""").to_dict("records")[0]  # not iloc: counts stay whole
        run_info = {k: _python(v) for k, v in row.items()}
        if db.has_table(con, QUARANTINE):
            run_info["quarantined_rows"] = _quarantined(con)
    facts = [(str(k), RUN_INFO.get(str(k), str(k)), _python(v)) for k, v in run_info.items()
             if not isinstance(v, dict | list | tuple | set)]
    facts = [(k, label, v if v is None or isinstance(v, int | float) else str(v))
             for k, label, v in facts]
    total = db.count(con, DISCREPANCIES)
    return facts + [("findings", "Jumlah temuan / Findings", total),
                    ("generated", "Dibuat / Generated",
                     datetime.now().strftime("%Y-%m-%d %H:%M"))]


def _write_category_counts(sheet: PrintedSheet, counts: pd.DataFrame,
                           names: dict[str, str]) -> None:
    """One row per category, then a note for each sheet cut at Excel's row limit."""
    sheet.append(["Temuan per kategori / Findings per category"], bold=True)
    sheet.append(["Kategori / Category", "Kode / Code", "Jumlah / Count", SEVERITIES["high"],
                  SEVERITIES["medium"], SEVERITIES["low"], "Nilai (Rp) / Amount (IDR)",
                  "Lembar / Sheet", *FINDING_STATUS.values()], bold=True, wrap=True)
    by_category = {str(r["category"]): r for r in counts.to_dict("records")}
    truncated = []
    for category, sheet_name in names.items():
        row = by_category[category]
        n = int(row["n"])
        if n > EXCEL_MAX_ROWS:
            truncated.append(
                f"{sheet_name}: dipotong, {EXCEL_MAX_ROWS:,} dari {n:,} baris (batas Excel); "
                f"daftar lengkap di discrepancies.parquet. / Truncated: {EXCEL_MAX_ROWS:,} "
                f"of {n:,} rows (Excel limit); the full list is in discrepancies.parquet.")
        cost = None if is_missing(row["cost"]) else float(row["cost"])
        counted = [_counted(sheet.sheet, v) for v in (
            n, int(row["n_high"]), int(row["n_medium"]), int(row["n_low"]), cost)]
        sheet.append([category_label(category), category, *counted, sheet_name,
                      *(_counted(sheet.sheet, int(row[k])) for k in ("n_open", "n_handled"))],
                     wrap=True)
    for note in truncated:
        sheet.append([note], span=True)


def _reading_notes(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(file, note) for what reading the inputs found: warnings, skipped sheets, title
    and footer rows; digit runs as long as an identifier masked, in case one is quoted."""
    if not db.has_table(con, Table.INGEST_NOTES):  # work databases of older runs
        return []
    frame = db.df(con, f"SELECT source_file, note FROM {Table.INGEST_NOTES} ORDER BY seq")
    return [(str(file), mask_digits(str(note)))
            for file, note in zip(frame["source_file"], frame["note"], strict=True)]


def _write_regions(sheet: PrintedSheet, con: duckdb.DuckDBPyConnection,
                   headers: dict[str, str]) -> None:
    """Region summary columns, regencies then districts, under a header printed on
    every page."""
    columns = list(headers)
    sheet.sheet.freeze_panes = "D2"
    frame = db.df(con, f"SELECT {', '.join(columns)} FROM {REGION_SUMMARY} "
                       "ORDER BY level = 'kecamatan', kode_wilayah")
    sheet.append(list(headers.values()), bold=True, wrap=True)
    for row in frame.itertuples(index=False):
        sheet.append([_region_cell(sheet.sheet, c, v) for c, v in zip(columns, row, strict=True)])


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
    if column in ESTIMATE_COLUMNS:  # survey estimates, not counts: shown rounded
        return _counted(sheet, value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _counted(sheet, value)
    return neutralise(value)


def _counted(sheet: WriteOnlyWorksheet, value: float | None) -> Any:
    """A number with thousands separators (10,636; 10.636 in an Indonesian Excel), at the
    top of its row like the wrapped labels beside it."""
    if value is None:
        return None
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = "#,##0"
    cell.alignment = WRAP
    return cell


# --- accuracy estimates -------------------------------------------------------------

def _write_accuracy(sheet: PrintedSheet, con: duckdb.DuckDBPyConnection) -> None:
    """The label-free estimates, overall then per programme then per regency, under the
    notes that say they are model estimates and how far they were from truth."""
    columns = list(ACCURACY_COLUMNS)
    sheet.append([ACCURACY_TITLE], bold=True)
    sheet.append([ACCURACY_NOTE], span=True)
    sheet.append([ACCURACY_BENCH_NOTE], span=True)
    sheet.append([])
    sheet.append(["Tingkat / Level", *ACCURACY_COLUMNS.values()], bold=True, wrap=True)
    for level, label in ACCURACY_LEVELS.items():
        frame = accuracy_rows(con, level)
        if frame is None:
            continue
        for row in frame[columns].itertuples(index=False):
            sheet.append([label] + [_accuracy_cell(sheet.sheet, c, v)
                                    for c, v in zip(columns, row, strict=True)])


def _accuracy_cell(sheet: WriteOnlyWorksheet, column: str, value: Any) -> Any:
    """Rates as percentages to 0.001%, expected counts to one decimal, counts with
    thousands separators, numbers summable."""
    value = _python(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _counted(sheet, value)
    if value is None or column not in ACCURACY_RATES | ACCURACY_EXPECTED:
        return neutralise(value)
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = "0.000%" if column in ACCURACY_RATES else "#,##0.0"
    return cell


# --- table sheets: quarantine and one per category ------------------------------------

CATEGORY_ORDER_SQL = (f"{SEVERITY_RANK_SQL}, cost DESC NULLS LAST, kode_wilayah NULLS LAST, "
                      "record_id")
QUARANTINE_ORDER_SQL = "source_file, source_row NULLS LAST, reason_code"


def _table_sheet(book: Workbook, title: str, columns: dict[str, str],
                 widths: dict[str, int], rows: int) -> PrintedSheet:
    """Header, widths, frozen header and filter; the rows are streamed in afterwards."""
    sheet = PrintedSheet(book, title, [widths[c] for c in columns])
    sheet.sheet.freeze_panes = "A2"
    sheet.append(list(columns.values()), bold=True, wrap=True)
    sheet.sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{rows + 1}"
    return sheet


def _quarantined(con: duckdb.DuckDBPyConnection) -> int:
    return db.count(con, QUARANTINE) if db.has_table(con, QUARANTINE) else 0


def _table_rows(columns: dict[str, str], widths: dict[str, int], table: str, where_sql: str,
                order_sql: str, wrap: int, params: dict[str, Any] | None = None) -> db.Step:
    """The query of a table sheet's rows: one `<row>` of sheet XML per row of `table`,
    numbered from 2 in `order_sql`, at most Excel's limit. Text is masked (long digit
    runs) and neutralised, every cell wrapped and top-aligned (style `wrap`), and each
    row as tall as its longest text needs (text_lines)."""
    cells = [_xml_cell_sql(c) for c in columns]
    lines = [f"ceil(length(coalesce({c}::VARCHAR, '')) / $chars_{c})"
             for c in columns if c not in NUMBER_COLUMNS]
    sql = (f"SELECT '<row r=\"' || (row_number() OVER (ORDER BY {order_sql}) + 1) || "
           f"'\" ht=\"' || ($xlsx_line_height * greatest(1, {', '.join(lines)}) "
           f"+ $xlsx_row_padding)::INT || '\" customHeight=\"1\">' || "
           f"{' || '.join(cells)} || '</row>' AS xml FROM {table} WHERE {where_sql} "
           f"ORDER BY {order_sql} LIMIT $max_rows")
    chars = {f"chars_{c}": line_chars(widths[c]) for c in columns if c not in NUMBER_COLUMNS}
    return db.Step(sql, {**chars, "wrap_style": wrap, "max_rows": EXCEL_MAX_ROWS,
                         **(params or {})})


def _xml_cell_sql(column: str) -> str:
    """The cell of a column: a number, or its text masked, neutralised and escaped
    (severity codes as their labels)."""
    if column in NUMBER_COLUMNS:
        return _xml_number_sql(column)
    if column == "severity":
        return _xml_text_sql(excel_text_sql(SEVERITY_LABEL_SQL))
    return _xml_text_sql(excel_text_sql(column))


def _xml_text_sql(expression: str) -> str:
    """An inline-string cell in the wrapped style: XML-escaped, characters XML forbids
    removed."""
    clean = (f"replace(replace(replace(regexp_replace({expression}, "
             f"'[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\ufffe\uffff]', '', 'g'), '&', '&amp;'), "
             f"'<', '&lt;'), '>', '&gt;')")
    return (f"coalesce('<c t=\"inlineStr\" s=\"' || $wrap_style || '\"><is>"
            f"<t xml:space=\"preserve\">' || {clean} || '</t></is></c>', '<c/>')")


def _xml_number_sql(column: str) -> str:
    """A number cell in the wrapped style (top-aligned like the text beside it)."""
    return (f"coalesce('<c s=\"' || $wrap_style || '\"><v>' || {column}::VARCHAR || "
            "'</v></c>', '<c/>')")


def _fill_sheets(con: duckdb.DuckDBPyConnection, skeleton: Path, path: Path,
                 streamed: dict[str, db.Step]) -> None:
    """Copy the skeleton workbook, streaming each table's rows into its sheet XML."""
    with (zipfile.ZipFile(skeleton) as source,
          zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target):
        for item in source.infolist():
            data = source.read(item.filename)
            rows = streamed.get(item.filename)
            if rows is None:
                target.writestr(item, data)
                continue
            head, tail = data.decode("utf-8").split("</sheetData>", 1)
            with target.open(item.filename, "w") as out:
                out.write(head.encode())
                reader = db.cursor(con, rows)
                while batch := reader.fetchmany(BATCH_ROWS):
                    out.write("".join(row[0] for row in batch).encode())
                out.write(("</sheetData>" + tail).encode())
