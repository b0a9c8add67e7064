"""A row's probabilities: one person, who is one of its candidates or nobody in the register."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reconcile import db
from reconcile.match import score
from reconcile.match.link import RowPrior, prior_params, row_probability_sql

PAIR_BITS = -17.0  # the link prior's bits in every pair's weight
REGISTER = 200_000


def _con(pairs: pd.DataFrame, rows: int):
    con = db.connect()
    db.put(con, "pairs", pairs)
    db.put(con, "rows", pd.DataFrame({"rid": range(rows)}))
    return con


def _row_probabilities(pairs: pd.DataFrame, prior: RowPrior) -> pd.Series:
    con = _con(pairs, pairs["rid_l"].nunique())
    try:
        out = db.df(con, f"SELECT rid_l, rid_r, {row_probability_sql()} AS p FROM pairs"
                         " ORDER BY rid_l, rid_r", prior_params(prior))
    finally:
        con.close()
    return out.set_index(["rid_l", "rid_r"])["p"]


def test_in_register_share_recovers_the_share_of_rows_with_a_match():
    """Rows with a match have one candidate of ~30 bits; the others a namesake of ~-5
    bits or nothing. EM over rows finds the share, whatever the pairs' own prior."""
    rng = np.random.default_rng(4)
    rows, share = 20_000, 0.8
    matched = rng.random(rows) < share
    evidence = np.where(matched, rng.normal(30, 3, rows), rng.normal(-5, 3, rows))
    has_pair = matched | (rng.random(rows) < 0.5)
    pairs = pd.DataFrame({"rid_l": np.flatnonzero(has_pair), "rid_r": 0,
                          "match_weight": PAIR_BITS + evidence[has_pair]})
    con = _con(pairs, rows)
    try:
        rho = score.in_register_share(con, "pairs", "rows", PAIR_BITS, REGISTER)
    finally:
        con.close()
    assert rho == pytest.approx(share, abs=0.01)


def test_a_lone_candidate_gains_and_two_equal_candidates_share_the_row():
    pairs = pd.DataFrame({"rid_l": [0, 1, 1], "rid_r": [10, 11, 12],
                          "match_weight": [0.0, 3.0, 3.0]})  # pair probability 0.5, 0.89
    p = _row_probabilities(pairs, RowPrior(0.95, REGISTER, PAIR_BITS))
    assert p[(0, 10)] > 0.9  # most rows are in the register: a lone candidate likely is it
    assert p[(1, 11)] == pytest.approx(p[(1, 12)])
    assert p[(1, 11)] + p[(1, 12)] <= 1 and p[(1, 11)] < 0.5


def test_with_few_rows_in_the_register_a_lone_candidate_stays_near_its_pair_probability():
    pair_bits = -22.0  # a pair prior of 2^-22 with 200k register people: 5% of rows
    pairs = pd.DataFrame({"rid_l": [0], "rid_r": [10], "match_weight": [0.0]})  # p = 0.5
    rho = 2 ** pair_bits * REGISTER
    p = _row_probabilities(pairs, RowPrior(rho, REGISTER, pair_bits))
    assert rho < 0.05 and p[(0, 10)] == pytest.approx(0.5, abs=0.02)
