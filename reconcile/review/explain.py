"""One-line explanations of a match decision, in Indonesian and English, as DuckDB SQL.

The sentence is built from a pair's comparison levels (gamma_*) and per-field weights
(mw_*) only, never from the records' values, so it carries no name or NIK. Each part is
the phrase of a field's level, heaviest evidence (absolute bits) first:

    nama sama persis (nama jarang), tanggal lahir sama, NIK beda satu digit (salah ketik), satu KK
"""

from __future__ import annotations

from reconcile import db
from reconcile.match.compare import COMPARISONS, Comparison

LANGS = ("id", "en")
# Levels outside a comparison's list, by compare.py's convention (Comparison.gamma_sql):
# a value missing on either side, and none of the levels.
_NO_LEVEL = {"missing": -1, "else": 0}

# Exact-name weight is log2(m / name frequency), m about 0.95. On a generated register of
# 100k people the exact-name weight has quartiles 10.2 and 14.2 bits (median 13.1), so a
# name above 14 bits (held by fewer than about 1 in 16,000 records) is tagged rare and one
# below 10 bits (1 in 1,000 records or more: SITI AMINAH) common; between, no tag. In
# bits rather than as a quantile, so the tag means the same name frequency in any run.
RARE_NAME_BITS = 14.0
COMMON_NAME_BITS = 10.0
_RARE = {"id": " (nama jarang)", "en": " (a rare name)"}
_COMMON = {"id": " (nama umum)", "en": " (a common name)"}

# (comparison, level label) -> (Indonesian, English). Every level of compare.COMPARISONS
# must be here (a new level without a phrase fails the builder, and the tests). No phrase
# may contain ", ": parts are joined with it.
PHRASES: dict[tuple[str, str], tuple[str, str]] = {
    ("name", "missing"): ("nama kosong", "name missing"),
    ("name", "exact"): ("nama sama persis", "same name"),
    ("name", "same words or jw>=0.95"): ("nama hampir sama (urutan kata atau satu huruf)",
                                         "nearly the same name (word order or a letter)"),
    ("name", "jw>=0.88"): ("nama mirip", "similar name"),
    ("name", "words contained"): ("nama yang satu memuat nama yang lain (kata tambahan)",
                                  "one name contains the other (an extra word)"),
    ("name", "initials or words left out"): ("nama disingkat (inisial atau kata dihilangkan)",
                                             "name shortened (initials or words left out)"),
    ("name", "jw>=0.75"): ("nama agak mirip", "somewhat similar name"),
    ("name", "else"): ("nama beda", "different name"),
    ("nik", "missing"): ("tanpa NIK", "no NIK"),
    ("nik", "exact"): ("NIK sama", "same NIK"),
    ("nik", "exact, name and birth date disagree"): (
        "NIK sama tetapi nama dan tanggal lahir beda (NIK anggota keluarga?)",
        "same NIK but name and birth date differ (a family member's NIK?)"),
    ("nik", "typo in region or date"): ("NIK beda satu digit (salah ketik)",
                                        "NIK one digit off (a typo)"),
    ("nik", "same region and date, other serial"): (
        "NIK sama wilayah dan tanggal tetapi nomor urut beda (kembar atau tetangga?)",
        "NIK of the same region and date but another serial (a twin or neighbour?)"),
    ("nik", "else"): ("NIK beda", "different NIK"),
    ("dob", "missing"): ("tanggal lahir kosong", "birth date missing"),
    ("dob", "exact"): ("tanggal lahir sama", "same birth date"),
    ("dob", "NIK date agrees, typed date unknown"): (
        "tanggal lahir kosong tetapi cocok dengan tanggal di NIK",
        "birth date blank but matching the date in the NIK"),
    ("dob", "day and month swapped"): ("tanggal lahir sama dengan hari dan bulan tertukar",
                                       "same birth date with day and month swapped"),
    ("dob", "same year, a placeholder date"): ("tahun lahir sama (tanggal hanya isian)",
                                               "same birth year (a placeholder date)"),
    ("dob", "two of day, month, year equal"): (
        "tanggal lahir beda di hari atau bulan atau tahun saja",
        "birth date differs only in its day or month or year"),
    ("dob", "else"): ("tanggal lahir beda", "different birth date"),
    ("sex", "missing"): ("jenis kelamin kosong", "sex missing"),
    ("sex", "equal"): ("jenis kelamin sama", "same sex"),
    ("sex", "else"): ("jenis kelamin beda", "different sex"),
    ("household", "missing"): ("alamat dan KK kosong", "address and KK missing"),
    ("household", "same KK"): ("satu KK", "same family card (KK)"),
    ("household", "village, RT and RW"): ("satu desa dan RT/RW", "same village and RT/RW"),
    ("household", "village"): ("satu desa", "same village"),
    ("household", "kecamatan, RT and RW"): ("satu kecamatan dan RT/RW",
                                            "same kecamatan and RT/RW"),
    ("household", "RT and RW, dusun or street, other region"): (
        "RT/RW dan dusun atau jalan sama di wilayah lain",
        "same RT/RW and dusun or street in another region"),
    ("household", "kecamatan"): ("satu kecamatan", "same kecamatan"),
    ("household", "else"): ("alamat dan KK beda", "different address and KK"),
}

# Reviewer's agreement marks: field -> (comparison, {level label: mark}); marks are
# 'sama' (equal), 'mirip' (close), 'beda' (different), 'kosong' (missing on a side).
# They describe the field's values, not the evidence: a relative's NIK is 'sama' (the
# sentence says it counts for nothing). Alamat and KK both read the household level, whose
# highest level wins: agree_kk is 'sama' only at "same KK" and 'beda' otherwise (also when
# one KK is blank but the address was compared: the level cannot tell); agree_alamat is
# 'sama' at "same KK" (a family card is issued to one address) and at village+RT+RW,
# 'mirip' at the partial address levels (village, kecamatan, RT/RW elsewhere).
_MISSING_ELSE = {"missing": "kosong", "else": "beda"}
AGREEMENT: dict[str, tuple[str, dict[str, str]]] = {
    "agree_nama": ("name", {"exact": "sama", "same words or jw>=0.95": "mirip",
                            "jw>=0.88": "mirip", "words contained": "mirip",
                            "initials or words left out": "mirip", "jw>=0.75": "mirip"}),
    "agree_tgl_lahir": ("dob", {"exact": "sama", "NIK date agrees, typed date unknown": "mirip",
                                "day and month swapped": "mirip",
                                "same year, a placeholder date": "mirip",
                                "two of day, month, year equal": "mirip"}),
    "agree_jenis_kelamin": ("sex", {"equal": "sama"}),
    "agree_alamat": ("household", {"same KK": "sama", "village, RT and RW": "sama",
                                   "village": "mirip", "kecamatan, RT and RW": "mirip",
                                   "RT and RW, dusun or street, other region": "mirip",
                                   "kecamatan": "mirip"}),
    "agree_nik": ("nik", {"exact": "sama", "exact, name and birth date disagree": "sama",
                          "typo in region or date": "mirip",
                          "same region and date, other serial": "mirip"}),
    "agree_kk": ("household", {"same KK": "sama", "village, RT and RW": "beda",
                               "village": "beda", "kecamatan, RT and RW": "beda",
                               "RT and RW, dusun or street, other region": "beda",
                               "kecamatan": "beda"}),
}


def labels(comp: Comparison) -> list[str]:
    """All level labels of a comparison, "missing" and "else" included."""
    return ["missing", *(label for label, _ in comp.levels), "else"]


def _gamma(comp: Comparison, label: str) -> int:
    return _NO_LEVEL[label] if label in _NO_LEVEL else comp.gamma(label)


def _by_gamma(comp: Comparison, text) -> list[str | None]:
    """`text(label)` of each level in gamma order from -1 (missing), as SQL indexes it:
    `list[gamma::INTEGER + 2]`."""
    by_gamma = {_gamma(comp, label): text(label) for label in labels(comp)}
    return [by_gamma[g] for g in range(-1, comp.top + 1)]


def _phrase(comp: Comparison, lang: str, label: str) -> str | None:
    # a missing value is no evidence; only a missing NIK is worth saying
    if label == "missing" and comp.name != "nik":
        return None
    return PHRASES[(comp.name, label)][LANGS.index(lang)]


def _constants() -> dict[str, object]:
    """The phrases, tags and marks as the SQL binds them (db.constants)."""
    values: dict[str, object] = {"explain_rare_bits": RARE_NAME_BITS,
                                 "explain_common_bits": COMMON_NAME_BITS}
    for lang in LANGS:
        values |= {f"explain_rare_{lang}": _RARE[lang], f"explain_common_{lang}": _COMMON[lang]}
        values |= {f"explain_{lang}_{c.name}": _by_gamma(c, lambda x, c=c, la=lang: _phrase(
            c, la, x)) for c in COMPARISONS}
    values |= {f"explain_order_{c.name}": i for i, c in enumerate(COMPARISONS)}
    comps = {c.name: c for c in COMPARISONS}
    for column, (name, marks) in AGREEMENT.items():
        table = {**_MISSING_ELSE, **marks}
        values[f"mark_{column}"] = _by_gamma(comps[name], table.__getitem__)
    return values


db.constants(_constants())


def _part_sql(comp: Comparison, lang: str, prefix: str) -> str:
    """The phrase of one field's level, NULL when it is to be left out."""
    gamma = f"{prefix}gamma_{comp.name}"
    phrase = f"$explain_{lang}_{comp.name}[{gamma}::INTEGER + 2]"
    if comp.tf_level is None:
        return phrase
    mw = f"coalesce({prefix}mw_{comp.name}, 0)"
    return (f"{phrase} || CASE WHEN {gamma} <> {comp.level_sql(comp.tf_level)} THEN ''"
            f" WHEN {mw} >= $explain_rare_bits THEN $explain_rare_{lang}"
            f" WHEN {mw} < $explain_common_bits THEN $explain_common_{lang} ELSE '' END")


def explanation_sql(lang: str = "id", prefix: str = "") -> str:
    """A VARCHAR expression over {prefix}gamma_* and {prefix}mw_*: the phrases of the
    fields' levels, joined with ", ", the largest absolute weight first (ties in the order
    of compare.COMPARISONS)."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")
    parts = ", ".join(
        f"{{'w': -abs(coalesce({prefix}mw_{c.name}, 0)), 'o': $explain_order_{c.name},"
        f" 'p': {_part_sql(c, lang, prefix)}}}" for c in COMPARISONS)
    return (f"array_to_string(list_transform(list_sort(list_filter([{parts}],"
            " lambda x: x.p IS NOT NULL)), lambda x: x.p), ', ')")


def agreement_sql(prefix: str = "") -> dict[str, str]:
    """Agreement mark of each field shown to a reviewer: column name -> SQL expression
    giving 'sama', 'mirip', 'beda' or 'kosong'."""
    return {column: f"$mark_{column}[{prefix}gamma_{name}::INTEGER + 2]"
            for column, (name, _) in AGREEMENT.items()}
