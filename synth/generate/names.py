"""Indonesian names for synthetic people, drawn with numpy from the vocabularies in `vocab`.

A name is [front word] first [second word | marga] [BIN/BINTI father]; the shares depend on
ethnic group, sex and birth year (single names are common among older Javanese, MUHAMMAD
and modern two-word names among the young; old spelling before ~1965).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import vocab as v
from .population import ROLE
from .text import join_words, partition, pick, to_old_spelling

BATAK = v.GROUPS.index("BATAK")
JAWA = v.GROUPS.index("JAWA")
MIXED_MARRIAGE = 0.15          # spouse from another group
MODERN_FROM, MODERN_SHARE = 1995, 0.5
FRONT_SHARE = {False: (0.12, 0.30), True: (0.22, 0.28)}  # (born before 1985, after), by female
SECOND_SHARE = (0.30, 0.60)    # born before 1970 / after; Javanese elders much less often
BR_SHARE = 0.5                 # Batak women written "BR. SIREGAR"
BIN_SHARE = 0.02
OLD_SPELLING = ((1965, 0.55), (1975, 0.10))  # (born before, share) in the register
TWIN_RHYME = 0.6


def person_groups(rng: np.random.Generator, members: pd.DataFrame,
                  family_group: np.ndarray) -> np.ndarray:
    """Each member's ethnic group: the family's, except some spouses who married in."""
    group = family_group[members["family"].to_numpy()]
    spouse = members["role"].isin((ROLE["ISTRI"], ROLE["SUAMI"], ROLE["MERTUA"])).to_numpy()
    other = spouse & (rng.random(len(group)) < MIXED_MARRIAGE)
    group[other] = rng.choice(len(v.GROUPS), other.sum(), p=v.GROUP_SHARES)
    return group


def _first_words(rng: np.random.Generator, group: np.ndarray, female: np.ndarray,
                 year: np.ndarray) -> np.ndarray:
    first = np.empty(len(group), dtype=object)
    for g, name in enumerate(v.GROUPS):
        for is_female, lists in ((False, v.MALE), (True, v.FEMALE)):
            m = (group == g) & (female == is_female)
            first[m] = pick(rng, v.words(lists[name]), m.sum())
    modern = (year >= MODERN_FROM) & (group != BATAK) & (rng.random(len(group)) < MODERN_SHARE)
    first[modern & female] = pick(rng, v.words(v.FEMALE_MODERN), (modern & female).sum())
    first[modern & ~female] = pick(rng, v.words(v.MALE_MODERN), (modern & ~female).sum())
    return first.astype(str)


def _front_words(rng: np.random.Generator, group: np.ndarray, female: np.ndarray,
                 year: np.ndarray) -> np.ndarray:
    front = np.full(len(group), "", dtype=object)
    for is_female, words in ((False, v.MALE_FRONT), (True, v.FEMALE_FRONT)):
        old, young = FRONT_SHARE[is_female]
        share = np.where(year < 1985, old, young)
        m = (female == is_female) & (group != BATAK) & (rng.random(len(group)) < share)
        front[m] = pick(rng, words, m.sum())
    return front.astype(str)


def _second_words(rng: np.random.Generator, group: np.ndarray, female: np.ndarray,
                  year: np.ndarray, marga: np.ndarray) -> np.ndarray:
    share = np.where(year < 1970, SECOND_SHARE[0], SECOND_SHARE[1])
    share = np.where((group == JAWA) & (year < 1975), share / 3, share)
    chosen = rng.random(len(group)) < share
    second = np.full(len(group), "", dtype=object)
    second[chosen & female] = pick(rng, v.words(v.FEMALE_SECOND), (chosen & female).sum())
    second[chosen & ~female] = pick(rng, v.words(v.MALE_SECOND), (chosen & ~female).sum())
    batak = group == BATAK
    br = np.where(female & (rng.random(len(group)) < BR_SHARE), "BR. ", "")
    second[batak] = np.strings.add(br[batak], marga[batak])
    return second.astype(str)


def _margas(rng: np.random.Generator, members: pd.DataFrame, group: np.ndarray) -> np.ndarray:
    """Children and the head share the family's marga; spouses and others bring their own."""
    family = members["family"].to_numpy()
    family_marga = pick(rng, v.words(v.BATAK_MARGA), family.max() + 1)[family]
    own = pick(rng, v.words(v.BATAK_MARGA), len(family))
    inherits = members["role"].isin((ROLE["KEPALA KELUARGA"], ROLE["ANAK"])).to_numpy()
    return np.where(inherits & (group == BATAK), family_marga, own)


def _bin_binti(rng: np.random.Generator, members: pd.DataFrame, names: np.ndarray,
               group: np.ndarray) -> np.ndarray:
    """Append BIN/BINTI and the father's first name for a few children of male heads."""
    role, female = members["role"].to_numpy(), members["female"].to_numpy()
    head = np.flatnonzero(role == ROLE["KEPALA KELUARGA"])
    head_of = np.full(members["family"].max() + 1, -1)
    head_of[members["family"].to_numpy()[head]] = head
    father = head_of[members["family"].to_numpy()]
    m = ((role == ROLE["ANAK"]) & (group != BATAK) & ~female[father]
         & (rng.random(len(role)) < BIN_SHARE))
    father_first = partition(names[father[m]])[0]
    suffix = np.strings.add(np.where(female[m], "BINTI ", "BIN "), father_first)
    names[m] = join_words(names[m], suffix)
    return names


def _twin_names(rng: np.random.Generator, members: pd.DataFrame, names: np.ndarray) -> np.ndarray:
    """Same-sex twins often get rhyming first names (HASAN/HUSEIN) and the same rest."""
    second = np.flatnonzero(members["twin_of"].to_numpy() >= 0)
    first = members["twin_of"].to_numpy()[second]
    female = members["female"].to_numpy()
    m = (female[first] == female[second]) & (rng.random(len(first)) < TWIN_RHYME)
    first, second = first[m], second[m]
    rest = partition(names[first])[1]
    for is_female, pairs in ((False, v.TWIN_MALE), (True, v.TWIN_FEMALE)):
        sel = female[first] == is_female
        k = rng.integers(0, len(pairs), sel.sum())
        a, b = np.asarray(pairs, dtype=str)[k].T
        names[first[sel]] = join_words(a, rest[sel])
        names[second[sel]] = join_words(b, rest[sel])
    return names


def _old_spelling(rng: np.random.Generator, names: np.ndarray, year: np.ndarray) -> np.ndarray:
    share = np.zeros(len(names))
    for before, p in reversed(OLD_SPELLING):
        share[year < before] = p
    m = rng.random(len(names)) < share
    names[m] = to_old_spelling(names[m])
    return names


def draw_names(rng: np.random.Generator, members: pd.DataFrame,
               family_group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Full names (upper case) and ethnic group of every member."""
    group = person_groups(rng, members, family_group)
    female = members["female"].to_numpy()
    year = members["birth"].to_numpy().astype("datetime64[Y]").astype(np.int64) + 1970
    marga = _margas(rng, members, group)
    names = join_words(_front_words(rng, group, female, year),
                       _first_words(rng, group, female, year),
                       _second_words(rng, group, female, year, marga)).astype("<U80")
    names = _twin_names(rng, members, names)
    names = _bin_binti(rng, members, names, group)
    return _old_spelling(rng, names, year), group
