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

import os
import re
import tempfile
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel, to_excel
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from reconcile.report.labels import category_label, is_missing, ordered_categories

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
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")   # as reconcile/report/xlsx.py
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y", "%Y/%m/%d")
BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
BOLD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
OPEN_FILL = PatternFill("solid", fgColor="FFF2CC")   # the cells an officer fills in
MARK_FILLS = {"sama": "E2EFDA", "mirip": "FFF2CC", "beda": "F8CBAD"}
OPEN = Protection(locked=False)
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")


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

def write_workbooks(items: pd.DataFrame, findings: pd.DataFrame, folder: Path) -> list[Path]:
    """Write `review-<kode_kecamatan>.xlsx` files into `folder`; return their paths.

    The files hold names and birth dates, so they are owner-only (0o600), and a folder
    created here is 0o700.
    """
    folder = _private_folder(Path(folder))
    item_key, finding_key = _kecamatan_key(items), _kecamatan_key(findings)
    paths = []
    for code in sorted(set(item_key) | set(finding_key), key=lambda c: (c == "", c)):
        book = _workbook(items[item_key == code], findings[finding_key == code])
        paths.append(_save_private(book, folder / f"review-{_file_part(code)}.xlsx"))
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


def _workbook(items: pd.DataFrame, findings: pd.DataFrame) -> Workbook:
    book = Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    names = pd.concat([items["kecamatan"], findings["kecamatan"]]).dropna()
    place = str(names.iloc[0]) if len(names) else "tanpa wilayah"
    book.properties.title = f"Pemeriksaan {place}"
    for title, rows in _desa_groups(items):
        sheet = book.create_sheet(_sheet_title(title, taken))
        _write_sheet(sheet, ITEMS, rows.sort_values("rank", kind="stable"), place, title)
    categories = findings["category"].fillna("lainnya")
    for category in ordered_categories(categories.unique().tolist()):
        rows = findings[categories == category].assign(
            kind="finding", desa=lambda f: f["desa"].fillna(f["kode_desa"]))
        rows = rows.sort_values(["kode_desa", "nama"], kind="stable", na_position="last")
        sheet = book.create_sheet(_sheet_title(f"temuan {category}", taken))
        _write_sheet(sheet, FINDINGS, rows, place, category_label(category))
    return book


def _desa_groups(items: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(sheet title wanted, rows) per desa, in desa-code order, rows without a desa last."""
    title = items["desa"].fillna(items["kode_desa"]).fillna(NO_DESA).astype(str)
    key = items["kode_desa"].fillna("~" + title)
    return [(title[rows.index[0]], rows) for _, rows in items.groupby(key, sort=True)]


def _sheet_title(wanted: str, taken: set[str]) -> str:
    """A valid sheet title, unique in the workbook regardless of case.

    >>> taken = set()
    >>> _sheet_title("Suka/Maju", taken), _sheet_title("suka/maju", taken)
    ('Suka_Maju', 'suka_maju 2')
    >>> _sheet_title("temuan " + "x" * 40, taken)
    'temuan xxxxxxxxxxxxxxxxxxxxxxxx'
    """
    base = BAD_SHEET_CHARS.sub("_", wanted).strip().strip("'")[:31] or NO_DESA
    title, n = base, 1
    while title.casefold() in taken:
        n += 1
        title = f"{base[:31 - len(str(n)) - 1]} {n}"
    taken.add(title.casefold())
    return title


def _write_sheet(sheet: Worksheet, layout: Layout, rows: pd.DataFrame, place: str,
                 subject: str) -> None:
    columns = layout.columns
    _write_header(sheet, layout)
    for number, record in enumerate(rows.to_dict("records"), start=1):
        row = HEADER_ROW + number
        for index, (key, _, _, group) in enumerate(columns, start=1):
            cell = _write_value(sheet, row, index, _value(key, record, number))
            cell.alignment = WRAP if key in layout.wrap else TOP
            if group == "Diisi petugas":
                cell.protection, cell.fill = OPEN, OPEN_FILL
            elif key.startswith("agree_") and cell.value in MARK_FILLS:
                cell.fill = PatternFill("solid", fgColor=MARK_FILLS[cell.value])
    last = HEADER_ROW + len(rows)
    _add_validations(sheet, layout, last)
    _protect_and_print(sheet, len(columns), last, f"{place} - {subject}")


def _write_header(sheet: Worksheet, layout: Layout) -> None:
    start = 1
    for group, cols in layout.groups:
        end = start + len(cols) - 1
        if group:
            sheet.cell(1, start, group).font = BOLD
            sheet.cell(1, start).alignment = Alignment(horizontal="center")
            if end > start:
                sheet.merge_cells(start_row=1, start_column=start, end_row=1, end_column=end)
        start = end + 1
    for index, (key, title, width, _) in enumerate(layout.columns, start=1):
        cell = sheet.cell(HEADER_ROW, index, title)
        cell.font, cell.fill, cell.alignment = BOLD, HEAD_FILL, WRAP
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = width
        sheet.column_dimensions[letter].hidden = key in HIDDEN
    sheet.freeze_panes = sheet.cell(FIRST_ROW, 1)


def _value(key: str, record: dict, number: int) -> Any:
    """The value a column shows: a running number (not the rank), a label, or the data."""
    if key == "_no":
        return number
    if key == "_jenis":
        return KINDS.get(record.get("kind"), record.get("kind"))
    return record.get(key)


def _write_value(sheet: Worksheet, row: int, column: int, value: Any):
    """Write a plain Python value; text that looks like a formula stays text."""
    value = _plain(value)
    cell = sheet.cell(row, column)
    cell.value = value
    if isinstance(value, str) and value.startswith(FORMULA_START):
        cell.data_type = "s"        # the names and addresses were typed by anyone
        cell.quotePrefix = True     # and stay text if an officer edits the cell
    elif isinstance(value, date):
        cell.number_format = "DD/MM/YYYY"
    return cell


def _plain(value: Any) -> Any:
    """A pandas/numpy scalar as the plain value openpyxl writes; bad XML characters go."""
    if is_missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date() if value == value.normalize() else value.to_pydatetime()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, str | int | float | date):
        return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))


def _add_validations(sheet: Worksheet, layout: Layout, last: int) -> None:
    """A drop-down on the decision column, a date check on the date column."""
    if last < FIRST_ROW:
        return
    letters = {key: get_column_letter(i) for i, (key, *_) in enumerate(layout.columns, 1)}
    labels = ", ".join(layout.choices)
    choose = DataValidation(
        type="list", formula1='"' + ",".join(layout.choices) + '"', allow_blank=True,
        showErrorMessage=True, errorStyle="stop", errorTitle="Keputusan tidak dikenal",
        error=f"Pilih salah satu dari daftar: {labels}.", showInputMessage=True,
        promptTitle="Keputusan", prompt="Pilih dari daftar.")
    when = DataValidation(
        type="date", operator="between", formula1=str(int(to_excel(FIRST_DAY))),
        formula2=str(int(to_excel(LAST_DAY))), allow_blank=True, showErrorMessage=True,
        errorStyle="stop", errorTitle="Tanggal tidak sah",
        error="Isi tanggal pemeriksaan, misalnya 01/12/2026.", showInputMessage=True,
        promptTitle="Tanggal", prompt="Tanggal pemeriksaan, misalnya 01/12/2026.")
    for validation, key in ((choose, "keputusan"), (when, "tanggal")):
        sheet.add_data_validation(validation)
        validation.add(f"{letters[key]}{FIRST_ROW}:{letters[key]}{last}")
    for row in range(FIRST_ROW, last + 1):
        sheet[f"{letters['tanggal']}{row}"].number_format = "DD/MM/YYYY"


def _protect_and_print(sheet: Worksheet, width: int, last: int, title: str) -> None:
    """Protect all but the open cells (no password: it guards slips, not intent);
    A4 landscape, one page wide, the two header rows on every page."""
    sheet.protection.sheet = True
    sheet.protection.autoFilter = False      # False allows it
    sheet.protection.formatColumns = False
    sheet.protection.formatRows = False
    sheet.auto_filter.ref = f"A{HEADER_ROW}:{get_column_letter(width)}{max(last, FIRST_ROW)}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.print_title_rows = f"1:{HEADER_ROW}"
    sheet.oddHeader.left.text = "RAHASIA: data pribadi"
    sheet.oddHeader.center.text = title.replace("&", "&&")
    sheet.oddFooter.right.text = "Halaman &P dari &N"


def _private_folder(folder: Path) -> Path:
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
        folder.chmod(0o700)                  # mkdir's mode is cut by the umask
    return folder


def _save_private(book: Workbook, path: Path) -> Path:
    """Save through an owner-only temporary file (mkstemp makes it 0o600), then rename."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".review-", suffix=".xlsx")
    os.close(handle)
    try:
        book.save(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


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
    found = [(titles["nama pemeriksa"], "reviewer name is missing")] if reviewer is None else []
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
