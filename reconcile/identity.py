"""Identity across runs: a person keeps their `person_id` from one night to the next.

Each run's matcher clusters rows afresh. This module maps the new clusters onto the
person ids of the previous published run, through the rows they share (`id_penerima`)
and, for persons whose rows all changed, through the register individual they were
linked to. A cluster that takes rows from two earlier persons is a merge; an earlier
person whose rows went to two clusters is a split; both are recorded. Everything else
gets a new id.

The state is personal data (ids, and keyed fingerprints of NIK, KK and name), so it is
never published: each run writes `identity-<run_id>.duckdb` (0600) into the owner-only
state folder before it publishes, and the next run reads the state of the run named in
the published manifest. A killed run's state is therefore never read (and is pruned),
so the state still changes atomically with the outputs it describes. Fingerprints are
keyed SHA-256 under the installation secret kept beside the state
(privacy.keyed_hash_sql), so they cannot be reversed by hashing a dictionary of NIKs or
names.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb

from reconcile import db, privacy, publish
from reconcile.tables import Table

EVENTS = "identity_events"
MAP = "identity_map"
ENROLMENTS = "identity_enrolments"
FINGERPRINT_KEY = "fingerprint_key"


def previous_state(out: Path) -> Path | None:
    """The identity state of the published run (named by its manifest), if there is one."""
    manifest = out / "manifest.json"
    if not manifest.exists():
        return None
    run_id = json.loads(manifest.read_text()).get("run_id")
    path = publish.state_path(out, run_id) if run_id else None
    return path if path and path.exists() else None


def build_enrolments(con: duckdb.DuckDBPyConnection, state_folder: Path) -> None:
    """This run's enrolments with their keyed fingerprints (table ENROLMENTS), keyed by
    the installation secret of `state_folder`. Built once per run: the change report
    and the saved state share it, as keyed hashing costs more than md5 did."""
    privacy.bind_key(con, FINGERPRINT_KEY, privacy.installation_secret(state_folder))
    db.run(con, f"CREATE OR REPLACE TABLE {ENROLMENTS} AS {enrolments_sql()}")


def _attach_previous(con: duckdb.DuckDBPyConnection, state: Path | None) -> str:
    """Attach the previous state read-only (or an empty stand-in); return its schema."""
    db.run(con, "DETACH DATABASE IF EXISTS prev")
    if state is None:
        db.run(con, "ATTACH ':memory:' AS prev")
        db.run(con, "CREATE TABLE prev.enrolments (id_penerima VARCHAR, person_id VARCHAR)")
        db.run(con, "CREATE TABLE prev.persons (person_id VARCHAR, id_individu VARCHAR)")
    else:
        db.attach(con, state, "prev", read_only=True)
    return "prev"


VOTES_SQL = f"""
CREATE OR REPLACE TEMP TABLE identity_votes AS
WITH cur AS (
    SELECT p.person_id AS cluster, k.id_penerima, l.id_individu
    FROM {Table.KEMENSOS_PERSONS} p JOIN {Table.CLEAN_KEMENSOS} k USING (rid)
    LEFT JOIN {Table.LINKS} l USING (person_id)
), by_row AS (      -- earlier persons sharing rows with each cluster
    SELECT cluster, e.person_id AS previous, count(*) AS votes, 1 AS via
    FROM cur JOIN prev.enrolments e USING (id_penerima) GROUP BY ALL
), by_link AS (     -- fallback: the register individual the earlier person was linked to
    SELECT DISTINCT cluster, p.person_id AS previous, 0 AS votes, 2 AS via
    FROM cur JOIN prev.persons p USING (id_individu)
    WHERE cluster NOT IN (SELECT cluster FROM by_row)
)
SELECT * FROM by_row UNION ALL SELECT * FROM by_link
"""

ASSIGN_SQL = f"""
CREATE OR REPLACE TABLE {MAP} AS
WITH ranked AS (    -- each cluster's best earlier person, each earlier person's best cluster
    SELECT *, row_number() OVER (PARTITION BY cluster ORDER BY via, votes DESC, previous)
                  AS cluster_rank,
              row_number() OVER (PARTITION BY previous ORDER BY via, votes DESC, cluster)
                  AS previous_rank
    FROM identity_votes
), kept AS (
    SELECT cluster, previous AS person_id FROM ranked WHERE cluster_rank = 1 AND previous_rank = 1
), clusters AS (SELECT DISTINCT person_id AS cluster FROM {Table.KEMENSOS_PERSONS}),
taken AS (SELECT person_id FROM kept UNION SELECT person_id FROM prev.enrolments)
SELECT c.cluster, coalesce(k.person_id,
           CASE WHEN c.cluster IN (SELECT person_id FROM taken) THEN c.cluster || '~2'
                ELSE c.cluster END) AS person_id,
       k.person_id IS NULL AS is_new
FROM clusters c LEFT JOIN kept k USING (cluster)
"""

EVENTS_SQL = f"""
CREATE OR REPLACE TABLE {EVENTS} AS
SELECT 'merge' AS event, m.person_id, v.previous AS other_person_id
FROM identity_votes v JOIN {MAP} m USING (cluster)
WHERE v.via = 1 AND v.previous <> m.person_id
  AND v.previous NOT IN (SELECT person_id FROM {MAP})
UNION ALL
SELECT 'split', m.person_id, v.previous
FROM identity_votes v JOIN {MAP} m USING (cluster)
WHERE v.via = 1 AND v.previous <> m.person_id AND v.previous IN (SELECT person_id FROM {MAP})
"""


def stabilise(con: duckdb.DuckDBPyConnection, state: Path | None) -> dict:
    """Replace this run's cluster ids by stable person ids; return counts of what happened."""
    _attach_previous(con, state)
    db.run(con, VOTES_SQL)
    db.run(con, ASSIGN_SQL)
    db.run(con, EVENTS_SQL)
    for table in (Table.KEMENSOS_PERSONS, Table.LINKS):
        db.run(con, f"""CREATE OR REPLACE TABLE {table} AS
            SELECT t.* REPLACE (m.person_id AS person_id)
            FROM {table} t JOIN {MAP} m ON m.cluster = t.person_id""")
    db.run(con, "DETACH DATABASE prev")
    counts = db.df(con, f"SELECT count(*) FILTER (is_new) AS new_persons, "
                        f"count(*) FILTER (NOT is_new) AS kept_persons, "
                        f"(SELECT count(*) FROM {EVENTS} WHERE event = 'merge') AS merges, "
                        f"(SELECT count(*) FROM {EVENTS} WHERE event = 'split') AS splits "
                        f"FROM {MAP}").iloc[0]
    return {k: int(v) for k, v in counts.items()}


def save_state(con: duckdb.DuckDBPyConnection, out: Path, run_id: str) -> Path:
    """Write this run's identity state (ids, row fingerprints, families, findings) into
    the owner-only state folder of `out`; return its path."""
    path = publish.state_path(out, run_id)
    path.unlink(missing_ok=True)
    if not db.has_table(con, ENROLMENTS):  # a first run: no change report built it
        build_enrolments(con, path.parent)
    db.attach(con, path, "nxt")
    try:
        db.run(con, f"CREATE TABLE nxt.enrolments AS SELECT * FROM {ENROLMENTS}")
        db.run(con, f"""CREATE TABLE nxt.persons AS SELECT person_id, id_individu
                        FROM {Table.LINKS} WHERE id_individu IS NOT NULL""")
        db.run(con, f"""CREATE TABLE nxt.findings AS SELECT DISTINCT category, record_id,
                        person_id FROM {Table.DISCREPANCIES}""")
        db.run(con, f"CREATE TABLE nxt.events AS SELECT $run_id AS run_id, * FROM {EVENTS}",
               {"run_id": run_id})
    finally:
        db.run(con, "DETACH DATABASE nxt")
    os.chmod(path, 0o600)
    return path


TRACKED_FIELDS = ("nik", "no_kk", "nama", "tgl_lahir", "jenis_kelamin", "alamat",
                  "kode_wilayah")
db.constants({f"hash_prefix_{f}": f"{f}:" for f in TRACKED_FIELDS})


def enrolments_sql() -> str:
    """This run's enrolments as the state keeps them: ids, desil, and keyed hashes of the
    tracked fields (one per field, and a whole-row fingerprint over those), never the
    values. Needs the fingerprint key bound (build_enrolments does)."""
    hashes = ", ".join(f"{_field_hash_sql(f)} AS h_{f}" for f in TRACKED_FIELDS)
    row = " || '|' || ".join((*(f"h_{f}" for f in TRACKED_FIELDS), "coalesce(program, '')"))
    return f"""SELECT *, sha256({row}) AS fingerprint FROM (
               SELECT id_penerima, person_id, program, id_keluarga, desil, {hashes}
               FROM {Table.RECONCILED})"""


def _field_hash_sql(field: str) -> str:
    """Keyed hash of one tracked field, prefixed by the field's name so that equal values
    in different fields do not share a hash."""
    return privacy.keyed_hash_sql(f"$hash_prefix_{field} || coalesce({field}::VARCHAR, '')",
                                  FINGERPRINT_KEY)
