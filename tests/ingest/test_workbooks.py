"""Workbooks: a mapping picks several sheets and names those it left out; a legacy .xls
reads the same rows as the .xlsx it was saved from (issue 10, item 2)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from reconcile.errors import InputError
from reconcile.ingest.readers import open_sheets

HEADER = ["NO", "NIK", "NAMA", "TGL_LAHIR", "KODE_WILAYAH"]
PEOPLE = {
    "PKH": [[1, "1771014101900001", "SITI AMINAH", "1990-01-01", "17.71.01.1001"],
            [2, "1771010505850002", "BUDI SANTOSO", "05/05/1985", "1771011001"]],
    "BLT": [[1, "1771014202910003", "ANI LESTARI", "1991-02-02", "17.71.01.1001"]],
    "BPNT": [[1, "1771010303800004", "JOKO", "1980-03-03", "17.71.01.1001"],
             [2, 1771014404920050, "RINA", "1992-04-04", "17.71.01.1001"]],  # a number
}


def _workbook(path: Path) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in PEOPLE.items():
        sheet = book.create_sheet(name)
        sheet.append(["DAFTAR PENERIMA " + name])  # a title row above the header
        sheet.append(HEADER)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_a_mapping_picks_several_sheets_and_names_those_left_out(ingest, tmp_path):
    path = _workbook(tmp_path / "kemensos_bansos.xlsx")
    mapping = tmp_path / "headers.toml"
    mapping.write_text('sheets = ["BLT", "PKH"]\n')
    notes: dict = {}

    con, rows = ingest(path, mapping=mapping, notes=notes)

    assert rows == {"kemensos_bansos.xlsx#PKH": 2, "kemensos_bansos.xlsx#BLT": 1,
                    "bps_register.parquet": 2, "bps_poverty_stats.csv": 1}
    assert con.execute("SELECT source_file, source_row, nama FROM clean_kemensos "
                       "ORDER BY rid").fetchall() == [
        ("kemensos_bansos.xlsx#PKH", 3, "SITI AMINAH"),
        ("kemensos_bansos.xlsx#PKH", 4, "BUDI SANTOSO"),
        ("kemensos_bansos.xlsx#BLT", 3, "ANI LESTARI")]
    assert notes["kemensos_bansos.xlsx"]["left_out_sheets"] == ["BPNT"]
    report = [n for (n,) in con.execute("SELECT note FROM raw_ingest_notes").fetchall()]
    assert "1 lembar tidak dibaca (pemetaan 'sheets') / 1 sheet(s) left out (mapping " \
           "'sheets'): BPNT" in report


def test_a_picked_sheet_the_workbook_lacks_is_refused_with_its_sheets(ingest, tmp_path):
    path = _workbook(tmp_path / "kemensos_bansos.xlsx")
    mapping = tmp_path / "headers.toml"
    mapping.write_text('sheets = ["PKH", "PBI"]\n')

    with pytest.raises(InputError) as error:
        ingest(path, mapping=mapping)

    assert "no sheet named PBI" in str(error.value)
    assert "the workbook has: PKH, BLT, BPNT" in str(error.value)
    assert "tidak ada lembar bernama PBI" in error.value.indonesian


SOFFICE = shutil.which("soffice")


@pytest.mark.slow  # LibreOffice converts in about 5 s
@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
def test_a_legacy_xls_reads_the_same_rows_as_the_xlsx_it_was_saved_from(tmp_path):
    xlsx = _workbook(tmp_path / "kemensos_bansos.xlsx")
    converted = tmp_path / "xls"
    subprocess.run([SOFFICE, f"-env:UserInstallation=file://{tmp_path / 'profile'}",
                    "--headless", "--convert-to", "xls", "--outdir", str(converted),
                    str(xlsx)], check=True, capture_output=True, timeout=180)
    xls = converted / "kemensos_bansos.xls"

    read = {kind: open_sheets(path, {}, load=True)
            for kind, path in (("xlsx", xlsx), ("xls", xls))}

    assert xls.read_bytes()[:4] == b"\xd0\xcf\x11\xe0"  # BIFF, not a renamed zip
    for from_xlsx, from_xls in zip(read["xlsx"], read["xls"], strict=True):
        assert from_xls.label.replace(".xls#", ".xlsx#") == from_xlsx.label
        assert from_xls.headers == from_xlsx.headers == HEADER
        assert from_xls.header_row == from_xlsx.header_row == 2
        assert from_xls.rows.to_pylist() == from_xlsx.rows.to_pylist()
        assert ({h: m.to_pylist() for h, m in from_xls.numeric_cells.items()}
                == {h: m.to_pylist() for h, m in from_xlsx.numeric_cells.items()})
    assert sum(s.rows.num_rows for s in read["xls"]) == 5
    assert read["xls"][2].numeric_cells["NIK"].to_pylist() == [False, True]  # Excel damage
