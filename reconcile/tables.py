"""Names of the pipeline's tables and of their columns.

Every stage reads the previous stage's table from the run's DuckDB work database
and writes its own. Use these constants, not string literals, so a rename is one edit.

Contracts (all identifiers are text; see README "Data dictionary"):

raw_kemensos   source_file, source_row, id_penerima, nik, no_kk, nama, tgl_lahir,
               jenis_kelamin, alamat, kode_wilayah, program          (VARCHAR, as read)
raw_bps        source_file, source_row, id_individu, id_keluarga, nik, no_kk, nama,
               tgl_lahir, jenis_kelamin, alamat, kode_wilayah, hubungan_keluarga, desil
raw_stats      kode_wilayah, tahun, jumlah_penduduk, penduduk_miskin, persen_miskin,
               persen_miskin_ekstrem
clean_kemensos rid BIGINT (row key in file/row order; gaps where rows were quarantined),
               the raw columns cleaned:
               nik (16 digits or NULL), nik_raw, nik_status, no_kk, nama, tgl_lahir DATE,
               jenis_kelamin 'L'|'P'|NULL, alamat, kode_wilayah ('PP.KK.CC.DDDD' or NULL),
               kode_wilayah_raw, program, plus source_file, source_row, id_penerima
clean_bps      rid, id_individu, id_keluarga, the same person columns, hubungan_keluarga,
               desil INTEGER
quarantine     source, source_file, source_row, reason_code, reason, column_name, raw_values
kemensos_persons  rid -> person_id                     (dedupe of Kemensos rows)
links          person_id, id_individu, match_probability, match_type, no_match_reason
reconciled     one row per clean Kemensos row with person_id, id_individu,
               match_probability, match_type, desil, id_keluarga
"""

from __future__ import annotations

from enum import StrEnum


class Table(StrEnum):
    """Tables of the work database, in pipeline order."""

    RAW_KEMENSOS = "raw_kemensos"
    RAW_BPS = "raw_bps"
    RAW_STATS = "raw_stats"
    REF_REGIONS = "ref_regions"             # Kemendagri codes and names (reference data)
    INGEST_NOTES = "raw_ingest_notes"  # what reading found, per file, for report.xlsx
    CLEAN_KEMENSOS = "clean_kemensos"
    CLEAN_BPS = "clean_bps"
    CLEAN_STATS = "clean_stats"
    QUARANTINE = "quarantine"
    STD_KEMENSOS = "std_kemensos"
    STD_BPS = "std_bps"
    PAIRS_BLOCKED = "pairs_blocked"
    PAIRS_SCORED = "pairs_scored"
    KEMENSOS_PERSONS = "kemensos_persons"
    LINKS = "links"
    RECONCILED = "reconciled"
    DISCREPANCIES = "discrepancies"
    REVIEW_DECISIONS = "review_decisions"   # officers' valid decisions, as row pairs
    MATCH_EVIDENCE = "match_evidence"       # each row's best candidate and its levels
    DEDUPE_EVIDENCE = "dedupe_evidence"     # row pairs kept apart though alike
    REVIEW_QUEUE = "review_queue"
    REGION_SUMMARY = "region_summary"
    CHANGES = "changes"                     # what changed since the published run


KEMENSOS_COLUMNS = (
    "id_penerima", "nik", "no_kk", "nama", "tgl_lahir", "jenis_kelamin",
    "alamat", "kode_wilayah", "program",
)
BPS_COLUMNS = (
    "id_individu", "id_keluarga", "nik", "no_kk", "nama", "tgl_lahir", "jenis_kelamin",
    "alamat", "kode_wilayah", "hubungan_keluarga", "desil",
)
STATS_COLUMNS = (
    "kode_wilayah", "tahun", "jumlah_penduduk", "penduduk_miskin", "persen_miskin",
    "persen_miskin_ekstrem",
)
PROVENANCE_COLUMNS = ("source_file", "source_row")

PROGRAMS = ("PKH", "BPNT", "PBI-JK", "BLT")
