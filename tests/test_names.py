"""Table-driven tests of the Indonesian name and address keys (golden values)."""

from __future__ import annotations

import pytest

from reconcile import db
from reconcile.standardise import address, names

CASES = [
    ("title and degree", "Hj. Siti Aminah, S.Pd.", "SITI AMINAH"),
    ("old spelling oe", "Soekarno", "SUKARNO"),
    ("old spelling dj tj", "DJOKO TJAHJONO", "JOKO CAHYONO"),
    ("muhammad abbreviations", "MOCH. RIZKI", "MUHAMMAD RIZKI"),
    ("muhammad variant", "MUHAMAD RIZKI", "MUHAMMAD RIZKI"),
    ("a lone M. stays an initial", "M. Ali", "M ALI"),
    ("bin patronym", "Ahmad bin Yusuf", "AHMAD"),
    ("binti patronym", "SITI BINTI HASAN", "SITI"),
    ("batak boru", "Ruth Br. Sinaga", "RUTH SINAGA"),
    ("front titles repeated", "DRS. H. ACHMAD", "AHMAD"),
    ("bare degree at end", "BUDI SANTOSO SE", "BUDI SANTOSO"),
    ("apostrophe", "MA'RUF", "MARUF"),
    ("spacing and punctuation", "  budi--santoso  ", "BUDI SANTOSO"),
    ("abd", "ABD. RAHMAN", "ABDUL RAHMAN"),
    ("single name", "Sujai", "SUJAI"),
    ("empty", "", ""),
]


@pytest.fixture
def con_names(con):
    names.install(con)
    address.install(con)
    return con


@pytest.mark.parametrize(("case", "raw", "key"), CASES, ids=[c[0] for c in CASES])
def test_name_key(con_names, case, raw, key):
    assert db.scalar(con_names, "SELECT name_key($n)", {"n": raw}) == key


def test_name_key_is_idempotent(con_names):
    for _, raw, _ in CASES:
        once = db.scalar(con_names, "SELECT name_key($n)", {"n": raw})
        assert db.scalar(con_names, "SELECT name_key($n)", {"n": once}) == once


def test_sorted_key_ignores_word_order(con_names):
    a = db.scalar(con_names, "SELECT name_sorted(name_key('SANTOSO BUDI'))")
    b = db.scalar(con_names, "SELECT name_sorted(name_key('Budi Santoso'))")
    assert a == b == "BUDI SANTOSO"


@pytest.mark.parametrize(("raw", "rt", "rw"), [
    ("RT 003 / RW 005", 3, 5), ("RT.1 RW.2", 1, 2), ("003/011", 3, 11), ("-", None, None),
])
def test_rt_rw(raw, rt, rw):
    assert address.parse_address(raw)[:2] == (rt, rw)
