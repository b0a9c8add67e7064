"""The matching stage as one function: `match(con, settings) -> stats`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from reconcile import db
from reconcile.match import decided, dedupe, evidence, link, score
from reconcile.match.blocking import SECOND_PASS_RULES, block
from reconcile.match.compare import compare_sql
from reconcile.match.settings import MatchSettings
from reconcile.match.std import standardise
from reconcile.tables import Table

GAMMAS = "match_gammas"
RANDOM_PAIRS = "match_random_pairs"
RANDOM_GAMMAS = "match_random_gammas"
OPEN_ROWS = "match_open_kemensos"
SECOND_BLOCKED = "match_second_blocked"
SECOND_SCORED = "match_second_scored"

@contextmanager
def _timed(stats: dict, stage: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    stats["timings"][stage] = round(time.perf_counter() - started, 3)


def random_pairs_sql() -> str:
    """Random Kemensos x register pairs (repeatable) for estimating u: $rows per side."""
    return f"""
    CREATE OR REPLACE TEMP TABLE {RANDOM_PAIRS} AS
    SELECT l.rid AS rid_l, r.rid AS rid_r, 'random' AS matched_by
    -- hash order, not USING SAMPLE: a seeded sample differs with the thread count, and
    -- the same rows must give the same model on one core or many (partitions, Dask)
    -- and by the records' ids, not row numbers, so that row order does not matter either
    FROM (SELECT rid FROM {Table.STD_KEMENSOS} ORDER BY hash(src_id, 17), src_id, rid
          LIMIT $rows) l
    CROSS JOIN (SELECT rid FROM {Table.STD_BPS} ORDER BY hash(src_id, 23), src_id, rid
          LIMIT $rows) r
    """


def _drop(con, *tables: str) -> None:
    for t in tables:
        db.run(con, f"DROP TABLE IF EXISTS {t}")


def _score_links(con, s: MatchSettings, stats: dict) -> score.Model:
    std_k, std_b = Table.STD_KEMENSOS, Table.STD_BPS
    with _timed(stats, "block"):
        stats["link_blocking"] = block(con, std_k, std_b, Table.PAIRS_BLOCKED,
                                       s.max_pairs_per_key, temp=s.temp)
    with _timed(stats, "compare"):
        db.run(con, compare_sql(Table.PAIRS_BLOCKED, std_k, std_b, GAMMAS))
        db.run(con, random_pairs_sql(), {"rows": int(s.u_sample)})
        db.run(con, compare_sql(RANDOM_PAIRS, std_k, std_b, RANDOM_GAMMAS))
    with _timed(stats, "train"):
        model = score.train(con, GAMMAS, RANDOM_GAMMAS, s.em_max_iterations)
        stats["em"] = {"iterations": model.iterations, "prior": model.prior}
    with _timed(stats, "score"):
        _score_pairs(con, model, s)
        stats["em"]["link_prior"] = model.link_prior
    with _timed(stats, "reestimate"):
        _reestimate(con, s, model, stats)
        _drop(con, GAMMAS, RANDOM_PAIRS, RANDOM_GAMMAS)
    with _timed(stats, "second_pass"):
        stats["second_pass"] = _second_pass(con, s, model)
    return model


def _score_pairs(con, model: score.Model, s: MatchSettings) -> None:
    """Score the blocked pairs into pairs_scored. Link probabilities use the chance that
    a random Kemensos x register pair matches, not the match share among blocked pairs
    (see score.pair_prior)."""
    model.link_prior = score.pair_prior(
        model.prior, db.count(con, GAMMAS),
        db.count(con, Table.STD_KEMENSOS) * db.count(con, Table.STD_BPS))
    db.materialise(con, Table.PAIRS_SCORED,
                   score.scored_sql(GAMMAS, model, model.fitted_link_prior), temp=s.temp)


def _reestimate(con, s: MatchSettings, model: score.Model, stats: dict) -> None:
    """m again from all near-certain first-pass pairs (leave-one-field-out), then the
    match share, the link prior and the scores with it."""
    for _ in range(s.m_rounds):
        model.m_by_quality = score.reestimate_m(con, Table.PAIRS_SCORED, model,
                                                score.bits(s.m_certainty))
        model.prior, _ = score.refit_prior(con, GAMMAS, model, s.em_max_iterations)
        _score_pairs(con, model, s)
    db.put(con, score.WEIGHTS, model.weights())
    stats["em"].update(prior=model.prior, link_prior=model.link_prior)


# Kemensos rows whose best first-pass candidate is below the link threshold.
OPEN_ROWS_SQL = f"""
CREATE OR REPLACE TEMP TABLE {OPEN_ROWS} AS
SELECT * FROM {Table.STD_KEMENSOS} WHERE rid NOT IN (
    SELECT rid_l FROM {Table.PAIRS_SCORED} WHERE match_probability >= $threshold)
"""


def _second_pass(con, s: MatchSettings, model: score.Model) -> dict:
    """Looser blocking keys for the rows still without a likely candidate, scored by the
    same model; their new pairs join pairs_blocked and pairs_scored."""
    db.run(con, OPEN_ROWS_SQL, {"threshold": float(s.link_threshold)})
    blocking = block(con, OPEN_ROWS, Table.STD_BPS,
                     SECOND_BLOCKED, s.max_pairs_per_key, SECOND_PASS_RULES, temp=True)
    db.run(con, f"""DELETE FROM {SECOND_BLOCKED} WHERE (rid_l, rid_r) IN
                    (SELECT (rid_l, rid_r) FROM {Table.PAIRS_BLOCKED})""")
    db.run(con, f"INSERT INTO {Table.PAIRS_BLOCKED} BY NAME SELECT * FROM {SECOND_BLOCKED}")
    db.run(con, compare_sql(SECOND_BLOCKED, Table.STD_KEMENSOS, Table.STD_BPS, GAMMAS))
    db.materialise(con, SECOND_SCORED, score.scored_sql(GAMMAS, model, model.fitted_link_prior),
                   temp=True)
    db.run(con, f"INSERT INTO {Table.PAIRS_SCORED} BY NAME SELECT * FROM {SECOND_SCORED}")
    stats = {"open_rows": db.count(con, OPEN_ROWS), "new_pairs": db.count(con, SECOND_BLOCKED),
             **blocking}
    _drop(con, GAMMAS, SECOND_BLOCKED, SECOND_SCORED, OPEN_ROWS)
    return stats


def _row_prior(con, model: score.Model) -> link.RowPrior:
    pair_bits = score.bits(model.fitted_link_prior)
    size = db.count(con, Table.STD_BPS)
    share = score.in_register_share(con, Table.PAIRS_SCORED, Table.STD_KEMENSOS,
                                    pair_bits, size)
    return link.RowPrior(share, size, pair_bits)


def _dedupe(con, s: MatchSettings, model: score.Model, stats: dict) -> None:
    std_k = Table.STD_KEMENSOS
    with _timed(stats, "dedupe_block"):
        stats["dedupe_blocking"] = block(con, std_k, std_k, dedupe.DEDUPE_BLOCKED,
                                         s.max_pairs_per_key, temp=s.temp)
    with _timed(stats, "dedupe_score"):
        db.run(con, compare_sql(dedupe.DEDUPE_BLOCKED, std_k, std_k, dedupe.DEDUPE_GAMMAS))
        prior, _ = score.refit_prior(con, dedupe.DEDUPE_GAMMAS, model, s.em_max_iterations)
        stats["em"]["dedupe_prior"] = prior
        db.materialise(con, dedupe.DEDUPE_SCORED,
                       score.scored_sql(dedupe.DEDUPE_GAMMAS, model, prior), temp=s.temp)
        _drop(con, dedupe.DEDUPE_GAMMAS)
    with _timed(stats, "cluster"):
        # An edge that attaches an unlinked row to a linked person is judged like a link:
        # its weight with the link prior against the attach threshold.
        offset = score.bits(model.fitted_link_prior) - score.bits(prior)
        stats.update(dedupe.cluster_rows(con, s.dedupe_threshold, s.attach_threshold, offset))


def match(con, settings: MatchSettings | None = None) -> dict:
    """Deduplicate Kemensos rows into persons and link each person to the register.

    Reads clean_kemensos and clean_bps; writes kemensos_persons, links and
    match_weights, and std_kemensos, std_bps, pairs_blocked and pairs_scored as
    temporary tables of `con` (kept in the database with
    `MatchSettings(keep_intermediate=True)`). Returns stats (pairs per blocking rule,
    capped keys, EM iterations and priors, timings per stage in seconds).
    """
    s = settings or MatchSettings()
    stats: dict = {"timings": {}}
    started = time.perf_counter()
    with _timed(stats, "standardise"):
        standardise(con, s.temp)
    model = _score_links(con, s, stats)
    with _timed(stats, "link"):
        prior = _row_prior(con, model)
        stats["em"]["in_register"] = round(prior.in_register, 6)
        decided.remove_different_links(con)  # officers' decisions act before thresholds
        db.materialise(con, link.ROW_LINKS,
                       link.row_links_sql(s.link_threshold, s.ambiguity_bits,
                                          s.review_threshold, prior), temp=s.temp)
        decided.force_same_links(con)
        db.run(con, link.release_conflicts_sql())
        decided.release_different_rows(con)
        db.run(con, evidence.rows_sql())
    _dedupe(con, s, model, stats)
    db.run(con, evidence.dedupe_sql(), {"review": float(s.review_threshold)})
    with _timed(stats, "links"):
        db.run(con, link.links_sql())
    stats["persons"] = db.count(con, Table.LINKS)
    stats["linked_persons"] = int(db.scalar(
        con, f"SELECT count(id_individu) FROM {Table.LINKS}"))
    stats["timings"]["total"] = round(time.perf_counter() - started, 3)
    return stats
