"""Review workbooks: written for officers, filled as they would, and read back."""

from __future__ import annotations

import shutil
import stat
import subprocess
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from reconcile.review.workbook import DECISIONS, OUTCOMES, read_workbooks, write_workbooks

ITEM_COLUMNS = [
    "item_id", "fingerprint", "kind", "kode_kecamatan", "kecamatan", "kode_desa", "desa",
    "rank", "k_id_penerima", "k_program", "k_nama", "k_tgl_lahir", "k_jenis_kelamin",
    "k_alamat", "k_nik_masked", "k_keluarga", "c_id", "c_nama", "c_tgl_lahir",
    "c_jenis_kelamin", "c_alamat", "c_nik_masked", "c_keluarga", "c_desil", "agree_nama",
    "agree_tgl_lahir", "agree_jenis_kelamin", "agree_alamat", "agree_nik", "agree_kk",
    "penjelasan", "explanation"]
FINDING_COLUMNS = [
    "item_id", "fingerprint", "category", "kode_kecamatan", "kecamatan", "kode_desa", "desa",
    "record_id", "program", "nama", "tgl_lahir", "nik_masked", "desil", "evidence",
    "action_id"]
FORMULA = '=HYPERLINK("http://x.example";"klik")'
DECISION_TITLES = {"Keputusan", "Alasan", "Nama pemeriksa", "Tanggal"}


def _item(item_id, kecamatan, desa, rank, kind="link", **changes):
    kode_kec, nama_kec = kecamatan
    kode_desa, nama_desa = desa
    row = {"item_id": item_id, "fingerprint": f"fp-{item_id}", "kind": kind,
           "kode_kecamatan": kode_kec, "kecamatan": nama_kec, "kode_desa": kode_desa,
           "desa": nama_desa, "rank": rank, "k_id_penerima": f"K-{item_id}",
           "k_program": "PKH", "k_nama": "SITI AMINAH", "k_tgl_lahir": date(1980, 1, 2),
           "k_jenis_kelamin": "P", "k_alamat": "JL. MAWAR 1", "k_nik_masked": "3201********0001",
           "k_keluarga": "BUDI, ANI", "c_id": f"D-{item_id}", "c_nama": "SITI AMINA",
           "c_tgl_lahir": date(1980, 1, 2), "c_jenis_kelamin": "P", "c_alamat": "JL MAWAR 1",
           "c_nik_masked": None, "c_keluarga": "BUDI", "c_desil": 2, "agree_nama": "mirip",
           "agree_tgl_lahir": "sama", "agree_jenis_kelamin": "sama", "agree_alamat": "mirip",
           "agree_nik": "kosong", "agree_kk": "beda", "penjelasan": "Nama mirip, tanggal sama.",
           "explanation": "Similar name, same birth date."}
    return {**row, **changes}


KEC_A, KEC_B = ("32.01.05", "Cibinong"), ("32.01.06", "Citeureup")


@pytest.fixture
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    items = pd.DataFrame([
        _item("a2", KEC_A, ("32.01.05.2001", "Pakansari"), 2),
        _item("a1", KEC_A, ("32.01.05.2001", "Pakansari"), 1),
        _item("b1", KEC_A, ("32.01.05.2002", "Tengah"), 1, k_nama=FORMULA, k_alamat="-5 RT"),
        _item("c1", KEC_B, ("32.01.06.2001", "Puspanegara"), 1, kind="dedupe"),
        _item("n1", (None, None), (None, None), 1),
    ], columns=ITEM_COLUMNS)
    findings = pd.DataFrame([
        ["f1", "fp-f1", "inclusion_error", *KEC_A, "32.01.05.2001", "Pakansari", "K-9", "PKH",
         "ANI", date(1990, 5, 6), "3201********0009", 9, "@desil 9", "Verifikasi ulang"],
        ["f2", "fp-f2", "not_in_register", *KEC_A, None, None, "K-8", "BPNT", "+62 NAMA",
         None, None, None, "tidak ada di DTSEN", "Daftarkan"],
        ["f3", "fp-f3", "duplicate_enrolment", *KEC_B, "32.01.06.2001", "Puspanegara", "K-7",
         "PKH", "DEDI", None, None, 3, "dua kali", "Hapus salah satu"],
    ], columns=FINDING_COLUMNS)
    return items, findings


@pytest.fixture
def written(frames, tmp_path) -> list[Path]:
    return write_workbooks(*frames, tmp_path / "review")


def _columns(sheet) -> dict[str, int]:
    """Header title -> column index (first occurrence), from the second row."""
    found: dict[str, int] = {}
    for cell in sheet[2]:
        found.setdefault(cell.value, cell.column)
    return found


def _fill(sheet, row, decision, reviewer=None, when=None, reason=None) -> None:
    columns = _columns(sheet)
    for title, value in (("Keputusan", decision), ("Nama pemeriksa", reviewer),
                         ("Tanggal", when), ("Alasan", reason)):
        if value is not None:
            sheet.cell(row, columns[title], value)


def _hidden(sheet, index: int) -> bool:
    """Whether a column is hidden; LibreOffice groups neighbouring columns in one range."""
    return any(d.hidden and (d.min or 0) <= index <= (d.max or 0)
               for d in sheet.column_dimensions.values())


def test_one_file_per_kecamatan_and_a_sheet_per_desa_then_per_category(written):
    assert [p.name for p in written] == [
        "review-32.01.05.xlsx", "review-32.01.06.xlsx", "review-tanpa-wilayah.xlsx"]
    books = [openpyxl.load_workbook(p) for p in written]
    assert books[0].sheetnames == ["Pakansari", "Tengah", "temuan not_in_register",
                                   "temuan inclusion_error"]
    assert books[1].sheetnames == ["Puspanegara", "temuan duplicate_enrolment"]
    assert books[2].sheetnames == ["tanpa desa"]
    sheet = books[0]["Pakansari"]
    ids = _columns(sheet)["item_id"]
    assert [sheet.cell(r, ids).value for r in (3, 4)] == ["a1", "a2"]   # by rank
    assert sheet.cell(1, 3).value == "Data Kemensos"
    assert "Calon di DTSEN" in [c.value for c in sheet[1]]


def test_round_trip_codes_and_problems(written, tmp_path):
    first, second = written[0], written[1]
    book = openpyxl.load_workbook(first)
    _fill(book["Pakansari"], 3, "  Orang yang SAMA ", "Sri", datetime(2026, 12, 1))
    _fill(book["Pakansari"], 4, "ya", "Sri", "02/12/2026")
    _fill(book["Tengah"], 3, "different", None, "01/12/2026")
    _fill(book["temuan inclusion_error"], 3, "terkonfirmasi", "Andi", "31/13/2026")
    book.save(first)
    book = openpyxl.load_workbook(second)
    _fill(book["Puspanegara"], 3, "tidak yakin", "Dewi", date(2026, 11, 30))
    _fill(book["temuan duplicate_enrolment"], 3, "Pengecualian (isi alasan)", "Dewi",
          "2026-12-01", reason="pindah ke Bogor")
    book["Puspanegara"].cell(4, 1, "catatan petugas")   # a note below the rows: ignored
    book.save(second)
    junk = tmp_path / "foto.xlsx"
    junk.write_bytes(b"not a zip")
    other = tmp_path / "other.xlsx"
    openpyxl.Workbook().save(other)

    decisions, problems = read_workbooks([*written, junk, other])

    got = decisions.set_index("item_id")
    assert got["decision"].to_dict() == {"a1": "same", "b1": "different", "f1": "confirmed",
                                         "c1": "unsure", "f3": "exception"}
    assert got.loc["b1", "reviewer"] is None and got.loc["b1", "decided_on"] == "2026-12-01"
    assert got.loc["f1", "decided_on"] is None
    assert got.loc["f3", ["reason", "kind", "fingerprint"]].tolist() == [
        "pindah ke Bogor", "finding", "fp-f3"]
    assert got.loc["c1", ["kind", "decided_on"]].tolist() == ["dedupe", "2026-11-30"]
    assert (got.loc["a1", ["file", "sheet", "row"]].tolist() == [str(first), "Pakansari", 3])
    assert list(decisions.columns) == ["file", "sheet", "row", "item_id", "fingerprint", "kind",
                                       "decision", "reason", "reviewer", "decided_on"]
    found = {(Path(p.file).name, p.sheet, p.row, p.column, p.problem)
             for p in problems.itertuples()}
    labels = ", ".join(DECISIONS)
    assert found == {
        (first.name, "Pakansari", 4, "Keputusan", f"decision 'ya' is not one of: {labels}"),
        (first.name, "Tengah", 3, "Nama pemeriksa", "reviewer name is missing"),
        (first.name, "temuan inclusion_error", 3, "Tanggal", "date '31/13/2026' is not a date"),
        (junk.name, None, None, None,
         "not readable as an .xlsx workbook (BadZipFile: File is not a zip file)"),
        (other.name, None, None, None, "not a review workbook: no item id column"),
    }


def test_altered_hidden_ids_are_problems_not_decisions(written):
    book = openpyxl.load_workbook(written[0])
    sheet = book["Pakansari"]
    sheet.cell(5, 1, 99)                          # a row added by hand
    _fill(sheet, 5, "orang berbeda", "Sri")
    sheet.cell(3, _columns(sheet)["fingerprint"]).value = None
    _fill(sheet, 3, "same", "Sri")
    book.save(written[0])
    decisions, problems = read_workbooks([written[0]])
    assert decisions.empty
    assert problems[["row", "column", "problem"]].values.tolist() == [
        [3, "fingerprint", "the hidden fingerprint is missing: the row was added or altered"],
        [5, "item_id", "the hidden item id is missing: the row was added or altered"]]


def _check_sheet(sheet) -> None:
    """Protected; only decision cells of data rows open; drop-down and date check there."""
    assert sheet.protection.sheet, sheet.title
    columns = _columns(sheet)
    last = sheet.max_row
    assert last >= 3
    for row in sheet.iter_rows(min_row=1, max_row=last, max_col=sheet.max_column):
        for cell in row:
            title = sheet.cell(2, cell.column).value
            editable = cell.row >= 3 and title in DECISION_TITLES
            assert cell.protection.locked is not editable, (sheet.title, cell.coordinate)
    validations = {v.type: v for v in sheet.data_validations.dataValidation}
    choices = OUTCOMES if sheet.title.startswith("temuan") else DECISIONS
    listed = validations["list"]
    assert all(label in listed.formula1 for label in choices) and listed.showErrorMessage
    for kind, title in (("list", "Keputusan"), ("date", "Tanggal")):
        letter = openpyxl.utils.get_column_letter(columns[title])
        assert all(f"{letter}{r}" in validations[kind].sqref for r in range(3, last + 1))
    for title in ("item_id", "fingerprint", "kind"):
        assert _hidden(sheet, columns[title]), (sheet.title, title)
    assert not any(_hidden(sheet, columns[t]) for t in ("Keputusan", "Nama", "Penjelasan")
                   if t in columns)


def test_sheets_protected_only_decisions_open_validated_and_ids_hidden(written):
    for path in written:
        for sheet in openpyxl.load_workbook(path).worksheets:
            _check_sheet(sheet)
            assert sheet.print_title_rows == "$1:$2"
            assert sheet.page_setup.orientation == "landscape"
            assert int(sheet.page_setup.paperSize) == int(sheet.PAPERSIZE_A4)
            assert sheet.sheet_properties.pageSetUpPr.fitToPage
            # one page wide, any number tall; a missing fitToWidth is 1 (the OOXML default)
            assert (sheet.page_setup.fitToWidth or 1) == 1
            assert sheet.page_setup.fitToHeight == 0 and sheet.freeze_panes == "A3"


def test_no_score_or_probability_is_shown(frames, tmp_path):
    items, findings = frames
    items = items.assign(match_probability=0.8731, score=12.5)   # upstream extras
    for path in write_workbooks(items, findings, tmp_path / "out"):
        for sheet in openpyxl.load_workbook(path).worksheets:
            values = [c.value for row in sheet.iter_rows() for c in row]
            titles = " ".join(str(v) for v in values[:2 * sheet.max_column]).lower()
            assert not any(w in titles for w in ("prob", "score", "skor", "peluang", "bobot"))
            assert 0.8731 not in values and 12.5 not in values


def test_formula_looking_values_are_text(written):
    book = openpyxl.load_workbook(written[0])
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = {c.value: c for c in cells if isinstance(c.value, str)}
    for value in (FORMULA, "-5 RT", "@desil 9", "+62 NAMA"):
        assert texts[value].data_type == "s" and texts[value].quotePrefix


def test_files_are_owner_only(written):
    assert stat.S_IMODE(written[0].parent.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in written} == {0o600}
    assert sorted(p.name for p in written[0].parent.iterdir()) == sorted(
        p.name for p in written)                  # no temporary file left behind


def test_empty_frames_write_nothing(frames, tmp_path):
    items, findings = frames
    assert write_workbooks(items.iloc[:0], findings.iloc[:0], tmp_path / "none") == []
    only_findings = write_workbooks(items.iloc[:0], findings, tmp_path / "f")
    assert [p.name for p in only_findings] == ["review-32.01.05.xlsx", "review-32.01.06.xlsx"]


@pytest.mark.slow
def test_libreoffice_keeps_drop_down_protection_and_ids(written, tmp_path):
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("soffice (LibreOffice) is not on PATH: `make office` installs it")
    out = tmp_path / "lo-out"
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path}/lo", "--headless",
                    "--convert-to", "xlsx", "--outdir", str(out), str(written[0])],
                   check=True, capture_output=True, timeout=120)
    converted = out / written[0].name
    book = openpyxl.load_workbook(converted)
    assert book.sheetnames == openpyxl.load_workbook(written[0]).sheetnames
    for sheet in book.worksheets:
        _check_sheet(sheet)
    _fill(book["Pakansari"], 3, "perlu kunjungan lapangan", "Sri", date(2026, 12, 3))
    _fill(book["temuan inclusion_error"], 3, "sudah diselesaikan / terdaftar", "Andi",
          "03/12/2026")
    book.save(converted)
    decisions, problems = read_workbooks([converted])
    assert problems.empty, problems.to_dict("records")
    assert decisions[["item_id", "fingerprint", "decision", "decided_on"]].values.tolist() == [
        ["a1", "fp-a1", "field_visit", "2026-12-03"], ["f1", "fp-f1", "resolved", "2026-12-03"]]



def test_values_read_back_as_written(frames, tmp_path):
    """The rows are rendered as sheet XML here, not by XlsxWriter: entities, spaces at
    the ends, line breaks, tabs, numbers and dates come back as given. (Excel's _xHHHH_
    escape, as XlsxWriter writes it, is in workbook._xml_text; openpyxl does not decode
    it in inline strings, LibreOffice and Excel do.)"""
    items, findings = frames
    odd = {"k_nama": "A & B <C>", "k_alamat": "  JL.\nMAWAR  ", "c_nama": "SITI_x",
           "c_alamat": "RT 1\tRW 2", "c_desil": 7}
    items = items.assign(**{key: [value] * len(items) for key, value in odd.items()})
    sheet = openpyxl.load_workbook(write_workbooks(items, findings, tmp_path / "odd")[0])[
        "Pakansari"]
    row = [cell.value for cell in sheet[3]]
    assert [value for value in odd.values() if value not in row] == [], row
    assert datetime(1980, 1, 2) in row and row[0] == 1        # birth date; running number
