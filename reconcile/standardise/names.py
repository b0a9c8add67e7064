"""Comparison keys for Indonesian personal names, as DuckDB SQL macros.

The key is for comparing only, never for output: titles and degrees go, old (Van
Ophuijsen / Soewandi) spelling is mapped to EYD, the many spellings of MUHAMMAD become
one, and a BIN/BINTI patronym or a BR./BORU marker is dropped (domain.md §6). All of it
is set-based regex work in DuckDB (RE2), because a Python function per name is ~50x
slower at a million rows.
"""

from __future__ import annotations

from reconcile import db

# Front titles: religious (H., HJ.), academic (DRS., IR., PROF.) and forms of address
# that leak into name fields (BPK., IBU, NY.).
_FRONT_TITLES = (
    "H|HJ|HJH|HAJI|HAJAH|HAJJAH|DRS|DRA|DR|IR|PROF|KH|NY|NYONYA|TN|TUAN|SDR|SDRI|BPK|"
    "BAPAK|PAK|IBU|BU|ALM|ALMH|ALMARHUM|ALMARHUMAH|UST|USTAD|USTADZ|USTADZAH"
)
# Back degrees written with dots (S.PD., A.MD., M.SI.); the trailing dot or the end of the
# name is required so that "M. ALI" (Muhammad Ali) survives.
_DOTTED_DEGREES = (
    r"\b[SMAD]\.\s?(PD|PDI|E|H|HI|KOM|SOS|AG|T|IP|KM|KEP|P|SI|S|M|MD|MA|KES|HUM|FARM|AK|"
    r"IKOM|TP|PT|SY|KED|GZ|TR|STAT|AP)\b(\.\s?(I|SD|PD|KEP|AK))?(\.|\s*$)"
)
# The same degrees written without dots, only at the end of the name.
_BARE_DEGREES = (
    r"(\s+(SPD|SPDI|SE|SH|SHI|SKOM|SSOS|SAG|SIP|SKM|SKEP|SSI|SS|ST|SP|SFARM|AMD|AMA|AMK|MM|"
    r"MPD|MSI|MKES|MH|MAG|MKOM|BSC|MBA))+$"
)
# Old spellings and abbreviations of Muhammad (after OE->U and CH->H have been applied).
_MUHAMMAD = (
    r"\b(MUHAMMAD|MUHAMAD|MUHAMMED|MUHAMED|MOHAMMAD|MOHAMAD|MOHAMMED|MOHAMED|MOHAMMAT|"
    r"MUHAMMAT|MOHAMAT|MOHAMMAD|MUHAMMAD|MUH|MUHD|MOH|MOHD|MHD|MHMMD|MOHA|MAMAD|MOHHAMAD)\b"
)

MACROS = {
    # Upper case, apostrophes dropped inside words (MA'RUF -> MARUF), degrees after a
    # comma dropped, dotted degrees dropped, front titles dropped (repeatable: "HJ. DRA.").
    "name_strip": (
        "regexp_replace(regexp_replace(regexp_replace(regexp_replace("
        "upper(coalesce(x, '')), '[''`\u2019]', '', 'g'), ',.*$', ''), "
        f"'{_DOTTED_DEGREES}', ' ', 'g'), '^\\s*(({_FRONT_TITLES})(\\.\\s*|\\s+))+', '')"
    ),
    # Letters and single spaces only; bare degrees at the end dropped.
    "name_clean": (
        "trim(regexp_replace(regexp_replace(regexp_replace(name_strip(x), '[^A-Z]+', ' ', 'g'),"
        f" '{_BARE_DEGREES}', ''), '\\s+', ' ', 'g'))"
    ),
    # Old spelling to EYD: OE->U, DJ->J, TJ->C, NJ->NY, SJ->SY; CH and KH both -> H so that
    # ACHMAD, AKHMAD and AHMAD meet. J->Y only after a consonant (HARJONO -> HARYONO), where
    # EYD has no J sound; a leading J (JANTI / YANTI) stays, since both are EYD names.
    "name_eyd": (
        "regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace("
        "regexp_replace(regexp_replace(regexp_replace(name_clean(x), 'OE', 'U', 'g'),"
        " 'DJ', 'J', 'g'), 'TJ', 'C', 'g'), 'NJ', 'NY', 'g'), 'SJ', 'SY', 'g'),"
        " '([BCDFGHKLMPRSTVWZ])J', '\\1Y', 'g'), '[CK]H', 'H', 'g'), 'OO', 'U', 'g')"
    ),
    # MUHAMMAD unified; ABD -> ABDUL, ST -> SITI. A lone M. stays an initial: it is as
    # often MARIA, MULYONO or MAGDALENA, and the comparison takes initials as such;
    # a BIN/BINTI patronym and the BR./BORU marker before a Batak marga dropped.
    "name_key": (
        "trim(regexp_replace(regexp_replace(regexp_replace(regexp_replace("
        f"regexp_replace(name_eyd(x), '{_MUHAMMAD}', 'MUHAMMAD', 'g'),"
        " '^ST ', 'SITI '), '\\bABD\\b', 'ABDUL', 'g'),"
        " '(\\S)\\s+(BIN|BINTI|BT|BTE)\\s.*$', '\\1'), '\\s(BR|BORU)\\s', ' ', 'g'))"
    ),
    # Tokens sorted alphabetically, so word order does not matter.
    "name_sorted": "array_to_string(list_sort(string_split(x, ' ')), ' ')",
    # The patronym after BIN/BINTI, kept as weak extra evidence.
    "name_parent": (
        "nullif(regexp_extract(name_eyd(x), '\\s(BIN|BINTI|BT|BTE)\\s+(.*)$', 2), '')"
    ),
}


# Over token lists: every word of `a` is a word of `b` or the initial of one, and at least
# one whole word is shared (SITI M / SITI MARYAM, J SAPUTRA / JAJANG SAPUTRA).
PAIR_MACROS = {
    "name_abbreviation_of": (
        "len(a) > 0 AND list_bool_and(list_transform(a, lambda t: list_contains(b, t)"
        " OR (length(t) = 1 AND list_contains(list_transform(b, lambda w: left(w, 1)), t))))"
        " AND list_bool_or(list_transform(a, lambda t: length(t) > 1 AND list_contains(b, t)))"
    ),
    "name_abbreviates": (
        "coalesce(name_abbreviation_of(a, b) OR name_abbreviation_of(b, a), false)"
    ),
}


def macros_sql() -> list[str]:
    """CREATE MACRO statements for every name function (order matters: later use earlier)."""
    return ([f"CREATE OR REPLACE MACRO {name}(x) AS {body}" for name, body in MACROS.items()]
            + [f"CREATE OR REPLACE MACRO {name}(a, b) AS {body}"
               for name, body in PAIR_MACROS.items()])


def install(con) -> None:
    """Define the name macros on a connection."""
    for sql in macros_sql():
        db.run(con, sql)


def name_key(name: str | None) -> str:
    """The comparison key of one name (for tests and explanations; the pipeline uses SQL).

    Examples:
        >>> name_key("Hj. Siti Aminah, S.Pd.")
        'SITI AMINAH'
        >>> name_key("Soekarno")
        'SUKARNO'
        >>> name_key("MOCH. DJOKO TJAHJONO")
        'MUHAMMAD JOKO CAHYONO'
        >>> name_key("M. Ali bin Abdullah")
        'M ALI'
        >>> name_key("Ruth Br. Sinaga")
        'RUTH SINAGA'
        >>> name_key("DRS. H. ACHMAD MA'RUF SE")
        'AHMAD MARUF'
        >>> name_key(None)
        ''
    """
    con = db.connect()
    try:
        install(con)
        return db.scalar(con, "SELECT name_key($n)", {"n": name})
    finally:
        con.close()


def abbreviates(a: str, b: str) -> bool:
    """Whether one name is the other with words left out or cut to their initial.

    Examples:
        >>> abbreviates("SITI M", "SITI MARYAM"), abbreviates("J. Saputra", "Jajang Saputra")
        (True, True)
        >>> abbreviates("ROSMIATI", "SITI ROSMIATI"), abbreviates("A B", "ANI BUDI")
        (True, False)
        >>> abbreviates("SITI M", "SITI AMINAH")
        False
    """
    con = db.connect()
    try:
        install(con)
        return bool(db.scalar(con, "SELECT name_abbreviates(string_split(name_key($a), ' '),"
                                   " string_split(name_key($b), ' '))", {"a": a, "b": b}))
    finally:
        con.close()
