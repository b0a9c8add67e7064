"""Officers' decisions: an append-only store beside the identity state, and its use.

`import_workbooks` checks returned review workbooks against the items the published run
queued (unknown items, decisions taken on values that have changed since, two reviewers
disagreeing) and appends the valid rows to `decisions.duckdb` in the owner-only state
folder; nothing is ever updated or deleted there, so the store is its own audit trail and
the newest decision on an item is the one in force. Each run `load`s the store into
`review_decisions`: a decision whose records still show the values it was taken on is
active; one whose records changed has expired and its item returns to the queue.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from reconcile import db, identity, privacy, publish
from reconcile.review.workbook import read_workbooks
from reconcile.tables import Table

STORE = "decisions.duckdb"
REVIEW_KEY = "review_key"
ITEMS = "review_items"  # in the identity state: every item queued so far, as now
OUTCOMES = "finding_outcomes"  # the newest field-verification outcome per finding
BINDING = ("same", "different")
STORE_SCHEMA = (("batch", "INTEGER"), ("imported_at", "TIMESTAMPTZ"), ("item_id", "VARCHAR"),
                ("kind", "VARCHAR"), ("id_penerima", "VARCHAR"), ("other_id", "VARCHAR"),
                ("decision", "VARCHAR"), ("reason", "VARCHAR"), ("reviewer", "VARCHAR"),
                ("decided_on", "VARCHAR"), ("fingerprint", "VARCHAR"),
                ("source_file", "VARCHAR"), ("source_sheet", "VARCHAR"),
                ("source_row", "INTEGER"), ("audit", "BOOLEAN"), ("band", "INTEGER"),
                ("linked", "BOOLEAN"))
STORE_COLUMNS = tuple(name for name, _ in STORE_SCHEMA)
_STORE_COLUMNS_SQL = ", ".join(f"{name} {kind}" for name, kind in STORE_SCHEMA)
LATEST = "review_latest"  # the store's newest decision per item
AUDIT = "review_audit"  # officers' answers on blind audit links, for precision per band
# The values an officer sees of each record: a decision holds while they are unchanged.
SHOWN = ("nik", "no_kk", "nama", "tgl_lahir", "jenis_kelamin", "alamat", "kode_wilayah")


def store_ddl_sql(table: str) -> str:
    """CREATE TABLE of the decisions store as `table`."""
    return f"CREATE TABLE {table} ({_STORE_COLUMNS_SQL})"


def store_path(out: Path) -> Path:
    """The decisions store of an output folder (owner-only, beside the identity state)."""
    return publish.state_dir(out) / STORE


def bind(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """Bind the installation secret that keys item ids and fingerprints."""
    privacy.bind_key(con, REVIEW_KEY, privacy.installation_secret(publish.state_dir(out)))


def item_id_sql(kind: str, left_id: str, other_id: str) -> str:
    """A stable, keyed item id: the same pair gets the same id in every run."""
    text = f"{kind} || '|' || {left_id} || '|' || {other_id}"
    return f"left({privacy.keyed_hash_sql(text, REVIEW_KEY)}, 20)"


def fingerprint_sql(a: str, b: str) -> str:
    """Keyed hash of the values shown of records `a` and `b` (table aliases)."""
    values = " || '|' || ".join(f"coalesce({alias}.{c}::VARCHAR, '')"
                                for alias in (a, b) for c in SHOWN)
    return f"left({privacy.keyed_hash_sql(values, REVIEW_KEY)}, 20)"


def finding_fingerprint_sql(d: str = "d") -> str:
    """A finding holds its outcome while its category, record and evidence are unchanged."""
    text = f"{d}.category || '|' || {d}.record_id || '|' || coalesce({d}.evidence, '')"
    return f"left({privacy.keyed_hash_sql(text, REVIEW_KEY)}, 20)"


# The store's newest decision per item, resolved to this run's rows with the values they
# show now: 'active' when those match the decision's fingerprint, else 'expired'.
LATEST_SQL = f"""
CREATE OR REPLACE TEMP TABLE {LATEST} AS SELECT * FROM store.decisions
QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY batch DESC, source_row DESC) = 1
"""
RESOLVED_SQL = f"""
CREATE OR REPLACE TABLE {Table.REVIEW_DECISIONS} AS
WITH pairs AS (
    SELECT d.*, k.rid AS rid_l, coalesce(b.rid, k2.rid) AS rid_r,
           CASE WHEN d.kind = 'link' THEN {fingerprint_sql('k', 'b')}
                ELSE {fingerprint_sql('k', 'k2')} END AS current_fingerprint
    FROM {LATEST} d JOIN {Table.CLEAN_KEMENSOS} k ON k.id_penerima = d.id_penerima
    LEFT JOIN {Table.CLEAN_BPS} b ON d.kind = 'link' AND b.id_individu = d.other_id
    LEFT JOIN {Table.CLEAN_KEMENSOS} k2 ON d.kind = 'dedupe' AND k2.id_penerima = d.other_id
    WHERE d.kind IN ('link', 'dedupe')
)
SELECT item_id, kind, decision, rid_l, rid_r, id_penerima, other_id, reviewer, decided_on,
       CASE WHEN current_fingerprint = fingerprint THEN 'active' ELSE 'expired' END
           AS status
FROM pairs WHERE rid_r IS NOT NULL
"""


def load(con: duckdb.DuckDBPyConnection, out: Path) -> dict:
    """Resolve the store's decisions to this run's rows (`review_decisions`), the
    findings' outcomes and the audit answers; return the store's version and counts for
    the manifest. Without a store, an empty one stands in: the tables exist, empty."""
    path = store_path(out)
    bind(con, out)
    if path.exists():
        db.attach(con, path, "store", read_only=True)
    else:
        db.run(con, "ATTACH ':memory:' AS store")
        db.run(con, store_ddl_sql("store.decisions"))
    try:
        db.run(con, LATEST_SQL)
        version = int(db.scalar(con, "SELECT coalesce(max(batch), 0) FROM store.decisions"))
    finally:
        db.run(con, "DETACH DATABASE store")
    db.run(con, RESOLVED_SQL)
    db.run(con, f"CREATE OR REPLACE TABLE {OUTCOMES} AS SELECT * FROM {LATEST} "
                "WHERE kind = 'finding'")
    db.run(con, f"""CREATE OR REPLACE TABLE {AUDIT} AS SELECT band, decision FROM {LATEST}
                    WHERE kind = 'link' AND audit AND linked AND list_contains($binding, decision)""",
           {"binding": list(BINDING)})
    counts = db.df(con, f"SELECT status, count(*) AS n FROM {Table.REVIEW_DECISIONS} "
                        "GROUP BY 1")
    return {"store_version": version, **dict(zip(counts["status"], counts["n"].astype(int),
                                                    strict=True))}


@dataclass
class ImportResult:
    """What one import stored, and the rows that need the officer's attention."""

    stored: int
    problems: pd.DataFrame
    batch: int


def import_workbooks(paths: list[Path], out: Path) -> ImportResult:
    """Check returned workbooks and append their valid decisions to the store."""
    decisions, problems = read_workbooks(paths)
    flagged = problems[["file", "sheet", "row"]].dropna().drop_duplicates()
    decisions = decisions.merge(flagged, how="left", indicator=True)
    decisions = decisions[decisions["_merge"] == "left_only"].drop(columns="_merge")
    known = _known_items(out)
    checked = decisions.merge(known, on="item_id", how="left", suffixes=("", "_now"))
    issues = [problems,
              _problem(checked[checked["kind_now"].isna()],
                       "unknown item: not queued by this output folder's runs"),
              _problem(checked[checked["kind_now"].notna()
                               & (checked["fingerprint"] != checked["fingerprint_now"])],
                       "stale: the records changed after this workbook was written; the "
                       "item is in the next queue again")]
    valid = checked[checked["kind_now"].notna()
                    & (checked["fingerprint"] == checked["fingerprint_now"])]
    conflicting = valid.groupby("item_id")["decision"].transform("nunique") > 1
    issues.append(_problem(valid[conflicting], "conflicting decisions on this item from "
                                               "several rows or reviewers: none was stored"))
    valid = valid[~conflicting].drop_duplicates("item_id", keep="last")
    batch = _append(out, valid)
    return ImportResult(len(valid), pd.concat(issues, ignore_index=True), batch)


def _problem(rows: pd.DataFrame, text: str) -> pd.DataFrame:
    return pd.DataFrame({"file": rows["file"], "sheet": rows["sheet"], "row": rows["row"],
                         "column": None, "problem": text})


def _known_items(out: Path) -> pd.DataFrame:
    """The items the published run knows, with their current fingerprints."""
    state = identity.previous_state(out)
    empty = pd.DataFrame(columns=["item_id", "kind_now", "id_penerima", "other_id",
                                  "fingerprint_now", "audit", "band", "linked"])
    if state is None:
        return empty
    con = duckdb.connect(str(state), read_only=True)
    try:
        if not db.has_table(con, ITEMS):
            return empty
        return db.df(con, f"SELECT item_id, kind AS kind_now, id_penerima, other_id, "
                          f"fingerprint AS fingerprint_now, audit, band, linked FROM {ITEMS}")
    finally:
        con.close()


def _append(out: Path, valid: pd.DataFrame) -> int:
    """Append one batch to the store (created owner-only); return the batch number."""
    path = store_path(out)
    created = not path.exists()
    con = duckdb.connect(str(path))
    try:
        if created:
            os.chmod(path, 0o600)
            db.run(con, store_ddl_sql("decisions"))
        batch = int(db.scalar(con, "SELECT coalesce(max(batch), 0) + 1 FROM decisions"))
        if len(valid):
            rows = valid.assign(batch=batch, imported_at=datetime.now(UTC),
                                kind=valid["kind_now"], source_file=valid["file"],
                                source_sheet=valid["sheet"], source_row=valid["row"])
            db.put(con, "incoming", rows[list(STORE_COLUMNS)])
            db.run(con, "INSERT INTO decisions BY NAME SELECT * FROM incoming")
    finally:
        con.close()
    return batch
