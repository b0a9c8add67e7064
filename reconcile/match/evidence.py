"""What the review stage needs to know of the matcher's decisions, kept past the stage.

The scored pairs are temporary tables of the match stage. Two small tables outlive it:
each Kemensos row's best register candidate with its comparison levels and weights
(`match_evidence`, one row per row) and the alike row pairs that ended in different
persons (`dedupe_evidence`: just under the dedupe threshold, or refused by the
cannot-link rules). The review queue and the explanations are built from them.
"""

from __future__ import annotations

from reconcile.match.compare import COMPARISONS
from reconcile.match.dedupe import DEDUPE_SCORED
from reconcile.match.link import ROW_LINKS
from reconcile.tables import Table

LEVELS = ", ".join(f"p.gamma_{c.name}, p.mw_{c.name}" for c in COMPARISONS)


def rows_sql() -> str:
    """Each row's link decision beside its best candidate's levels and weights."""
    return f"""
    CREATE OR REPLACE TABLE {Table.MATCH_EVIDENCE} AS
    SELECT x.rid, x.bps_rid, x.reason, x.match_probability, x.in_register_probability,
           p.match_probability AS pair_probability, p.match_weight, {LEVELS}
    FROM {ROW_LINKS} x
    LEFT JOIN {Table.PAIRS_SCORED} p ON p.rid_l = x.rid AND p.rid_r = x.bps_rid
    ORDER BY x.rid
    """


def dedupe_sql() -> str:
    """Alike row pairs (probability >= $review) that ended in two persons, unless the
    register tells them apart (each row linked to its own individual)."""
    return f"""
    CREATE OR REPLACE TABLE {Table.DEDUPE_EVIDENCE} AS
    SELECT p.rid_l, p.rid_r, p.match_probability AS pair_probability, p.match_weight,
           {LEVELS}
    FROM {DEDUPE_SCORED} p
    JOIN {Table.KEMENSOS_PERSONS} a ON a.rid = p.rid_l
    JOIN {Table.KEMENSOS_PERSONS} b ON b.rid = p.rid_r
    JOIN {ROW_LINKS} x ON x.rid = p.rid_l JOIN {ROW_LINKS} y ON y.rid = p.rid_r
    WHERE a.person_id <> b.person_id AND p.match_probability >= $review
      AND NOT (x.reason IS NULL AND y.reason IS NULL)
    ORDER BY p.rid_l, p.rid_r
    """
