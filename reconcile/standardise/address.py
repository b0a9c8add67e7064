"""Address parts (RT, RW, dusun, street) as DuckDB SQL macros.

Addresses are anchored on the village code plus RT/RW (domain.md §6.5); the free text
is weak evidence. RT/RW appear as "RT 3", "RT.003", "RT/RW 003/005" or "003/005", so
they are parsed as integers; "-" means unknown.
"""

from __future__ import annotations

from reconcile import db

MACROS = {
    "addr_upper": "upper(coalesce(x, ''))",
    # "RT 03 / RW 005", "RT.3 RW.5", "RT/RW 003/005" and a bare "003/005" all give (3, 5).
    "addr_rt": (
        "coalesce(try_cast(nullif(regexp_extract(addr_upper(x), '\\bRT\\.?\\s*:?\\s*0*(\\d+)', 1),"
        " '') AS INTEGER), try_cast(nullif(regexp_extract(addr_upper(x),"
        " '(\\d{1,3})\\s*/\\s*\\d{1,3}', 1), '') AS INTEGER))"
    ),
    # "RT/RW 021/003" first: there "RW 021" is the RT.
    "addr_rw": (
        "coalesce(try_cast(nullif(regexp_extract(addr_upper(x),"
        " '\\bRT\\s*/\\s*RW\\.?\\s*:?\\s*\\d{1,3}\\s*/\\s*0*(\\d{1,3})', 1), '') AS INTEGER),"
        " try_cast(nullif(regexp_extract(addr_upper(x), '\\bRW\\.?\\s*:?\\s*0*(\\d+)', 1),"
        " '') AS INTEGER), try_cast(nullif(regexp_extract(addr_upper(x),"
        " '\\d{1,3}\\s*/\\s*(\\d{1,3})', 1), '') AS INTEGER))"
    ),
    # Hamlet names: DUSUN / DSN. / KAMPUNG / KP. / LINGKUNGAN / LINGK. / JORONG / BANJAR.
    "addr_dusun": (
        "nullif(trim(regexp_extract(addr_upper(x),"
        " '\\b(DUSUN|DSN|KAMPUNG|KP|LINGKUNGAN|LINGK|LK|JORONG|BANJAR)\\.?\\s+([A-Z][A-Z ]*?)"
        "\\s*(,|\\d|\\bRT\\b|\\bRW\\b|\\bDESA\\b|\\bKEL|$)', 2)), '')"
    ),
    # Street with its prefix unified (JL./JLN./JALAN -> JL, GG./GANG -> GG), no numbers.
    "addr_street": (
        "nullif(trim(regexp_replace(regexp_replace(regexp_extract(addr_upper(x),"
        " '\\b(JL|JLN|JALAN|GG|GANG)\\b\\.?\\s*([A-Z][A-Z .]*?)\\s*(,|\\d|\\bNO\\b|\\bNOMOR\\b|\\bRT\\b|$)', 2), '[^A-Z]+', ' ', 'g'),"
        " '\\s+', ' ', 'g')), '')"
    ),
}


def macros_sql() -> list[str]:
    """CREATE MACRO statements for the address functions."""
    return [f"CREATE OR REPLACE MACRO {name}(x) AS {body}" for name, body in MACROS.items()]


def install(con) -> None:
    """Define the address macros on a connection."""
    for sql in macros_sql():
        db.run(con, sql)


def parse_address(alamat: str | None) -> tuple:
    """(rt, rw, dusun, street) of one address (for tests; the pipeline uses SQL).

    Examples:
        >>> parse_address("Dusun Sukamaju RT 003/RW 005, Desa Tanjung")
        (3, 5, 'SUKAMAJU', None)
        >>> parse_address("JL. MERDEKA NO. 12 RT.01 RW.02")
        (1, 2, None, 'MERDEKA')
        >>> parse_address("DSN. KRAJAN 004/011")
        (4, 11, 'KRAJAN', None)
        >>> parse_address("JLN CEMPAKA NOMOR 46 RT/RW 021/003")
        (21, 3, None, 'CEMPAKA')
        >>> parse_address("-")
        (None, None, None, None)
    """
    con = db.connect()
    try:
        install(con)
        sql = "SELECT [addr_rt($a)::VARCHAR, addr_rw($a)::VARCHAR, addr_dusun($a), addr_street($a)]"
        rt, rw, dusun, street = db.scalar(con, sql, {"a": alamat})
        return (rt and int(rt), rw and int(rw), dusun, street)
    finally:
        con.close()
