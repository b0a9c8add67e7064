"""NIK and No KK numbers built by the Dukcapil rules (domain brief §3.1-3.2), and opaque ids.

NIK = district of first registration (6 digits) + DDMMYY of birth (day + 40 for women)
+ a serial from 0001 that is unique among NIKs sharing the first 12 digits.
No KK = issuing district (6 digits) + DDMMYY of issue + serial.
"""

from __future__ import annotations

import numpy as np

from .text import zfill

ADULT_AGE = 17
MOVED_ADULT_SHARE = 0.10        # adults whose NIK was first issued in another district
MOVED_FROM_OUTSIDE = 0.30       # of those, from a district outside the generated provinces
KK_ISSUED = (np.datetime64("2008-01-01"), np.datetime64("2025-06-01"))


def date_parts(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Day, month and year of datetime64[D] values.

    >>> [p.tolist() for p in date_parts(np.array(["1980-02-29"], dtype="datetime64[D]"))]
    [[29], [2], [1980]]
    """
    dates = np.asarray(dates).astype("datetime64[D]")
    month_start = dates.astype("datetime64[M]")
    day = (dates - month_start).astype(np.int64) + 1
    month = month_start.astype(np.int64) % 12 + 1
    year = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    return day, month, year


def serial_within(rng: np.random.Generator, keys: np.ndarray) -> np.ndarray:
    """1, 2, 3 ... within each key, in a random order (a vectorised groupby-cumcount).

    >>> serial_within(np.random.default_rng(0), np.array([5, 5, 7])).tolist() in ([1, 2, 1], [2, 1, 1])
    True
    """
    order = np.lexsort((rng.random(len(keys)), keys))
    sorted_keys = keys[order]
    starts = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(keys)), 0))
    serial = np.empty(len(keys), dtype=np.int64)
    serial[order] = np.arange(len(keys)) - group_start + 1
    return serial


def numbers_16(rng: np.random.Generator, district: np.ndarray, day: np.ndarray,
               month: np.ndarray, year: np.ndarray) -> np.ndarray:
    """16-digit numbers district|DDMMYY|serial as text (districts are 6 digits, >= 110101)."""
    first12 = district * 1_000_000 + day * 10_000 + month * 100 + year % 100
    return (first12 * 10_000 + serial_within(rng, first12)).astype(str)


def nik_numbers(rng: np.random.Generator, district: np.ndarray, birth: np.ndarray,
                female: np.ndarray) -> np.ndarray:
    """NIKs from the district of first registration, birth date and sex.

    >>> nik = nik_numbers(np.random.default_rng(0), np.array([171001, 171001]),
    ...                   np.array(["1990-08-17", "1990-08-17"], dtype="datetime64[D]"),
    ...                   np.array([True, False]))
    >>> sorted(nik.tolist())
    ['1710011708900001', '1710015708900001']
    """
    day, month, year = date_parts(birth)
    return numbers_16(rng, district, day + 40 * female, month, year)


def first_districts(rng: np.random.Generator, current: np.ndarray, age: np.ndarray,
                    local: np.ndarray, national: np.ndarray) -> np.ndarray:
    """District of first NIK registration: where they live, except for adults who moved."""
    moved = (age >= ADULT_AGE) & (rng.random(len(current)) < MOVED_ADULT_SHARE)
    outside = rng.random(len(current)) < MOVED_FROM_OUTSIDE
    elsewhere = np.where(outside, national[rng.integers(0, len(national), len(current))],
                         local[rng.integers(0, len(local), len(current))])
    return np.where(moved, elsewhere, current)


def kk_numbers(rng: np.random.Generator, district: np.ndarray) -> np.ndarray:
    """No KK for families living in `district`, issued on a random date."""
    span = (KK_ISSUED[1] - KK_ISSUED[0]).astype(np.int64)
    issued = KK_ISSUED[0] + rng.integers(0, span, len(district)).astype("timedelta64[D]")
    return numbers_16(rng, district, *date_parts(issued))


def prefixed_ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Opaque text ids such as 'KEL00000001'.

    >>> prefixed_ids("KEL", np.array([1, 22]), 4).tolist()
    ['KEL0001', 'KEL0022']
    """
    return np.strings.add(prefix, zfill(numbers, width))
