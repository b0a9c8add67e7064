"""Every comparison level, table-driven, with golden values."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from reconcile import db
from reconcile.match.compare import COMPARISONS, compare_sql

D = dt.date
BASE = {"name": "BUDI SANTOSO", "nik": "1701011005800001", "dob": D(1980, 5, 10), "sex": "L",
            "village": "17.01.01.2001", "rt": 1, "rw": 2, "no_kk": "1701010101100001"}
NOKK = {"no_kk": None}

# (comparison, description, left overrides, right overrides, expected gamma)
LEVELS = [
    ("name", "exact", {}, {}, 5),
    ("name", "word order", {}, {"name": "SANTOSO BUDI"}, 4),
    ("name", "jw>=0.95", {}, {"name": "BUDI SANTOSA"}, 4),
    ("name", "jw>=0.88", {}, {"name": "BUDI SANTIKA"}, 3),
    ("name", "words contained", {}, {"name": "BUDI"}, 2),
    ("name", "jw>=0.75", {}, {"name": "BUDIMAN SUSILO"}, 1),
    ("name", "else", {}, {"name": "AGUS"}, 0),
    ("name", "missing", {}, {"name": ""}, -1),
    ("nik", "exact corroborated", {}, {}, 4),
    ("nik", "exact, family member's", {}, {"name": "SITI AMINAH", "dob": D(1985, 3, 12)}, 3),
    ("nik", "typo in region", {}, {"nik": "1701021005800001"}, 2),
    ("nik", "transposed date digits", {}, {"nik": "1701010105800001"}, 2),
    ("nik", "excel damaged", {}, {"nik": "1701011005800000"}, 2),
    ("nik", "typo but other name", {}, {"nik": "1701021005800001", "name": "AGUS"}, 0),
    ("nik", "region typo, other kecamatan", {},
     {"nik": "1701021005800001", "village": "17.01.02.2001"}, 0),
    ("nik", "date typo, other kecamatan", {},
     {"nik": "1701011005810001", "village": "17.01.02.2001"}, 2),
    ("nik", "twin: same region+date", {}, {"nik": "1701011005800002"}, 1),
    ("nik", "else", {}, {"nik": "1702021212900004"}, 0),
    ("nik", "missing", {}, {"nik": None}, -1),
    ("dob", "exact", {}, {}, 4),
    ("dob", "day/month swap", {"dob": D(1980, 5, 10)}, {"dob": D(1980, 10, 5)}, 3),
    ("dob", "placeholder", {}, {"dob": D(1980, 7, 1)}, 2),
    ("dob", "two of three", {}, {"dob": D(1980, 5, 11)}, 1),
    ("dob", "else", {}, {"dob": D(1990, 1, 2)}, 0),
    ("dob", "missing", {}, {"dob": None}, -1),
    ("sex", "equal", {}, {}, 1),
    ("sex", "different", {}, {"sex": "P"}, 0),
    ("sex", "missing", {}, {"sex": None}, -1),
    ("household", "same KK", {}, {}, 4),
    ("household", "village RT RW", NOKK, {}, 3),
    ("household", "village", NOKK, {"rt": 9}, 2),
    ("household", "kecamatan", NOKK, {"village": "17.01.01.2002"}, 1),
    ("household", "else", NOKK, {"village": "17.02.03.2001"}, 0),
    ("household", "missing", {"village": None, "no_kk": None}, {}, -1),
]


def _std(con, name: str, over: dict) -> None:
    r = {**BASE, **over}
    db.put(con, name, pd.DataFrame([r]))
    db.run(con, f"""CREATE OR REPLACE TABLE {name} AS SELECT 0 AS rid, 'x' AS src_id,
        name AS name_key, name_sorted(name) AS name_sorted,
        list_distinct(string_split(nullif(name, ''), ' ')) AS name_tokens,
        string_split(name, ' ')[1] AS name_first, nik, nik IS NOT NULL AS nik_ok,
        right(nik, 4) AS nik_serial, no_kk, dob,
        year(dob) * 10000 + least(day(dob), month(dob)) * 100 + greatest(day(dob), month(dob))
            AS dob_key,
        strftime(dob, '%d-%m') IN ('01-01', '01-07', '31-12') AS dob_placeholder,
        sex, village, left(village, 8) AS kec, rt, rw
        FROM (SELECT * REPLACE (dob::DATE AS dob, nik::VARCHAR AS nik, sex::VARCHAR AS sex,
              village::VARCHAR AS village, no_kk::VARCHAR AS no_kk) FROM {name})""")


@pytest.mark.parametrize(("comparison", "case", "left", "right", "gamma"), LEVELS,
                         ids=[f"{c[0]}-{c[1]}" for c in LEVELS])
def test_level(con, comparison, case, left, right, gamma):
    from reconcile.standardise import names

    names.install(con)
    _std(con, "l_std", left)
    _std(con, "r_std", right)
    db.put(con, "p", pd.DataFrame({"rid_l": [0], "rid_r": [0], "matched_by": ["t"]}))
    db.run(con, compare_sql("p", "l_std", "r_std", "g"))
    got = db.df(con, f"SELECT gamma_{comparison} AS g, name_sim FROM g").iloc[0]
    assert got.g == gamma
    assert 0.0 <= got.name_sim <= 1.0 or got.name_sim != got.name_sim


def test_every_level_is_tested():
    tested = {(c, g) for c, _, _, _, g in LEVELS}
    for comp in COMPARISONS:
        for g in range(-1, comp.top + 1):
            assert (comp.name, g) in tested, (comp.name, g)
