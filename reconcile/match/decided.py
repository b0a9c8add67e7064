"""Human decisions inside the matcher: officers' review decisions bind the model.

The pipeline loads the still-valid decisions (reconcile.review.decisions) into
`review_decisions` as row pairs: kind 'link' (a Kemensos row and a register individual)
or 'dedupe' (two Kemensos rows), decision 'same' or 'different'. They act before the
thresholds: a 'different' link pair is removed from the scored pairs (the row's next
candidate competes instead); a 'same' link replaces the row's best candidate and is kept
whatever the conflict rules say; 'same' rows are merged first, 'different' rows are never
put in one person. Without the table (matching outside the pipeline) nothing changes.
"""

from __future__ import annotations

from reconcile import db
from reconcile.match.link import ROW_LINKS
from reconcile.tables import Table

DECIDED_APART = "an officer decided this is another person"
KINDS = ("link", "dedupe")
DECISIONS = ("same", "different")
db.constants({"reason_decided_apart": DECIDED_APART,
              **{f"kind_{k}": k for k in KINDS}, **{f"decision_{d}": d for d in DECISIONS}})


def present(con) -> bool:
    """Whether this database holds decisions to apply."""
    return db.has_table(con, Table.REVIEW_DECISIONS)


def _pairs_sql(kind: str, decision: str) -> str:
    """Active decided pairs of one kind and decision (the words bound: $kind_link ...)."""
    if kind not in KINDS or decision not in DECISIONS:
        raise ValueError(f"no decided pairs of kind {kind!r} and decision {decision!r}")
    return (f"SELECT rid_l, rid_r FROM {Table.REVIEW_DECISIONS} "
            f"WHERE kind = $kind_{kind} AND decision = $decision_{decision}"
            " AND status = 'active'")


def remove_different_links(con) -> None:
    """A pair an officer called two people is no candidate at all."""
    if present(con):
        db.run(con, f"DELETE FROM {Table.PAIRS_SCORED} WHERE (rid_l, rid_r) IN "
                    f"(SELECT (rid_l, rid_r) FROM ({_pairs_sql('link', 'different')}))")


def force_same_links(con) -> None:
    """Link each row an officer matched to its register individual (certain, confirmed,
    so the conflict release leaves it)."""
    if present(con):
        db.run(con, f"""
            UPDATE {ROW_LINKS} AS x SET bps_rid = d.rid_r, reason = NULL,
                   match_probability = 1.0, in_register_probability = 1.0, confirmed = true
            FROM ({_pairs_sql('link', 'same')}) d WHERE x.rid = d.rid_l""")


def release_different_rows(con) -> None:
    """Two rows an officer called two people cannot share a register individual: the
    weaker-linked one is released (its person is then found apart), unless an officer
    linked it there."""
    if present(con):
        db.run(con, f"""
            UPDATE {ROW_LINKS} AS x SET reason = $reason_decided_apart
            FROM (SELECT CASE WHEN (coalesce(a.match_weight, 1e9), a.rid)
                                   < (coalesce(b.match_weight, 1e9), b.rid)
                              THEN a.rid ELSE b.rid END AS rid
                  FROM ({_pairs_sql('dedupe', 'different')}) d
                  JOIN {ROW_LINKS} a ON a.rid = d.rid_l JOIN {ROW_LINKS} b ON b.rid = d.rid_r
                  WHERE a.reason IS NULL AND b.reason IS NULL AND a.bps_rid = b.bps_rid) r
            WHERE x.rid = r.rid
              AND x.rid NOT IN (SELECT rid_l FROM ({_pairs_sql('link', 'same')}))""")


def row_pairs_sql(decision: str) -> str:
    """Kemensos row pairs an officer called one person ('same': merged before any model
    edge) or two ('different': never in one person); none without decisions."""
    return _pairs_sql("dedupe", decision)


def apart_from_individual_sql() -> str:
    """A row an officer called another person than a register individual must not join
    the rows linked to that individual either (a person is linked through any row)."""
    return f"""
    SELECT d.rid_l, x.rid AS rid_r FROM ({_pairs_sql('link', 'different')}) d
    JOIN {ROW_LINKS} x ON x.bps_rid = d.rid_r AND x.reason IS NULL AND x.rid <> d.rid_l"""
