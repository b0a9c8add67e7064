"""Families and their members: roles, sex and birth dates with consistent ages.

A family is one Kartu Keluarga. Members are built role by role (head, spouse, children,
twins, co-resident relatives) as whole arrays, then sorted as on a printed KK.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .identifiers import date_parts

REFERENCE_DATE = np.datetime64("2025-06-30")  # "as of" date of the register extract
DAYS_PER_YEAR = 365.2425

# Family kinds and their shares; a couple may have no children at home.
COUPLE, SINGLE, SINGLE_MOTHER, SINGLE_FATHER, WIFE_HEADED = range(5)
KIND_SHARES = (0.70, 0.10, 0.12, 0.03, 0.05)
CHILDREN_AT_HOME = (0, 1, 2, 3, 4, 5, 6)
CHILDREN_SHARES = (0.10, 0.22, 0.31, 0.20, 0.10, 0.05, 0.02)
TWIN_SHARE = 0.015  # of births (domain target 1-2%)
SAME_SEX_TWINS = 0.65
MOTHER_AT_BIRTH = (16, 45)
FATHER_AT_BIRTH_MIN = 18
EXTRA_RELATIVE = {"ORANG TUA": 0.05, "MERTUA": 0.04, "CUCU": 0.06, "FAMILI LAIN": 0.02}

# Order of roles on a KK; the text is what the register's hubungan_keluarga holds.
ROLES = ("KEPALA KELUARGA", "ISTRI", "SUAMI", "ANAK", "ORANG TUA", "MERTUA", "CUCU",
         "FAMILI LAIN")
ROLE = {name: code for code, name in enumerate(ROLES)}


def adult_ages(rng: np.random.Generator, n: int, youngest: int = 18) -> np.ndarray:
    """Ages of adults heading or co-heading a family: right-skewed, mean about 43."""
    return np.minimum(youngest + rng.gamma(4.0, 6.0, n), 92).astype(np.int64)


def draw_families(rng: np.random.Generator, n: int, only: int | None = None) -> pd.DataFrame:
    """Family-level attributes: kind, the ages of head and spouse, children and relatives.

    `only` forces one kind for every family (e.g. SINGLE).
    """
    kind = rng.choice(len(KIND_SHARES), n, p=KIND_SHARES) if only is None else np.full(n, only)
    has_spouse = np.isin(kind, (COUPLE, WIFE_HEADED))
    woman = adult_ages(rng, n, youngest=17)
    # Husbands are usually a few years older; a few are younger than their wives.
    man = np.clip(woman + np.round(rng.normal(4, 4, n)), np.maximum(woman - 3, 18), 95)
    single_age = np.minimum(18 + rng.gamma(2.0, 15.0, n), 95).astype(np.int64)
    woman = np.where(kind == SINGLE, single_age, woman)
    man = np.where(kind == SINGLE, single_age, man).astype(np.int64)
    children = rng.choice(CHILDREN_AT_HOME, n, p=CHILDREN_SHARES)
    # Older parents' children have mostly left to start their own KK.
    stay = np.clip(1 - (np.maximum(woman, man) - 50) / 20, 0.1, 1)
    children = np.where(kind == SINGLE, 0, rng.binomial(children, stay))
    head_female = (kind == SINGLE_MOTHER) | (kind == WIFE_HEADED) | (
        (kind == SINGLE) & (rng.random(n) < 0.55))
    frame = pd.DataFrame({"kind": kind, "has_spouse": has_spouse, "head_female": head_female,
                          "woman_age": woman, "man_age": man, "children": children,
                          "woman_birth": birth_dates(rng, woman), "man_birth": birth_dates(rng, man)})
    head_age = np.where(head_female, woman, man)
    for role, share in EXTRA_RELATIVE.items():
        eligible = kind != SINGLE
        if role == "MERTUA":
            eligible = has_spouse
        if role == "CUCU":
            eligible &= head_age >= 45
        frame[role] = eligible & (rng.random(n) < share)
    return frame


def _block(family: np.ndarray, role: str, female: np.ndarray, age: np.ndarray,
           birth: np.ndarray | None = None) -> pd.DataFrame:
    block = pd.DataFrame({"family": family, "role": ROLE[role], "female": female,
                          "age": age.astype(np.int64)})
    if birth is not None:
        block["birth"] = birth
    return block


def age_on(birth: np.ndarray, day: np.datetime64 = REFERENCE_DATE) -> np.ndarray:
    """Completed years of age on `day`.

    >>> age_on(np.array(["2000-07-01", "2000-06-30"], dtype="datetime64[D]")).tolist()
    [24, 25]
    """
    b_day, b_month, b_year = date_parts(birth)
    r_day, r_month, r_year = (p[0] for p in date_parts(np.array([day])))
    before = (b_month > r_month) | ((b_month == r_month) & (b_day > r_day))
    return r_year - b_year - before


def _parents(fam: pd.DataFrame, idx: np.ndarray) -> list[pd.DataFrame]:
    head_female = fam["head_female"].to_numpy()
    head_age = np.where(head_female, fam["woman_age"], fam["man_age"])
    head_birth = np.where(head_female, fam["woman_birth"], fam["man_birth"])
    blocks = [_block(idx, "KEPALA KELUARGA", head_female, head_age, head_birth)]
    spouse = fam["has_spouse"].to_numpy()
    wife, husband = spouse & ~head_female, spouse & head_female
    blocks.append(_block(idx[wife], "ISTRI", True, fam["woman_age"].to_numpy()[wife],
                         fam["woman_birth"].to_numpy()[wife]))
    blocks.append(_block(idx[husband], "SUAMI", False, fam["man_age"].to_numpy()[husband],
                         fam["man_birth"].to_numpy()[husband]))
    return blocks


def _children(rng: np.random.Generator, fam: pd.DataFrame, idx: np.ndarray) -> pd.DataFrame:
    counts = fam["children"].to_numpy()
    rows = np.repeat(np.arange(len(fam)), counts)
    kind = fam["kind"].to_numpy()[rows]
    woman, man = fam["woman_age"].to_numpy()[rows], fam["man_age"].to_numpy()[rows]
    father_only = kind == SINGLE_FATHER
    # Completed age at the birth of the anchoring parent (the mother, or a lone father);
    # the +1 keeps fathers at least FATHER_AT_BIRTH_MIN despite fractional ages.
    parent_birth = np.where(father_only, fam["man_birth"].to_numpy()[rows],
                            fam["woman_birth"].to_numpy()[rows])
    lo = np.where(father_only, FATHER_AT_BIRTH_MIN,
                  np.maximum(MOTHER_AT_BIRTH[0], FATHER_AT_BIRTH_MIN + 1 - (man - woman)))
    hi = np.where(father_only, np.minimum(man, 55), np.minimum(woman, MOTHER_AT_BIRTH[1]))
    at_birth = lo + np.floor(rng.random(len(rows)) * (hi - lo + 1)).astype(np.int64)
    days = np.floor((at_birth + rng.random(len(rows)) * 0.997) * DAYS_PER_YEAR).astype(np.int64)
    birth = np.minimum(parent_birth + days.astype("timedelta64[D]"), REFERENCE_DATE)
    child = _block(idx[rows], "ANAK", rng.random(len(rows)) < 0.49, age_on(birth), birth)
    return child[lo <= hi]


def _relatives(rng: np.random.Generator, fam: pd.DataFrame, idx: np.ndarray) -> list[pd.DataFrame]:
    head_female = fam["head_female"].to_numpy()
    head_age = np.where(head_female, fam["woman_age"], fam["man_age"])
    spouse_age = np.where(head_female, fam["man_age"], fam["woman_age"])
    blocks = []
    for role, base in (("ORANG TUA", head_age), ("MERTUA", spouse_age)):
        m = fam[role].to_numpy()
        age = np.minimum(base[m] + rng.integers(20, 38, m.sum()), 99)
        blocks.append(_block(idx[m], role, rng.random(m.sum()) < 0.7, age))
    m = fam["CUCU"].to_numpy()
    age = rng.integers(0, np.minimum(head_age[m] - 36, 16))
    blocks.append(_block(idx[m], "CUCU", rng.random(m.sum()) < 0.5, age))
    m = fam["FAMILI LAIN"].to_numpy()
    blocks.append(_block(idx[m], "FAMILI LAIN", rng.random(m.sum()) < 0.5,
                         rng.integers(5, 70, m.sum())))
    return blocks


def birth_dates(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    """Birth dates giving exactly `age` completed years on REFERENCE_DATE."""
    days = np.floor((age + rng.random(len(age)) * 0.997) * DAYS_PER_YEAR).astype(np.int64)
    return REFERENCE_DATE - days.astype("timedelta64[D]")


def _add_twins(rng: np.random.Generator, members: pd.DataFrame) -> pd.DataFrame:
    child = np.flatnonzero(members["role"].to_numpy() == ROLE["ANAK"])
    first = child[rng.random(len(child)) < TWIN_SHARE]
    twins = members.iloc[first].copy()
    twins["twin_of"] = first
    flip = rng.random(len(first)) >= SAME_SEX_TWINS
    twins["female"] = twins["female"].to_numpy() ^ flip
    members = pd.concat([members, twins], ignore_index=True)
    is_first = np.zeros(len(members), dtype=bool)
    is_first[first] = True
    members["twin_first"] = is_first
    return members


def build_members(rng: np.random.Generator, fam: pd.DataFrame) -> pd.DataFrame:
    """One row per person, sorted by family then KK order; `twin_of` points at the co-twin."""
    idx = np.arange(len(fam))
    blocks = [*_parents(fam, idx), _children(rng, fam, idx), *_relatives(rng, fam, idx)]
    members = pd.concat(blocks, ignore_index=True)
    missing = members["birth"].isna().to_numpy()
    members.loc[missing, "birth"] = birth_dates(rng, members["age"].to_numpy()[missing])
    members["twin_of"] = -1
    members = _add_twins(rng, members)
    order = np.lexsort((members["birth"].to_numpy(), members["role"].to_numpy(),
                        members["family"].to_numpy()))
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    members = members.iloc[order].reset_index(drop=True)
    twin = members["twin_of"].to_numpy()
    members["twin_of"] = np.where(twin >= 0, position[np.maximum(twin, 0)], -1)
    return members


def draw_population(rng: np.random.Generator, people: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Exactly `people` members in families; families beyond the target are dropped and the
    remainder is filled with single-person families."""
    fam = draw_families(rng, int(people / 3.0) + 16)
    members = build_members(rng, fam)
    size = np.bincount(members["family"], minlength=len(fam))
    keep = np.cumsum(size) <= people
    fam, members = fam[keep], members[keep[members["family"].to_numpy()]]
    fill = people - len(members)
    if fill:
        singles = draw_families(rng, fill, only=SINGLE)
        extra = build_members(rng, singles)
        extra["family"] += len(fam)
        extra.loc[extra["twin_of"] >= 0, "twin_of"] += len(members)
        fam = pd.concat([fam, singles], ignore_index=True)
        members = pd.concat([members, extra], ignore_index=True)
    return fam.reset_index(drop=True), members.reset_index(drop=True)
