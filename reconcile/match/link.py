"""Linking: each Kemensos row to its best register candidate, one individual per person.

A row is linked when its best candidate is above the threshold and clearly better than
the second best. Several rows may link to one individual (one person enrolled in PKH and
BPNT); a row that is clearly a different person from the individual's best row (valid
NIKs with other birth dates, a twin) is released instead. The `links` table is written
per person after deduplication.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconcile import db
from reconcile.match.compare import level_sql
from reconcile.tables import Table

ROW_LINKS = "match_row_links"


@dataclass(frozen=True)
class RowPrior:
    """What a row's probabilities need besides its pairs: the share of rows whose person
    is in the register, the register's size, and the prior bits in the pairs' weights."""

    in_register: float
    register_size: int
    pair_bits: float

_NIK_EXACT = level_sql("nik", "exact")
_DOB_ROUGHLY = level_sql("dob", "day and month swapped")
_NAME_CLOSE = level_sql("name", "same words or jw>=0.95")


def cannot_link_sql(a: str, b: str, nik: bool = True) -> str:
    """True when two std rows are clearly different people: their own valid NIKs (the
    NIK's date part agrees with the row's birth date, so it is not a relative's NIK)
    whose birth-date parts differ by more than one typo (two digits or more, an adjacent
    swap excepted), or twins (same KK and birth date, clearly different names)."""
    names_differ = (
        f"({a}.name_key <> '' AND {b}.name_key <> ''"
        f" AND greatest(jaro_winkler_similarity({a}.name_key, {b}.name_key),"
        f" jaro_winkler_similarity({a}.name_sorted, {b}.name_sorted)) < 0.8"
        f" AND NOT name_abbreviates({a}.name_tokens, {b}.name_tokens))")
    twins = f"({a}.no_kk = {b}.no_kk AND {a}.dob = {b}.dob AND {names_differ})"
    if not nik:
        return twins
    return (f"(({a}.nik_ok AND {b}.nik_ok AND {a}.nik_own AND {b}.nik_own"
            f" AND hamming({a}.nik_date, {b}.nik_date) >= 2"
            f" AND damerau_levenshtein({a}.nik_date, {b}.nik_date) >= 2)"
            f" OR {twins})")


POSSIBLE_MATCH = "possible match: review the best candidate"
TWIN = "best candidate is a twin (same KK and birth date, other name)"
AMBIGUOUS = "ambiguous: two register individuals"
RELEASED = "register individual linked to a better-matching row"
# Reasons whose row has a register candidate more likely the person than not: such a row
# is for review, never a person missing from the register.
REVIEW_REASONS = (POSSIBLE_MATCH, TWIN, AMBIGUOUS, RELEASED)
# The reasons as SQL reads them (db.constants): `$reason_twin`, and the review reasons as
# a list, `list_contains({REVIEW_REASONS_SQL}, reason)`.
db.constants({"reason_possible_match": POSSIBLE_MATCH, "reason_twin": TWIN,
              "reason_ambiguous": AMBIGUOUS, "reason_released": RELEASED,
              "review_reasons": list(REVIEW_REASONS)})
REVIEW_REASONS_SQL = "$review_reasons"


def prior_params(prior: RowPrior) -> dict[str, float]:
    """The values `row_probability_sql` and `in_register_probability_sql` bind: rho/N,
    1 - rho and the prior bits in the pairs' weights."""
    return {"row_scale": prior.in_register / max(prior.register_size, 1),
            "row_outside": 1 - prior.in_register, "pair_bits": float(prior.pair_bits)}


def row_probability_sql() -> str:
    """P(the row's person is this candidate), over the row's candidate pairs (values bound
    by `prior_params`).

    A pair's probability judges the pair alone, against the chance that a random pair
    matches. A row is one person: one of the register's N people, or someone the
    register lacks (prior 1 - rho, `score.in_register_share`). With LR_k the likelihood
    ratio of the row's candidate k, P(candidate j) = (rho/N) LR_j / ((1 - rho) +
    (rho/N) sum_k LR_k): the one-to-one posterior of Bayesian record linkage, the sum
    over the row's blocked candidates (unblocked register people add about 0). A lone
    plausible candidate gains when most rows are in the register; two candidates share
    the row's mass.
    """
    return (f"$row_scale * {_LR} / ($row_outside"
            f" + $row_scale * sum({_LR}) OVER (PARTITION BY rid_l))")


def in_register_probability_sql() -> str:
    """P(the row's person is in the register at all): the row probabilities of all its
    candidates summed (`row_probability_sql`, the same values bound)."""
    mass = f"$row_scale * sum({_LR}) OVER (PARTITION BY rid_l)"
    return f"{mass} / ($row_outside + {mass})"


# A pair's likelihood ratio, from its weight less the prior bits it carries.
_LR = "pow(2, match_weight - $pair_bits)"


def row_links_sql(threshold: float, ambiguity_bits: float, review_threshold: float = 0.5,
                  prior: RowPrior | None = None) -> db.Step:
    """Best and second-best candidate per Kemensos row, and why a row stays unlinked.

    Fellegi and Sunter's three decisions: a link at `threshold`; below it, a best
    candidate at `review_threshold` or more (more likely the person than not) is a
    possible match for clerical review, not a person missing from the register.

    The probabilities compared are the row's, not the pair's: a row is one person, who is
    one of its candidates or nobody in the register (`row_probability_sql`); without
    `prior`, the pair's.
    """
    row_probability, in_register = "match_probability", (
        "max(match_probability) OVER (PARTITION BY rid_l)")
    if prior is not None:
        row_probability, in_register = row_probability_sql(), in_register_probability_sql()
    params = {"threshold": float(threshold), "ambiguity_bits": float(ambiguity_bits),
              "review_threshold": float(review_threshold),
              **(prior_params(prior) if prior is not None else {})}
    return db.Step(f"""
    WITH ranked AS (
        SELECT rid_l, rid_r, match_weight, gamma_nik, gamma_name, gamma_dob,
               match_probability AS pair_probability,
               {row_probability} AS match_probability,
               {in_register} AS in_register_probability,
               -- ties broken by the register id, not the row number: row order must
               -- not change a link
               row_number() OVER (PARTITION BY rid_l
                                  ORDER BY match_weight DESC, src_id_r) AS rank
        FROM {Table.PAIRS_SCORED}
    ), best AS (
        SELECT b.*, s.match_weight AS weight_2, s.pair_probability AS probability_2
        FROM ranked b LEFT JOIN ranked s ON s.rid_l = b.rid_l AND s.rank = 2
        WHERE b.rank = 1
    )
    SELECT k.rid, b.rid_r AS bps_rid, b.match_weight, b.match_probability,
           coalesce(b.in_register_probability, 0.0) AS in_register_probability,
           b.gamma_nik = {_NIK_EXACT} AS nik_exact,
           -- agrees with its candidate on birth date and on name or NIK, whatever the
           -- rest says (a badly typed name beside the own NIK is common)
           coalesce(b.gamma_dob >= {_DOB_ROUGHLY}
                    AND (b.gamma_name >= {_NAME_CLOSE} OR b.gamma_nik = {_NIK_EXACT}),
                    false) AS confirmed,
           CASE WHEN b.rid_r IS NULL THEN 'no candidate found by blocking'
                WHEN b.probability_2 >= $threshold
                     AND b.match_weight - b.weight_2 < $ambiguity_bits
                    THEN $reason_ambiguous
                WHEN b.pair_probability < $threshold
                     AND b.match_probability >= $review_threshold
                    THEN $reason_possible_match
                WHEN b.pair_probability < $threshold
                    THEN 'no candidate above threshold'
                -- a family member's NIK in the field is common, so only twins veto here,
                -- and not when the row's NIK is the candidate's own: a twin with the
                -- sibling's NIK is rarer than a badly typed name (1M bench: 3 against 390)
                WHEN b.gamma_nik <> {_NIK_EXACT} AND {cannot_link_sql('k', 'r', nik=False)}
                    THEN $reason_twin
           END AS reason
    FROM {Table.STD_KEMENSOS} k LEFT JOIN best b ON b.rid_l = k.rid
    LEFT JOIN {Table.STD_BPS} r ON r.rid = b.rid_r
    """, params)


def release_conflicts_sql() -> str:
    """Unlink rows that are clearly another person than the individual's best row."""
    return f"""
    UPDATE {ROW_LINKS} AS x
    SET reason = $reason_released
    FROM (
        WITH linked AS (
            SELECT x.rid, x.bps_rid, x.match_weight, x.confirmed, k.src_id
            FROM {ROW_LINKS} x JOIN {Table.STD_KEMENSOS} k USING (rid)
            WHERE x.reason IS NULL
        ), anchor AS (
            SELECT bps_rid, arg_min(rid, (-match_weight, src_id)) AS anchor_rid
            FROM linked GROUP BY bps_rid
        )
        SELECT l.rid FROM linked l
        JOIN anchor a USING (bps_rid)
        JOIN {Table.STD_KEMENSOS} r ON r.rid = l.rid
        JOIN {Table.STD_KEMENSOS} s ON s.rid = a.anchor_rid
        WHERE l.rid <> a.anchor_rid AND NOT l.confirmed AND {cannot_link_sql('r', 's')}
    ) AS c
    WHERE x.rid = c.rid
    """


def links_sql() -> str:
    """One row per person: the register individual or the reason there is none."""
    return f"""
    CREATE OR REPLACE TABLE {Table.LINKS} AS
    WITH rows AS (
        SELECT p.person_id, x.*, b.src_id AS id_individu
        FROM {Table.KEMENSOS_PERSONS} p JOIN {ROW_LINKS} x USING (rid)
        LEFT JOIN {Table.STD_BPS} b ON b.rid = x.bps_rid AND x.reason IS NULL
    )
    SELECT person_id,
           any_value(id_individu) AS id_individu,
           CASE WHEN count(id_individu) > 0
                THEN max(match_probability) FILTER (id_individu IS NOT NULL)
                ELSE max(match_probability) END AS match_probability,
           -- the person is in the register if any of its rows' persons is
           max(in_register_probability) AS in_register_probability,
           CASE WHEN bool_or(nik_exact AND id_individu IS NOT NULL) THEN 'nik_exact'
                WHEN count(id_individu) > 0 THEN 'probabilistic'
                ELSE 'none' END AS match_type,
           CASE WHEN count(id_individu) = 0
                THEN arg_max(reason, coalesce(match_weight, -1e9)) END AS no_match_reason
    FROM rows GROUP BY person_id
    """
