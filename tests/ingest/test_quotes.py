"""An unclosed quote in a CSV costs the row it is on, never the rows after it."""

from __future__ import annotations

import pytest


def _rows(con, sql):
    return con.execute(sql).fetchall()


def _people(n: int, start: int = 0) -> list[str]:
    return [f'17710141019{i:05d},"NAMA {i}",1990-01-01' for i in range(start, start + n)]


@pytest.mark.parametrize("broken_at", [0, 9, 66])
def test_an_unclosed_quote_costs_only_its_own_row(ingest, tmp_path, broken_at):
    lines = _people(67)
    lines[broken_at] = lines[broken_at].replace('"NAMA', '"NAMA BROKEN,', 1).replace(
        '",', ",", 1)  # the quote opened before the name never closes
    lines[30] = '1771014101930030,"SITI\nAMINAH",1990-01-01'  # a real line break in a value
    path = tmp_path / "kemensos_pkh.csv"
    path.write_text("NIK,NAMA,TGL_LAHIR\n" + "\n".join(lines) + "\n")

    con, rows = ingest(path)

    kept = _rows(con, "SELECT source_row FROM clean_kemensos ORDER BY 1")
    quarantined = _rows(con, "SELECT source_row, reason FROM quarantine")
    assert rows["kemensos_pkh.csv"] == 67 == len(kept) + len(quarantined)
    # the line break inside a value is a line the user sees: later rows number one more
    row = broken_at + 2 + (broken_at > 30)
    assert quarantined == [(row, "row does not parse: unclosed quote: "
                                 "the line is read on its own")]
    assert _rows(con, "SELECT nama FROM clean_kemensos WHERE source_row = 32") == [
        ("SITI AMINAH",)]
    numbers = sorted([n for (n,) in kept] + [n for n, _ in quarantined])
    assert numbers == [n for n in range(2, 70) if n != 33]  # 33: SITI's second line
