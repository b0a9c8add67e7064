"""A refused input is one short message an officer can act on: where (file, sheet, row),
what is wrong and what to do, in English and Indonesian (issue 10, item 6)."""

from __future__ import annotations

import zipfile

import openpyxl
import pytest

from reconcile.errors import InputError, refusal_text

TITLED = ("DAFTAR PENERIMA BANTUAN PKH TAHAP III 2025\nKABUPATEN BENGKULU SELATAN\n"
          "NOMOR INDUK,NAMA WARGA,TGL\n1771014101900001,SITI AMINAH,1990-01-01\n")


def _refusal(ingest, *files, mapping=None) -> InputError:
    with pytest.raises(InputError) as error:
        ingest(*files, mapping=mapping)
    return error.value


def test_title_rows_above_an_unknown_header_name_the_row_and_the_mapping_to_write(
        ingest, tmp_path):
    path = tmp_path / "kemensos_pkh.csv"
    path.write_text(TITLED)

    error = _refusal(ingest, path)

    text = refusal_text(error)
    assert len(text.splitlines()) < 10 and "Traceback" not in text
    assert text.startswith("reconcile: kemensos_pkh.csv, row 3: required column(s) "
                           "missing: nik, nama")
    assert "headers found: NOMOR INDUK, NAMA WARGA, TGL" in text
    assert '[columns] nik = "NOMOR INDUK"' in text
    assert "ID: kemensos_pkh.csv, baris 3: kolom wajib tidak ada: nik, nama" in text
    assert 'README.md, "Reading real exports"' in text


def test_the_mapping_that_the_refusal_proposes_reads_the_file(ingest, tmp_path):
    path = tmp_path / "kemensos_pkh.csv"
    path.write_text(TITLED)
    mapping = tmp_path / "headers.toml"
    mapping.write_text('[columns]\nnik = "NOMOR INDUK"\nnama = "NAMA WARGA"\n')

    con, rows = ingest(path, mapping=mapping)

    assert rows["kemensos_pkh.csv"] == 1
    assert con.execute("SELECT source_row, nik, nama FROM clean_kemensos").fetchall() == [
        (4, "1771014101900001", "SITI AMINAH")]


def test_a_mistyped_mapping_key_is_answered_with_the_key_meant(ingest, tmp_path):
    path = tmp_path / "kemensos_pkh.csv"
    path.write_text("NIK,NAMA\n1771014101900001,SITI\n")
    mapping = tmp_path / "headers.toml"
    mapping.write_text('[columns]\nnikk = "NIK"\n')

    error = _refusal(ingest, path, mapping=mapping)

    assert "unknown column key(s) nikk (nikk -> nik?)" in str(error)
    assert "valid keys: id_penerima" in str(error)
    assert "kunci kolom tidak dikenal: nikk (nikk -> nik?)" in error.indonesian


def test_a_mapping_file_that_is_not_toml_names_its_line(ingest, tmp_path):
    path = tmp_path / "kemensos_pkh.csv"
    path.write_text("NIK,NAMA\n1771014101900001,SITI\n")
    mapping = tmp_path / "headers.toml"
    mapping.write_text('[columns]\nnik "NIK"\n')

    error = _refusal(ingest, path, mapping=mapping)

    assert str(error).startswith(f"{mapping}, line 2 (mapping file): not valid TOML")
    assert error.indonesian.startswith(f"{mapping}, baris 2 (berkas pemetaan): bukan TOML")


def test_a_damaged_workbook_says_how_to_save_it_again(ingest, tmp_path):
    good = tmp_path / "good.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["NIK", "NAMA"])
    book.save(good)
    path = tmp_path / "kemensos_pkh.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(path, "w") as damaged:
        for item in source.infolist():  # the sheet's XML cut in half
            data = source.read(item)
            damaged.writestr(item, data[:len(data) // 2] if "worksheets" in item.filename
                             else data)

    error = _refusal(ingest, path)

    assert "kemensos_pkh.xlsx" in str(error) and "save it again" in str(error)
    assert "simpan ulang" in error.indonesian
    assert len(refusal_text(error).splitlines()) < 10


def test_the_header_row_is_numbered_as_a_spreadsheet_shows_it(ingest, tmp_path):
    path = tmp_path / "kemensos_pkh.csv"
    path.write_text(TITLED.replace("SELATAN\n", "SELATAN\n\n"))  # a blank line above

    error = _refusal(ingest, path)

    assert str(error).startswith("kemensos_pkh.csv, row 4: required column(s) missing")
    mapping = tmp_path / "headers.toml"
    mapping.write_text('[columns]\nnik = "NOMOR INDUK"\nnama = "NAMA WARGA"\n')
    con, _ = ingest(path, mapping=mapping)
    assert con.execute("SELECT source_row FROM clean_kemensos").fetchall() == [(5,)]
