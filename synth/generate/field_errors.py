"""Errors in identifiers, dates, sex and region codes of beneficiary lists (domain brief §3.3).

Each function takes the values of the rows chosen for an error and returns the new values;
corrupt.py decides which rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .identifiers import date_parts
from .text import concat, from_matrix, random_positions, to_matrix, zfill

NIK_PLACEHOLDER = "0000000000000000"
DATE_STYLES = ("YYYY-MM-DD", "DD-MM-YYYY", "DD/MM/YYYY", "DD/MM/YYYY 0:00:00")
DIGIT_ZERO = ord("0")


def substitute_digit(rng: np.random.Generator, numbers: np.ndarray) -> np.ndarray:
    """One digit replaced by another (a typing slip).

    >>> out = substitute_digit(np.random.default_rng(1), np.array(["1701010101900001"]))[0]
    >>> sum(a != b for a, b in zip(out, "1701010101900001"))
    1
    """
    matrix = to_matrix(numbers, pad=0)
    rows = np.arange(len(numbers))
    pos = random_positions(rng, np.strings.str_len(numbers))
    digit = (matrix[rows, pos] - DIGIT_ZERO + rng.integers(1, 10, len(numbers))) % 10
    matrix[rows, pos] = digit + DIGIT_ZERO
    return from_matrix(matrix)


def transpose_digits(rng: np.random.Generator, numbers: np.ndarray) -> np.ndarray:
    """Two adjacent digits swapped, chosen among the positions where they differ."""
    matrix = to_matrix(numbers, pad=0)
    differs = matrix[:, :-1] != matrix[:, 1:]
    # A random differing position per row: the largest random key among allowed positions.
    key = np.where(differs, rng.random(differs.shape), -1)
    pos = key.argmax(axis=1)
    rows = np.arange(len(numbers))
    left = matrix[rows, pos].copy()
    matrix[rows, pos] = matrix[rows, pos + 1]
    matrix[rows, pos + 1] = left
    return from_matrix(matrix)


def excel_scientific(rng: np.random.Generator, numbers: np.ndarray) -> np.ndarray:
    """A 16-digit number as Excel's General format shows it: 6 significant digits.

    >>> excel_scientific(None, np.array(["1771015708900001", "1700000000000001"])).tolist()
    ['1.77102E+15', '1.7E+15']
    """
    six = (np.strings.slice(numbers, 0, 7).astype(np.int64) + 5) // 10
    digits = pd.Series(six.astype(str), dtype="str")
    mantissa = (digits.str.slice(0, 1) + "." + digits.str.slice(1)).str.replace(
        r"\.?0+$", "", regex=True)
    return (mantissa + "E+15").to_numpy(str)


def excel_last_zero(rng: np.random.Generator, numbers: np.ndarray) -> np.ndarray:
    """Excel keeps 15 significant digits, so the 16th becomes 0.

    >>> excel_last_zero(None, np.array(["1701010101900001"])).tolist()
    ['1701010101900000']
    """
    return np.strings.add(np.strings.slice(numbers, 0, 15), "0")


def apostrophe(rng: np.random.Generator, numbers: np.ndarray) -> np.ndarray:
    """The leading apostrophe typed to keep Excel from mangling the number."""
    return np.strings.add("'", numbers)


def reissued_kk(rng: np.random.Generator, numbers: np.ndarray) -> np.ndarray:
    """An older or newer No KK of the same district (a KK changes on moves and splits)."""
    issued = np.datetime64("2005-01-01") + rng.integers(0, 7300, len(numbers)).astype(
        "timedelta64[D]")
    day, month, year = date_parts(issued)
    serial = zfill(rng.integers(1, 30, len(numbers)), 4)
    return concat(np.strings.slice(numbers, 0, 6), zfill(day, 2), zfill(month, 2),
                  zfill(year % 100, 2), serial)


def swap_day_month(day: np.ndarray, month: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Day and month exchanged (only applied where both are <= 12)."""
    return month, day


def shift_year(rng: np.random.Generator, day: np.ndarray, month: np.ndarray,
               year: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Birth year off by one; 29 February becomes the 28th when needed."""
    year = year + rng.choice((-1, 1), len(year))
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    return np.where((month == 2) & (day == 29) & ~leap, 28, day), year


def format_dates(day: np.ndarray, month: np.ndarray, year: np.ndarray,
                 style: np.ndarray) -> np.ndarray:
    """Dates written in one of DATE_STYLES per row.

    >>> format_dates(np.array([5, 5, 5, 5]), np.array([8] * 4), np.array([1990] * 4),
    ...              np.arange(4)).tolist()
    ['1990-08-05', '05-08-1990', '05/08/1990', '05/08/1990 0:00:00']
    """
    dd, mm, yyyy = zfill(day, 2), zfill(month, 2), zfill(year, 4)
    styles = (concat(yyyy, "-", mm, "-", dd), concat(dd, "-", mm, "-", yyyy),
              concat(dd, "/", mm, "/", yyyy), concat(dd, "/", mm, "/", yyyy, " 0:00:00"))
    return np.select([style == k for k in range(len(styles))], styles, default=styles[0])

