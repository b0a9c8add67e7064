"""Comparison keys of persons: std_kemensos and std_bps from the clean tables.

Both sides get the same columns so that every later step can treat a pair of rows
symmetrically, whichever sources they came from.
"""

from __future__ import annotations

from reconcile import db
from reconcile.standardise import address, names
from reconcile.tables import Table

NAME_TF = "match_name_tf"

# Visible signs of careless entry, counted per record (0, 1, 2 = two or more): no usable
# NIK or one whose date part contradicts the birth date, no KK, no or a placeholder
# birth date, no village, no RT, a name with an initial. They come together on badly
# entered records, whose other fields are then often wrong too (score.QUALITIES).
QUALITY_SQL = """least(2, (NOT coalesce(nik_ok AND nik_own, false))::INT
    + (no_kk IS NULL)::INT + coalesce(dob_placeholder, true)::INT + (village IS NULL)::INT
    + (rt IS NULL)::INT
    + coalesce(list_bool_or(list_transform(name_tokens, lambda t: length(t) = 1)), false)::INT
    )::UTINYINT"""

# Day-month pairs that clerks type when the real birth date is unknown (domain.md §4).
PLACEHOLDER_DAYS = ("01-01", "01-07", "31-12")
db.constants({"placeholder_days": list(PLACEHOLDER_DAYS)})


def std_sql(source: Table, id_column: str, family_column: str) -> str:
    """The query of one side's comparison keys."""
    return f"""
    WITH names AS (  -- names repeat a lot; run the regex chain once per distinct name
        SELECT nama, name_key(nama) AS name_key, name_parent(nama) AS name_parent
        FROM (SELECT DISTINCT nama FROM {source})
    ), addresses AS (  -- so do addresses (a household's, a village's): parsed once each
        SELECT alamat, addr_rt(alamat) AS rt, addr_rw(alamat) AS rw,
               addr_dusun(alamat) AS dusun, addr_street(alamat) AS street
        FROM (SELECT DISTINCT alamat FROM {source})
    ), base AS (
        SELECT rid, {id_column} AS src_id, {family_column} AS family_id,
               n.name_key, n.name_parent,
               CASE WHEN regexp_full_match(nik, '[0-9]{{16}}')
                     AND length(replace(nik, left(nik, 1), '')) > 0 THEN nik END AS nik,
               coalesce(nik_status = 'valid', false) AS nik_ok,
               CASE WHEN regexp_full_match(no_kk, '[0-9]{{16}}') THEN no_kk END AS no_kk,
               tgl_lahir AS dob, jenis_kelamin AS sex,
               kode_wilayah AS village, a.rt, a.rw, a.dusun, a.street
        FROM {source} s LEFT JOIN names n ON n.nama IS NOT DISTINCT FROM s.nama
        LEFT JOIN addresses a ON a.alamat IS NOT DISTINCT FROM s.alamat
    ), keys AS (
    SELECT rid, src_id, family_id,
           name_key, name_sorted(name_key) AS name_sorted, name_parent,
           list_distinct(string_split(nullif(name_key, ''), ' ')) AS name_tokens,
           string_split(name_key, ' ')[1] AS name_first,
           nik, nik_ok,
           -- the NIK's birth-date part agrees with the row's own birth date (women add 40
           -- to the day), so the NIK is the person's own and not a relative's typed into
           -- the field; an unknown birth date cannot say otherwise
           coalesce(substr(nik, 9, 4) = strftime(dob, '%m%y')
                    AND try_cast(substr(nik, 7, 2) AS INTEGER) IN (day(dob), day(dob) + 40),
                    dob IS NULL) AS nik_own,
           left(nik, 6) AS nik_region, substr(nik, 7, 6) AS nik_date,
           -- the NIK's birth date as DDMMYY with the women's +40 removed
           lpad((try_cast(substr(nik, 7, 2) AS INTEGER) % 40)::VARCHAR, 2, '0')
               || substr(nik, 9, 4) AS nik_dmy,
           strftime(dob, '%d%m%y') AS dob_dmy,
           right(nik, 4) AS nik_serial, no_kk,
           dob, list_contains($placeholder_days, strftime(dob, '%d-%m')) AS dob_placeholder,
           year(dob) * 10000 + least(day(dob), month(dob)) * 100
               + greatest(day(dob), month(dob)) AS dob_key,
           sex, village, left(village, 8) AS kec, left(village, 5) AS kab,
           rt, rw, dusun, street
    FROM base
    )
    SELECT *, {QUALITY_SQL} AS quality FROM keys
    """


def name_tf_sql() -> str:
    """Relative frequency of each name key over both sources (term-frequency table)."""
    return f"""
    WITH keys AS (
        SELECT name_key FROM {Table.STD_BPS} UNION ALL SELECT name_key FROM {Table.STD_KEMENSOS}
    )
    SELECT name_key, count(*) / (SELECT count(*) FROM keys) AS tf
    FROM keys WHERE name_key <> '' GROUP BY name_key
    """


def standardise(con, temp: bool = False) -> None:
    """Write std_kemensos, std_bps and the name frequency table."""
    names.install(con)
    address.install(con)
    db.materialise(con, Table.STD_KEMENSOS, std_sql(Table.CLEAN_KEMENSOS, "id_penerima", "NULL"),
                   temp=temp)
    db.materialise(con, Table.STD_BPS, std_sql(Table.CLEAN_BPS, "id_individu", "id_keluarga"),
                   temp=temp)
    db.materialise(con, NAME_TF, name_tf_sql(), temp=temp)
