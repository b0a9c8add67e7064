"""Offline review workbooks: one .xlsx per kecamatan, one sheet per desa, decisions back.

Village officers decide in Excel or LibreOffice, away from the pipeline, and send the
files back. A row shows the Kemensos record beside its candidate with an agreement mark
per field, and never a score: audit items are mixed in blind. Hidden columns keep each
row's item id and fingerprint, so the import can tell a decision made on data that has
since changed. Sheets are protected with only the decision cells open, but a drop-down
is no guarantee (a pasted value bypasses it), so `read_workbooks` checks every cell again
and returns what it cannot use as problem rows, never as exceptions.
"""

from __future__ import annotations

import io
import math
import os
import re
import tempfile
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import xlsxwriter
from openpyxl.utils.datetime import from_excel
from openpyxl.worksheet.worksheet import Worksheet
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet as SheetWriter

from reconcile.report.labels import category_label, is_missing, ordered_categories
from reconcile.report.xlsx import FORMULA_START, SHEET_NAME_BAD, xml_safe

DECISIONS: dict[str, str] = {
    "orang yang sama": "same",
    "orang berbeda": "different",
    "tidak yakin": "unsure",
    "perlu kunjungan lapangan": "field_visit",
    "meninggal atau pindah": "dead_or_moved",
}
OUTCOMES: dict[str, str] = {
    "terkonfirmasi": "confirmed",
    "pengecualian (isi alasan)": "exception",
    "sudah diselesaikan / terdaftar": "resolved",
}
DECISION_COLUMNS = ["file", "sheet", "row", "item_id", "fingerprint", "kind", "decision",
                    "reason", "reviewer", "decided_on"]
PROBLEM_COLUMNS = ["file", "sheet", "row", "column", "problem"]

KINDS = {"link": "cocokkan ke DTSEN", "dedupe": "kemungkinan ganda", "finding": "temuan"}
NO_REGION = "tanpa-wilayah"
NO_DESA = "tanpa desa"
HEADER_ROW, FIRST_ROW = 2, 3          # row 1 groups the columns, row 2 names them
HIDDEN = ("item_id", "fingerprint", "kind")
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y", "%Y/%m/%d")
HEAD_FILL, OPEN_FILL = "DDEBF7", "FFF2CC"     # OPEN_FILL: the cells an officer fills in
MARK_FILLS = {"sama": "E2EFDA", "mirip": "FFF2CC", "beda": "F8CBAD"}
DAY_FORMAT = "dd/mm/yyyy"
# Text is only ever text (no formulas or links from names typed by anyone); the whole file
# is built in memory, so no part of it lands in a shared temporary folder.
BOOK_OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                "strings_to_numbers": False, "nan_inf_to_errors": True,
                "remove_timezone": True}
# Writing the data rows as sheet XML (_rows_xml): what XlsxWriter's cell writer does.
DIMENSION = re.compile(r'<dimension ref="[^"]*"/>')
EXCEL_MAX_TEXT = 32_767                       # UTF-16 units in one cell
EXCEL_ESCAPE = re.compile("(_x[0-9a-fA-F]{4}_)")
CONTROL = re.compile("[\x00-\x08\x0b-\x1f]")
EXCEL_EPOCH = datetime(1899, 12, 31)
ZIP_LEVEL = 1  # fastest: 2.5x quicker than zlib's default on sheet XML, files ~25% larger


@dataclass(frozen=True)
class Layout:
    """A sheet's columns, grouped under row-1 titles: (group, ((key, title, width), ...))."""

    groups: tuple[tuple[str, tuple[tuple[str, str, int], ...]], ...]
    choices: dict[str, str]
    wrap: frozenset[str]

    @property
    def columns(self) -> list[tuple[str, str, int, str]]:
        """(key, title, width, group) in sheet order."""
        return [(k, t, w, g) for g, cols in self.groups for k, t, w in cols]


def _decision_group(reason: bool) -> tuple[str, tuple[tuple[str, str, int], ...]]:
    reason_column = (("alasan", "Alasan", 28),) if reason else ()
    return ("Diisi petugas", (("keputusan", "Keputusan", 24), *reason_column,
                              ("nama pemeriksa", "Nama pemeriksa", 18),
                              ("tanggal", "Tanggal", 12)))


_HIDDEN_GROUP = ("", tuple((key, key, 12) for key in HIDDEN))
ITEMS = Layout(groups=(
    ("", (("_no", "No.", 5), ("_jenis", "Jenis", 14))),
    ("Data Kemensos", (
        ("k_id_penerima", "ID penerima", 14), ("k_program", "Program", 9),
        ("k_nama", "Nama", 22), ("k_tgl_lahir", "Tanggal lahir", 11),
        ("k_jenis_kelamin", "L/P", 5), ("k_alamat", "Alamat", 28),
        ("k_nik_masked", "NIK (disamarkan)", 19), ("k_keluarga", "Anggota keluarga", 22))),
    ("Calon di DTSEN", (
        ("c_id", "ID DTSEN", 14), ("c_nama", "Nama", 22), ("c_tgl_lahir", "Tanggal lahir", 11),
        ("c_jenis_kelamin", "L/P", 5), ("c_alamat", "Alamat", 28),
        ("c_nik_masked", "NIK (disamarkan)", 19), ("c_keluarga", "Anggota keluarga", 22),
        ("c_desil", "Desil", 6))),
    ("Kecocokan", (
        ("agree_nama", "Nama", 8), ("agree_tgl_lahir", "Tgl lahir", 8),
        ("agree_jenis_kelamin", "L/P", 7), ("agree_alamat", "Alamat", 8),
        ("agree_nik", "NIK", 8), ("agree_kk", "KK", 8))),
    ("", (("penjelasan", "Penjelasan", 45),)),
    _decision_group(reason=False), _HIDDEN_GROUP),
    choices=DECISIONS,
    wrap=frozenset({"k_nama", "c_nama", "k_alamat", "c_alamat", "k_keluarga", "c_keluarga",
                    "penjelasan"}))
FINDINGS = Layout(groups=(
    ("", (("_no", "No.", 5),)),
    ("Temuan", (
        ("desa", "Desa", 16), ("record_id", "ID data", 14), ("program", "Program", 9),
        ("nama", "Nama", 22), ("tgl_lahir", "Tanggal lahir", 11),
        ("nik_masked", "NIK (disamarkan)", 19), ("desil", "Desil", 6),
        ("evidence", "Bukti", 40), ("action_id", "Tindakan", 40))),
    _decision_group(reason=True), _HIDDEN_GROUP),
    choices=OUTCOMES,
    wrap=frozenset({"desa", "nama", "evidence", "action_id", "alasan"}))


# --- writing ------------------------------------------------------------------------

@dataclass(frozen=True)
class _Sheet:
    """One sheet to write: rows `start:stop` of `values` (plain column lists, in order)."""

    layout: Layout
    title: str               # wanted; made valid and unique per workbook
    subject: str             # for the page header
    values: dict[str, list]
    start: int
    stop: int


def write_workbooks(items: pd.DataFrame, findings: pd.DataFrame, folder: Path) -> list[Path]:
    """Write `review-<kode_kecamatan>.xlsx` files into `folder`; return their paths.

    The files hold names and birth dates, so they are owner-only (0o600), and a folder
    created here is 0o700.
    """
    folder = _private_folder(Path(folder))
    books: dict[str, list[_Sheet]] = {}
    for code, sheet in [*_item_sheets(items), *_finding_sheets(findings)]:
        books.setdefault(code, []).append(sheet)
    places = _places(items, findings)
    paths = []
    for code in sorted(books, key=lambda c: (c == "", c)):
        path = folder / f"review-{_file_part(code)}.xlsx"
        _write_private(path, places.get(code, "tanpa wilayah"), books[code])
        paths.append(path)
    return paths


def _kecamatan_key(frame: pd.DataFrame) -> pd.Series:
    """The kecamatan code per row, '' for none."""
    return frame["kode_kecamatan"].astype("object").where(
        frame["kode_kecamatan"].notna(), "").astype(str).str.strip()


def _file_part(code: str) -> str:
    """A kecamatan code safe in a file name (it never leaves the folder).

    >>> _file_part("32.01.05"), _file_part(""), _file_part("../x")
    ('32.01.05', 'tanpa-wilayah', '.._x')
    """
    return re.sub(r"[^0-9A-Za-z.-]", "_", code) if code else NO_REGION


def _places(items: pd.DataFrame, findings: pd.DataFrame) -> dict[str, str]:
    """The first kecamatan name per kecamatan code, items before findings."""
    names = pd.concat([pd.DataFrame({"code": _kecamatan_key(f).to_numpy(),
                                     "name": f["kecamatan"].to_numpy()})
                       for f in (items, findings)]).dropna(subset=["name"])
    first = names.drop_duplicates("code")
    return dict(zip(first["code"], first["name"].astype(str), strict=True))


def _item_sheets(items: pd.DataFrame) -> list[tuple[str, _Sheet]]:
    """(kecamatan code, sheet) per desa: desa-code order, rows without a desa last, each
    desa's rows by rank. One sort and one conversion for all workbooks."""
    title = items["desa"].fillna(items["kode_desa"]).fillna(NO_DESA).astype(str)
    keys = pd.DataFrame({"kecamatan": _kecamatan_key(items).to_numpy(),
                         "desa": items["kode_desa"].fillna("~" + title).to_numpy(),
                         "rank": items["rank"].to_numpy(), "title": title.to_numpy()})
    keys = keys.sort_values(["kecamatan", "desa", "rank"], kind="stable")
    values = _columns(ITEMS, items.iloc[keys.index])
    sheets = []
    for start, stop in _runs(keys[["kecamatan", "desa"]]):
        desa = keys["title"][keys.index[start:stop].min()]   # as the first row given
        sheets.append((keys["kecamatan"].iloc[start],
                       _Sheet(ITEMS, desa, desa, values, start, stop)))
    return sheets


def _finding_sheets(findings: pd.DataFrame) -> list[tuple[str, _Sheet]]:
    """(kecamatan code, sheet) per finding category, in the categories' fixed order, rows
    by desa code then name."""
    category = findings["category"].fillna("lainnya").astype(str).to_numpy()
    order = {c: i for i, c in enumerate(ordered_categories(list(set(category))))}
    keys = pd.DataFrame({"kecamatan": _kecamatan_key(findings).to_numpy(),
                         "order": [order[c] for c in category], "category": category,
                         "desa": findings["kode_desa"].to_numpy(),
                         "nama": findings["nama"].to_numpy()})
    keys = keys.sort_values(["kecamatan", "order", "desa", "nama"], kind="stable",
                            na_position="last")
    rows = findings.iloc[keys.index].assign(
        kind="finding", desa=lambda f: f["desa"].fillna(f["kode_desa"]))
    values = _columns(FINDINGS, rows)
    sheets = []
    for start, stop in _runs(keys[["kecamatan", "order"]]):
        category = keys["category"].iloc[start]
        sheets.append((keys["kecamatan"].iloc[start], _Sheet(
            FINDINGS, f"temuan {category}", category_label(category), values, start, stop)))
    return sheets


def _runs(keys: pd.DataFrame) -> list[tuple[int, int]]:
    """(start, stop) of each run of equal rows in sorted keys."""
    bounds = [0] + [i for i, (a, b) in enumerate(pairwise(keys.itertuples(index=False)), 1)
                    if a != b] + [len(keys)]
    return list(pairwise(bounds)) if len(keys) else []


def _columns(layout: Layout, rows: pd.DataFrame) -> dict[str, list]:
    """Plain values per column: a label for the kind, the data, None for a missing column
    (the running number is per sheet)."""
    values = {}
    for key, *_ in layout.columns:
        if key == "_jenis":
            values[key] = [_plain(KINDS.get(kind, kind)) for kind in rows["kind"].tolist()]
        elif key in rows:
            # most values are printable text, so they skip the call
            values[key] = [v if v.__class__ is str and v.isprintable() else _plain(v)
                           for v in rows[key].tolist()]
        elif key != "_no":
            values[key] = [None] * len(rows)
    return values


def _plain(value: Any) -> Any:
    """A pandas/numpy scalar as a plain str, int, float, date or None; bad XML
    characters go."""
    if is_missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date() if value == value.normalize() else value.to_pydatetime()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, str | int | float | date):
        return xml_safe(value) if isinstance(value, str) else value
    return xml_safe(str(value))


class _Formats:
    """The cell formats of one workbook, each made once: `formats(bold=True, ...)`."""

    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self._book = book
        self._made: dict[tuple, Format] = {}

    def __call__(self, **properties: Any) -> Format:
        properties = {k: v for k, v in properties.items() if v is not None}
        key = tuple(sorted(properties.items()))
        if key not in self._made:
            self._made[key] = self._book.add_format(properties)
        return self._made[key]

    def numbered(self) -> list[dict[str, Any]]:
        """The properties of every numbered format, by style number: what `replay`
        takes to number the same formats alike in another workbook."""
        made = {int(f._get_xf_index()): dict(key) for key, f in self._made.items()
                if f.xf_index is not None}
        return [made[number] for number in sorted(made)]

    def replay(self, numbered: list[dict[str, Any]]) -> None:
        for properties in numbered:
            self.style(**properties)

    def style(self, **properties: Any) -> int:
        """The style number (`s`) of a format, for the cells this module writes as XML.

        XlsxWriter numbers a format when it first writes a cell with it; no cell of ours
        goes through it, so the number is taken here, by the call its writer makes."""
        return int(self(**properties)._get_xf_index())


@dataclass(frozen=True)
class _Column:
    """How a column is written: its format (`plain`, which also styles the header rows'
    column) and the style numbers of its data cells, made once per workbook."""

    key: str
    letter: str
    width: int
    hidden: bool
    plain: Format
    text: int                      # values: the open format, else the column's own
    blank: int | None              # an empty cell: open ones are written, others not
    quoted: int                    # formula-looking text: stays text when edited
    day: int
    marks: dict[str, int]          # agreement marks, coloured


def _plan(layout: Layout, formats: _Formats) -> list[_Column]:
    """A layout's columns as written in one workbook."""
    plan = []
    for index, (key, _, width, group) in enumerate(layout.columns):
        cell = {"valign": "top", "text_wrap": key in layout.wrap}
        plain = formats(**cell)
        opened = group == "Diisi petugas"
        if opened:
            cell |= {"locked": False, "bg_color": OPEN_FILL,
                     "num_format": DAY_FORMAT if key == "tanggal" else None}
        text = formats.style(**cell)
        marked = MARK_FILLS if key.startswith("agree_") else {}
        plan.append(_Column(
            key, xl_col_to_name(index), width, key in HIDDEN, plain, text,
            blank=text if opened else None, quoted=formats.style(**cell, quote_prefix=True),
            day=formats.style(**(cell | {"num_format": DAY_FORMAT})),
            marks={mark: formats.style(**cell, bg_color=fill)
                   for mark, fill in marked.items()}))
    return plan


def _write_book(target: str, place: str, sheets: list[_Sheet]) -> None:
    """XlsxWriter writes the workbook's parts (formats, sheet list, defined names,
    properties) around empty sheets; each sheet's XML is its layout's template
    (`_templates`: headers, widths, validation, protection, page setup, as XlsxWriter
    writes them) with its title, used range and data rows, rendered here as sheet XML:
    about 10x faster than cell by cell (2.2M cells at 1M people), and no XlsxWriter work
    per sheet beyond its name. Nothing lands in a temporary folder."""
    skeleton = io.BytesIO()
    book = xlsxwriter.Workbook(skeleton, BOOK_OPTIONS)
    book.set_properties({"title": f"Pemeriksaan {place}"})
    formats, taken = _Formats(book), set[str]()
    templates = _templates()
    formats.replay(templates.numbered)      # the style numbers the templates hold
    parts = {}
    for number, sheet in enumerate(sheets, start=1):   # XlsxWriter's part names
        writer = book.add_worksheet(_sheet_title(sheet.title, taken))
        template = templates.sheets[id(sheet.layout)]
        last = HEADER_ROW + sheet.stop - sheet.start
        _name_ranges(writer, len(template.plan), last)
        parts[f"xl/worksheets/sheet{number}.xml"] = template.render(
            last, f"{place} - {sheet.subject}", number == 1, _rows_xml(template.plan, sheet))
    book.close()
    _fill_rows(skeleton, target, parts)


def _book_plans(formats: _Formats) -> dict[int, list[_Column]]:
    """Both layouts' columns, and every format the sheets use numbered, in one fixed
    order: the templates' style numbers are the same in every workbook."""
    plans = {id(layout): _plan(layout, formats) for layout in (ITEMS, FINDINGS)}
    for plan in plans.values():
        for column in plan:
            column.plain._get_xf_index()
    for properties in HEADER_FORMATS:
        formats.style(**properties)
    return plans


def _name_ranges(writer: SheetWriter, width: int, last: int) -> None:
    """What the workbook part names of a sheet: its filter range and print titles."""
    writer.autofilter(HEADER_ROW - 1, 0, max(last, FIRST_ROW) - 1, width - 1)
    writer.repeat_rows(0, HEADER_ROW - 1)


@dataclass(frozen=True)
class _Template:
    """One layout's sheet XML as XlsxWriter writes it, cut where sheets differ."""

    head: str           # up to the used range's last row
    middle: str         # the rest of the header rows, up to </sheetData>
    tail: str           # after </sheetData>, with SENTINEL_ROW and SENTINEL_TITLE in it
    selected: str       # the sheet view as the first sheet has it
    unselected: str
    plan: list[_Column]  # its columns, with the style numbers of `_Templates.numbered`

    def render(self, last: int, title: str, first: bool, rows: str) -> str:
        filled = max(last, FIRST_ROW)
        tail = (self.tail.replace(f"{SENTINEL_ROW}", str(filled))
                .replace(SENTINEL_TITLE, _header_text(title)))
        middle = self.middle if first else self.middle.replace(self.selected,
                                                               self.unselected, 1)
        return f"{self.head}{last}{middle}{rows}{tail}"


SENTINEL_ROW = 987_654            # a used range's last row in the templates
SENTINEL_TITLE = "@@sheet-title@@"
HEADER_FORMATS: tuple[dict[str, Any], ...] = (
    {"bold": True, "align": "center"},
    {"bold": True, "bg_color": HEAD_FILL, "text_wrap": True, "valign": "top"})
SHARED = re.compile(r'(<c r="[A-Z]+[0-9]+" s="[0-9]+") t="s"><v>([0-9]+)</v></c>')
STRING = re.compile(r"<si><t[^>]*>(.*?)</t></si>", re.S)


@dataclass(frozen=True)
class _Templates:
    sheets: dict[int, _Template]      # by id of the layout
    numbered: list[dict[str, Any]]    # the formats, by style number (_Formats.numbered)


_TEMPLATES: list[_Templates] = []


def _templates() -> _Templates:
    """The layouts' templates, made once: XlsxWriter writes a workbook of one sheet of
    each (every format numbered first, by `_book_plans`) whose validation and filter end
    at SENTINEL_ROW; their page header is SENTINEL_TITLE and their header cells hold
    their text inline. Each workbook numbers the same formats in the same order."""
    if _TEMPLATES:
        return _TEMPLATES[0]
    target = io.BytesIO()
    book = xlsxwriter.Workbook(target, BOOK_OPTIONS)
    formats = _Formats(book)
    plans = _book_plans(formats)
    for layout in (ITEMS, FINDINGS):
        _write_sheet(book.add_worksheet(), formats, plans[id(layout)], layout, SENTINEL_ROW,
                     SENTINEL_TITLE)
    book.close()
    sheets = {}
    with zipfile.ZipFile(target) as package:
        strings = STRING.findall(package.read("xl/sharedStrings.xml").decode())
        for number, layout in enumerate((ITEMS, FINDINGS), start=1):
            xml = package.read(f"xl/worksheets/sheet{number}.xml").decode()
            if number > 1:                      # as the first sheet: selected
                xml = xml.replace('<sheetView workbookViewId="0">',
                                  '<sheetView tabSelected="1" workbookViewId="0">', 1)
            sheets[id(layout)] = _cut_template(xml, strings, plans[id(layout)])
    _TEMPLATES.append(_Templates(sheets, formats.numbered()))
    return _TEMPLATES[0]


def _cut_template(xml: str, strings: list[str], plan: list[_Column]) -> _Template:
    xml = SHARED.sub(lambda m: f'{m[1]} t="inlineStr"><is><t>{strings[int(m[2])]}</t>'
                               "</is></c>", xml)
    used = re.search(r'<dimension ref="A1:[A-Z]+([0-9]+)"/>', xml)
    if used is None or SENTINEL_TITLE not in xml:
        raise RuntimeError("the review sheet template lost its used range or title")
    head, middle = xml[:used.start(1)], xml[used.end(1):]
    middle, tail = middle.split("</sheetData>", 1)
    selected = '<sheetView tabSelected="1" workbookViewId="0">'
    if selected not in middle:
        raise RuntimeError("the review sheet template is not the selected sheet")
    return _Template(head, middle, "</sheetData>" + tail, selected,
                     '<sheetView workbookViewId="0">', plan)


def _header_text(title: str) -> str:
    """The page header's text of a sheet, XML-escaped as XlsxWriter writes it."""
    return title[:100].replace("&", "&&").replace("&G", "& G").replace(
        "&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _fill_rows(skeleton: io.BytesIO, target: str, parts: dict[str, str]) -> None:
    """Copy the skeleton to `target`, each sheet's part replaced by its rendered XML."""
    with (zipfile.ZipFile(skeleton) as source,
          zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out):
        for item in source.infolist():
            data = source.read(item)
            if item.filename in parts:
                data = parts.pop(item.filename).encode()
            out.writestr(item, data, compresslevel=ZIP_LEVEL)
    if parts:
        raise RuntimeError(f"sheet parts not in the skeleton: {sorted(parts)}")


def _sheet_title(wanted: str, taken: set[str]) -> str:
    """A valid sheet title, unique in the workbook regardless of case.

    >>> taken = set()
    >>> _sheet_title("Suka/Maju", taken), _sheet_title("suka/maju", taken)
    ('Suka_Maju', 'suka_maju 2')
    >>> _sheet_title("temuan " + "x" * 40, taken), _sheet_title("x" * 30 + "'y", taken)
    ('temuan xxxxxxxxxxxxxxxxxxxxxxxx', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')
    """
    base = _cut(SHEET_NAME_BAD.sub("_", wanted).strip().strip("'"), 31).strip().strip("'")
    base = base or NO_DESA
    title, n = base, 1
    while title.casefold() in taken:
        n += 1
        title = f"{_cut(base, 31 - len(str(n)) - 1)} {n}"
    taken.add(title.casefold())
    return title


def _cut(text: str, limit: int) -> str:
    """At most `limit` UTF-16 units, as Excel counts a sheet title."""
    text = text[:limit]
    while len(text.encode("utf-16-le")) > 2 * limit:
        text = text[:-1]
    return text


def _write_sheet(writer: SheetWriter, formats: _Formats, plan: list[_Column], layout: Layout,
                 last: int, title: str) -> None:
    """Header rows, widths and column formats, validation, protection and page setup."""
    _write_header(writer, formats, layout)
    for index, column in enumerate(plan):
        writer.set_column(index, index, column.width, column.plain, {"hidden": column.hidden})
    _add_validations(writer, layout, last)
    _protect_and_print(writer, len(plan), last, title)


def _write_header(writer: SheetWriter, formats: _Formats, layout: Layout) -> None:
    group_format = formats(**HEADER_FORMATS[0])
    start = 0
    for group, cols in layout.groups:
        end = start + len(cols) - 1
        if group and end > start:
            writer.merge_range(0, start, 0, end, group, group_format)
        elif group:
            writer.write_string(0, start, group, group_format)
        start = end + 1
    title_format = formats(**HEADER_FORMATS[1])
    writer.write_row(HEADER_ROW - 1, 0, [title for _, title, _, _ in layout.columns],
                     title_format)            # BOOK_OPTIONS: strings stay strings
    writer.freeze_panes(FIRST_ROW - 1, 0)


def _rows_xml(plan: list[_Column], sheet: _Sheet) -> str:
    """The sheet's data rows as sheet XML, numbered from FIRST_ROW."""
    numbers = range(FIRST_ROW, FIRST_ROW + sheet.stop - sheet.start)
    cells = [_cells_xml(column, numbers,
                        range(1, len(numbers) + 1) if column.key == "_no"   # not the rank
                        else sheet.values[column.key][sheet.start:sheet.stop])
             for column in plan]
    return "".join(f'<row r="{n}">{"".join(row)}</row>'
                   for n, row in zip(numbers, zip(*cells, strict=True), strict=True))


def _cells_xml(column: _Column, numbers: range, values: Iterable) -> list[str]:
    """One column's cells as XML, as XlsxWriter would write them: text as text (a
    formula-looking one quoted), numbers, booleans, dates as day serials, an empty cell
    only where it is open."""
    cells = []
    for number, value in zip(numbers, values, strict=True):
        ref = f"{column.letter}{number}"
        if value.__class__ is str:
            style = column.marks.get(
                value, column.quoted if value.startswith(FORMULA_START) else column.text)
            cells.append(f'<c r="{ref}" s="{style}" t="inlineStr"><is>'
                         f'<t xml:space="preserve">{_xml_text(value)}</t></is></c>')
        elif value is None or isinstance(value, float) and not math.isfinite(value):
            cells.append("" if column.blank is None else f'<c r="{ref}" s="{column.blank}"/>')
        elif isinstance(value, bool):
            cells.append(f'<c r="{ref}" s="{column.text}" t="b"><v>{value:d}</v></c>')
        elif isinstance(value, int | float):
            cells.append(f'<c r="{ref}" s="{column.text}"><v>{value:.16G}</v></c>')
        else:
            cells.append(f'<c r="{ref}" s="{column.day}"><v>{_day_serial(value):.16G}</v></c>')
    return cells


def _xml_text(text: str) -> str:
    """Text as sheet XML holds it: at most 32,767 UTF-16 units; a control character in
    Excel's `_xHHHH_` escape, and a literal `_xHHHH_` escaped so it reads back as typed.

    >>> _xml_text("A&B <x>"), _xml_text("_x0041_ a\\rb")
    ('A&amp;B &lt;x&gt;', '_x005F_x0041_ a_x000D_b')
    """
    if len(text) > EXCEL_MAX_TEXT // 2 and len(text.encode("utf-16-le")) > 2 * EXCEL_MAX_TEXT:
        text = _cut(text, EXCEL_MAX_TEXT)
    if "_x" in text:
        text = EXCEL_ESCAPE.sub(r"_x005F\1", text)
    if not text.isprintable():
        text = CONTROL.sub(lambda m: f"_x{ord(m[0]):04X}_", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _day_serial(value: date) -> float:
    """Excel's serial of a date or time (days since 1899-12-31, counting Excel's
    29 February 1900); a time zone is dropped, as BOOK_OPTIONS asks of XlsxWriter.

    >>> _day_serial(date(1900, 2, 28)), _day_serial(date(1980, 1, 2))
    (59.0, 29222.0)
    >>> _day_serial(datetime(2026, 12, 1, 12))
    46357.5
    """
    moment = value if isinstance(value, datetime) else datetime(value.year, value.month,
                                                                  value.day)
    delta = moment.replace(tzinfo=None) - EXCEL_EPOCH
    serial = delta.days + (delta.seconds + delta.microseconds / 1e6) / 86_400
    return serial + 1 if serial > 59 else serial


def _add_validations(sheet: SheetWriter, layout: Layout, last: int) -> None:
    """A drop-down on the decision column, a date check on the date column."""
    if last < FIRST_ROW:
        return
    column = {key: i for i, (key, *_) in enumerate(layout.columns)}
    labels = ", ".join(layout.choices)
    checks: dict[str, dict[str, Any]] = {
        "keputusan": {
            "validate": "list", "source": list(layout.choices),
            "error_title": "Keputusan tidak dikenal",
            "error_message": f"Pilih salah satu dari daftar: {labels}.",
            "input_title": "Keputusan", "input_message": "Pilih dari daftar."},
        "tanggal": {
            "validate": "date", "criteria": "between", "minimum": FIRST_DAY,
            "maximum": LAST_DAY, "error_title": "Tanggal tidak sah",
            "error_message": "Isi tanggal pemeriksaan, misalnya 01/12/2026.",
            "input_title": "Tanggal",
            "input_message": "Tanggal pemeriksaan, misalnya 01/12/2026."}}
    for key, check in checks.items():
        sheet.data_validation(FIRST_ROW - 1, column[key], last - 1, column[key],
                              {**check, "ignore_blank": True, "show_input": True,
                               "show_error": True, "error_type": "stop"})


def _protect_and_print(sheet: SheetWriter, width: int, last: int, title: str) -> None:
    """Protect all but the open cells (no password: it guards slips, not intent);
    A4 landscape, one page wide, the two header rows on every page."""
    sheet.protect("", {"autofilter": True, "format_columns": True, "format_rows": True})
    sheet.autofilter(HEADER_ROW - 1, 0, max(last, FIRST_ROW) - 1, width - 1)
    sheet.set_landscape()
    sheet.set_paper(9)                        # A4
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0, HEADER_ROW - 1)
    # at most 255 characters; '&&' is a literal '&'; XlsxWriter takes '&G' for an image
    sheet.set_header("&LRAHASIA: data pribadi&C"
                     + title[:100].replace("&", "&&").replace("&G", "& G"))
    sheet.set_footer("&RHalaman &P dari &N")


def _private_folder(folder: Path) -> Path:
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
        folder.chmod(0o700)                  # mkdir's mode is cut by the umask
    return folder


def _write_private(path: Path, place: str, sheets: list[_Sheet]) -> None:
    """Write through an owner-only temporary file (mkstemp makes it 0o600), then rename."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".review-", suffix=".xlsx")
    os.close(handle)
    try:
        _write_book(temporary, place, sheets)     # rewrites the file, keeping its mode
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- reading ------------------------------------------------------------------------

def read_workbooks(paths: Iterable[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(decisions, problems) from returned workbooks.

    A decision row is returned when its decision is understood and its hidden ids are
    intact; a missing reviewer or a bad date is reported as a problem and the decision is
    still returned with None there, so the caller chooses whether to hold it back (join
    on file, sheet and row). Blank decisions are not decided yet and are skipped.
    """
    decisions: list[dict] = []
    problems: list[dict] = []
    for path in paths:
        _read_file(Path(path), decisions, problems)
    # object columns keep None as None (pandas 3 would make str columns with NaN)
    return (pd.DataFrame(decisions, columns=DECISION_COLUMNS, dtype=object),
            pd.DataFrame(problems, columns=PROBLEM_COLUMNS, dtype=object))


def _problem(file: Path, sheet: str | None, row: int | None, column: str | None,
             text: str) -> dict:
    return {"file": str(file), "sheet": sheet, "row": row, "column": column, "problem": text}


def _read_file(path: Path, decisions: list[dict], problems: list[dict]) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # e.g. Excel's extended validations: not needed
            book = openpyxl.load_workbook(path, data_only=True)
    except Exception as error:  # whatever an officer sends back is a problem row, not a crash
        problems.append(_problem(path, None, None, None, "not readable as an .xlsx "
                                 f"workbook ({type(error).__name__}: {error})"))
        return
    headers = [(sheet, _find_header(sheet)) for sheet in book.worksheets]
    if not any(header for _, header in headers):
        problems.append(_problem(path, None, None, None,
                                 "not a review workbook: no item id column"))
        return
    for sheet, header in headers:
        if header is None:
            problems.append(_problem(path, sheet.title, None, None,
                                     "sheet not read: it has no item id column"))
        else:
            _read_sheet(path, sheet, header, decisions, problems)


def _find_header(sheet: Worksheet) -> tuple[int, dict[str, tuple[int, str]]] | None:
    """(header row, {lower-case title: (column index, title)}) found by the item id title."""
    for number, values in enumerate(sheet.iter_rows(max_row=5, values_only=True), start=1):
        titles = [_norm(v) for v in values]
        if "item_id" in titles:
            found: dict[str, tuple[int, str]] = {}
            for index, (title, value) in enumerate(zip(titles, values, strict=True), 1):
                found.setdefault(title, (index, str(value).strip()))
            return number, found
    return None


def _read_sheet(path: Path, sheet: Worksheet, header: tuple[int, dict], decisions: list[dict],
                problems: list[dict]) -> None:
    header_row, columns = header
    missing = [c for c in ("keputusan", "nama pemeriksa", "tanggal", *HIDDEN)
               if c not in columns]
    if missing:
        problems.append(_problem(path, sheet.title, header_row, None,
                                 f"sheet not read: column {', '.join(missing)} is missing"))
        return
    for number, values in enumerate(sheet.iter_rows(min_row=header_row + 1, values_only=True),
                                    start=header_row + 1):
        cells = {key: values[i - 1] if i <= len(values) else None
                 for key, (i, _) in columns.items()}
        titles = {key: title for key, (_, title) in columns.items()}
        decision, found = _read_row(cells, titles)
        where = {"file": str(path), "sheet": sheet.title, "row": number}
        problems.extend({**where, "column": column, "problem": text} for column, text in found)
        if decision is not None:
            decisions.append({**where, **decision})


def _read_row(cells: dict[str, Any], titles: dict[str, str]
              ) -> tuple[dict | None, list[tuple[str | None, str]]]:
    """(decision or None, [(column title, problem)]) for one data row."""
    raw = _text(cells["keputusan"])
    if raw is None:
        return None, []
    ids = {key: _text(cells[key]) for key in HIDDEN}
    for key in ("item_id", "fingerprint"):
        if ids[key] is None:
            name = key.replace("_", " ")
            return None, [(titles[key], f"the hidden {name} is missing: the row was "
                                        "added or altered")]
    if ids["kind"] not in KINDS:
        return None, [(titles["kind"], f"the hidden kind {ids['kind']!r} is not one of: "
                                       f"{', '.join(KINDS)}: the row was altered")]
    choices = OUTCOMES if ids["kind"] == "finding" else DECISIONS
    code = _choice(raw, choices)
    if code is None:
        return None, [(titles["keputusan"],
                       f"decision {raw!r} is not one of: {', '.join(choices)}")]
    reason, reviewer = _text(cells.get("alasan")), _text(cells["nama pemeriksa"])
    decided_on, date_problem = _parse_date(cells["tanggal"])
    found: list[tuple[str | None, str]] = (
        [(titles["nama pemeriksa"], "reviewer name is missing")] if reviewer is None else [])
    found += [(titles["tanggal"], date_problem)] if date_problem else []
    if code == "exception" and reason is None:
        found.append((titles.get("alasan", "Alasan"), "an exception needs a reason"))
    return {**ids, "decision": code, "reason": reason, "reviewer": reviewer,
            "decided_on": decided_on}, found


def _norm(value: Any) -> str:
    """Lower case, single spaces: how labels and titles are compared."""
    return " ".join(str(value).split()).casefold() if value is not None else ""


def _text(value: Any) -> str | None:
    """A cell as stripped text, None when blank."""
    text = "" if value is None else str(value).strip()
    return text or None


def _choice(raw: str, choices: dict[str, str]) -> str | None:
    """The code of a label or of the code itself, ignoring case and spacing.

    >>> _choice("  Orang  yang SAMA ", DECISIONS), _choice("same", DECISIONS)
    ('same', 'same')
    >>> _choice("ya", DECISIONS) is None
    True
    """
    accepted = {_norm(label): code for label, code in choices.items()}
    accepted |= {code: code for code in choices.values()}
    return accepted.get(_norm(raw))


def _parse_date(value: Any) -> tuple[str | None, str | None]:
    """(ISO date or None, problem or None); text is read day first, as in Indonesia.

    >>> _parse_date("01/12/2026"), _parse_date(datetime(2026, 12, 1, 9, 30))
    (('2026-12-01', None), ('2026-12-01', None))
    >>> _parse_date("31/13/2026"), _parse_date(None)
    ((None, "date '31/13/2026' is not a date"), (None, None))
    """
    text = _text(value)
    if text is None:
        return None, None
    day = _as_date(value)
    if day is None:
        return None, f"date {text!r} is not a date"
    if not FIRST_DAY <= day <= LAST_DAY:
        return None, f"date {text!r} is not between {FIRST_DAY} and {LAST_DAY}"
    return day.isoformat(), None


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return from_excel(value).date()   # a serial typed into a general cell
        except (ValueError, OverflowError, AttributeError):
            return None
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text).date()    # also what str(datetime) gives
    except ValueError:
        pass
    for form in DATE_FORMATS:
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            continue
    return None
