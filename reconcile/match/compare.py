"""Comparison vectors: similarities (*_sim) and levels (gamma_*) of candidate pairs.

A comparison is an ordered list of levels, most alike first, compiled into one CASE:
gamma = -1 when either value is missing, the highest level whose condition holds, 0 when
none does. Conditions read columns of a pair row: `x_l` / `x_r` for the two records and
the precomputed similarities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reconcile import db


@dataclass(frozen=True)
class Comparison:
    """One field's comparison: a missing-value test and levels from most to least alike."""

    name: str
    missing: str
    levels: tuple[tuple[str, str], ...]  # (label, condition), most alike first
    tf_level: str | None = None  # the level whose u is the value's frequency
    neutral: tuple[str, ...] = ()  # levels that count as no evidence (weight 0)

    @property
    def top(self) -> int:
        """The gamma value of the most alike level."""
        return len(self.levels)

    def gamma_sql(self) -> str:
        """CASE expression giving this comparison's level (the levels' gammas bound by
        name, `level_params`)."""
        whens = " ".join(f"WHEN {cond} THEN {self.level_sql(label)}"
                         for label, cond in self.levels)
        return f"CASE WHEN {self.missing} THEN -1 {whens} ELSE 0 END AS gamma_{self.name}"

    def level_sql(self, label: str) -> str:
        """The parameter holding a level's gamma, named by its label
        (`$gamma_dob_day_and_month_swapped`)."""
        self.gamma(label)  # an unknown label fails here, not in DuckDB
        return "$" + _level_param(self.name, label)

    def level_params(self) -> dict[str, int]:
        """The gamma of each level by parameter name (see `level_sql`)."""
        return {_level_param(self.name, label): self.gamma(label) for label, _ in self.levels}

    @property
    def neutral_gammas(self) -> tuple[int, ...]:
        """Gamma values of the neutral levels."""
        labels = [label for label, _ in self.levels]
        return tuple(self.top - labels.index(n) for n in self.neutral)

    def gamma(self, label: str) -> int:
        """The gamma value of the level named `label` (code outside this module refers to
        levels by name, so adding a level cannot silently re-point it)."""
        labels = [name for name, _ in self.levels]
        if label not in labels:
            raise KeyError(f"comparison {self.name!r} has no level {label!r}; levels: {labels}")
        return self.top - labels.index(label)

    def label(self, gamma: int) -> str:
        """Human label of a level."""
        if gamma == -1:
            return "missing"
        return "else" if gamma == 0 else self.levels[self.top - gamma][0]


def _level_param(comparison: str, label: str) -> str:
    """`gamma_<comparison>_<label in lower case, words joined by _>`."""
    return f"gamma_{comparison}_" + re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def _missing_sql(col: str) -> str:
    return f"({col}_l IS NULL OR {col}_r IS NULL)"


# Name or birth date at least roughly agree.
_CORROBORATED = "(name_sim >= 0.75 OR dob_key_l = dob_key_r)"
# One name is the other with words left out or cut to their initial (SITI M / SITI
# MARYAM, J. SAPUTRA / JAJANG SAPUTRA): low-quality entry, not another person.
_ABBREVIATES = "name_abbreviates(name_tokens_l, name_tokens_r)"
# The typed birth date says nothing (blank or a placeholder) but the NIK's date part
# agrees with the other record's birth date. Not when the NIKs are equal: the NIK
# comparison holds that evidence already (a relative's NIK would count twice).
_NIK_DATE_AGREES = ("(((dob_l IS NULL OR coalesce(dob_placeholder_l, false))"
                    " AND nik_dmy_l = dob_dmy_r"
                    " OR (dob_r IS NULL OR coalesce(dob_placeholder_r, false))"
                    " AND nik_dmy_r = dob_dmy_l) AND nik_l IS DISTINCT FROM nik_r)")
# One digit substituted, or two adjacent digits swapped, in the NIK's first 12 digits.
_ONE_TYPO_12 = ("(hamming(left(nik_l, 12), left(nik_r, 12)) = 1"
                " OR (hamming(left(nik_l, 12), left(nik_r, 12)) = 2"
                " AND damerau_levenshtein(left(nik_l, 12), left(nik_r, 12)) = 1))")
# A typo: one digit substituted or two adjacent digits swapped in the region or date
# digits with the same serial, or an Excel-damaged last digit (15 significant digits).
# It needs a similar name: serial 0001 is everywhere, so a sibling born a year later or
# a namesake in the next kecamatan has a NIK one digit away; for that reason a typo in
# the region digits also needs both records in the same kecamatan (1M bench: 318 links
# of people not in the register without it, none right). A day 40 apart is the other
# sex, not a typo. The birth-date field is typed apart from the NIK, so it agrees.
_NIK_TYPO = (f"((nik_serial_l = nik_serial_r AND {_ONE_TYPO_12}"
             " AND NOT (substr(nik_l, 7, 6) <> substr(nik_r, 7, 6) AND nik_dmy_l = nik_dmy_r)"
             " AND (left(nik_l, 6) = left(nik_r, 6) OR coalesce(kec_l = kec_r, true)))"
             " OR (left(nik_l, 15) = left(nik_r, 15)"
             " AND (right(nik_l, 1) = '0' OR right(nik_r, 1) = '0')))"
             f" AND (name_sim >= 0.9 OR {_ABBREVIATES})"
             " AND coalesce(dob_key_l = dob_key_r, true)")
_SAME_RT = ("rt_l = rt_r AND coalesce(rw_l = rw_r, dusun_l = dusun_r, true)")
# The NIK field of one record holds the other's family card number: household evidence.
_SAME_KK = "(no_kk_l = no_kk_r OR nik_l = no_kk_r OR no_kk_l = nik_r)"

COMPARISONS = (
    Comparison("name", "(name_key_l = '' OR name_key_r = '')", (
        ("exact", "name_key_l = name_key_r"),
        ("same words or jw>=0.95", "name_sorted_l = name_sorted_r OR name_sim >= 0.95"),
        ("jw>=0.88", "name_sim >= 0.88"),
        # A single name against a full one, or one side carrying an extra word.
        ("words contained", "list_has_all(name_tokens_l, name_tokens_r)"
                            " OR list_has_all(name_tokens_r, name_tokens_l)"),
        ("initials or words left out", _ABBREVIATES),
        ("jw>=0.75", "name_sim >= 0.75"),
    ), tf_level="exact"),
    Comparison("nik", _missing_sql("nik"), (
        ("exact", f"nik_l = nik_r AND {_CORROBORATED}"),
        # The same NIK on two people who share neither name nor birth date: a family
        # member's NIK typed into the field: no evidence either way (weight 0).
        ("exact, name and birth date disagree", "nik_l = nik_r"),
        # One digit substituted, or two adjacent digits swapped, in region/date with the
        # same serial and a similar name: a typing error; an Excel-damaged last digit
        # (15 significant digits) too. With another name it is a stranger: serial 0001
        # is everywhere and neighbouring kecamatan codes differ in one digit. For the
        # same reason a typo in the region digits needs both records to live in the same
        # kecamatan: a namesake born on the same day in the next kecamatan has a NIK one
        # region digit away and an address in another kecamatan (1M bench: 318 such
        # links, all of people not in the register, none right).
        ("typo in region or date", _NIK_TYPO),
        # Same district and birth day, another serial: a twin or a neighbour, so no
        # evidence of identity (neutral), though nearly never seen between strangers.
        ("same region and date, other serial", "left(nik_l, 12) = left(nik_r, 12)"),
    ), neutral=("exact, name and birth date disagree", "same region and date, other serial")),
    Comparison("dob", f"{_missing_sql('dob')} AND NOT coalesce({_NIK_DATE_AGREES}, false)", (
        ("exact", "dob_l = dob_r"),
        ("NIK date agrees, typed date unknown", _NIK_DATE_AGREES),
        ("day and month swapped", "dob_key_l = dob_key_r"),
        ("same year, a placeholder date", "year(dob_l) = year(dob_r)"
                                          " AND (dob_placeholder_l OR dob_placeholder_r)"),
        ("two of day, month, year equal", "(year(dob_l) = year(dob_r))::INT"
                                          " + (month(dob_l) = month(dob_r))::INT"
                                          " + (day(dob_l) = day(dob_r))::INT = 2"),
    )),
    Comparison("sex", _missing_sql("sex"), (("equal", "sex_l = sex_r"),)),
    # KK and address are one comparison: family members share both, so as two
    # independent fields they would count the same household evidence twice.
    Comparison("household", "(village_l IS NULL OR village_r IS NULL) AND"
                            " (no_kk_l IS NULL OR no_kk_r IS NULL) AND (rt_l IS NULL OR rt_r IS NULL)"
                            f" AND NOT coalesce({_SAME_KK}, false)", (
        ("same KK", _SAME_KK),
        # RW is often left out of one address; RT with RW or dusun agreeing where given
        ("village, RT and RW", f"village_l = village_r AND {_SAME_RT}"),
        ("village", "village_l = village_r"),
        # a neighbouring village code typed, the street address intact
        ("kecamatan, RT and RW", f"kec_l = kec_r AND {_SAME_RT}"),
        # the region typed for another district, the street address intact
        ("RT and RW, dusun or street, other region",
         "rt_l = rt_r AND (rw_l = rw_r OR dusun_l = dusun_r OR street_l = street_r)"),
        ("kecamatan", "kec_l = kec_r"),
    )),
)


def level(comparison: str, label: str) -> int:
    """The gamma value of a comparison's level, by names: `level("dob", "exact")`."""
    return _comparison(comparison).gamma(label)


def level_sql(comparison: str, label: str) -> str:
    """The bound parameter of a comparison's level: SQL outside this module compares
    gammas with it (`gamma_nik = $gamma_nik_exact`), never with a number."""
    return _comparison(comparison).level_sql(label)


def level_params(comparisons: tuple[Comparison, ...] = COMPARISONS) -> dict[str, int]:
    """The gammas of the comparisons' levels by parameter name."""
    return {k: v for c in comparisons for k, v in c.level_params().items()}


def _comparison(name: str) -> Comparison:
    return next(c for c in COMPARISONS if c.name == name)


# Bound in every statement that names them (db.constants), so fragments need no plumbing.
db.constants(level_params())


PAIR_COLUMNS = (
    "src_id", "name_key", "name_sorted", "name_tokens", "name_first", "nik", "nik_ok",
    "nik_serial", "nik_dmy", "no_kk", "dob", "dob_key", "dob_dmy", "dob_placeholder", "sex",
    "village", "kec", "rt", "rw", "dusun", "street", "quality",
)


def sims_sql() -> str:
    """Similarity columns in [0, 1] that the levels read."""
    return ("greatest(jaro_winkler_similarity(name_key_l, name_key_r),"
            " jaro_winkler_similarity(name_sorted_l, name_sorted_r)) AS name_sim")


def compare_sql(pairs: str, left: str, right: str, target: str,
                comparisons: tuple[Comparison, ...] = COMPARISONS) -> db.Step:
    """Join each pair to both records and compute similarities and gamma levels."""
    cols = ", ".join(f"l.{c} AS {c}_l, r.{c} AS {c}_r" for c in PAIR_COLUMNS)
    gammas = ",\n       ".join(c.gamma_sql() for c in comparisons)
    sql = f"""
    CREATE OR REPLACE TEMP TABLE {target} AS
    WITH joined AS (
        SELECT p.rid_l, p.rid_r, p.matched_by, {cols}
        FROM {pairs} p JOIN {left} l ON l.rid = p.rid_l JOIN {right} r ON r.rid = p.rid_r
    ), sims AS (
        SELECT *, {sims_sql()} FROM joined
    )
    SELECT rid_l, rid_r, matched_by, src_id_l, src_id_r, name_key_l, name_sim,
           greatest(quality_l, quality_r) AS quality,
           {gammas}
    FROM sims
    """
    return db.Step(sql, level_params(comparisons))
