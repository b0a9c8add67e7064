"""The review queue: what officers should check this cycle, most costly mistakes first.

Candidates come from the matcher's evidence (match.evidence): rows whose best register
candidate sits in the uncertain band (possible matches, weak links), ambiguous rows, twin
vetoes, rows released from an individual, linked rows with a NIK finding, alike rows kept
apart (just under the dedupe threshold or refused by the cannot-link rules), and items
whose decision expired because a record changed. Each is ordered by the expected cost of
the machine's decision being wrong: P(wrong) x the yearly benefit at stake (1 where none
is configured), then by how far the desil is from the cut-off (the richest first for
inclusion, the poorest first for exclusion). A few random items per probability band
and regency are mixed in blind (the audit sample: no probability is ever shown), and each
village gets at most `cap_per_village` items, so every list can be finished.
"""

from __future__ import annotations

import duckdb

from reconcile import db
from reconcile.discrepancies import ReportSettings
from reconcile.match.compare import COMPARISONS
from reconcile.match.link import REVIEW_REASONS_SQL
from reconcile.privacy import mask_sql
from reconcile.review.decisions import (
    finding_fingerprint_sql,
    fingerprint_sql,
    item_id_sql,
)
from reconcile.review.explain import agreement_sql, explanation_sql
from reconcile.review.settings import ReviewSettings, band_sql
from reconcile.tables import Table

WEAK_LINK = "weak link: review the register candidate"
NIK_FINDINGS = ("nik_mismatch", "nik_dob_conflict")
REFUSED = "merge refused by the cannot-link rules"
NEAR_DUPLICATE = "likely duplicate just under the dedupe threshold"
EXPIRED = "decision expired: a record changed"
# Findings that field-verification teams visit, one workbook sheet per category.
FIELD_CATEGORIES = ("inclusion_error", "exclusion_error", "not_in_register",
                    "duplicate_enrolment")
db.constants({"why_weak_link": WEAK_LINK, "why_refused": REFUSED,
              "why_near_duplicate": NEAR_DUPLICATE, "why_expired": EXPIRED,
              "nik_findings": list(NIK_FINDINGS), "field_categories": list(FIELD_CATEGORIES)})


def _levels_sql(alias: str) -> str:
    return ", ".join(f"{alias}.gamma_{c.name}, {alias}.mw_{c.name}" for c in COMPARISONS)


def _null_levels_sql() -> str:
    return ", ".join(f"NULL::INTEGER AS gamma_{c.name}, NULL::DOUBLE AS mw_{c.name}"
                     for c in COMPARISONS)


def pairs_sql() -> str:
    """Every candidate pair with the machine's decision, its probability and why it
    might be wrong (NULL: confident, eligible for the audit sample only)."""
    return f"""
    WITH nik_findings AS (
        SELECT record_id, min(category) AS category FROM {Table.DISCREPANCIES}
        WHERE source = 'kemensos' AND list_contains($nik_findings, category) GROUP BY 1
    ), candidates AS (
        SELECT 'link' AS kind, e.rid AS rid_l, e.bps_rid AS rid_r, e.match_probability AS p,
               e.reason IS NULL AS linked,
               CASE WHEN list_contains({REVIEW_REASONS_SQL}, e.reason) THEN e.reason
                    WHEN e.reason IS NULL AND f.category IS NOT NULL THEN f.category
                    WHEN e.reason IS NULL AND e.match_probability < $weak THEN $why_weak_link
               END AS why, {_levels_sql('e')}
        FROM {Table.MATCH_EVIDENCE} e JOIN {Table.CLEAN_KEMENSOS} k ON k.rid = e.rid
        LEFT JOIN nik_findings f ON f.record_id = k.id_penerima
        WHERE e.bps_rid IS NOT NULL
        UNION ALL
        SELECT 'dedupe', d.rid_l, d.rid_r, d.pair_probability, false,
               CASE WHEN d.pair_probability >= $dedupe THEN $why_refused
                    ELSE $why_near_duplicate END, {_levels_sql('d')}
        FROM {Table.DEDUPE_EVIDENCE} d
        UNION ALL  -- an item whose decision expired returns, whatever the model says
        SELECT kind, rid_l, rid_r, NULL, kind = 'link' AND decision = 'same', $why_expired,
               {_null_levels_sql()}
        FROM {Table.REVIEW_DECISIONS} WHERE status = 'expired'
    )
    SELECT * FROM candidates
    QUALIFY row_number() OVER (PARTITION BY kind, rid_l, rid_r
                               ORDER BY why = $why_expired DESC, p DESC NULLS LAST) = 1
    """


def queue_sql(settings: ReportSettings) -> str:
    """The capped, ordered queue with its blind audit sample (needs the review key and
    the report settings bound, and review_decisions loaded: decisions.load)."""
    return f"""
    CREATE OR REPLACE TABLE {Table.REVIEW_QUEUE} AS
    WITH pairs AS ({pairs_sql()}),
    items AS (
        SELECT p.*, k.id_penerima, coalesce(b.id_individu, c.id_penerima) AS other_id,
               {item_id_sql('p.kind', 'k.id_penerima',
                            'coalesce(b.id_individu, c.id_penerima)')} AS item_id,
               CASE WHEN p.kind = 'link' THEN {fingerprint_sql('k', 'b')}
                    ELSE {fingerprint_sql('k', 'c')} END AS fingerprint,
               coalesce(k.kode_wilayah, b.kode_wilayah, c.kode_wilayah) AS kode_desa,
               k.program, b.desil,
               CASE WHEN p.p IS NULL THEN 1.0 WHEN p.linked THEN 1 - p.p ELSE p.p END
                   AS p_wrong,
               CASE WHEN b.desil IS NULL THEN 0 WHEN b.desil > {settings.cutoff_sql('k.program')}
                    THEN b.desil
                    ELSE 11 - b.desil END AS extremity,
               coalesce({settings.benefit_sql('k.program')}, 1.0) AS benefit
        FROM pairs p JOIN {Table.CLEAN_KEMENSOS} k ON k.rid = p.rid_l
        LEFT JOIN {Table.CLEAN_BPS} b ON p.kind = 'link' AND b.rid = p.rid_r
        LEFT JOIN {Table.CLEAN_KEMENSOS} c ON p.kind = 'dedupe' AND c.rid = p.rid_r
    ), banded AS (
        SELECT i.*, {band_sql('i.p')} AS band
        FROM items i LEFT JOIN {Table.REVIEW_DECISIONS} r USING (item_id)
        WHERE coalesce(r.status, '') <> 'active'  -- settled until a record changes
    ), open AS (  -- the audit sample: a new random draw each cycle, per band and regency
        SELECT *, row_number() OVER (PARTITION BY band, left(kode_desa, 5)
                                     ORDER BY hash(item_id || $seed), item_id) <= $audit
                      AS audit
        FROM banded
    ), ranked AS (
        SELECT *, p_wrong * benefit AS cost,
               row_number() OVER (PARTITION BY kode_desa
                                  ORDER BY audit DESC, why = $why_expired DESC NULLS LAST,
                                           p_wrong * benefit DESC, extremity DESC, item_id)
                   AS rank
        FROM open WHERE audit OR why IS NOT NULL
    )
    SELECT * FROM ranked WHERE rank <= $cap ORDER BY kode_desa, rank
    """


def build_queue(con: duckdb.DuckDBPyConnection, settings: ReportSettings,
                review: ReviewSettings, run_id: str) -> dict:
    """Write review_queue; return its size per village for the manifest (needs the
    review key bound: decisions.bind)."""
    settings.bind(con)
    db.run(con, queue_sql(settings), review.params(run_id))
    sizes = db.df(con, f"""SELECT count(*) AS items, count(*) FILTER (audit) AS audit,
        count(DISTINCT kode_desa) AS villages,
        (SELECT max(n) FROM (SELECT count(*) AS n FROM {Table.REVIEW_QUEUE} GROUP BY kode_desa))
            AS per_village_max,
        (SELECT median(n) FROM (SELECT count(*) AS n FROM {Table.REVIEW_QUEUE}
                                GROUP BY kode_desa)) AS per_village_median
        FROM {Table.REVIEW_QUEUE}""").iloc[0]
    return {k: (float(v) if k == "per_village_median" else int(v or 0))
            for k, v in sizes.items()} | {"cap_per_village": review.cap_per_village}


def _first_names_sql(table: str, family: str, key: str, rid: str) -> str:
    """Other members' first names of the record `rid` (its family `family`)."""
    # ordered: the same data gives the same workbook, run after run
    return f"""(SELECT string_agg(DISTINCT split_part(o.nama, ' ', 1), ', '
                                  ORDER BY split_part(o.nama, ' ', 1))
               FROM {table} o WHERE o.{family} = {key} AND o.rid <> {rid})"""


def _region_name_sql(code: str) -> str:
    """The Kemendagri name of the region `code` (NULL for a code the reference lacks)."""
    return f"(SELECT r.nama FROM {Table.REF_REGIONS} r WHERE r.kode = {code})"


def workbook_items_sql() -> str:
    """The queue as the review workbooks show it: both records side by side, NIKs
    masked, agreement marks and the one-line explanations."""
    marks = ", ".join(f"{sql} AS {name}" for name, sql in agreement_sql("q.").items())
    return f"""
    SELECT q.item_id, q.fingerprint, q.kind, left(q.kode_desa, 8) AS kode_kecamatan,
           {_region_name_sql('left(q.kode_desa, 8)')} AS kecamatan, q.kode_desa,
           {_region_name_sql('q.kode_desa')} AS desa, q.rank,
           k.id_penerima AS k_id_penerima, k.program AS k_program, k.nama AS k_nama,
           k.tgl_lahir AS k_tgl_lahir, k.jenis_kelamin AS k_jenis_kelamin,
           k.alamat AS k_alamat, {mask_sql('k.nik')} AS k_nik_masked,
           {_first_names_sql(Table.CLEAN_KEMENSOS, 'no_kk', 'k.no_kk', 'k.rid')} AS k_keluarga,
           q.other_id AS c_id, coalesce(b.nama, c.nama) AS c_nama,
           coalesce(b.tgl_lahir, c.tgl_lahir) AS c_tgl_lahir,
           coalesce(b.jenis_kelamin, c.jenis_kelamin) AS c_jenis_kelamin,
           coalesce(b.alamat, c.alamat) AS c_alamat,
           {mask_sql('coalesce(b.nik, c.nik)')} AS c_nik_masked,
           coalesce({_first_names_sql(Table.CLEAN_BPS, 'id_keluarga', 'b.id_keluarga', 'b.rid')},
                    {_first_names_sql(Table.CLEAN_KEMENSOS, 'no_kk', 'c.no_kk', 'c.rid')})
               AS c_keluarga,
           b.desil AS c_desil, {marks},
           coalesce({explanation_sql('id', 'q.')}, 'keputusan sebelumnya kedaluwarsa')
               AS penjelasan,
           coalesce({explanation_sql('en', 'q.')}, 'earlier decision expired') AS explanation
    FROM {Table.REVIEW_QUEUE} q JOIN {Table.CLEAN_KEMENSOS} k ON k.rid = q.rid_l
    LEFT JOIN {Table.CLEAN_BPS} b ON q.kind = 'link' AND b.rid = q.rid_r
    LEFT JOIN {Table.CLEAN_KEMENSOS} c ON q.kind = 'dedupe' AND c.rid = q.rid_r
    ORDER BY q.kode_desa, q.rank
    """


def workbook_findings_sql() -> str:
    """Open findings for field verification (at most $cap per village and category), with
    the item id and fingerprint the outcome is recorded against."""
    return f"""
    SELECT {item_id_sql("'finding'", 'd.record_id', 'd.category')} AS item_id,
           {finding_fingerprint_sql('d')} AS fingerprint, d.category,
           left(d.kode_wilayah, 8) AS kode_kecamatan,
           {_region_name_sql('left(d.kode_wilayah, 8)')} AS kecamatan,
           d.kode_wilayah AS kode_desa, {_region_name_sql('d.kode_wilayah')} AS desa,
           d.record_id, d.program,
           coalesce(k.nama, f.nama) AS nama, coalesce(k.tgl_lahir, f.tgl_lahir) AS tgl_lahir,
           {mask_sql('coalesce(k.nik, f.nik)')} AS nik_masked,
           coalesce(r.desil, f.desil) AS desil, d.evidence, d.action_id
    FROM {Table.DISCREPANCIES} d
    LEFT JOIN (SELECT * FROM {Table.CLEAN_KEMENSOS}
               QUALIFY row_number() OVER (PARTITION BY id_penerima ORDER BY rid) = 1) k
           ON d.source = 'kemensos' AND k.id_penerima = d.record_id
    LEFT JOIN (SELECT id_penerima, any_value(desil) AS desil FROM {Table.RECONCILED}
               GROUP BY 1) r ON d.source = 'kemensos' AND r.id_penerima = d.record_id
    LEFT JOIN (SELECT * FROM {Table.CLEAN_BPS}
               QUALIFY row_number() OVER (PARTITION BY id_keluarga ORDER BY rid) = 1) f
           ON d.source = 'bps' AND f.id_keluarga = d.record_id
    WHERE list_contains($field_categories, d.category) AND coalesce(d.status, 'open') = 'open'
    -- like the queue, at most $cap per village and category per cycle: a list a field
    -- team can finish (every finding stays in discrepancies.parquet and report.xlsx)
    QUALIFY row_number() OVER (PARTITION BY d.kode_wilayah, d.category
                               ORDER BY d.cost DESC NULLS LAST, d.record_id) <= $cap
    ORDER BY d.kode_wilayah, d.category, d.cost DESC NULLS LAST, d.record_id
    """
