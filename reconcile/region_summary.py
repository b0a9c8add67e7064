"""The regional picture: coverage of the poorest families next to BPS poverty estimates.

Two different kinds of number sit side by side here and must not be confused
(domain.md §5): BPS poverty counts are survey estimates (Susenas), while the register
and the beneficiary lists are by name. Their difference is context, not an error count;
the report labels them so.
"""

from __future__ import annotations

import re

import duckdb

from reconcile import db
from reconcile.discrepancies import ReportSettings
from reconcile.tables import PROGRAMS, Table

LEVELS = "(VALUES ('kabupaten', 5), ('kecamatan', 8)) AS levels(level, width)"
# Program names become column names: only the known programs, as checked identifiers.
PROGRAM_COLUMNS = {p: f"enrolments_{p.lower().replace('-', '_')}" for p in PROGRAMS}
assert all(re.fullmatch(r"[a-z_][a-z0-9_]*", c) for c in PROGRAM_COLUMNS.values())


DESILS = range(1, 11)
# The program of each count column and the desils, as summary_sql binds them.
db.constants({**{f"program_of_{column}": p for p, column in PROGRAM_COLUMNS.items()},
              **{f"desil_{d}": d for d in DESILS}})


def _program_counts_sql() -> str:
    return ", ".join(f"count(*) FILTER (program = $program_of_{column}) AS {column}"
                     for column in PROGRAM_COLUMNS.values())


def _desil_counts_sql() -> str:
    return ", ".join(f"count(DISTINCT person_id) FILTER (desil = $desil_{d})"
                     f" AS beneficiaries_desil_{d}" for d in DESILS)


def summary_sql(settings: ReportSettings) -> str:
    """Per regency and per district: beneficiaries, matching, desil, coverage, estimates.

    Needs settings.bind (summarise_regions binds it)."""
    return f"""
    CREATE OR REPLACE TABLE {Table.REGION_SUMMARY} AS
    WITH enrolments AS (
        SELECT *, coalesce(kode_wilayah, bps_kode_wilayah) AS wil FROM {Table.RECONCILED}
    ), beneficiaries AS (
        SELECT level, left(wil, width) AS kode_wilayah,
               count(DISTINCT person_id) AS beneficiaries, count(*) AS enrolments,
               {_program_counts_sql()},
               avg((id_individu IS NOT NULL)::INT) AS share_matched,
               {_desil_counts_sql()},
               count(DISTINCT person_id) FILTER (desil IS NULL) AS beneficiaries_desil_unknown,
               avg(coalesce(desil > {settings.cutoff_sql()}, false)::INT) AS inclusion_error_share
        FROM enrolments, {LEVELS} WHERE wil IS NOT NULL GROUP BY ALL
    ), families AS (
        SELECT id_keluarga, any_value(kode_wilayah ORDER BY rid) AS wil, min(desil) AS desil
        FROM {Table.CLEAN_BPS} WHERE id_keluarga IS NOT NULL GROUP BY id_keluarga
    ), enrolled AS (
        SELECT DISTINCT id_keluarga FROM {Table.RECONCILED} WHERE id_keluarga IS NOT NULL
    ), poorest AS (
        SELECT level, left(f.wil, width) AS kode_wilayah,
               count(*) AS register_desil1_families,
               count(e.id_keluarga) AS desil1_families_enrolled
        FROM families f LEFT JOIN enrolled e USING (id_keluarga), {LEVELS}
        WHERE f.desil <= getvariable('exclusion_desil') AND f.wil IS NOT NULL GROUP BY ALL
    ), estimates AS (
        SELECT 'kabupaten' AS level, kode_wilayah, sum(penduduk_miskin) AS bps_penduduk_miskin,
               sum(jumlah_penduduk * persen_miskin_ekstrem / 100) AS bps_miskin_ekstrem
        FROM {Table.CLEAN_STATS} GROUP BY ALL
    )
    SELECT level, kode_wilayah, r.nama AS nama_wilayah,
           coalesce(beneficiaries, 0) AS beneficiaries, coalesce(enrolments, 0) AS enrolments,
           * EXCLUDE (level, kode_wilayah, beneficiaries, enrolments, register_desil1_families,
                      desil1_families_enrolled, bps_penduduk_miskin, bps_miskin_ekstrem,
                      kode, nama),
           bps_penduduk_miskin, bps_miskin_ekstrem,
           coalesce(register_desil1_families, 0) AS register_desil1_families,
           coalesce(desil1_families_enrolled, 0) AS desil1_families_enrolled,
           desil1_families_enrolled / nullif(register_desil1_families, 0) AS desil1_coverage,
           coalesce(register_desil1_families, 0) - coalesce(desil1_families_enrolled, 0)
               AS desil1_families_unserved
    FROM beneficiaries FULL JOIN poorest USING (level, kode_wilayah)
    LEFT JOIN estimates USING (level, kode_wilayah)
    LEFT JOIN (SELECT kode, nama FROM {Table.REF_REGIONS}) r
           ON r.kode = kode_wilayah
    ORDER BY level, kode_wilayah
    """


def summarise_regions(con: duckdb.DuckDBPyConnection, settings: ReportSettings) -> None:
    """Write the region_summary table."""
    settings.bind(con)
    db.run(con, summary_sql(settings))
