"""Nothing is lost: for any damaged export, rows read = rows kept + rows quarantined."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconcile.errors import InputError

HEADER = ["NIK", "NO_KK", "NAMA", "TGL_LAHIR", "JNS_KEL", "KODE_WILAYAH"]
# Characters Windows-1252 can encode, with the troublemakers: quotes, delimiters, accents.
ALPHABET = st.sampled_from(list("0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ'.-/\"é;,|\t\n"))
CELL = st.one_of(st.text(ALPHABET, max_size=18), st.sampled_from(
    ["1771014101900001", "1.77101E+15", "'1771014101900001", "0000000000000000", "",
     "31/02/1990", "1990-01-01", "32874", "LAKI-LAKI", "2", "1771011001", "17.71.01.1001"]))
ROW = st.lists(CELL, min_size=len(HEADER), max_size=len(HEADER))


@st.composite
def damaged_export(draw):
    """A CSV export with random cells, delimiter, encoding and line damage."""
    delimiter = draw(st.sampled_from([",", ";", "|", "\t"]))
    rows = draw(st.lists(ROW, min_size=1, max_size=25))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(HEADER)
    lines = []
    for row in rows:
        line = io.StringIO()
        csv.writer(line, delimiter=delimiter, lineterminator="").writerow(row)
        lines.append(line.getvalue())
    for _ in range(draw(st.integers(0, 3))):  # blank lines, a repeated header, short rows
        damage = draw(st.sampled_from(["", delimiter.join(HEADER), "x", "a" + delimiter * 9]))
        lines.insert(draw(st.integers(0, len(lines))), damage)
    text = buffer.getvalue() + "\r\n".join(lines) + "\r\n"
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    return text.encode(encoding)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@pytest.mark.slow
@given(content=damaged_export())
def test_every_row_read_is_kept_or_quarantined(ingest, tmp_path, content):
    path = tmp_path / "kemensos_pkh.csv"
    path.write_bytes(content)

    try:
        con, rows = ingest(path)
    except InputError as refused:  # every row unusable: a clean refusal, nothing to count
        assert "no usable beneficiary row" in str(refused)
        return

    kept = con.execute("SELECT count(*) FROM clean_kemensos").fetchall()[0][0]
    quarantined = con.execute("SELECT count(*) FROM quarantine "
                              "WHERE source_file = 'kemensos_pkh.csv'").fetchall()[0][0]
    assert rows["kemensos_pkh.csv"] == kept + quarantined
    numbers = con.execute("SELECT source_row FROM clean_kemensos UNION ALL SELECT source_row "
                          "FROM quarantine WHERE source = 'kemensos'").fetchall()
    assert len(set(numbers)) == len(numbers)  # each row accounted for exactly once
