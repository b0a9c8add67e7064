"""Every comparison level, table-driven, with golden values."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from reconcile import db
from reconcile.match.compare import COMPARISONS, compare_sql

COMPARISONS_BY_NAME = {c.name: c for c in COMPARISONS}

D = dt.date
BASE = {"name": "BUDI SANTOSO", "nik": "1701011005800001", "dob": D(1980, 5, 10), "sex": "L",
        "village": "17.01.01.2001", "rt": 1, "rw": 2, "dusun": "KRAJAN", "street": None,
        "no_kk": "1701010101100001"}
NOKK = {"no_kk": None}

# (comparison, description, left overrides, right overrides, expected level label)
LEVELS = [
    ("name", "exact", {}, {}, "exact"),
    ("name", "word order", {}, {"name": "SANTOSO BUDI"}, "same words or jw>=0.95"),
    ("name", "jw>=0.95", {}, {"name": "BUDI SANTOSA"}, "same words or jw>=0.95"),
    ("name", "jw>=0.88", {}, {"name": "BUDI SANTIKA"}, "jw>=0.88"),
    ("name", "words contained", {}, {"name": "BUDI"}, "words contained"),
    ("name", "initial", {"name": "JAJANG SAPUTRA"}, {"name": "J SAPUTRA"},
     "initials or words left out"),
    ("name", "jw>=0.75", {}, {"name": "BUDIMAN SUSILO"}, "jw>=0.75"),
    ("name", "else", {}, {"name": "AGUS"}, "else"),
    ("name", "missing", {}, {"name": ""}, "missing"),
    ("nik", "exact corroborated", {}, {}, "exact"),
    ("nik", "exact, family member's", {}, {"name": "SITI AMINAH", "dob": D(1985, 3, 12)},
     "exact, name and birth date disagree"),
    ("nik", "typo in region", {}, {"nik": "1701021005800001"}, "typo in region or date"),
    ("nik", "transposed date digits", {}, {"nik": "1701010105800001"},
     "typo in region or date"),
    ("nik", "excel damaged", {}, {"nik": "1701011005800000"}, "typo in region or date"),
    ("nik", "typo, initial for the name", {"name": "JAJANG SAPUTRA"},
     {"nik": "1701021005800001", "name": "J SAPUTRA"}, "typo in region or date"),
    ("nik", "typo but other name", {}, {"nik": "1701021005800001", "name": "AGUS"}, "else"),
    ("nik", "day + 40 is the other sex, not a typo", {}, {"nik": "1701015005800001"}, "else"),
    ("nik", "region typo, other kecamatan", {},
     {"nik": "1701021005800001", "village": "17.01.02.2001"}, "else"),
    ("nik", "date typo, other kecamatan", {},
     {"nik": "1701011005810001", "village": "17.01.02.2001"}, "typo in region or date"),
    ("nik", "serial one digit away, same name: a neighbour as likely as a typo", {},
     {"nik": "1701011005800002"}, "same region and date, other serial"),
    ("nik", "twin: same region+date", {}, {"nik": "1701011005800002", "name": "AGUS SALIM"},
     "same region and date, other serial"),
    ("nik", "else", {}, {"nik": "1702021212900004"}, "else"),
    ("nik", "missing", {}, {"nik": None}, "missing"),
    ("dob", "exact", {}, {}, "exact"),
    ("dob", "typed date blank, NIK date agrees", {"nik": "1701011005800009", "dob": None}, {},
     "NIK date agrees, typed date unknown"),
    ("dob", "placeholder, NIK date agrees", {"nik": "1701011005800009", "dob": D(1980, 12, 31)},
     {}, "NIK date agrees, typed date unknown"),
    ("dob", "day/month swap", {"dob": D(1980, 5, 10)}, {"dob": D(1980, 10, 5)},
     "day and month swapped"),
    ("dob", "placeholder", {}, {"dob": D(1980, 7, 1)}, "same year, a placeholder date"),
    ("dob", "two of three", {}, {"dob": D(1980, 5, 11)}, "two of day, month, year equal"),
    ("dob", "else", {}, {"dob": D(1990, 1, 2)}, "else"),
    ("dob", "missing", {}, {"dob": None}, "missing"),
    ("sex", "equal", {}, {}, "equal"),
    ("sex", "different", {}, {"sex": "P"}, "else"),
    ("sex", "missing", {}, {"sex": None}, "missing"),
    ("household", "same KK", {}, {}, "same KK"),
    ("household", "NIK field holds the KK", {"nik": "1701010101100001", "no_kk": None}, {},
     "same KK"),
    ("household", "village RT RW", NOKK, {}, "village, RT and RW"),
    ("household", "village", NOKK, {"rt": 9}, "village"),
    ("household", "neighbouring village, same RT RW", NOKK, {"village": "17.01.01.2002"},
     "kecamatan, RT and RW"),
    ("household", "other district, same RT RW dusun", NOKK, {"village": "17.05.01.2002"},
     "RT and RW, dusun or street, other region"),
    ("household", "kecamatan", NOKK, {"village": "17.01.01.2002", "rt": 9}, "kecamatan"),
    ("household", "else", NOKK, {"village": "17.02.03.2001", "rt": 9}, "else"),
    ("household", "missing", {"village": None, "no_kk": None, "rt": None}, {}, "missing"),
]


def _std(con, name: str, over: dict) -> None:
    r = {**BASE, **over}
    db.put(con, name, pd.DataFrame([r]))
    db.run(con, f"""CREATE OR REPLACE TABLE {name} AS SELECT 0 AS rid, 'x' AS src_id,
        name AS name_key, name_sorted(name) AS name_sorted,
        list_distinct(string_split(nullif(name, ''), ' ')) AS name_tokens,
        string_split(name, ' ')[1] AS name_first, nik, nik IS NOT NULL AS nik_ok,
        right(nik, 4) AS nik_serial, no_kk, dob,
        lpad((try_cast(substr(nik, 7, 2) AS INTEGER) % 40)::VARCHAR, 2, '0') || substr(nik, 9, 4)
            AS nik_dmy, strftime(dob, '%d%m%y') AS dob_dmy,
        year(dob) * 10000 + least(day(dob), month(dob)) * 100 + greatest(day(dob), month(dob))
            AS dob_key,
        strftime(dob, '%d-%m') IN ('01-01', '01-07', '31-12') AS dob_placeholder,
        sex, village, left(village, 8) AS kec, rt, rw, dusun, street, 0 AS quality
        FROM (SELECT * REPLACE (dob::DATE AS dob, nik::VARCHAR AS nik, sex::VARCHAR AS sex,
              village::VARCHAR AS village, no_kk::VARCHAR AS no_kk, rt::INTEGER AS rt,
              street::VARCHAR AS street) FROM {name})""")


def _gamma(comparison: str, label: str) -> int:
    comp = next(c for c in COMPARISONS if c.name == comparison)
    return {"missing": -1, "else": 0}.get(label) if label in ("missing", "else") \
        else comp.gamma(label)


@pytest.mark.parametrize(("comparison", "case", "left", "right", "label"), LEVELS,
                         ids=[f"{c[0]}-{c[1]}" for c in LEVELS])
def test_level(con, comparison, case, left, right, label):
    from reconcile.standardise import names

    names.install(con)
    _std(con, "l_std", left)
    _std(con, "r_std", right)
    db.put(con, "p", pd.DataFrame({"rid_l": [0], "rid_r": [0], "matched_by": ["t"]}))
    db.run(con, compare_sql("p", "l_std", "r_std", "g"))
    got = db.df(con, f"SELECT gamma_{comparison} AS g, name_sim FROM g").iloc[0]
    assert got.g == _gamma(comparison, label), COMPARISONS_BY_NAME[comparison].label(int(got.g))
    assert 0.0 <= got.name_sim <= 1.0 or got.name_sim != got.name_sim


def test_every_level_is_tested_and_every_label_exists():
    tested = {(c, _gamma(c, label)) for c, _, _, _, label in LEVELS}  # KeyError: no such label
    for comp in COMPARISONS:
        for g in range(-1, comp.top + 1):
            assert (comp.name, g) in tested, (comp.name, comp.label(g))


def test_level_parameters_are_one_per_level_and_bound_by_name():
    from reconcile.match.compare import level, level_params, level_sql

    params = level_params()
    assert len(params) == sum(len(c.levels) for c in COMPARISONS)  # no two labels collide
    assert level_sql("dob", "day and month swapped") == "$gamma_dob_day_and_month_swapped"
    assert params["gamma_dob_day_and_month_swapped"] == level("dob", "day and month swapped")
    with pytest.raises(KeyError):
        level_sql("dob", "no such level")
