"""What changed since the previous published run, for officers' follow-up.

One row per change: beneficiaries (enrolments) new, removed or edited; families whose
desil moved, with those now above the program's cut-off marked as graduation
candidates; findings new and resolved; and person merges and splits. Edited rows name
the fields that changed, never their values.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from reconcile import db
from reconcile.discrepancies import ReportSettings
from reconcile.identity import ENROLMENTS, EVENTS, TRACKED_FIELDS, build_enrolments
from reconcile.tables import Table

CHANGES = Table.CHANGES
COLUMNS = "change, person_id, record_id, program, detail"


db.constants({f"field_{f}": f for f in TRACKED_FIELDS})  # the field names as SQL reads them


def _edited_fields_sql() -> str:
    parts = [f"CASE WHEN c.h_{f} <> p.h_{f} THEN $field_{f} END" for f in TRACKED_FIELDS]
    return f"concat_ws(', ', {', '.join(parts)})"


def changes_sql(settings: ReportSettings) -> str:
    """Every change between `prev` (the previous state) and this run (ENROLMENTS)."""
    return f"""
    CREATE OR REPLACE TABLE {CHANGES} AS
    WITH cur AS (SELECT * FROM {ENROLMENTS}
    ), fam_cur AS (SELECT id_keluarga, min(desil) AS desil, any_value(program) AS program
                   FROM cur WHERE id_keluarga IS NOT NULL GROUP BY 1),
       fam_prev AS (SELECT id_keluarga, min(desil) AS desil FROM prev.enrolments
                    WHERE id_keluarga IS NOT NULL GROUP BY 1),
       found AS (SELECT DISTINCT category, record_id, person_id FROM {Table.DISCREPANCIES})
    SELECT 'new_beneficiary' AS change, person_id, id_penerima AS record_id, program,
           NULL AS detail FROM cur ANTI JOIN prev.enrolments USING (id_penerima)
    UNION ALL
    SELECT 'removed_beneficiary', person_id, id_penerima, program, NULL
    FROM prev.enrolments ANTI JOIN cur USING (id_penerima)
    UNION ALL
    SELECT 'edited_beneficiary', c.person_id, id_penerima, c.program,
           'changed: ' || {_edited_fields_sql()}
    FROM cur c JOIN prev.enrolments p USING (id_penerima) WHERE c.fingerprint <> p.fingerprint
    UNION ALL
    SELECT CASE WHEN c.desil > {settings.cutoff_sql('c.program')}
                 AND p.desil <= {settings.cutoff_sql('c.program')}
                THEN 'graduation_candidate' ELSE 'desil_changed' END,
           NULL, id_keluarga, c.program, 'desil ' || p.desil || ' -> ' || c.desil
    FROM fam_cur c JOIN fam_prev p USING (id_keluarga) WHERE c.desil <> p.desil
    UNION ALL
    SELECT 'new_discrepancy', person_id, record_id, NULL, category
    FROM found ANTI JOIN prev.findings USING (category, record_id)
    UNION ALL
    SELECT 'resolved_discrepancy', person_id, record_id, NULL, category
    FROM prev.findings ANTI JOIN found USING (category, record_id)
    UNION ALL
    SELECT 'person_' || event, person_id, other_person_id, NULL,
           'earlier person ' || other_person_id FROM {EVENTS}
    ORDER BY ALL
    """


def find_changes(con: duckdb.DuckDBPyConnection, state: Path | None,
                 settings: ReportSettings) -> dict:
    """Write the changes table against the previous state; empty on a first run."""
    if state is None:
        db.run(con, f"CREATE OR REPLACE TABLE {CHANGES} AS SELECT NULL::VARCHAR AS change, "
                    "NULL::VARCHAR AS person_id, NULL::VARCHAR AS record_id, "
                    "NULL::VARCHAR AS program, NULL::VARCHAR AS detail LIMIT 0")
        return {"first_run": True}
    settings.bind(con)
    build_enrolments(con, state.parent)  # this run's hashes, keyed like the state's
    db.attach(con, state, "prev", read_only=True)
    try:
        db.run(con, changes_sql(settings))
    finally:
        db.run(con, "DETACH DATABASE prev")
    counts = db.df(con, f"SELECT change, count(*) AS n FROM {CHANGES} GROUP BY 1 ORDER BY 1")
    return dict(zip(counts["change"], counts["n"].astype(int), strict=True))
