"""Vectorised string helpers on numpy unicode arrays (no Python loop per row)."""

from __future__ import annotations

import numpy as np

# EYD (1972) replaced these Van Ophuijsen/Soewandi spellings (domain brief §6.1).
# '#' protects the new-spelling J, which was DJ in the old spelling and must not become Y.
_TO_OLD = (("J", "#"), ("Y", "J"), ("#", "DJ"), ("C", "TJ"), ("KH", "CH"), ("U", "OE"))
_TO_NEW = (("OE", "U"), ("TJ", "C"), ("CH", "KH"), ("DJ", "#"), ("J", "Y"), ("#", "J"))


def zfill(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as zero-padded text.

    >>> zfill(np.array([3, 12]), 3).tolist()
    ['003', '012']
    """
    text = np.asarray(values).astype(np.int64).astype(str)
    return np.strings.zfill(text, width) if len(text) else text


def concat(*parts) -> np.ndarray:
    """Element-wise concatenation of string arrays and scalars.

    >>> concat(np.array(["RT", "RW"]), " ", np.array(["003", "001"])).tolist()
    ['RT 003', 'RW 001']
    """
    out = np.asarray(parts[0], dtype=str)
    for part in parts[1:]:
        out = np.strings.add(out, np.asarray(part, dtype=str))
    return out


def join_words(*parts: np.ndarray) -> np.ndarray:
    """Join word arrays with single spaces, skipping empty words.

    >>> join_words(np.array(["SITI", ""]), np.array(["", "BUDI"]), np.array(["AMINAH", ""])).tolist()
    ['SITI AMINAH', 'BUDI']
    """
    out = np.asarray(parts[0], dtype=str)
    for part in parts[1:]:
        part = np.asarray(part, dtype=str)
        sep = np.where((np.strings.str_len(out) > 0) & (np.strings.str_len(part) > 0), " ", "")
        out = np.strings.add(np.strings.add(out, sep), part)
    return out


def replace(values: np.ndarray, old: str, new: str, count: int = -1) -> np.ndarray:
    """np.strings.replace that also accepts an empty array.

    >>> replace(np.array([], dtype=str), "A", "B").tolist()
    []
    """
    values = np.asarray(values, dtype=str)
    return np.strings.replace(values, old, new, count) if len(values) else values


def partition(values: np.ndarray, sep: str = " ") -> tuple[np.ndarray, np.ndarray]:
    """Text before and after the first `sep` (np.strings.partition, also for empty arrays).

    >>> [p.tolist() for p in partition(np.array(["SITI NUR AMINAH", "BUDI"]))]
    [['SITI', 'BUDI'], ['NUR AMINAH', '']]
    """
    values = np.asarray(values, dtype=str)
    if not len(values):
        return values, values
    head, _, tail = np.strings.partition(values, sep)
    return head, tail


def _replace_all(values: np.ndarray, pairs: tuple[tuple[str, str], ...]) -> np.ndarray:
    for old, new in pairs:
        values = replace(values, old, new)
    return values


def to_old_spelling(names: np.ndarray) -> np.ndarray:
    """Names as written before EYD (1972).

    >>> to_old_spelling(np.array(["SUPARMAN", "JOKO", "CAHYONO", "SUKARNO"])).tolist()
    ['SOEPARMAN', 'DJOKO', 'TJAHJONO', 'SOEKARNO']
    """
    return _replace_all(np.asarray(names, dtype=str), _TO_OLD)


def to_new_spelling(names: np.ndarray) -> np.ndarray:
    """Old-spelling names in EYD.

    >>> to_new_spelling(np.array(["SOEPARMAN", "DJOKO", "TJAHJONO", "JANTI"])).tolist()
    ['SUPARMAN', 'JOKO', 'CAHYONO', 'YANTI']
    """
    return _replace_all(np.asarray(names, dtype=str), _TO_NEW)


def pick(rng: np.random.Generator, vocab: tuple[str, ...], n: int) -> np.ndarray:
    """n words drawn uniformly (with replacement) from a vocabulary."""
    return np.asarray(vocab, dtype=str)[rng.integers(0, len(vocab), n)]


def to_matrix(values: np.ndarray, pad: int = 2) -> np.ndarray:
    """Unicode strings as a (rows, width) matrix of code points, zero-padded on the right."""
    values = np.asarray(values, dtype=str)
    width = max(int(np.strings.str_len(values).max(initial=0)) + pad, 1)
    return values.astype(f"<U{width}").view(np.uint32).reshape(len(values), width)


def from_matrix(matrix: np.ndarray) -> np.ndarray:
    """Inverse of to_matrix: zero code points drop out as padding.

    >>> from_matrix(to_matrix(np.array(["AB", "C"]))).tolist()
    ['AB', 'C']
    """
    matrix = np.ascontiguousarray(matrix, dtype=np.uint32)
    return matrix.view(f"<U{matrix.shape[1]}").ravel()


def random_positions(rng: np.random.Generator, lengths: np.ndarray, lo: int = 0,
                     end_margin: int = 0) -> np.ndarray:
    """A random index per string in [lo, length - end_margin), clipped to valid bounds."""
    hi = np.maximum(lengths - end_margin, lo + 1)
    return (lo + rng.random(len(lengths)) * (hi - lo)).astype(np.int64)
