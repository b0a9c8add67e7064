"""Person ids across runs: kept when rows stay, new for new people, merges and splits logged."""

from __future__ import annotations

import pandas as pd

from reconcile import db, identity


def _state(tmp_path, enrolments: dict[str, str], links: dict[str, str]):
    path = tmp_path / "identity.duckdb"
    con = db.connect(path)
    db.put(con, "enrolments", pd.DataFrame({"id_penerima": list(enrolments),
                                            "person_id": list(enrolments.values())}))
    db.put(con, "persons", pd.DataFrame({"person_id": list(links),
                                         "id_individu": list(links.values())}))
    con.close()
    return path


def _current(con, clusters: dict[str, str], links: dict[str, str | None]) -> None:
    ids = list(clusters)
    db.put(con, "clean_kemensos", pd.DataFrame({"rid": range(len(ids)), "id_penerima": ids}))
    db.put(con, "kemensos_persons", pd.DataFrame({"rid": range(len(ids)),
                                                  "person_id": list(clusters.values())}))
    db.put(con, "links", pd.DataFrame({"person_id": list(links),
                                       "id_individu": list(links.values())}))


def _ids(con) -> dict[str, str]:
    rows = con.execute("SELECT k.id_penerima, p.person_id FROM kemensos_persons p "
                       "JOIN clean_kemensos k USING (rid)").fetchall()
    return dict(rows)


def test_kept_new_merged_and_split_persons(con, tmp_path):
    state = _state(tmp_path, {"A": "P-1", "B": "P-2", "C": "P-3", "D": "P-3", "F": "P-9"},
                   {"P-9": "IND9"})
    # this run: A and B are one person; C and D two; E is new; F's row changed id but
    # the person is still linked to the same register individual
    _current(con, {"A": "P-A", "B": "P-A", "C": "P-C", "D": "P-D", "E": "P-E", "G": "P-G"},
             {"P-A": None, "P-C": None, "P-D": None, "P-E": None, "P-G": "IND9"})

    counts = identity.stabilise(con, state)

    ids = _ids(con)
    assert ids["A"] == ids["B"] == "P-1"                  # merge keeps the first id
    assert {ids["C"], ids["D"]} == {"P-3", "P-D"}         # split: one keeps it, one is new
    assert ids["E"] == "P-E" and ids["G"] == "P-9"        # new person; same linked person
    events = set(con.execute(f"SELECT event, person_id, other_person_id "
                             f"FROM {identity.EVENTS}").fetchall())
    assert ("merge", "P-1", "P-2") in events
    assert any(e[0] == "split" and e[2] == "P-3" for e in events)
    assert counts["merges"] == 1 and counts["splits"] == 1


def test_a_first_run_keeps_the_matchers_ids(con):
    _current(con, {"A": "P-A", "B": "P-A"}, {"P-A": "IND1"})

    counts = identity.stabilise(con, None)

    assert _ids(con) == {"A": "P-A", "B": "P-A"}
    assert counts == {"new_persons": 1, "kept_persons": 0, "merges": 0, "splits": 0}
