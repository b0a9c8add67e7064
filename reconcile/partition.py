"""Scale-out: match province by province, then one cross-province pass by NIK.

National data (DTSEN holds about 286 million people) does not fit one matcher, but almost
every match lies within a province: people are enrolled where they live. So the matching
unit is a province. Each province is matched on its own (in threads here, on a Dask
cluster through the flow), then a cross-province pass links the people still unlinked by
exact, valid NIK with agreeing name or birth date (people who moved), and rows whose
region is unknown. Because each province's result depends only on its own rows, running
provinces one after another or all at once gives the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb

from reconcile import db
from reconcile.match import decided, match
from reconcile.match.settings import MatchSettings
from reconcile.tables import Table

UNPLACED = "00"
db.constants({"unplaced": UNPLACED})
# One DuckDB thread per province: parallelism comes from running provinces at once, and a
# province's floating-point sums then add up in the same order wherever it runs, so the
# answer cannot depend on the scheduler (more threads reorder parallel aggregates).
THREADS = 1
PART = """coalesce(left(kode_wilayah, 2),
                   CASE WHEN nik_status = 'valid' THEN left(nik, 2) END, '00')"""


# A partition is a province with register people. Rows of any other province code, or
# with no usable code at all (stray rows), are matched in the main partition, the one
# with the most register people, so a few strays neither split a one-province run nor
# go unmatched; the cross-province NIK pass then finds the movers among them.
PARTS_SQL = f"""
SELECT {PART} AS part, count(*) AS people FROM {Table.CLEAN_BPS}
WHERE {PART} <> $unplaced GROUP BY ALL ORDER BY part
"""
ASSIGNED = f"CASE WHEN list_contains($parts, {PART}) THEN {PART} ELSE $main END"


def provinces(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The partitions: provinces with register people, in code order."""
    return list(db.df(con, PARTS_SQL)["part"])


def export_all(con: duckdb.DuckDBPyConnection, folder: Path) -> list[Path]:
    """Write each partition's clean rows, strays with the main one, into its own work
    database; the partitions and the main one are found once, then bound."""
    parts = db.df(con, PARTS_SQL)
    main = parts.sort_values(["people", "part"], ascending=[False, True])["part"].iloc[0] \
        if len(parts) else None
    assignment = {"parts": list(parts["part"]), "main": main}
    return [_export(con, folder, part, assignment) for part in parts["part"]]


def _export(con: duckdb.DuckDBPyConnection, folder: Path, part: str,
            assignment: dict) -> Path:
    """Write one province's clean rows into its own work database."""
    path = folder / f"part-{part}.duckdb"
    path.unlink(missing_ok=True)
    db.attach(con, path, "part_db")
    try:
        for table in (Table.CLEAN_KEMENSOS, Table.CLEAN_BPS):
            db.run(con, f"CREATE TABLE part_db.{table} AS SELECT * FROM {table} "
                        f"WHERE {ASSIGNED} = $part ORDER BY rid", {"part": part, **assignment})
        if decided.present(con):  # officers' decisions, by row keys shared with the parts
            db.run(con, f"CREATE TABLE part_db.{Table.REVIEW_DECISIONS} AS "
                        f"SELECT * FROM {Table.REVIEW_DECISIONS}")
    finally:
        db.run(con, "DETACH DATABASE part_db")
    return path


def match_partition(path: Path, threads: int | None = None,
                    memory_limit: str | None = None, matching: dict | None = None) -> dict:
    """Match one province in its own database (safe to run in a thread or a worker)."""
    con = db.connect(path, threads=threads, memory_limit=memory_limit)
    try:
        settings = MatchSettings.from_params(matching)
        stats = match(con, settings) if db.count(con, Table.CLEAN_KEMENSOS) else {}
    finally:
        con.close()
    return {"partition": path.stem, **{k: v for k, v in stats.items() if k == "timings"}}


CROSS_SQL = f"""
-- persons no province linked, and register people no province claimed
CREATE OR REPLACE TEMP TABLE cross_candidates AS
WITH open_persons AS (
    SELECT p.person_id, k.rid, k.nik, k.nama, k.tgl_lahir
    FROM {Table.KEMENSOS_PERSONS} p JOIN {Table.CLEAN_KEMENSOS} k USING (rid)
    JOIN {Table.LINKS} l USING (person_id)
    WHERE l.id_individu IS NULL AND k.nik_status = 'valid'
), open_register AS (
    SELECT * FROM {Table.CLEAN_BPS}
    WHERE id_individu NOT IN (SELECT id_individu FROM {Table.LINKS}
                              WHERE id_individu IS NOT NULL)
)
SELECT o.person_id, b.id_individu,
       count(DISTINCT b.id_individu) OVER (PARTITION BY o.person_id) AS candidates,
       count(DISTINCT o.person_id) OVER (PARTITION BY b.id_individu) AS claimants
FROM open_persons o JOIN open_register b ON b.nik = o.nik AND b.nik_status = 'valid'
WHERE o.tgl_lahir = b.tgl_lahir
   OR jaro_winkler_similarity(upper(o.nama), upper(b.nama)) >= 0.9
"""

APPLY_SQL = f"""
CREATE OR REPLACE TABLE {Table.LINKS} AS
SELECT l.* REPLACE (
           coalesce(l.id_individu, c.id_individu) AS id_individu,
           CASE WHEN c.id_individu IS NOT NULL THEN 'nik_cross_province'
                ELSE l.match_type END AS match_type,
           CASE WHEN c.id_individu IS NOT NULL THEN NULL ELSE l.no_match_reason END
               AS no_match_reason)
FROM {Table.LINKS} l
LEFT JOIN (SELECT DISTINCT person_id, id_individu FROM cross_candidates
           WHERE candidates = 1 AND claimants = 1) c USING (person_id)
ORDER BY l.person_id
"""


def combine(con: duckdb.DuckDBPyConnection, paths: Iterable[Path]) -> dict:
    """Gather the provinces' persons and links, then run the cross-province NIK pass."""
    parts = list(paths)
    for table in (Table.KEMENSOS_PERSONS, Table.LINKS, Table.MATCH_EVIDENCE,
                  Table.DEDUPE_EVIDENCE):
        selects = []
        for n, path in enumerate(parts):
            db.attach(con, path, f"p{n}", read_only=True)
            if db.has_table(con, table, database=f"p{n}"):
                selects.append(f"SELECT * FROM p{n}.{table}")
        union = " UNION ALL ".join(selects) or _empty(table)
        if union:  # no evidence where no partition had Kemensos rows
            db.run(con, f"CREATE OR REPLACE TABLE {table} AS {union}")
        for n in range(len(parts)):
            db.run(con, f"DETACH DATABASE p{n}")
    db.run(con, CROSS_SQL)
    linked = db.scalar(con, "SELECT count(DISTINCT person_id) FROM cross_candidates "
                            "WHERE candidates = 1 AND claimants = 1")
    db.run(con, APPLY_SQL)
    return {"partitions": len(parts), "cross_province_links": int(linked or 0)}


def _empty(table: str) -> str:
    if table in (Table.MATCH_EVIDENCE, Table.DEDUPE_EVIDENCE):
        return ""
    if table == Table.KEMENSOS_PERSONS:
        return "SELECT NULL::BIGINT AS rid, NULL::VARCHAR AS person_id LIMIT 0"
    return ("SELECT NULL::VARCHAR AS person_id, NULL::VARCHAR AS id_individu, "
            "NULL::DOUBLE AS match_probability, NULL::DOUBLE AS in_register_probability, "
            "NULL::VARCHAR AS match_type, "
            "NULL::VARCHAR AS no_match_reason LIMIT 0")
