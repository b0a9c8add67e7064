"""Explanations of a match decision: phrases per level, order by weight, agreement marks."""

from __future__ import annotations

import re

import pytest

from reconcile import db
from reconcile.match.compare import COMPARISONS, level
from reconcile.review.explain import (
    AGREEMENT,
    PHRASES,
    RARE_NAME_BITS,
    agreement_sql,
    explanation_sql,
    labels,
)

FIELDS = [c.name for c in COMPARISONS]
NO_LEVEL = {"missing": -1, "else": 0}  # compare.py's gammas outside the levels


def _row(**levels) -> dict:
    """gamma_* and mw_* of one synthetic pair: field=(level label, bits), missing by default."""
    row = {}
    for field in FIELDS:
        label, bits = levels.get(field, ("missing", 0.0))
        row[f"gamma_{field}"] = NO_LEVEL[label] if label in NO_LEVEL else level(field, label)
        row[f"mw_{field}"] = bits
    return row


EXAMPLE = _row(name=("exact", RARE_NAME_BITS + 3), dob=("exact", 13.6),
               nik=("typo in region or date", 8.0), household=("same KK", 12.5),
               sex=("equal", 1.0))
NO_NIK = _row(name=("jw>=0.88", 4.0), dob=("exact", 13.6), sex=("equal", 1.0))
RELATIVE = _row(name=("else", -7.6), nik=("exact, name and birth date disagree", 0.0),
                dob=("else", -7.7), sex=("else", -6.7), household=("same KK", 12.5))
TWIN = _row(name=("exact", 5.0), nik=("same region and date, other serial", 0.0),
            dob=("exact", 13.6), household=("village", 3.0))


def _select(rows: list[dict], exprs: dict[str, str]) -> list[dict]:
    con = db.connect()
    cols = ", ".join(f"{k} {'INTEGER' if k.startswith('gamma') else 'DOUBLE'}"
                     for k in rows[0])
    con.execute(f"CREATE TABLE p ({cols})")
    con.executemany(f"INSERT INTO p VALUES ({', '.join('?' * len(rows[0]))})",
                    [list(r.values()) for r in rows])
    select = ", ".join(f"{sql} AS {name}" for name, sql in exprs.items())
    out = db.df(con, f"SELECT {select} FROM p ORDER BY rowid")  # binds the phrases
    con.close()
    return out.to_dict("records")


def explain(row: dict, lang: str = "id") -> str:
    return _select([row], {"e": explanation_sql(lang)})[0]["e"]


def marks(row: dict) -> dict:
    return _select([row], agreement_sql())[0]


def test_every_level_has_a_phrase_in_both_languages():
    for comp in COMPARISONS:
        for label in labels(comp):
            id_, en = PHRASES[(comp.name, label)]
            assert id_ and en and ", " not in id_ + en, (comp.name, label)
    assert {c.name for c in COMPARISONS} >= {n for n, _ in PHRASES}
    assert len(PHRASES) == sum(len(labels(c)) for c in COMPARISONS)


def test_every_level_has_an_agreement_mark():
    comps = {c.name: c for c in COMPARISONS}
    for name, marks_ in AGREEMENT.values():
        assert set(marks_) == {label for label, _ in comps[name].levels}


def test_example_row_heaviest_first():
    assert explain(EXAMPLE) == ("nama sama persis (nama jarang), tanggal lahir sama, satu KK,"
                                " NIK beda satu digit (salah ketik), jenis kelamin sama")
    assert explain(EXAMPLE, "en") == ("same name (a rare name), same birth date,"
                                      " same family card (KK), NIK one digit off (a typo),"
                                      " same sex")


def test_common_name_and_prefix():
    row = {f"p_{k}": v for k, v in TWIN.items()}
    [out] = _select([row], {"e": explanation_sql("en", prefix="p_")})
    assert out["e"].startswith("same birth date, same name (a common name)")


def test_missing_nik_is_said_other_missing_fields_dropped():
    assert explain(NO_NIK) == "tanggal lahir sama, nama mirip, jenis kelamin sama, tanpa NIK"
    assert explain(NO_NIK, "en").endswith(", no NIK")
    assert "missing" not in explain(NO_NIK, "en")


def test_neutral_nik_levels_read_as_such():
    assert "NIK sama tetapi nama dan tanggal lahir beda (NIK anggota keluarga?)" in explain(RELATIVE)
    assert "a family member's NIK?" in explain(RELATIVE, "en")
    assert "(kembar atau tetangga?)" in explain(TWIN)
    assert explain(RELATIVE).startswith("satu KK, tanggal lahir beda, nama beda")


def test_no_personal_values():
    rows = [EXAMPLE, NO_NIK, RELATIVE, TWIN]
    for lang in ("id", "en"):
        for out in _select(rows, {"e": explanation_sql(lang)}):
            assert not re.search(r"\d{16}", out["e"]) and not re.search(r"\d", out["e"])


def test_same_number_of_parts_in_both_languages():
    for row in (EXAMPLE, NO_NIK, RELATIVE, TWIN, _row()):
        assert len(explain(row).split(", ")) == len(explain(row, "en").split(", "))


def test_unknown_language_raises():
    with pytest.raises(ValueError):
        explanation_sql("jv")


def test_mark_sama():
    m = marks(EXAMPLE)
    assert (m["agree_nama"], m["agree_tgl_lahir"], m["agree_jenis_kelamin"], m["agree_kk"],
            m["agree_alamat"]) == ("sama",) * 5
    assert marks(RELATIVE)["agree_nik"] == "sama"


def test_mark_mirip():
    assert marks(EXAMPLE)["agree_nik"] == "mirip"
    assert marks(NO_NIK)["agree_nama"] == "mirip"
    m = marks(TWIN)
    assert (m["agree_alamat"], m["agree_kk"]) == ("mirip", "beda")


def test_mark_beda():
    m = marks(RELATIVE)
    assert (m["agree_nama"], m["agree_tgl_lahir"], m["agree_jenis_kelamin"]) == ("beda",) * 3


def test_mark_kosong():
    m = marks(NO_NIK)
    assert (m["agree_nik"], m["agree_kk"], m["agree_alamat"]) == ("kosong",) * 3
