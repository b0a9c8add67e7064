"""Validate: clean every value, flag every problem, quarantine only unusable rows.

A bad NIK is a finding, not a reason to drop a row: the person can still be matched by
name, birth date and place (domain.md §0). A row goes to quarantine only when nothing
in it can identify anyone, or when it did not parse; it keeps its file, row and reason.
All of it is set-based SQL over the raw tables.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from reconcile import db, reference
from reconcile.errors import InputError
from reconcile.ingest import REJECTS
from reconcile.privacy import mask_sql
from reconcile.tables import Table

USABLE_NIK = ("valid", "temporary", "bad_region", "bad_date")
db.constants({"usable_nik": list(USABLE_NIK)})
REGIONS = Table.REF_REGIONS
CROSSWALK = "ref_bps_kecamatan"

MACROS = {
    # NIK / KK as typed: apostrophes, spaces, dots and dashes are formatting, not digits.
    "id_digits": "s -> nullif(regexp_replace(trim(s), '^''|[\\s.\\-]', '', 'g'), '')",
    # The birth date a NIK encodes, for a century; women have 40 added to the day.
    "nik_birth": """(nik, century) -> try_strptime(
        (try_cast(substr(nik, 7, 2) AS INT) % 40)::VARCHAR || '-' || substr(nik, 9, 2) || '-'
        || century::VARCHAR || substr(nik, 11, 2), '%d-%m-%Y')::DATE""",
    "nik_status": r"""(raw, nik, kk, numeric_cell, born19, born20) -> CASE
        WHEN raw IS NULL OR trim(raw) IN ('', '-', '0') THEN 'blank'
        WHEN length(replace(nik, left(nik, 1), '')) = 0
             OR nik IN ('1234567890123456', '0123456789012345') THEN 'placeholder'
        WHEN regexp_matches(upper(raw), '[0-9]E\+?[0-9]') OR (numeric_cell AND length(nik) >= 16)
             OR (regexp_full_match(nik, '[0-9]{16}') AND right(nik, 4) = '0000')
             THEN 'excel_damaged'
        WHEN NOT regexp_full_match(nik, '[0-9]{16}') THEN 'bad_length'
        WHEN nik = kk THEN 'is_kk'
        WHEN left(nik, 1) = '0' THEN 'temporary'
        WHEN born19 IS NULL AND born20 IS NULL THEN 'bad_date'
        WHEN left(nik, 2) || '.' || substr(nik, 3, 2) NOT IN (SELECT kode FROM ref_regions)
             THEN 'bad_region'
        ELSE 'valid' END""",
    # Dates as exported: ISO, DD-MM-YYYY, DD/MM/YYYY, with a 0:00:00 tail, Excel serials.
    "parse_date": r"""s -> CASE
        WHEN regexp_full_match(trim(s), '[0-9]{5}(\.0+)?')
             THEN DATE '1899-12-30' + CAST(CAST(trim(s) AS DOUBLE) AS INTEGER)
        ELSE try_strptime(regexp_replace(trim(s), '[ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2})?(\.[0-9]+)?$', ''),
             ['%Y-%m-%d', '%d-%m-%Y', '%d/%m/%Y', '%Y/%m/%d', '%d.%m.%Y'])::DATE END""",
    "parse_sex": """s -> CASE
        WHEN upper(trim(s)) IN ('L', 'LK', 'LAKI-LAKI', 'LAKI LAKI', 'LAKI', '1', 'M', 'MALE', 'PRIA')
             THEN 'L'
        WHEN upper(trim(s)) IN ('P', 'PR', 'PEREMPUAN', 'WANITA', '2', 'F', 'FEMALE', 'W')
             THEN 'P' END""",
    "parse_program": """s -> CASE regexp_replace(upper(s), '[^A-Z]', '', 'g')
        WHEN 'PKH' THEN 'PKH' WHEN 'BPNT' THEN 'BPNT' WHEN 'SEMBAKO' THEN 'BPNT'
        WHEN 'PBIJK' THEN 'PBI-JK' WHEN 'PBI' THEN 'PBI-JK' WHEN 'BLT' THEN 'BLT'
        WHEN 'BLTDD' THEN 'BLT' ELSE nullif(upper(trim(s)), '') END""",
    "undotted_code": r"""x -> CASE length(x) WHEN 2 THEN x WHEN 4 THEN x[1:2] || '.' || x[3:4]
        WHEN 6 THEN x[1:2] || '.' || x[3:4] || '.' || x[5:6]
        WHEN 10 THEN x[1:2] || '.' || x[3:4] || '.' || x[5:6] || '.' || x[7:10] END""",
    # Region codes dotted or not, with lost zeros ('17.1.1.2003'); widths 2.2.2.4.
    "region_code": r"""s -> CASE WHEN contains(s, '.') THEN array_to_string(list_transform(
            string_split(regexp_replace(s, '[^0-9.]', '', 'g'), '.')[1:4],
            lambda x, i: lpad(x, [2, 2, 2, 4][i], '0')), '.')
        ELSE undotted_code(regexp_replace(s, '[^0-9]', '', 'g')) END""",
}


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Reference tables and the cleaning macros."""
    regions = reference.load_regions()[["kode", "level", "nama"]]
    db.put(con, REGIONS, regions)
    crosswalk = reference.load_bps_crosswalk("kecamatan")[["kode_bps", "kode_dagri_dotted"]]
    db.put(con, CROSSWALK, crosswalk)
    for name, body in MACROS.items():  # in order: a macro may use the ones above it
        db.run(con, f"CREATE OR REPLACE MACRO {name}{_macro_sql(body)}")


def _macro_sql(body: str) -> str:
    """'(a, b) -> expr' as DuckDB's '(a, b) AS (expr)'."""
    args, _, expr = (part.strip() for part in body.partition("->"))
    parameters = args if args.startswith("(") else f"({args})"
    return f"{parameters} AS ({expr})"


def person_sql(source: Table) -> str:
    """Cleaned person columns shared by both sources, as a SELECT list over raw `r`."""
    return """
        r.rid, r.source_file, r.source_row,
        r.nik_digits, r.nik AS nik_raw, r.born19, r.born20,
        nik_status(r.nik, r.nik_digits, r.kk_digits,
                   coalesce(contains(r.numeric_id_cells, 'nik'), false), r.born19, r.born20)
            AS nik_status,
        CASE WHEN regexp_full_match(r.kk_digits, '[0-9]{16}')
                  AND NOT coalesce(contains(r.numeric_id_cells, 'no_kk'), false)
             THEN r.kk_digits END AS no_kk,  -- a KK Excel held as a number lost digits
        nullif(regexp_replace(trim(r.nama), '\\s+', ' ', 'g'), '') AS nama,
        d.parsed AS tgl_lahir, r.tgl_lahir AS tgl_lahir_raw,
        parse_sex(r.jenis_kelamin) AS jenis_kelamin,
        nullif(trim(r.alamat), '') AS alamat,
        g.kode_region, g.kode_wilayah, r.kode_wilayah AS kode_wilayah_raw"""


def clean_sql(source: Table, target: Table, extra: str) -> str:
    """Create a clean table from a raw one: typed values, statuses and conflict flags."""
    return f"""
    CREATE OR REPLACE TABLE {target} AS
    WITH dates AS (  -- dates and region codes repeat: parse each distinct value once
        SELECT raw, parse_date(raw) AS parsed FROM (SELECT DISTINCT tgl_lahir AS raw FROM {source})
    ), codes AS (
        SELECT raw, region_code(raw) AS kode_region FROM (
            SELECT DISTINCT kode_wilayah AS raw FROM {source})
    ), regions AS (
        SELECT raw, kode_region, CASE
            WHEN kode_region IS NULL THEN NULL
            WHEN kode_region IN (SELECT kode FROM {REGIONS}) THEN kode_region
            WHEN length(kode_region) = 13 THEN (SELECT kode_dagri_dotted FROM {CROSSWALK}
                WHERE kode_bps = left(replace(kode_region, '.', ''), 7)) END AS kode_wilayah
        FROM codes
    ), ids AS (   -- each identifier cleaned once per row, its encoded birth date once
        SELECT *, id_digits(nik) AS nik_digits, id_digits(no_kk) AS kk_digits FROM {source}
    ), births AS (
        SELECT *, CASE WHEN regexp_full_match(nik_digits, '[0-9]{{16}}')
                       THEN nik_birth(nik_digits, 19) END AS born19,
                  CASE WHEN regexp_full_match(nik_digits, '[0-9]{{16}}')
                       THEN nik_birth(nik_digits, 20) END AS born20
        FROM ids
    ), placed AS (
        SELECT {person_sql(source)}, {extra} FROM births r
        LEFT JOIN dates d ON d.raw IS NOT DISTINCT FROM r.tgl_lahir
        LEFT JOIN regions g ON g.raw IS NOT DISTINCT FROM r.kode_wilayah
    )
    SELECT * EXCLUDE (
               nik_digits, kode_region, born19, born20),
           CASE WHEN regexp_full_match(nik_digits, '[0-9]{{16}}') THEN nik_digits END AS nik,
           CASE WHEN kode_wilayah_raw IS NULL OR trim(kode_wilayah_raw) = '' THEN 'blank'
                WHEN kode_wilayah = kode_region THEN 'valid'
                WHEN kode_wilayah IS NOT NULL THEN 'bps_crosswalk'
                ELSE 'unknown' END AS kode_wilayah_status,
           CASE WHEN tgl_lahir_raw IS NULL OR trim(tgl_lahir_raw) IN ('', '-') THEN 'blank'
                WHEN tgl_lahir IS NULL THEN 'invalid'
                WHEN tgl_lahir > current_date OR year(tgl_lahir) < 1900 THEN 'impossible'
                ELSE 'valid' END AS tgl_lahir_status,
           coalesce(nik_status = 'valid' AND tgl_lahir IS NOT NULL
               AND tgl_lahir IS DISTINCT FROM born19
               AND tgl_lahir IS DISTINCT FROM born20, false)
               AS nik_dob_conflict,
           coalesce(nik_status = 'valid' AND jenis_kelamin IS NOT NULL
               AND jenis_kelamin <> CASE WHEN try_cast(substr(nik_digits, 7, 2) AS INT) > 40
                                         THEN 'P' ELSE 'L' END, false) AS nik_sex_conflict
    FROM placed ORDER BY rid
    """


KEMENSOS_EXTRA = """coalesce(nullif(trim(r.id_penerima), ''),
                             r.source_file || ':' || r.source_row) AS id_penerima,
                    parse_program(r.program) AS program"""
BPS_EXTRA = """nullif(trim(r.id_individu), '') AS id_individu,
               nullif(trim(r.id_keluarga), '') AS id_keluarga,
               upper(trim(r.hubungan_keluarga)) AS hubungan_keluarga,
               CASE WHEN try_cast(trim(r.desil) AS INTEGER) BETWEEN 1 AND 10
                    THEN try_cast(trim(r.desil) AS INTEGER) END AS desil,
               r.desil AS desil_raw"""


def validate_inputs(con: duckdb.DuckDBPyConnection) -> dict:
    """Write clean_kemensos, clean_bps, clean_stats and quarantine; return counts by status."""
    install(con)
    check_stats(con)
    db.run(con, clean_sql(Table.RAW_KEMENSOS, Table.CLEAN_KEMENSOS, KEMENSOS_EXTRA))
    db.run(con, clean_sql(Table.RAW_BPS, Table.CLEAN_BPS, BPS_EXTRA))
    _clean_stats(con)
    _quarantine(con)
    check_register(con)
    refuse_if_nothing_usable(con)
    from schemas.clean import check_clean  # pandera, lazily: every failure as data

    check_clean(con)
    return _status_counts(con)


def _clean_stats(con: duckdb.DuckDBPyConnection) -> None:
    db.run(con, f"""
    CREATE OR REPLACE TABLE {Table.CLEAN_STATS} AS
    SELECT source_file, source_row, region_code(kode_wilayah) AS kode_wilayah,
           try_cast(tahun AS INTEGER) AS tahun,
           try_cast(replace(jumlah_penduduk, ',', '') AS DOUBLE) AS jumlah_penduduk,
           try_cast(replace(penduduk_miskin, ',', '') AS DOUBLE) AS penduduk_miskin,
           try_cast(replace(persen_miskin, ',', '.') AS DOUBLE) AS persen_miskin,
           try_cast(replace(persen_miskin_ekstrem, ',', '.') AS DOUBLE) AS persen_miskin_ekstrem
    FROM {Table.RAW_STATS}""")


QUARANTINE_RULES = (
    # table, source, condition, reason_code, reason, column
    (Table.CLEAN_KEMENSOS, "kemensos",
     "nama IS NULL AND NOT list_contains($usable_nik, nik_status)", "no_identity",
     "no name and no usable NIK: nothing identifies the beneficiary", "nama"),
    (Table.CLEAN_BPS, "bps", "id_individu IS NULL", "no_record_id",
     "the register row has no id_individu", "id_individu"),
    (Table.CLEAN_BPS, "bps", "nama IS NULL AND NOT list_contains($usable_nik, nik_status)",
     "no_identity", "no name and no usable NIK: nothing identifies the person", "nama"),
    (Table.CLEAN_STATS, "stats", "kode_wilayah IS NULL OR kode_wilayah NOT IN "
     f"(SELECT kode FROM {REGIONS})", "bad_region",
     "the region code is not a Kemendagri regency code", "kode_wilayah"),
)

SHOWN_ROWS = 3
# The statistics file's own checks (raw text as read): a rule broken refuses the file, as
# a count that is not a number, negative or doubled would make every estimate wrong.


def _number_sql(column: str) -> str:
    return f"try_cast(replace(trim({column}), ',', '') AS DOUBLE)"


def _percent_sql(column: str) -> str:
    return f"try_cast(replace(trim({column}), ',', '.') AS DOUBLE)"


STATS_RULES = (
    # column, condition on raw_stats, what is wrong
    ("penduduk_miskin", f"NOT coalesce(isfinite({_number_sql('penduduk_miskin')}), false)",
     "is blank or not a number"),
    ("penduduk_miskin", f"{_number_sql('penduduk_miskin')} < 0", "is negative"),
    ("jumlah_penduduk", f"nullif(trim(jumlah_penduduk), '') IS NOT NULL AND NOT coalesce("
     f"isfinite({_number_sql('jumlah_penduduk')}), false)", "is not a number"),
    ("jumlah_penduduk", f"{_number_sql('jumlah_penduduk')} < 0", "is negative"),
    ("penduduk_miskin", f"{_number_sql('penduduk_miskin')} > "
     f"{_number_sql('jumlah_penduduk')}", "is more than jumlah_penduduk"),
    *((c, f"nullif(trim({c}), '') IS NOT NULL AND NOT coalesce("
          f"{_percent_sql(c)} BETWEEN 0 AND 100, false)", "is not a percentage (0-100)")
      for c in ("persen_miskin", "persen_miskin_ekstrem")),
    ("kode_wilayah", "region_code(kode_wilayah) IN (SELECT region_code(kode_wilayah) "
     f"FROM {Table.RAW_STATS} GROUP BY ALL HAVING count(*) > 1)",
     "repeats (one row per regency: a second would add to the BPS estimate)"),
)


def check_stats(con: duckdb.DuckDBPyConnection) -> None:
    """Refuse a statistics file that breaks its own rules (STATS_RULES), naming the file,
    column and rows of each broken rule; values are not shown."""
    broken = []
    for column, condition, what in STATS_RULES:
        found = db.row(con, f"""
            SELECT any_value(source_file), count(*),
                   list(source_row ORDER BY source_row)[1:$shown]
            FROM {Table.RAW_STATS} WHERE {condition}""", {"shown": SHOWN_ROWS})
        if found[1]:
            broken.append(f"column {column} {what} in {found[1]} row(s), e.g. "
                          f"{', '.join(f'row {r}' for r in found[2])}")
            file = found[0]
    if broken:
        raise InputError(f"{file}: {'; '.join(broken[:3])}; fix the statistics and run again",
                         f"{file}: statistik melanggar aturannya sendiri (rinciannya di "
                         "atas); perbaiki statistiknya lalu jalankan lagi")


def check_register(con: duckdb.DuckDBPyConnection) -> None:
    """A register id given to two rows makes every link to it ambiguous: refused with
    the rows (not the id, which may identify the person)."""
    found = db.row(con, f"""
        SELECT any_value(source_file), count(*), sum(n),
               list(rows ORDER BY rows[1])[1:$shown]
        FROM (SELECT any_value(source_file) AS source_file, count(*) AS n,
                     list(source_row ORDER BY source_row)[1:2] AS rows
              FROM {Table.CLEAN_BPS} GROUP BY id_individu HAVING count(*) > 1)""",
                   {"shown": SHOWN_ROWS})
    if found[1]:
        shown = "; ".join(" and ".join(f"row {r}" for r in rows) for rows in found[3])
        raise InputError(f"{found[0]}: column id_individu repeats: {found[1]} id(s) given to "
                         f"{found[2]} rows (e.g. {shown}); each person of the register "
                         "needs an id of their own", f"{found[0]}: kolom id_individu berulang: "
                         f"{found[1]} id dipakai {found[2]} baris (mis. {shown}); setiap orang "
                         "di register memerlukan id sendiri")


def refuse_if_nothing_usable(con: duckdb.DuckDBPyConnection) -> None:
    """Rows were read but none can be used (every one quarantined): an empty register
    would make every beneficiary 'not in register', so the run stops here."""
    for table, source, what in ((Table.CLEAN_KEMENSOS, "kemensos", "beneficiary"),
                                (Table.CLEAN_BPS, "bps", "register"),
                                (Table.CLEAN_STATS, "stats", "statistics")):
        if db.count(con, table):
            continue
        files, reasons = db.row(con, f"""
            SELECT string_agg(DISTINCT source_file, ', '), string_agg(DISTINCT reason_code, ', ')
            FROM {Table.QUARANTINE} WHERE source = $source""", {"source": source})
        raise InputError(f"{files or source}: no usable {what} row: every row was "
                         f"quarantined ({reasons or 'none read'}); fix the file and run again",
                         f"{files or source}: tidak ada baris yang dapat dipakai: semua baris "
                         f"dikarantina ({reasons or 'tidak ada yang terbaca'}); perbaiki "
                         "berkasnya lalu jalankan lagi")


def _quarantine(con: duckdb.DuckDBPyConnection) -> None:
    """Move unusable rows to quarantine with their reason; each row once (first rule)."""
    db.run(con, f"""CREATE OR REPLACE TABLE {Table.QUARANTINE} AS
        SELECT source, source_file, source_row, reason_code, reason,
               NULL::VARCHAR AS column_name, raw_values FROM {REJECTS}""")
    for table, source, condition, code, reason, column in QUARANTINE_RULES:
        shown = _raw_values_sql(table)
        db.run(con, f"""INSERT INTO {Table.QUARANTINE}
            SELECT $source, source_file, source_row, $code, $reason, $column,
                   {shown} FROM {table} WHERE {condition}""",
               {"source": source, "code": code, "reason": reason, "column": column})
        db.run(con, f"DELETE FROM {table} WHERE {condition}")


def _raw_values_sql(table: Table) -> str:
    """What the officer needs to find and fix the row, without exposing a full NIK."""
    if table == Table.CLEAN_STATS:
        return "concat_ws(' | ', kode_wilayah, tahun, penduduk_miskin)"
    return f"concat_ws(' | ', 'nik=' || {mask_sql('nik_raw')}, 'tgl_lahir=' || tgl_lahir_raw)"


def _status_counts(con: duckdb.DuckDBPyConnection) -> dict:
    counts: pd.DataFrame = db.df(con, f"""
        SELECT 'kemensos' AS source, nik_status, count(*) AS n FROM {Table.CLEAN_KEMENSOS}
        GROUP BY ALL UNION ALL
        SELECT 'bps', nik_status, count(*) FROM {Table.CLEAN_BPS} GROUP BY ALL
        ORDER BY ALL""")
    return {source: dict(zip(group["nik_status"], group["n"].astype(int), strict=True))
            for source, group in counts.groupby("source")}
