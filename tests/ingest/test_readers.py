"""Real-world exports are read as text, with their rows numbered as the user sees them."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from reconcile.errors import InputError

SIKS_HEADER = "NO;NIK_KTP;NOKK_DTKS;NAMA_PENERIMA;TGL_LAHIR;JNS_KEL;ALAMAT;KODE_WILAYAH;PROGRAM"


def _rows(con, sql):
    return con.execute(sql).fetchall()


def test_xlsx_with_nik_stored_as_numbers_is_flagged_not_guessed(ingest, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "PKH"
    sheet.append(["NIK", "NO_KK", "NAMA_LGKP", "TGL_LAHIR", "JNS_KEL", "kode_wilayah"])
    sheet.append([1771014101900000, 1771010101100001, "SITI AMINAH",
                  dt.datetime(1990, 1, 1), "P", "1771011001"])
    sheet.append([1771010505850000, None, "BUDI", "05/05/1985", "L", "17.71.01.1001"])
    path = tmp_path / "kemensos_pkh.xlsx"
    book.save(path)

    con, rows = ingest(path)

    assert rows["kemensos_pkh.xlsx"] == 2
    got = _rows(con, "SELECT source_row, nik_raw, nik_status, tgl_lahir, program "
                     "FROM clean_kemensos ORDER BY source_row")
    assert got == [(2, "1771014101900000", "excel_damaged", dt.date(1990, 1, 1), "PKH"),
                   (3, "1771010505850000", "excel_damaged", dt.date(1985, 5, 5), "PKH")]


def test_semicolon_cp1252_siks_export_with_accents(ingest, tmp_path):
    path = tmp_path / "siks_ng_bpnt.csv"
    lines = [SIKS_HEADER,
             "1;'1771014101900001;1771010101100001;SITI AMINAH;01/01/1990 0:00:00;PEREMPUAN;"
             "RT 001 RW 002;1771011001;BPNT",
             "2;1771010505850002;;JOSÉ MARÍA DA COSTA;1985-05-05;LAKI-LAKI;RT 3;17.71.01.1001;"
             "SEMBAKO"]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))

    con, rows = ingest(path)

    assert rows == {"siks_ng_bpnt.csv": 2, "bps_register.parquet": 2,
                    "bps_poverty_stats.csv": 1}
    got = _rows(con, "SELECT nik, nik_status, nama, jenis_kelamin, kode_wilayah, program "
                     "FROM clean_kemensos ORDER BY source_row")
    assert got[0] == ("1771014101900001", "valid", "SITI AMINAH", "P", "17.71.01.1001", "BPNT")
    assert got[1][2] == "JOSÉ MARÍA DA COSTA" and got[1][3:] == ("L", "17.71.01.1001", "BPNT")


def test_p3ke_export_with_split_region_columns(ingest, tmp_path):
    path = tmp_path / "p3ke_blt.csv"
    path.write_text(
        "id_keluarga_P3KE,provinsi,kode_provinsi,kode_kabupaten,kode_kecamatan,kode_desa,"
        "desil_kesejahteraan,nama_lengkap,nik,tanggal_lahir,jenis_kelamin\n"
        "P1,BENGKULU,17,1771,177101,1771011001,1,SITI AMINAH,1771014101900001,"
        "01/01/1990 0:00:00,Perempuan\n", encoding="utf-8")

    con, _ = ingest(path)

    assert _rows(con, "SELECT kode_wilayah, kode_wilayah_status, tgl_lahir::VARCHAR, program "
                      "FROM clean_kemensos") == [("17.71.01.1001", "valid", "1990-01-01", "BLT")]


def test_region_names_resolve_to_codes_and_unknown_names_are_warned(ingest, tmp_path):
    path = tmp_path / "p3ke_individu.csv"
    path.write_text(
        "nik,nama,tgl_lahir,provinsi,kabupaten_kota,kecamatan,desa_kelurahan\n"
        "1771014101900001,SITI AMINAH,1990-01-01,PROVINSI BENGKULU,KOTA BENGKULU,"
        "KECAMATAN SELEBAR,KELURAHAN PAGAR DEWA\n"
        "1701014101900003,ANI,1990-01-01,Bengkulu,KAB. BENGKULU SELATAN,Kedurang,"
        "DESA BATU AMPAR\n"
        "1701014101900004,RINA,1990-01-01,BENGKULU,Kabupaten Bengkulu Selatan,KEDURANNG,"
        "RANTAU SIALANG\n"  # one letter typed twice: the one close name is taken
        "1771014101900005,JOKO,1990-01-01,BENGKULU,KOTA BENGKULU,ANTAH BERANTAH,X\n",
        encoding="utf-8")
    notes: dict = {}

    con, rows = ingest(path, notes=notes)

    assert _rows(con, "SELECT kode_wilayah FROM clean_kemensos ORDER BY rid") == [
        ("17.71.01.1001",), ("17.01.01.2001",), ("17.01.01.2002",), ("17.71",)]
    note = notes["p3ke_individu.csv"]
    assert note["unresolved_region_names"] == ["ANTAH BERANTAH"]
    assert any("ANTAH BERANTAH" in w for w in note["warnings"])


def test_byte_order_mark_does_not_hide_the_first_header(ingest, tmp_path):
    path = tmp_path / "kemensos_pkh.csv"
    path.write_bytes(b"\xef\xbb\xbfNIK,NAMA,TGL_LAHIR\n1771014101900001,SITI AMINAH,1990-01-01\n")

    con, _ = ingest(path)

    assert _rows(con, "SELECT nik, nama FROM clean_kemensos") == [
        ("1771014101900001", "SITI AMINAH")]


def test_mapping_file_names_unusual_headers(ingest, tmp_path):
    path = tmp_path / "desa_pkh.csv"
    path.write_text("NOMOR INDUK|NAMA WARGA\n1771014101900001|SITI\n", encoding="utf-8")
    mapping = tmp_path / "headers.toml"
    mapping.write_text('[columns]\nnik = "Nomor Induk"\nnama = "NAMA WARGA"\n')

    con, _ = ingest(path, mapping=mapping)

    assert _rows(con, "SELECT nik, nama FROM clean_kemensos") == [("1771014101900001", "SITI")]


def test_rows_that_do_not_parse_are_quarantined_with_their_row_number(ingest, tmp_path):
    path = tmp_path / "kemensos_pkh.csv"
    path.write_text("NIK,NAMA\n1771014101900001,SITI\n1,2,3,4\n\n1771010505850002,BUDI\n"
                    "NIK,NAMA\n,\n")

    con, rows = ingest(path)

    assert rows["kemensos_pkh.csv"] == 5
    assert _rows(con, "SELECT source_row, nama FROM clean_kemensos ORDER BY 1") == [
        (2, "SITI"), (4, "BUDI")]
    assert _rows(con, "SELECT source_row, reason_code FROM quarantine ORDER BY 1") == [
        (3, "unparsable_row"), (5, "repeated_header"), (6, "blank_row")]


def test_quarantined_lines_keep_their_shape_but_no_nik_or_name(ingest, tmp_path):
    path = tmp_path / "kemensos_pkh.csv"
    path.write_text('NIK,NAMA,NO_KK\n1771014101900001,"SITI AMINAH",1771010101100001,x\n'
                    "1771010505850002,BUDI SANTOSO,\n")

    con, _ = ingest(path)

    rows = _rows(con, "SELECT source_row, reason_code, reason, raw_values FROM quarantine")
    assert rows == [(2, "unparsable_row", "row does not parse: expected 3 fields, found 4",
                     '1771********0001,"S*** A*****",1771********0001,x')]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("kemensos_pkh.csv", b"", "is empty"),
    ("kemensos_pkh.docx", b"PK\x03\x04", "unknown file type"),
    ("kemensos_pkh.xlsx", b"not a workbook", "cannot be read as xlsx"),
    ("kemensos_pkh.parquet", b"PAR1 broken", "cannot be read as parquet"),
])
def test_unusable_files_are_named_with_what_to_do(ingest, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(InputError, match=message) as error:
        ingest(path)

    assert name in str(error.value)


def test_a_declared_encoding_that_does_not_fit_is_refused(ingest, tmp_path):
    path = tmp_path / "kemensos_pkh.csv"
    path.write_bytes("NIK,NAMA\n1771014101900001,JOSÉ\n".encode("cp1252"))
    mapping = tmp_path / "m.toml"
    mapping.write_text('encoding = "utf-8"\n')

    with pytest.raises(InputError, match="cannot be decoded as utf-8"):
        ingest(path, mapping=mapping)


def test_missing_column_message_names_file_column_aliases_and_headers(ingest, tmp_path):
    path = tmp_path / "kemensos_pkh.csv"
    path.write_text("NO,NAMA_PENERIMA,ALAMAT\n1,SITI,RT 1\n")

    with pytest.raises(InputError) as error:
        ingest(path)

    message = str(error.value)
    for expected in ("kemensos_pkh.csv", "nik", "nik_ktp", "nomor_nik",
                     "headers found: NO, NAMA_PENERIMA, ALAMAT", "--mapping"):
        assert expected in message, expected


def test_rows_dropped_in_one_file_leave_no_rid_to_the_next(ingest, tmp_path):
    first, second = tmp_path / "kemensos_pkh.csv", tmp_path / "kemensos_blt.csv"
    first.write_text("NIK,NAMA\n1771014101900001,SITI\nNIK,NAMA\n1771010505850002,BUDI\n")
    second.write_text("NIK,NAMA\n1771014101900001,SITI\n")

    con, rows = ingest(first, second)

    rids = [r[0] for r in con.execute("SELECT rid FROM raw_kemensos").fetchall()]
    assert len(rids) == len(set(rids)) == 3 and rows["kemensos_pkh.csv"] == 3


def test_excel_damage_is_found_cell_by_cell_in_mixed_identifier_columns(ingest, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["NO", "ID_KPM", "NIK", "NO_KK", "NAMA", "TGL_LAHIR"])
    sheet.append([1, "KPM-1", "1771014101900001", "1771010101100001", "SITI", "1990-01-01"])
    # typed into Excel as numbers: the 16th digit is gone (…123 -> …120)
    sheet.append([2, "KPM-2", 1771010505850120, 1771010101100010, "BUDI", "1985-05-05"])
    sheet.append([3, "KPM-3", "1.77101E+15", "1771010101100001", "ANI", "1990-01-01"])
    sheet.append([4, 1771010101200010, "1771014101900002", "1771010101100001", "IDA",
                  "1990-01-01"])
    path = tmp_path / "kemensos_pkh.xlsx"
    book.save(path)
    notes: dict = {}

    con, rows = ingest(path, notes=notes)

    got = _rows(con, "SELECT source_row, nik_status FROM clean_kemensos ORDER BY 1")
    assert got == [(2, "valid"), (3, "excel_damaged"), (4, "excel_damaged"), (5, "valid")]
    # a KK held as a number lost its last digit too: it links no family
    kk = _rows(con, "SELECT source_row, no_kk IS NULL FROM clean_kemensos ORDER BY 1")
    assert kk == [(2, False), (3, True), (4, False), (5, False)]
    damaged = _rows(con, "SELECT source_row, numeric_id_cells FROM raw_kemensos "
                         "WHERE numeric_id_cells IS NOT NULL ORDER BY 1")
    assert damaged == [(3, "nik,no_kk"), (4, "nik"), (5, "id_penerima")]
    assert notes["kemensos_pkh.xlsx"]["excel_damaged_cells"] == {
        "nik": 2, "no_kk": 1, "id_penerima": 1}
    assert notes["kemensos_pkh.xlsx"]["warnings"][0] == (
        "identifier cell(s) Excel holds as numbers past 15 digits, their last digits lost "
        "(such a NIK is flagged excel_damaged, never valid): nik (NIK) 1, no_kk (NO_KK) 1, "
        "id_penerima (ID_KPM) 1; format the columns as Text and export again")


def test_a_row_without_any_address_part_keeps_its_place(ingest, tmp_path):
    path = tmp_path / "siks_pkh.csv"
    path.write_text("db_nik,db_nama,db_alamat,db_rt,db_rw\n"
                    "1771014101900001,SITI,JL MAWAR,1,2\n1771010505850002,BUDI,,,\n")

    con, _ = ingest(path)

    assert _rows(con, "SELECT nama, alamat FROM clean_kemensos ORDER BY source_row") == [
        ("SITI", "JL MAWAR RT 1 RW 2"), ("BUDI", None)]
