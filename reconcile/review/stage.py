"""The review stage of the pipeline and what it leaves for the next cycle.

After the findings: the queue (queue.py), the decisions applied or expired this run in the
change report, and the items officers may answer (`review_known`: this run's queue and
findings, plus every item queued before, fingerprinted with today's values so that a
decision taken on older values is refused as stale at import). The outputs stage writes
the workbooks into the owner-only `restricted/review/` folder and the known items into
the identity state.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from reconcile import accuracy, db, identity
from reconcile.discrepancies import ReportSettings
from reconcile.review import decisions
from reconcile.review.queue import (
    build_queue,
    workbook_findings_sql,
    workbook_items_sql,
)
from reconcile.review.settings import BANDS, ReviewSettings, band_sql
from reconcile.review.workbook import write_workbooks
from reconcile.tables import Table

KNOWN = "review_known"
FINDINGS = "review_findings"  # findings for field verification, as the workbooks show them
FOLDER = Path("restricted") / "review"


def mark_findings(con: duckdb.DuckDBPyConnection, out: Path) -> dict:
    """Carry field-verification outcomes onto the findings (`status`): open unless an
    outcome was recorded on this finding as it reads now."""
    db.run(con, f"ALTER TABLE {Table.DISCREPANCIES} ADD COLUMN IF NOT EXISTS status "
                "VARCHAR DEFAULT 'open'")
    decisions.bind(con, out)
    db.run(con, f"""
        UPDATE {Table.DISCREPANCIES} AS d SET status = o.decision
        FROM {decisions.OUTCOMES} o
        WHERE o.item_id = {decisions.item_id_sql("'finding'", 'd.record_id', 'd.category')}
          AND o.fingerprint = {decisions.finding_fingerprint_sql('d')}""")
    counts = db.df(con, f"SELECT status, count(*) AS n FROM {Table.DISCREPANCIES} GROUP BY 1")
    return dict(zip(counts["status"], counts["n"].astype(int), strict=True))


DECISION_CHANGES_SQL = f"""
INSERT INTO changes
SELECT CASE WHEN d.status = 'expired' THEN 'decision_expired'
            WHEN d.decision IN ('same', 'different') THEN 'decision_applied'
            ELSE 'decision_recorded' END,
       p.person_id, d.id_penerima, k.program,
       d.kind || ' ' || d.decision || ' with ' || d.other_id
           || coalesce(' by ' || d.reviewer, '') || coalesce(' on ' || d.decided_on, '')
FROM {Table.REVIEW_DECISIONS} d JOIN {Table.CLEAN_KEMENSOS} k ON k.rid = d.rid_l
LEFT JOIN {Table.KEMENSOS_PERSONS} p ON p.rid = d.rid_l
"""

# Items queued before, with the fingerprint of the values their records show today.
PREVIOUS_ITEMS_SQL = f"""
SELECT i.item_id, i.kind, i.id_penerima, i.other_id,
       CASE i.kind WHEN 'link' THEN {decisions.fingerprint_sql('k', 'b')}
                   WHEN 'dedupe' THEN {decisions.fingerprint_sql('k', 'c')}
                   ELSE {decisions.finding_fingerprint_sql('d')} END AS fingerprint,
       i.audit, i.band, i.linked
FROM prev.{decisions.ITEMS} i
LEFT JOIN {Table.CLEAN_KEMENSOS} k ON k.id_penerima = i.id_penerima
LEFT JOIN {Table.CLEAN_BPS} b ON i.kind = 'link' AND b.id_individu = i.other_id
LEFT JOIN {Table.CLEAN_KEMENSOS} c ON i.kind = 'dedupe' AND c.id_penerima = i.other_id
LEFT JOIN {Table.DISCREPANCIES} d ON i.kind = 'finding' AND d.record_id = i.id_penerima
      AND d.category = i.other_id
WHERE k.rid IS NOT NULL AND (b.rid IS NOT NULL OR c.rid IS NOT NULL)
   OR d.record_id IS NOT NULL
"""


def build(con: duckdb.DuckDBPyConnection, out: Path, run_id: str,
          settings: ReportSettings, review: ReviewSettings) -> dict:
    """Queue, decision changes and known items; return the queue's figures."""
    if not db.has_table(con, Table.MATCH_EVIDENCE):
        return {"items": 0}
    decisions.bind(con, out)
    facts = build_queue(con, settings, review, run_id)
    db.run(con, DECISION_CHANGES_SQL)
    db.run(con, f"CREATE OR REPLACE TABLE {FINDINGS} AS {workbook_findings_sql()}",
           {"cap": int(review.cap_per_village)})
    db.run(con, f"""CREATE OR REPLACE TABLE {KNOWN} AS
        SELECT item_id, kind, id_penerima, other_id, fingerprint, audit, band, linked
        FROM {Table.REVIEW_QUEUE}
        UNION ALL SELECT item_id, 'finding', record_id, category, fingerprint, false,
                         NULL::INTEGER, NULL::BOOLEAN
        FROM {FINDINGS}""")
    _add_previous_items(con, identity.previous_state(out))
    if decisions.store_path(out).exists():  # once officers have returned decisions
        facts["audit_precision"] = audit_precision_by_band(con)
    return facts


def audit_precision_by_band(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Link precision measured on the officers' blind audit answers, per probability band
    and overall (Horvitz-Thompson, accuracy.audit_precision), the bands weighted by
    this run's links."""
    bands = db.df(con, f"""
        WITH links AS (
            SELECT {band_sql('match_probability')} AS band
            FROM {Table.MATCH_EVIDENCE} WHERE reason IS NULL AND bps_rid IS NOT NULL
        ), population AS (SELECT band, count(*) AS population FROM links GROUP BY 1
        ), answers AS (SELECT band, count(*) AS reviewed,
                              count(*) FILTER (decision = 'same') AS correct
                       FROM {decisions.AUDIT} GROUP BY 1)
        SELECT p.band, p.population, coalesce(a.reviewed, 0) AS reviewed,
               coalesce(a.correct, 0) AS correct
        FROM population p LEFT JOIN answers a USING (band) ORDER BY p.band""",
                  {"bands": list(BANDS)})
    table = accuracy.audit_precision(bands)
    return json.loads(table.to_json(orient="records"))


def _add_previous_items(con: duckdb.DuckDBPyConnection, state: Path | None) -> None:
    if state is None:
        return
    db.attach(con, state, "prev", read_only=True)
    try:
        if db.has_table(con, decisions.ITEMS, database="prev"):
            db.run(con, f"INSERT INTO {KNOWN} SELECT * FROM ({PREVIOUS_ITEMS_SQL}) "
                        f"WHERE item_id NOT IN (SELECT item_id FROM {KNOWN}) QUALIFY "
                        "row_number() OVER (PARTITION BY item_id ORDER BY fingerprint) = 1")
    finally:
        db.run(con, "DETACH DATABASE prev")


def write(con: duckdb.DuckDBPyConnection, stage: Path) -> list[str]:
    """The workbooks (one per kecamatan) and the queue with its probabilities, owner-only
    in `restricted/review/`; return the workbooks' names."""
    if not db.has_table(con, Table.REVIEW_QUEUE):
        return []
    folder = stage / FOLDER
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths = write_workbooks(db.df(con, workbook_items_sql()),
                            db.df(con, f"SELECT * FROM {FINDINGS}"), folder)
    db.copy_parquet(con, f"SELECT * FROM {Table.REVIEW_QUEUE}", folder / "queue.parquet")
    return sorted(p.name for p in paths)


def save_known(con: duckdb.DuckDBPyConnection, state: Path) -> None:
    """Keep the items officers may answer in this run's identity state."""
    if not db.has_table(con, KNOWN):
        return
    db.attach(con, state, "nxt")
    try:
        db.run(con, f"CREATE TABLE nxt.{decisions.ITEMS} AS SELECT * FROM {KNOWN}")
    finally:
        db.run(con, "DETACH DATABASE nxt")
