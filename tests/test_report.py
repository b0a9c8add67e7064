"""report.html and report.xlsx: offline, private, escaped, and safe to open in Excel."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from reconcile import db
from reconcile.report import html as html_report
from reconcile.report import write_report_html, write_report_xlsx
from reconcile.report import xlsx as xlsx_report

NIK = "1771014101900001"
NAMES = ("SITI AMINAH", "BUDI SANTOSO")
RUN_INFO = {
    "run_id": "2026-11-02T010000-ab12",
    "reconciled_rows": 6,
    "persons": 5,
    "share_matched": 0.8333,
    "quarantined_rows": 2,
    "discrepancies": {"inclusion_error": 3},          # nested: not in the header card
    "rows_per_file": [{"file": "pkh.csv", "read": 6}],  # nested: ignored
    "operator": "dinsos-bengkulu",                    # unknown scalar: shown as is
}

DISCREPANCIES = """
CREATE TABLE discrepancies (category VARCHAR, severity VARCHAR, source VARCHAR,
    record_id VARCHAR, person_id VARCHAR, id_individu VARCHAR, id_keluarga VARCHAR,
    program VARCHAR, kode_wilayah VARCHAR, evidence VARCHAR, action_id VARCHAR,
    action_en VARCHAR, cost DOUBLE);
INSERT INTO discrepancies VALUES
 ('inclusion_error', 'high', 'kemensos', 'K-1', 'P-1', 'I-1', 'F-1', 'PKH', '17.01.02.2003',
  '=HYPERLINK("#x";"klik")', 'Verifikasi ulang', 'Re-verify', 3000000),
 ('inclusion_error', 'high', 'kemensos', 'K-2', 'P-2', 'I-2', 'F-2', 'BPNT', '17.01.01.2001',
  '-5', 'Verifikasi ulang', 'Re-verify', 2400000),
 ('inclusion_error', 'medium', 'kemensos', 'K-3', 'P-3', 'I-3', 'F-3', 'PKH', '17.02.01.2001',
  'desil 8 <b>bold</b>', 'Verifikasi ulang', 'Re-verify', NULL),
 ('not_in_register', 'high', 'kemensos', 'K-4', 'P-4', NULL, NULL, 'PKH', '17.02.01.2002',
  'NIK 1771014101900001 tidak ditemukan', 'Cek NIK', 'Check the NIK', 3000000),
 ('exclusion_error', 'medium', 'bps', 'B-9', NULL, 'I-9', 'F-9', NULL, '17.01.02.2003',
  'desil 1, belum menerima', 'Usulkan', 'Propose', NULL),
 ('duplicate_enrolment', 'high', 'kemensos', 'K-5', 'P-5', 'I-5', 'F-5', 'PKH', NULL,
  'see https://evil.example/x', 'Hapus ganda', 'Remove duplicate', 3000000),
 ('invalid_nik', 'low', 'kemensos', 'K-6', 'P-6', NULL, NULL, 'BLT', '17.01.01.2001',
  '@SUM(1+1)', 'Perbaiki NIK', 'Fix the NIK', NULL),
 ('region_mismatch', 'low', 'kemensos', 'K-7', 'P-7', 'I-7', 'F-7', 'PKH', '17.01.01.2001',
  '+62 812', 'Perbarui alamat', 'Update address', NULL);
"""

REGION_SUMMARY = """
CREATE TABLE region_summary (level VARCHAR, kode_wilayah VARCHAR, nama_wilayah VARCHAR,
    beneficiaries BIGINT, enrolments BIGINT, enrolments_pkh BIGINT, enrolments_bpnt BIGINT,
    enrolments_pbi_jk BIGINT, enrolments_blt BIGINT, share_matched DOUBLE,
    beneficiaries_desil_1 BIGINT, beneficiaries_desil_2 BIGINT, beneficiaries_desil_3 BIGINT,
    beneficiaries_desil_4 BIGINT, beneficiaries_desil_5 BIGINT, beneficiaries_desil_6 BIGINT,
    beneficiaries_desil_7 BIGINT, beneficiaries_desil_8 BIGINT, beneficiaries_desil_9 BIGINT,
    beneficiaries_desil_10 BIGINT, beneficiaries_desil_unknown BIGINT,
    bps_penduduk_miskin DOUBLE, bps_miskin_ekstrem DOUBLE, register_desil1_families BIGINT,
    desil1_families_enrolled BIGINT, desil1_coverage DOUBLE, desil1_families_unserved BIGINT,
    inclusion_error_share DOUBLE);
INSERT INTO region_summary VALUES
 ('kabupaten', '17.01', 'Bengkulu Selatan', 400, 520, 200, 150, 120, 50, 0.91,
  120, 80, 60, 40, 30, 20, 10, 5, 3, 2, 30, 21345.6, 2311.2, 150, 110, 0.7333, 40, 0.05),
 ('kabupaten', '17.02', 'Kota <Bengkulu> & Co', 300, 330, 100, 100, 100, 30, 0.85,
  90, 60, 40, 30, 20, 10, 5, 3, 2, 1, 39, 18000.4, 1500.9, 100, 55, 0.55, 45, 0.08),
 ('kecamatan', '17.01.01', 'Manna', 150, 190, 70, 60, 40, 20, 0.9,
  50, 30, 20, 15, 10, 8, 4, 2, 1, 0, 10, NULL, NULL, 60, 45, 0.75, 15, 0.04),
 ('kecamatan', '17.01.02', 'Kedurang', 250, 330, 130, 90, 80, 30, 0.92,
  70, 50, 40, 25, 20, 12, 6, 3, 2, 2, 20, NULL, NULL, 90, 65, 0.7222, 25, 0.06),
 ('kecamatan', '17.02.01', 'Ratu Agung', 300, 330, 100, 100, 100, 30, 0.85,
  90, 60, 40, 30, 20, 10, 5, 3, 2, 1, 39, NULL, NULL, 100, 55, 0.55, 45, 0.08);
"""

RECONCILED = f"""
CREATE TABLE reconciled (id_penerima VARCHAR, program VARCHAR, person_id VARCHAR,
    id_individu VARCHAR, desil INTEGER, match_probability DOUBLE, match_type VARCHAR,
    nik VARCHAR, nama VARCHAR, kode_wilayah VARCHAR, kode_kabupaten VARCHAR);
INSERT INTO reconciled VALUES
 ('K-1', 'PKH', 'P-1', 'I-1', 8, 0.99, 'nik', '{NIK}', '{NAMES[0]}', '17.01.02.2003', '17.01'),
 ('K-1b', 'BPNT', 'P-1', 'I-1', 8, 0.99, 'nik', '{NIK}', '{NAMES[0]}', '17.01.02.2003',
  '17.01'),
 ('K-2', 'BPNT', 'P-2', 'I-2', 1, 0.72, 'fuzzy', '1702020202020002', '{NAMES[1]}',
  '17.01.01.2001', '17.01'),
 ('K-3', 'PKH', 'P-3', 'I-3', 3, 0.51, 'fuzzy', '1702030303030003', 'ANI', '17.02.01.2001',
  '17.02'),
 ('K-4', 'PKH', 'P-4', NULL, NULL, NULL, 'none', '1702040404040004', 'WATI',
  '17.02.01.2002', '17.02'),
 ('K-5', 'PKH', 'P-5', 'I-5', 2, 1.0, 'nik', '1702050505050005', 'RINI', NULL, 'unknown');
"""


def _load(con, script: str) -> None:
    for statement in filter(str.strip, script.split(";\n")):
        db.run(con, statement)


@pytest.fixture
def report_con(con):
    """The three report tables, small and hand-made, with traps for escaping and privacy."""
    for script in (DISCREPANCIES, REGION_SUMMARY, RECONCILED):
        _load(con, script)
    return con


@pytest.fixture
def report_html(report_con, tmp_path) -> Path:
    path = tmp_path / "report.html"
    write_report_html(report_con, path, RUN_INFO)
    return path


def assert_private(text: str) -> None:
    assert NIK not in text
    assert not re.search(r"\d{16}", text), "a full NIK-length number leaked"
    for name in (*NAMES, "ANI", "WATI", "RINI"):
        assert not re.search(rf"\b{name}\b", text, re.IGNORECASE), name


# --- HTML ---------------------------------------------------------------------------

def test_html_is_offline(report_html):
    text = report_html.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    assert "<link" not in text and "@import" not in text and "url(" not in text
    for attribute in re.findall(r"""\b(?:src|href)\s*=\s*['"]?([^'" >]*)""", text):
        assert attribute.startswith(("data:", "#")), attribute


def test_html_has_no_personal_data(report_html):
    assert_private(report_html.read_text(encoding="utf-8"))
    assert "1771********0001" in report_html.read_text(encoding="utf-8")  # evidence masked


def test_html_content(report_html):
    text = report_html.read_text(encoding="utf-8")
    for label in ("Cakupan keluarga desil 1", "Desil-1 family coverage",
                  "Sebaran desil penerima", "Desil distribution of beneficiaries",
                  "Findings by category and regency", "Histogram of match probability",
                  "Ringkasan wilayah / Region summary", "Salah sasaran (inklusi) / Inclusion error"):
        assert label in text, label
    assert "estimasi survei" in text and "survey estimates" in text
    assert "NOT an error count" in text
    assert text.count("<svg") >= 4
    assert "id='search-tabel-temuan'" in text
    assert RUN_INFO["run_id"] in text and "dinsos-bengkulu" in text
    assert "pkh.csv" not in text  # nested run_info values are skipped
    assert "Kota &lt;Bengkulu&gt; &amp; Co" in text and "<Bengkulu>" not in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text
    assert "73,3%" in text  # desil-1 coverage of 17.01
    assert "2.000" in text  # the sample cap is stated


def test_html_sample_is_capped_and_shared_across_categories(report_con, tmp_path, monkeypatch):
    monkeypatch.setattr(html_report, "SAMPLE_ROWS", 6)
    path = tmp_path / "report.html"
    write_report_html(report_con, path, {"run_id": "x"})
    text = path.read_text(encoding="utf-8")
    table = text.split("id='tabel-temuan'")[1].split("</table>")[0]
    assert table.count("<tr>") == 1 + 6
    for category in ("Inclusion error", "Not in register", "Exclusion error",
                     "Duplicate enrolment", "Invalid NIK", "Region differs"):
        assert category in table, category
    assert "Menampilkan 6 dari 8 temuan" in text


def test_reports_on_empty_tables(report_con, tmp_path):
    db.run(report_con, "DELETE FROM discrepancies")
    db.run(report_con, "DELETE FROM region_summary")
    db.run(report_con, "UPDATE reconciled SET match_probability = NULL")
    write_report_html(report_con, tmp_path / "report.html", {})
    write_report_xlsx(report_con, tmp_path / "report.xlsx")
    assert "Tidak ada data / No data" in (tmp_path / "report.html").read_text(encoding="utf-8")
    assert openpyxl.load_workbook(tmp_path / "report.xlsx").sheetnames == ["Ringkasan (Summary)"]


# --- Excel --------------------------------------------------------------------------

@pytest.fixture
def report_xlsx(report_con, tmp_path) -> Path:
    path = tmp_path / "report.xlsx"
    write_report_xlsx(report_con, path)
    return path


def _all_values(book) -> list:
    return [v for sheet in book for row in sheet.iter_rows(values_only=True) for v in row
            if v is not None]


def test_xlsx_sheets(report_xlsx):
    book = openpyxl.load_workbook(report_xlsx)
    assert book.sheetnames == ["Ringkasan (Summary)", "Wilayah (Regions)",
                               "Desil per wilayah (Desil)", "not_in_register",
                               "inclusion_error", "exclusion_error", "duplicate_enrolment",
                               "invalid_nik", "region_mismatch"]
    sheet = book["inclusion_error"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:M4"
    header = [c.value for c in sheet[1]]
    assert header[0] == "Tingkat / Severity" and "Bukti / Evidence" in header
    assert sheet.max_row == 4
    assert [c.value for c in sheet[2]][:2] == ["Tinggi / High", "inclusion_error"]
    summary = [v for row in book["Ringkasan (Summary)"].iter_rows(values_only=True)
               for v in row if v is not None]
    assert "Temuan per kategori / Findings per category" in summary
    assert any("estimasi survei" in str(v) for v in summary)
    regions = [v for row in book["Wilayah (Regions)"].iter_rows(values_only=True)
               for v in row if v is not None]
    assert "Bengkulu Selatan" in regions and 0.7333 in regions
    desil = list(book["Desil per wilayah (Desil)"].iter_rows(values_only=True))
    assert desil[1][:4] == ("kabupaten", "17.01", "Bengkulu Selatan", 120)


def test_xlsx_prints_on_a4_landscape_one_page_wide(report_xlsx):
    """Printed or saved as PDF, every sheet is A4 landscape, its columns one page wide,
    its header repeated on each page (tests/test_report_print.py prints it for real)."""
    book = openpyxl.load_workbook(report_xlsx)
    for sheet in book.worksheets:
        assert sheet.page_setup.paperSize == 9, sheet.title  # A4
        assert sheet.page_setup.orientation == "landscape", sheet.title
        assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0)
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert sheet.print_title_rows == "$1:$1", sheet.title
    wrapped = book["inclusion_error"]["J2"]  # evidence: wrapped within its column
    assert wrapped.alignment.wrap_text and wrapped.alignment.vertical == "top"


def test_xlsx_quarantine_sheet(report_con, tmp_path):
    """Quarantined rows by file and row, with the reason and masked values; a full NIK
    left in the values by mistake is masked on the sheet."""
    db.run(report_con, """CREATE TABLE quarantine AS SELECT * FROM (VALUES
        ('kemensos', 'pkh.csv', 12, 'footer_row', 'a total or signature row', NULL, ''),
        ('kemensos', 'pkh.csv', 3, 'unparsable_row', 'row does not parse: unclosed quote',
         NULL, '1771********0001,"S*** A*****,1990-01-01'),
        ('kemensos', 'bpnt.csv', 7, 'invalid_date', 'birth date is not a date',
         'tgl_lahir', 'nik=1771014101900001 | tgl_lahir=1990-13-45'))
        t(source, source_file, source_row, reason_code, reason, column_name, raw_values)""")
    path = tmp_path / "report.xlsx"
    write_report_xlsx(report_con, path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[3] == "Karantina (Quarantine)"
    rows = list(book["Karantina (Quarantine)"].iter_rows(values_only=True))
    assert rows[0][:4] == ("Berkas / File", "Baris / Row", "Alasan / Reason",
                           "Nilai (disamarkan) / Values (masked)")
    assert [r[:2] for r in rows[1:]] == [("bpnt.csv", 7), ("pkh.csv", 3), ("pkh.csv", 12)]
    assert rows[1][3] == "nik=1771********0001 | tgl_lahir=1990-13-45"
    assert rows[2][2:4] == ("row does not parse: unclosed quote",
                            '1771********0001,"S*** A*****,1990-01-01')
    summary = {r[0]: r[1] for r in book.worksheets[0].iter_rows(values_only=True)}
    assert summary["Baris dikarantina / Quarantined rows"] == 3
    assert_private("\n".join(v for v in _all_values(book) if isinstance(v, str)))


def test_xlsx_summary_shows_the_notes_on_reading_the_files(report_con, tmp_path):
    db.run(report_con, """CREATE TABLE raw_ingest_notes AS SELECT * FROM (VALUES
        ('pkh.xlsx', 0, 'Lembar tanpa tabel penerima dilewati / Sheets without a '
                        'beneficiary table skipped: REKAP'),
        ('pkh.xlsx', 1, 'Peringatan / Warning: id column 1771014101900001 unused'))
        t(source_file, seq, note)""")
    path = tmp_path / "report.xlsx"
    write_report_xlsx(report_con, path)
    values = [v for row in openpyxl.load_workbook(path).worksheets[0].iter_rows(
        values_only=True) for v in row if isinstance(v, str)]
    assert "Catatan pembacaan berkas / Notes on reading the files" in values
    assert "pkh.xlsx: Lembar tanpa tabel penerima dilewati / Sheets without a beneficiary " \
           "table skipped: REKAP" in values
    assert "pkh.xlsx: Peringatan / Warning: id column 1771********0001 unused" in values


def test_xlsx_neutralises_formulas(report_xlsx):
    book = openpyxl.load_workbook(report_xlsx)
    cells = [c for sheet in book.worksheets[1:] for row in sheet.iter_rows(min_row=2)
             for c in row if isinstance(c.value, str)]
    assert cells and all(c.data_type == "s" for c in cells)
    values = [c.value for c in cells]
    assert "'=HYPERLINK(\"#x\";\"klik\")" in values
    assert "'-5" in values and "'@SUM(1+1)" in values and "'+62 812" in values
    assert not any(v.startswith(("=", "+", "-", "@")) for v in values)


def test_xlsx_has_no_personal_data(report_xlsx):
    book = openpyxl.load_workbook(report_xlsx)
    assert_private("\n".join(v for v in _all_values(book) if isinstance(v, str)))


def test_xlsx_truncation_is_noted(report_con, tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx_report, "EXCEL_MAX_ROWS", 2)
    path = tmp_path / "report.xlsx"
    write_report_xlsx(report_con, path, run_info={"run_id": "r1", "nested": {"a": 1}})
    book = openpyxl.load_workbook(path)
    assert book["inclusion_error"].max_row == 1 + 2
    summary = [str(v) for row in book.worksheets[0].iter_rows(values_only=True) for v in row]
    assert any("Truncated: 2 of 3 rows" in v for v in summary)
    assert "r1" in summary


# --- headless browser ---------------------------------------------------------------

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def _chromium(report: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [shutil.which("chromium"), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
               *extra, report.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.browser
def test_html_renders_in_chromium(report_html, tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("chromium is not installed (make browser)")
    shot = tmp_path / "shot.png"
    _chromium(report_html, tmp_path / "profile1", f"--screenshot={shot}",
              "--window-size=1280,2000")
    assert shot.exists() and shot.stat().st_size > 10_000
    dom = _chromium(report_html, tmp_path / "profile2", "--enable-logging=stderr", "--v=0",
                    "--dump-dom")
    assert 'id="search-tabel-temuan"' in dom.stdout
    assert 'data-search-ready="yes"' in dom.stdout  # the page's script ran to the end
    assert dom.stdout.count("<svg") >= 4 and dom.stdout.count("<rect") >= 20  # charts drew
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert not console  # the page logs nothing: any console line is an error or a warning


# --- accuracy estimates (reconcile.accuracy) ----------------------------------------

@pytest.fixture
def accuracy_con(report_con):
    """The report tables plus the run's label-free accuracy estimates."""
    from reconcile import accuracy

    db.run(report_con, "ALTER TABLE reconciled ADD COLUMN in_register_probability DOUBLE")
    db.run(report_con, "UPDATE reconciled SET in_register_probability = "
                       "coalesce(match_probability, 0.25)")
    accuracy.estimate(report_con)
    return report_con


def test_html_accuracy_section_is_labelled_as_estimates(accuracy_con, tmp_path):
    path = tmp_path / "report.html"
    write_report_html(accuracy_con, path, RUN_INFO)
    text = path.read_text(encoding="utf-8")
    section = text.split("id='akurasi'")[1].split("</section>")[0]
    assert "Perkiraan akurasi (model, tanpa label) / Accuracy estimates (model, no labels)" \
        in section
    assert "model estimates" in section and "perkiraan model" in section
    assert "On test data the overall estimate was within" in section
    assert "over-confident when several fields are wrong together" in section
    assert "Estimated precision" in section and "Estimated false links" in section
    # overall: links K-1, K-1b, K-2, K-3, K-5; expected false 0.01+0.01+0.28+0.49+0 = 0.79
    overall = section.split("id='tabel-akurasi'")[1].split("</table>")[0]
    assert "<td class='num'>0,8</td>" in overall and "84,200%" in overall
    programs = section.split("id='tabel-akurasi-program'")[1].split("</table>")[0]
    assert "BPNT" in programs and "PKH" in programs
    regencies = section.split("id='tabel-akurasi-kabupaten'")[1].split("</table>")[0]
    assert "Bengkulu Selatan" in regencies and "17.02" in regencies
    assert "no region code" in regencies  # K-5 has no region code
    assert "href='#akurasi'" in text
    assert_private(text)


def test_html_without_accuracy_table_says_so(report_html):
    section = report_html.read_text(encoding="utf-8").split("id='akurasi'")[1]
    assert "No accuracy estimates for this run." in section.split("</section>")[0]


def test_xlsx_accuracy_sheet(accuracy_con, tmp_path):
    path = tmp_path / "report.xlsx"
    write_report_xlsx(accuracy_con, path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[:3] == ["Ringkasan (Summary)", "Akurasi (Accuracy)",
                                   "Wilayah (Regions)"]
    assert book["inclusion_error"].max_row == 4  # category rows still land in their sheet
    sheet = book["Akurasi (Accuracy)"]
    values = [v for row in sheet.iter_rows(values_only=True) for v in row if v is not None]
    assert values[0].startswith("Perkiraan akurasi (model, tanpa label)")
    assert any("model estimates" in str(v) for v in values)
    assert any("On test data" in str(v) for v in values)
    levels = [row[0] for row in sheet.iter_rows(min_row=6, values_only=True)]
    assert levels == ["Keseluruhan / Overall"] + ["Per program / By programme"] * 2 \
        + ["Per kabupaten/kota / By regency"] * 3
    precision = next(sheet.iter_rows(min_row=6, max_row=6))[8]
    assert precision.value == pytest.approx(1 - 0.79 / 5)
    assert precision.number_format == "0.000%"
    counts = [c for c in next(sheet.iter_rows(min_row=6, max_row=6)) if type(c.value) is int]
    assert counts and {c.number_format for c in counts} == {"#,##0"}  # rows, links: 10,636
    assert_private("\n".join(v for v in _all_values(book) if isinstance(v, str)))
