"""Candidate pairs: several blocking rules, deduplicated, each pair keeping its rule.

Every rule is a key computed on each side; a pair is found by a rule when the keys are
equal. All rules run in one join over a (rid, rule, key) table. A preflight counts the
pairs each key would make and skips keys above `max_pairs_per_key` (an all-zero NIK, a
No KK typed as NIK by a whole village, MUHAMMAD in a big village) and reports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconcile import db
from reconcile.tables import Table


@dataclass(frozen=True)
class BlockingRule:
    """A named key over one std table (alias s); NULL keys never pair."""

    name: str
    key: str
    unnest: bool = False  # the key is a list: one entry per element


RULES = (
    BlockingRule("nik", "s.nik"),
    # A one-digit typo leaves one of these intact: it is in the region (digits 1-6),
    # the day (7-8), the month (9-10) or the year (11-12). Keys without the serial, or
    # with only part of the date, are useless: serial 0001 is everywhere; date+serial
    # and the others span years or months, so these keys add the first name word.
    BlockingRule("nik_date_serial", "substr(s.nik, 7, 10) || ':' || s.name_first"),
    BlockingRule("nik_no_day", "s.nik_region || substr(s.nik, 9, 8) || ':' || s.name_first"),
    BlockingRule("nik_no_month",
                 "left(s.nik, 8) || substr(s.nik, 11, 6) || ':' || s.name_first"),
    BlockingRule("nik_no_year", "left(s.nik, 10) || s.nik_serial || ':' || s.name_first"),
    # Same district and birth date: twins, neighbours and serial typos.
    BlockingRule("nik_region_date", "left(s.nik, 12)"),
    # Regency and birth date, day and month in either order (swaps).
    BlockingRule("kab_dob", "s.kab || ':' || s.dob_key"),
    # Village and any name word of three letters or more (MUHAMMAD or SITI in a big
    # village are stopped by the preflight cap).
    BlockingRule("village_token",
                 "list_transform(list_filter(s.name_tokens, lambda t: length(t) >= 3),"
                 " lambda t: s.village || ':' || t)", unnest=True),
    # Movers to another regency with a wrong or missing NIK: whole name and birth date.
    BlockingRule("name_dob", "s.name_sorted || ':' || s.dob_key"),
)

KEYS = "match_block_keys"
CAPPED = "match_capped_keys"


def keys_sql(rules: tuple[BlockingRule, ...], std: Table, side: str) -> str:
    """SELECT of (side, rid, rule, key) for every rule over one std table."""
    parts = []
    for number, rule in enumerate(rules):
        key = f"unnest({rule.key})" if rule.unnest else rule.key
        parts.append(f"SELECT '{side}' AS side, s.rid, {number} AS rule, {key} AS key"
                     f" FROM {std} s")
    return "\nUNION ALL\n".join(parts)


def block_keys_sql(left: Table, right: Table, rules: tuple[BlockingRule, ...]) -> str:
    """Store the blocking keys of both sides (one side only when deduplicating)."""
    sides = keys_sql(rules, left, "l")
    if right != left:
        sides += "\nUNION ALL\n" + keys_sql(rules, right, "r")
    return f"CREATE OR REPLACE TEMP TABLE {KEYS} AS SELECT * FROM ({sides}) WHERE key IS NOT NULL"


def capped_sql(dedupe: bool, max_pairs: int) -> str:
    """Preflight: keys that would make more than `max_pairs` pairs."""
    pairs = "n_l * (n_l - 1) // 2" if dedupe else "n_l * n_r"
    return f"""
    CREATE OR REPLACE TEMP TABLE {CAPPED} AS
    SELECT rule, key, pairs FROM (
        SELECT rule, key, count(*) FILTER (side = 'l') AS n_l,
               count(*) FILTER (side = 'r') AS n_r, {pairs} AS pairs
        FROM {KEYS} GROUP BY rule, key)
    WHERE pairs > {int(max_pairs)}
    """


def pairs_sql(target: str, rules: tuple[BlockingRule, ...], dedupe: bool) -> str:
    """Join the keys; a pair found by several rules keeps the first rule's name."""
    right_side = "l" if dedupe else "r"
    order = "AND l.rid < r.rid" if dedupe else ""
    names = ", ".join(f"'{r.name}'" for r in rules)
    return f"""
    CREATE OR REPLACE TABLE {target} AS
    WITH k AS (
        SELECT * FROM {KEYS} ANTI JOIN {CAPPED} USING (rule, key)
    )
    SELECT l.rid AS rid_l, r.rid AS rid_r, ([{names}])[min(l.rule) + 1] AS matched_by
    FROM k l JOIN k r ON l.rule = r.rule AND l.key = r.key
    WHERE l.side = 'l' AND r.side = '{right_side}' {order}
    GROUP BY l.rid, r.rid
    """


def block(con, left: Table, right: Table, target: str, max_pairs: int,
          rules: tuple[BlockingRule, ...] = RULES) -> dict:
    """Write candidate pairs (rid_l, rid_r, matched_by) to `target`; return counts.

    With `left == right` the pairs are within one table, each unordered pair once.
    """
    dedupe = left == right
    db.run(con, block_keys_sql(left, right, rules))
    db.run(con, capped_sql(dedupe, max_pairs))
    db.run(con, pairs_sql(target, rules, dedupe))
    per_rule = db.df(con, f"SELECT matched_by, count(*) AS n FROM {target} GROUP BY 1")
    capped = db.df(con, f"SELECT rule, key, pairs FROM {CAPPED} ORDER BY pairs DESC LIMIT 20")
    capped["rule"] = [rules[i].name for i in capped["rule"]]
    db.run(con, f"DROP TABLE {KEYS}")
    return {
        "pairs": dict(zip(per_rule["matched_by"], per_rule["n"].astype(int), strict=True)),
        "capped_keys": int(db.scalar(con, f"SELECT count(*) FROM {CAPPED}")),
        "capped_examples": capped.to_dict("records"),
    }
