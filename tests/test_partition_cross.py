"""The cross-regency pass of a split province judges a name-and-birth-date pair as the
whole-province matcher would: a namesake born the same day is strong evidence when the name
is rare in the province and weak when it is common (reconcile.partition.name_dob_posterior)."""

from __future__ import annotations

import duckdb
import pytest

from reconcile import db, partition
from reconcile.match.settings import MatchSettings
from reconcile.tables import Table

HERE, THERE = "31710", "31720"  # two regencies of DKI Jakarta, a split province
REGISTER = 2_000  # register people, each born on a day of their own
COMMON = 300  # of them named SITI AMINAH
LINKED = 1_000  # of them enrolled where they live, linked by their regency's matcher
NOT_IN_REGISTER = 100  # unlinked persons with names nobody in the register has


def _province(con: duckdb.DuckDBPyConnection, person_nik: str | None = None) -> None:
    """The tables the cross pass reads after the partitions: each row's partition, the
    persons and their links. Register person 0 is SITI AMINAH of the other regency, born
    1980-05-05 and unclaimed; 1 is WAYAN SUDARSANA of the other regency, unclaimed. The
    unlinked persons of this regency are SITI AMINAH born 1980-05-05 (a woman not in the
    register, `person_nik` her NIK, by default none), WAYAN SUDARSANA with an unusable NIK
    (he moved) and NOT_IN_REGISTER others."""
    db.run(con, f"""
        CREATE TABLE {partition.BPS_ROWS} AS
        SELECT 'B' || i AS id_individu, NULL::VARCHAR AS nik, 'missing' AS nik_status,
               CASE WHEN i = 1 THEN 'WAYAN SUDARSANA' WHEN i < $common THEN 'SITI AMINAH'
                    ELSE 'ORANG ' || i END AS nama,
               DATE '1980-05-05' + (i * 3)::INT AS tgl_lahir,
               CASE WHEN i = 1 THEN 'L' ELSE 'P' END AS jenis_kelamin,
               CASE WHEN i < 2 OR i % 2 = 1 THEN $there ELSE $here END AS part
        FROM range($register) t(i)""",
           {"common": COMMON, "register": REGISTER, "here": HERE, "there": THERE})
    db.run(con, f"""
        CREATE TABLE {partition.KEMENSOS_ROWS} AS
        SELECT i AS rid, NULL::VARCHAR AS nik, 'missing' AS nik_status, b.nama, b.tgl_lahir,
               b.jenis_kelamin, b.part, b.id_individu
        FROM range(2, $linked) t(i) JOIN {partition.BPS_ROWS} b ON b.id_individu = 'B' || i
        UNION ALL
        SELECT 100000 + i, NULL, 'missing', 'TIDAK ADA ' || chr((65 + i % 26)::INT) || (i * 7919),
               DATE '1930-01-01' + (i * 11)::INT, 'L', $here, NULL
        FROM range($outside) t(i)
        UNION ALL SELECT 200000, $person_nik,
                         CASE WHEN $person_nik IS NULL THEN 'missing' ELSE 'valid' END,
                         'SITI AMINAH', DATE '1980-05-05', 'P', $here, NULL
        UNION ALL SELECT 200001, '0000000000000000', 'invalid', 'WAYAN SUDARSANA',
                         DATE '1980-05-08', 'L', $here, NULL""",
           {"linked": LINKED, "outside": NOT_IN_REGISTER, "here": HERE,
            "person_nik": person_nik})
    db.run(con, f"""CREATE TABLE {Table.KEMENSOS_PERSONS} AS
                    SELECT rid, 'P' || rid AS person_id FROM {partition.KEMENSOS_ROWS}""")
    db.run(con, f"""
        CREATE TABLE {Table.LINKS} AS
        SELECT 'P' || rid AS person_id, id_individu,
               CASE WHEN id_individu IS NULL THEN 0.1 ELSE 0.999 END AS match_probability,
               CASE WHEN id_individu IS NULL THEN 0.1 ELSE 0.999 END
                   AS in_register_probability,
               CASE WHEN id_individu IS NULL THEN 'none' ELSE 'probabilistic' END
                   AS match_type,
               CASE WHEN id_individu IS NULL THEN 'no candidate found by blocking' END
                   AS no_match_reason
        FROM {partition.KEMENSOS_ROWS}""")
    db.run(con, f"ALTER TABLE {partition.KEMENSOS_ROWS} DROP COLUMN id_individu")


def _linked(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    rows = con.execute(f"SELECT person_id, id_individu FROM {Table.LINKS} "
                       "WHERE person_id IN ('P200000', 'P200001')").fetchall()
    return dict(rows)


def test_a_rare_named_mover_is_linked_and_a_common_namesake_is_not():
    con = duckdb.connect()
    _province(con)
    figures = partition.cross_pass(con, MatchSettings())
    assert _linked(con) == {"P200000": None, "P200001": "B1"}
    assert figures["cross_regency_links"] == {"nik": 0, "name_dob": 1}
    evidence = figures["cross_regency_evidence"]
    # the residual is mostly people not in the register: its prior is far below the run's
    assert 0 < evidence["rho"] < 0.1
    assert evidence["persons"] == NOT_IN_REGISTER + 2


def test_the_same_pair_links_when_the_name_is_rare_in_the_province():
    """The common-named pair alone is what holds it back: with one SITI AMINAH in the
    register (the others renamed), she is linked."""
    con = duckdb.connect()
    _province(con)
    db.run(con, f"UPDATE {partition.BPS_ROWS} SET nama = 'ORANG ' || id_individu "
                "WHERE nama = 'SITI AMINAH' AND id_individu <> 'B0'")
    db.run(con, f"UPDATE {partition.KEMENSOS_ROWS} k SET nama = b.nama "
                f"FROM {partition.BPS_ROWS} b JOIN {Table.LINKS} l USING (id_individu) "
                f"JOIN {Table.KEMENSOS_PERSONS} p USING (person_id) WHERE p.rid = k.rid")
    partition.cross_pass(con, MatchSettings())
    assert _linked(con)["P200000"] == "B0"


@pytest.mark.parametrize("nik, linked", [("3171014505800001", None), (None, "B0")])
def test_an_own_valid_nik_other_than_the_register_persons_speaks_against_the_pair(
        nik, linked):
    """Her own valid NIK (its date part her birth date) differs from the rare-named
    register person's: not the same woman, though name and birth date agree."""
    con = duckdb.connect()
    _province(con, person_nik=nik)
    db.run(con, f"UPDATE {partition.BPS_ROWS} SET nama = 'ORANG ' || id_individu "
                "WHERE nama = 'SITI AMINAH' AND id_individu <> 'B0'")
    db.run(con, f"UPDATE {partition.BPS_ROWS} SET nik = '3171014505800002', "
                "nik_status = 'valid' WHERE id_individu = 'B0'")
    partition.cross_pass(con, MatchSettings())
    assert _linked(con)["P200000"] == linked
