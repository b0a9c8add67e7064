"""Deduplication of Kemensos rows into persons (kemensos_persons).

Rows linked to the same register individual are one person. The register cannot speak
for the other rows, so they are compared with each other (and with linked rows) by the
same model, and merged strongest edge first with the constraints of `cluster.py`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reconcile import db
from reconcile.match import decided
from reconcile.match.cluster import constrained_components
from reconcile.match.link import ROW_LINKS, cannot_link_sql
from reconcile.tables import Table

DEDUPE_BLOCKED = "match_dedupe_blocked"
DEDUPE_GAMMAS = "match_dedupe_gammas"
DEDUPE_SCORED = "match_dedupe_scored"
GROUPS = "match_dedupe_groups"


def edges_sql(threshold: float, attach_threshold: float | None = None,
              attach_offset_bits: float = 0.0) -> db.Step:
    """Dedupe edges that touch at least one unlinked row.

    Between two unlinked rows: match probability >= `threshold`. Between an unlinked and
    a linked row: joining the linked row's person links the row to that register
    individual, so the edge needs a link's evidence: its weight shifted by
    `attach_offset_bits` (the link prior's bits minus the dedupe prior's) must reach
    `attach_threshold` (default: `threshold`, no shift).
    """
    attach = threshold if attach_threshold is None else attach_threshold
    attach_bits = float(np.log2(attach / (1 - attach))) - float(attach_offset_bits)
    return db.Step(f"""
    SELECT p.rid_l, p.rid_r FROM {DEDUPE_SCORED} p
    JOIN {ROW_LINKS} a ON a.rid = p.rid_l JOIN {ROW_LINKS} b ON b.rid = p.rid_r
    WHERE (a.reason IS NOT NULL AND b.reason IS NOT NULL
           AND p.match_probability >= $dedupe_threshold)
       OR ((a.reason IS NULL) <> (b.reason IS NULL)
           AND p.match_weight >= $attach_bits)
    ORDER BY p.match_weight DESC, least(p.src_id_l, p.src_id_r),
             greatest(p.src_id_l, p.src_id_r)  -- ids, not row numbers: row order must not matter
    """, {"dedupe_threshold": float(threshold), "attach_bits": attach_bits})


def nodes_sql(edges: str) -> str:
    """Rows touched by edges, with their register anchor and valid-NIK date part."""
    return f"""
    WITH e AS ({edges}),
    ids AS (SELECT rid_l AS rid FROM e UNION SELECT rid_r FROM e)
    SELECT ids.rid, CASE WHEN x.reason IS NULL THEN x.bps_rid ELSE -1 END AS anchor,
           CASE WHEN k.nik_ok AND k.nik_own THEN k.nik_date END AS nik_date
    FROM ids JOIN {ROW_LINKS} x USING (rid) JOIN {Table.STD_KEMENSOS} k USING (rid)
    ORDER BY ids.rid
    """


def cannot_sql() -> str:
    """Blocked row pairs that must never share a person (twins, different valid NIKs)."""
    return f"""
    SELECT p.rid_l, p.rid_r FROM {DEDUPE_BLOCKED} p
    JOIN {Table.STD_KEMENSOS} l ON l.rid = p.rid_l JOIN {Table.STD_KEMENSOS} r ON r.rid = p.rid_r
    WHERE {cannot_link_sql('l', 'r')}
    """


def persons_sql() -> str:
    """person_id per row: the smallest id_penerima of its person, so reruns agree."""
    return f"""
    CREATE OR REPLACE TABLE {Table.KEMENSOS_PERSONS} AS
    WITH grouped AS (
        SELECT x.rid, g.grp,
               CASE WHEN x.reason IS NULL THEN x.bps_rid END AS anchor
        FROM {ROW_LINKS} x LEFT JOIN {GROUPS} g USING (rid)
    ), keyed AS (
        SELECT rid, coalesce(
            'B' || CASE WHEN grp IS NULL THEN anchor
                        ELSE max(anchor) OVER (PARTITION BY grp) END,
            'G' || grp, 'R' || rid) AS person_key
        FROM grouped
    )
    SELECT k.rid, 'P-' || min(s.src_id) OVER (PARTITION BY k.person_key) AS person_id
    FROM keyed k JOIN {Table.STD_KEMENSOS} s USING (rid)
    ORDER BY k.rid
    """


def cluster_rows(con, threshold: float, attach_threshold: float | None = None,
                 attach_offset_bits: float = 0.0) -> dict:
    """Group the dedupe edges without chaining and write kemensos_persons. Rows an
    officer called one person are merged first, whatever the constraints; rows called
    two people join the cannot-link pairs."""
    edges_step = edges_sql(threshold, attach_threshold, attach_offset_bits)
    edges_query, params = edges_step.sql, edges_step.params
    cannot_query = cannot_sql()
    forced = 0
    if decided.present(con):
        forced = int(db.scalar(con, f"SELECT count(*) FROM ({decided.row_pairs_sql('same')})"))
        edges_query = (f"SELECT * FROM ({decided.row_pairs_sql('same')} ORDER BY ALL) "
                       f"UNION ALL SELECT * FROM ({edges_query})")
        cannot_query += (f" UNION ALL {decided.row_pairs_sql('different')}"
                         f" UNION ALL {decided.apart_from_individual_sql()}")
    edges = db.arrow(con, edges_query, params)
    nodes = db.df(con, nodes_sql(edges_query), params)
    cannot = db.arrow(con, cannot_query)
    rids = nodes["rid"].to_numpy()

    def index(col) -> np.ndarray:
        return np.searchsorted(rids, col.to_numpy())

    labels = constrained_components(
        index(edges["rid_l"]), index(edges["rid_r"]), len(rids),
        anchor=nodes["anchor"].to_numpy(),
        nik_date=np.asarray(nodes["nik_date"].astype(object).where(nodes["nik_date"].notna(),
                                                                    None)),
        cannot_l=_known(rids, cannot["rid_l"].to_numpy()),
        cannot_r=_known(rids, cannot["rid_r"].to_numpy()),
        forced=forced,
    ) if len(rids) else np.array([], dtype=np.int64)
    db.put(con, GROUPS, pd.DataFrame({"rid": rids, "grp": rids[labels] if len(rids) else rids}))
    db.run(con, persons_sql())
    return {"dedupe_edges": len(edges), "dedupe_nodes": len(rids)}


def _known(rids: np.ndarray, values: np.ndarray) -> np.ndarray:
    # Cannot-link pairs of rows that are not nodes never matter; map the rest, else -1.
    pos = np.searchsorted(rids, values)
    pos[pos >= len(rids)] = 0
    return np.where(rids[pos] == values, pos, -1) if len(rids) else pos
