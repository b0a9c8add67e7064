"""How names change between the register and a beneficiary list (domain brief §6).

Each function takes the names to change (a numpy string array) and returns the changed names.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import vocab as v
from .text import (
    from_matrix,
    pick,
    random_positions,
    replace,
    to_matrix,
    to_new_spelling,
    to_old_spelling,
)

OLD_MARKERS = ("OE", "DJ", "TJ")
FRONT_TITLE_SHARE = 0.6
TWO_TYPOS_SHARE = 0.2
LETTERS = np.arange(ord("A"), ord("Z") + 1, dtype=np.uint32)


def _regex(names: np.ndarray, pattern: str, repl: str) -> np.ndarray:
    return pd.Series(names, dtype="str").str.replace(pattern, repl, regex=True).to_numpy(str)


def flip_spelling(rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
    """Old spelling to EYD, or EYD to old spelling (SOEPARMAN <-> SUPARMAN)."""
    old = np.zeros(len(names), dtype=bool)
    for marker in OLD_MARKERS:
        old |= np.strings.find(names, marker) >= 0
    return np.where(old, to_new_spelling(names), to_old_spelling(names))


def abbreviate_muhammad(rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
    """MUHAMMAD -> M. / MUH. / MOH. / MUHAMAD ... (abbreviations banned only since 2022)."""
    variant = pick(rng, v.MUHAMMAD_VARIANTS, len(names))
    out = names.astype(object)
    for word in v.MUHAMMAD_VARIANTS:
        m = variant == word
        out[m] = replace(names[m], "MUHAMMAD", word)
    return out.astype(str)


def add_title(rng: np.random.Generator, names: np.ndarray, female: np.ndarray) -> np.ndarray:
    """Religious or academic titles in front (H., HJ., DRS.) or at the back (, S.PD.)."""
    front = np.where(female, pick(rng, v.TITLES_FEMALE_FRONT, len(names)),
                     pick(rng, v.TITLES_MALE_FRONT, len(names)))
    back = pick(rng, v.TITLES_BACK, len(names))
    in_front = rng.random(len(names)) < FRONT_TITLE_SHARE
    return np.where(in_front, np.strings.add(np.strings.add(front, " "), names),
                    np.strings.add(np.strings.add(names, ", "), back))


def drop_last_word(rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
    """Drop the last word, or the whole BIN/BINTI part."""
    return _regex(names, r"( BINTI? \S+| \S+)$", "")


def initial_last_word(rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
    """Abbreviate the last word to its initial (SITI AMINAH -> SITI A.)."""
    return _regex(names, r" (\S)\S*$", r" \1.")


def swap_first_words(rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
    """Swap the first two words (RAHMAT HIDAYAT -> HIDAYAT RAHMAT)."""
    return _regex(names, r"^(\S+) (\S+)", r"\2 \1")


def _one_typo(rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
    """Substitute, delete, insert or transpose one character, rarely the first one."""
    matrix = to_matrix(names)
    n, width = matrix.shape
    length = np.strings.str_len(names)
    pos = random_positions(rng, length, lo=1, end_margin=1)
    op = rng.integers(0, 4, n)
    cols = np.arange(width)[None, :]
    rows = np.arange(n)
    letter = LETTERS[rng.integers(0, len(LETTERS), n)]
    out = matrix.copy()
    swap = (op == 3) & (pos + 1 < length)
    sub, dele, ins = (op == 0) | ((op == 3) & ~swap), op == 1, op == 2
    out[rows[sub], pos[sub]] = letter[sub]
    shift = cols + (cols >= pos[:, None])
    out[dele] = np.take_along_axis(matrix, np.minimum(shift, width - 1), 1)[dele]
    out[dele, -1] = 0
    shift = cols - (cols > pos[:, None])
    out[ins] = np.take_along_axis(matrix, shift, 1)[ins]
    out[rows[ins], pos[ins]] = letter[ins]
    nxt = np.minimum(pos + 1, width - 1)
    out[rows[swap], pos[swap]] = matrix[rows[swap], nxt[swap]]
    out[rows[swap], nxt[swap]] = matrix[rows[swap], pos[swap]]
    return from_matrix(out)


def typo(rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
    """One or two character edits, as from hurried typing."""
    names = _one_typo(rng, names)
    twice = rng.random(len(names)) < TWO_TYPOS_SHARE
    names[twice] = _one_typo(rng, names[twice])
    return names


def spacing(rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
    """Double spaces, a trailing space or a stray dot/comma."""
    kind = rng.integers(0, 4, len(names))
    variants = (replace(names, " ", "  ", 1), np.strings.add(names, " "),
                np.strings.add(" ", names), replace(names, " ", ". ", 1))
    out = np.select([kind == k for k in range(4)], variants, default=names)
    return np.where(out == names, np.strings.add(names, " "), out)


def recase(rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
    """lower case or Title Case instead of the KK's upper case."""
    lower = rng.random(len(names)) < 0.5
    return np.where(lower, np.strings.lower(names), pd.Series(names, dtype="str").str.title())
