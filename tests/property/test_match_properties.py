"""Properties: symmetric bounded similarities, complete NIK blocking, clustering = CC."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile import db
from reconcile.match.blocking import block
from reconcile.match.cluster import constrained_components
from reconcile.match.compare import COMPARISONS, compare_sql
from reconcile.match.std import std_sql
from reconcile.standardise import address, names

WORDS = ["BUDI", "SITI", "AMINAH", "SANTOSO", "M.", "H.", "DJOKO", "BIN", "ALI", "S.PD."]
NIKS = ["1701011005800001", "1701011005800002", "1701021005800001", "0000000000000000",
        None]
person = st.fixed_dictionaries({
    "nama": st.lists(st.sampled_from(WORDS), min_size=0, max_size=4).map(" ".join),
    "nik": st.sampled_from(NIKS),
    "tgl_lahir": st.one_of(st.none(), st.dates(min_value=pd.Timestamp("1990-01-01").date(),
                                               max_value=pd.Timestamp("1990-03-01").date())),
    "jenis_kelamin": st.sampled_from(["L", "P", None]),
    "kode_wilayah": st.sampled_from(["17.01.01.2001", "17.01.01.2002", None]),
    "no_kk": st.sampled_from(["1701010101100001", None]),
    "alamat": st.sampled_from(["RT 1 RW 2", "", None]),
})


def _load(con, rows: list[dict]) -> None:
    frame = pd.DataFrame(rows).assign(
        rid=range(len(rows)), id_penerima=[f"K{i}" for i in range(len(rows))],
        nik_status="valid", tgl_lahir=lambda f: pd.to_datetime(f["tgl_lahir"]))
    db.put(con, "clean_kemensos", frame)
    names.install(con)
    address.install(con)
    db.materialise(con, "std_kemensos", std_sql("clean_kemensos", "id_penerima", "NULL"))


@settings(max_examples=25, deadline=None)
@given(st.lists(person, min_size=2, max_size=8))
def test_comparisons_symmetric_and_bounded(rows):
    con = db.connect()
    try:
        _load(con, rows)
        n = len(rows)
        pairs = pd.DataFrame([(i, j, "t") for i in range(n) for j in range(n)],
                             columns=["rid_l", "rid_r", "matched_by"])
        db.put(con, "p", pairs)
        db.run(con, compare_sql("p", "std_kemensos", "std_kemensos", "g"))
        g = db.df(con, "SELECT * FROM g")
        sims = g["name_sim"].dropna()
        assert ((sims >= 0) & (sims <= 1)).all()
        cols = ["name_sim"] + [f"gamma_{c.name}" for c in COMPARISONS]
        a = g.set_index(["rid_l", "rid_r"])[cols].sort_index()
        b = g.set_index(["rid_r", "rid_l"])[cols].sort_index()
        b.index.names = a.index.names
        pd.testing.assert_frame_equal(a, b.sort_index(), check_exact=False, atol=1e-9)
    finally:
        con.close()


@settings(max_examples=25, deadline=None)
@given(st.lists(person, min_size=2, max_size=10))
def test_every_pair_sharing_a_valid_nik_is_blocked(rows):
    con = db.connect()
    try:
        _load(con, rows)
        block(con, "std_kemensos", "std_kemensos", "pb", max_pairs=1_000)
        found = set(map(tuple, db.df(con, "SELECT rid_l, rid_r FROM pb").to_numpy()))
        valid = [i for i, r in enumerate(rows) if r["nik"] and r["nik"] != NIKS[3]]
        for i in valid:
            for j in valid:
                if i < j and rows[i]["nik"] == rows[j]["nik"]:
                    assert (i, j) in found
    finally:
        con.close()


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 30).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                         max_size=40))))
def test_clustering_equals_connected_components_without_constraints(graph):
    n, edges = graph
    left = np.array([a for a, _ in edges], dtype=np.int64)
    right = np.array([b for _, b in edges], dtype=np.int64)
    labels = constrained_components(left, right, n)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges)
    expected = np.empty(n, dtype=np.int64)
    for comp in nx.connected_components(g):
        expected[list(comp)] = min(comp)
    assert labels.tolist() == expected.tolist()
