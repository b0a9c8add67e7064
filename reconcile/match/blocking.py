"""Candidate pairs: several blocking rules, deduplicated, each pair keeping its rule.

Every rule is a key computed on each side; a pair is found by a rule when the keys are
equal. All rules run in one join over a (rid, rule, key) table per side. A preflight
counts the pairs each key would make and skips keys above `max_pairs_per_key` (an
all-zero NIK, a No KK typed as NIK by a whole village, a placeholder birth date in a
big kecamatan) and reports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconcile import db


@dataclass(frozen=True)
class BlockingRule:
    """A named key over one std table (alias s); NULL keys never pair."""

    name: str
    key: str
    unnest: bool = False  # the key is a list: one entry per element


RULES = (
    BlockingRule("nik", "s.nik"),
    # A one-digit typo in the region (digits 1-6) leaves date+serial intact; the key adds
    # the first name word because serial 0001 is everywhere. Typos in the date part
    # (7-12) leave the typed birth date intact, so kec_dob and kab_dob_initial find
    # them: keys for them (region + date with day, month or year left out, + serial +
    # first name) found nothing more on the 1M bench and cost a quarter of the
    # blocking time; region + serial + first name alone made 7M pairs.
    BlockingRule("nik_date_serial", "substr(s.nik, 7, 10) || ':' || s.name_first"),
    # Same district and birth date: twins, neighbours and serial typos.
    BlockingRule("nik_region_date", "left(s.nik, 12)"),
    # Kecamatan and birth date, day and month in either order (swaps).
    BlockingRule("kec_dob", "s.kec || ':' || s.dob_key"),
    # Movers within the regency: regency, birth date and the name's initial.
    BlockingRule("kab_dob_initial",
                 "s.kab || ':' || s.dob_key || ':' || nullif(left(s.name_key, 1), '')"),
    # Rows whose NIK and birth date are both unusable: the family card and the initial,
    # or the village and the whole name (word order ignored).
    BlockingRule("kk_initial", "s.no_kk || ':' || nullif(left(s.name_key, 1), '')"),
    BlockingRule("village_name", "s.village || ':' || nullif(s.name_sorted, '')"),
    # Movers to another regency with a wrong or missing NIK: whole name and birth date.
    BlockingRule("name_dob", "s.name_sorted || ':' || s.dob_key"),
)

def _per_word(prefix: str) -> str:
    """A list key: `prefix` with each whole word of the name (initials left out)."""
    return (f"list_transform(list_filter(s.name_tokens, lambda t: length(t) > 1),"
            f" lambda t: {prefix} || ':' || t)")


# Second pass, only for the Kemensos rows the first pass left without a likely candidate
# (a few percent): looser keys that would be too costly for every row. They find rows
# whose errors pile up (low-quality entry damages NIK, KK, birth date and region at once).
SECOND_PASS_RULES = (
    # The family card in either identifier field (the NIK field often holds the KK).
    BlockingRule("family_card", "list_distinct([s.no_kk, s.nik])", unnest=True),
    # Same kecamatan, RT and initial (a neighbouring village code typed, the address kept).
    BlockingRule("kec_rt_initial",
                 "s.kec || ':' || s.rt || ':' || nullif(left(s.name_key, 1), '')"),
    # Any whole name word with the birth year in the kecamatan (initials, dropped words,
    # a placeholder day and month).
    BlockingRule("kec_year_word", _per_word("s.kec || ':' || year(s.dob)"), unnest=True),
    # Region blank or typed for another district: birth date and any whole name word.
    BlockingRule("dob_word", _per_word("s.dob::VARCHAR"), unnest=True),
    # ... or with a mistyped name: birth date and initial (a few people per key).
    BlockingRule("dob_initial", "s.dob::VARCHAR || ':' || nullif(left(s.name_key, 1), '')"),
    # The NIK's date part against the birth date, in the regency (typed date unknown).
    BlockingRule("kab_birth_day", "list_transform(list_distinct([s.nik_dmy, s.dob_dmy]),"
                                  " lambda d: s.kab || ':' || d)", unnest=True),
    # Movers with a wrong birth year or day: whole name with month and day, or the year.
    BlockingRule("name_day", "nullif(s.name_sorted, '') || ':' || strftime(s.dob, '%m%d')"),
    BlockingRule("name_year", "nullif(s.name_sorted, '') || ':' || year(s.dob)"),
    # A NIK with one typo and little else agreeing: one substituted or swapped digit
    # leaves all but one of its parts (day, month, year) intact, so the NIK with each
    # date part left out finds it (the first pass adds the name to such keys).
    BlockingRule("nik_one_part_out", "[left(s.nik, 6) || '..' || substr(s.nik, 9),"
                                     " left(s.nik, 8) || '..' || substr(s.nik, 11),"
                                     " left(s.nik, 10) || '..' || substr(s.nik, 13)]",
                 unnest=True),
    # The village and RT typed right, name and birth date damaged (sex halves the pairs).
    BlockingRule("village_rt_sex", "s.village || ':' || s.rt || ':' || s.sex"),
    # Another district typed: sex, day and month of birth in the kecamatan.
    BlockingRule("kec_sex_day", "s.kec || ':' || s.sex || ':' || strftime(s.dob, '%m%d')"),
)

KEYS = "match_block_keys"  # + _l / _r: one table per side
CAPPED = "match_capped_keys"


def keys_sql(rules: tuple[BlockingRule, ...], std: str, side: str,
             only_keys_of: str | None = None) -> str:
    """Store (rid, rule, key) of every rule over one std table in {KEYS}_{side}.

    One table per side, so that the preflight counts and the join never filter a mixed
    table by side (at 1M register people this halved the blocking time). With
    `only_keys_of`, only keys that the other side's key table holds are kept: the pairs
    are the same, and the register's keys shrink to those of the rows being matched.
    """
    parts = []
    for rule in rules:
        key = f"unnest({rule.key})" if rule.unnest else rule.key
        parts.append(f"SELECT s.rid, $rule_{rule.name}::UTINYINT AS rule, {key} AS key"
                     f" FROM {std} s")
    union = "\nUNION ALL\n".join(parts)
    semi = f" SEMI JOIN {only_keys_of} o USING (rule, key)" if only_keys_of else ""
    return (f"CREATE OR REPLACE TEMP TABLE {KEYS}_{side} AS"
            f" SELECT k.* FROM ({union}) k{semi} WHERE k.key IS NOT NULL")


def block_keys_sql(left: str, right: str, rules: tuple[BlockingRule, ...]) -> list[str]:
    """Statements storing the blocking keys of both sides (one side when deduplicating)."""
    statements = [keys_sql(rules, left, "l")]
    if right != left:
        statements.append(keys_sql(rules, right, "r", only_keys_of=f"{KEYS}_l"))
    return statements


def rule_params(rules: tuple[BlockingRule, ...], max_pairs: int) -> dict[str, object]:
    """What the blocking statements bind: each rule's number ($rule_<name>, the position
    in `rules`), the names by number and the pair cap."""
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise ValueError(f"blocking rule names repeat: {names}")
    return {"rule_names": names, "max_pairs": int(max_pairs),
            **{f"rule_{name}": number for number, name in enumerate(names)}}


def capped_sql(dedupe: bool) -> str:
    """Preflight: keys that would make more than $max_pairs pairs."""
    if dedupe:
        counts = (f"SELECT rule, key, count(*) * (count(*) - 1) // 2 AS pairs"
                  f" FROM {KEYS}_l GROUP BY rule, key")
    else:
        counts = (f"SELECT rule, key, n_l * n_r AS pairs"
                  f" FROM (SELECT rule, key, count(*) AS n_l FROM {KEYS}_l GROUP BY ALL)"
                  f" JOIN (SELECT rule, key, count(*) AS n_r FROM {KEYS}_r GROUP BY ALL)"
                  f" USING (rule, key)")
    return f"""
    CREATE OR REPLACE TEMP TABLE {CAPPED} AS
    SELECT rule, key, pairs FROM ({counts}) WHERE pairs > $max_pairs
    """


def pairs_sql(dedupe: bool) -> str:
    """Join the keys; a pair found by several rules keeps the first rule's name."""
    right_keys = f"{KEYS}_l" if dedupe else f"{KEYS}_r"
    order = "WHERE l.rid < r.rid" if dedupe else ""
    return f"""
    SELECT rid_l, rid_r, $rule_names[rule + 1] AS matched_by FROM (
        SELECT l.rid AS rid_l, r.rid AS rid_r, min(l.rule) AS rule
        FROM (FROM {KEYS}_l ANTI JOIN {CAPPED} USING (rule, key)) l
        JOIN (FROM {right_keys} ANTI JOIN {CAPPED} USING (rule, key)) r
          ON l.rule = r.rule AND l.key = r.key
        {order}
        GROUP BY l.rid, r.rid)
    """


def block(con, left: str, right: str, target: str, max_pairs: int,
          rules: tuple[BlockingRule, ...] = RULES, temp: bool = False) -> dict:
    """Write candidate pairs (rid_l, rid_r, matched_by) to `target`; return counts.

    With `left == right` the pairs are within one table, each unordered pair once.
    """
    dedupe = left == right
    params = rule_params(rules, max_pairs)
    for statement in block_keys_sql(left, right, rules):
        db.run(con, statement, params)
    db.run(con, capped_sql(dedupe), params)
    db.materialise(con, target, pairs_sql(dedupe), params, temp)
    per_rule = db.df(con, f"SELECT matched_by, count(*) AS n FROM {target} GROUP BY 1")
    capped = db.df(con, f"SELECT rule, key, pairs FROM {CAPPED} ORDER BY pairs DESC LIMIT 20")
    capped["rule"] = [rules[i].name for i in capped["rule"]]
    db.run(con, f"DROP TABLE IF EXISTS {KEYS}_l")
    db.run(con, f"DROP TABLE IF EXISTS {KEYS}_r")
    return {
        "pairs": dict(zip(per_rule["matched_by"], per_rule["n"].astype(int), strict=True)),
        "capped_keys": int(db.scalar(con, f"SELECT count(*) FROM {CAPPED}")),
        "capped_examples": capped.to_dict("records"),
    }
