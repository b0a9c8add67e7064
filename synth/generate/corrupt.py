"""Corruptions of beneficiary-list rows, each with a configured rate and a code in the truth.

Corruptions of one field that exclude each other (a NIK is blank *or* mistyped) share a
`group`: one uniform draw per row and disjoint intervals, so each code's realised rate among
the rows it can apply to matches its configured rate. Corruptions without a group are drawn
independently and may stack (a typo and lower case).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from . import field_errors as fe
from . import name_errors as ne

Rows = dict[str, np.ndarray]
Change = Callable[[np.random.Generator, Rows, np.ndarray], None]


@dataclass(frozen=True)
class Corruption:
    """One kind of error: its code, rate, field group and which rows it can apply to."""

    code: str
    rate: float
    change: Change
    group: str | None = None
    applies: Callable[[Rows], np.ndarray] | None = None


def _set(column: str, fn: Callable[[np.random.Generator, np.ndarray], np.ndarray]) -> Change:
    def change(rng: np.random.Generator, rows: Rows, m: np.ndarray) -> None:
        rows[column][m] = fn(rng, rows[column][m].astype(str))
    return change


def _const(column: str, value) -> Change:
    def change(rng: np.random.Generator, rows: Rows, m: np.ndarray) -> None:
        rows[column][m] = value
    return change


def _copy(column: str, source: str) -> Change:
    def change(rng: np.random.Generator, rows: Rows, m: np.ndarray) -> None:
        rows[column][m] = rows[source][m]
    return change


def _title(rng: np.random.Generator, rows: Rows, m: np.ndarray) -> None:
    rows["nama"][m] = ne.add_title(rng, rows["nama"][m].astype(str), rows["female"][m])


def _swap_day_month(rng: np.random.Generator, rows: Rows, m: np.ndarray) -> None:
    rows["day"][m], rows["month"][m] = fe.swap_day_month(rows["day"][m], rows["month"][m])


def _shift_year(rng: np.random.Generator, rows: Rows, m: np.ndarray) -> None:
    rows["day"][m], rows["year"][m] = fe.shift_year(rng, rows["day"][m], rows["month"][m],
                                                    rows["year"][m])


def _placeholder(day: int, month: int) -> Change:
    def change(rng: np.random.Generator, rows: Rows, m: np.ndarray) -> None:
        rows["day"][m], rows["month"][m] = day, month
    return change


def _blank_dob(rng: np.random.Generator, rows: Rows, m: np.ndarray) -> None:
    rows["dob_blank"][m] = True


def _flip_sex(rng: np.random.Generator, rows: Rows, m: np.ndarray) -> None:
    rows["sex"][m] = 1 - rows["sex"][m]


def _neighbour(rng: np.random.Generator, rows: Rows, m: np.ndarray) -> None:
    rows["village"][m] = rows["neighbour"][m]


def _is(column: str) -> Callable[[Rows], np.ndarray]:
    return lambda rows: rows[column].astype(bool)


def _contains(text: str) -> Callable[[Rows], np.ndarray]:
    return lambda rows: np.strings.find(rows["nama"].astype(str), text) >= 0


def _multiword(rows: Rows) -> np.ndarray:
    return np.strings.find(np.strings.strip(rows["nama"].astype(str)), " ") >= 0


def _old_or_elder(rows: Rows) -> np.ndarray:
    names = rows["nama"].astype(str)
    old = np.zeros(len(names), dtype=bool)
    for marker in ne.OLD_MARKERS:
        old |= np.strings.find(names, marker) >= 0
    return old | (rows["year"] < 1975)


def _copy_with(column: str) -> Callable[[Rows], np.ndarray]:
    return lambda rows: rows["is_copy"] & rows[column].astype(bool)


CORRUPTIONS = (
    # NIK: about 10% of rows end up with an unusable NIK (all but the apostrophe).
    Corruption("dup_nik_family", 0.20, _copy("nik", "family_nik"), "nik", _copy_with("has_family")),
    Corruption("dup_nik_typo", 0.15, _set("nik", fe.substitute_digit), "nik", _is("is_copy")),
    Corruption("nik_blank", 0.025, _const("nik", ""), "nik"),
    Corruption("nik_zeros", 0.008, _const("nik", fe.NIK_PLACEHOLDER), "nik"),
    Corruption("nik_is_kk", 0.008, _copy("nik", "no_kk"), "nik"),
    Corruption("nik_family_member", 0.008, _copy("nik", "family_nik"), "nik", _is("has_family")),
    Corruption("nik_digit", 0.015, _set("nik", fe.substitute_digit), "nik"),
    Corruption("nik_transposed", 0.010, _set("nik", fe.transpose_digits), "nik"),
    Corruption("nik_excel_sci", 0.012, _set("nik", fe.excel_scientific), "nik"),
    Corruption("nik_excel_last0", 0.010, _set("nik", fe.excel_last_zero), "nik"),
    Corruption("nik_apostrophe", 0.030, _set("nik", fe.apostrophe), "nik"),
    # No KK
    Corruption("kk_blank", 0.040, _const("no_kk", ""), "kk"),
    Corruption("kk_reissued", 0.020, _set("no_kk", fe.reissued_kk), "kk"),
    Corruption("kk_excel_sci", 0.010, _set("no_kk", fe.excel_scientific), "kk"),
    Corruption("kk_apostrophe", 0.020, _set("no_kk", fe.apostrophe), "kk"),
    # Names: independent, applied in this order (case last, as an export would).
    Corruption("name_spelling", 0.08, _set("nama", ne.flip_spelling), None, _old_or_elder),
    Corruption("name_muhammad", 0.40, _set("nama", ne.abbreviate_muhammad), None,
               _contains("MUHAMMAD")),
    Corruption("name_title", 0.020, _title),
    Corruption("name_drop_word", 0.030, _set("nama", ne.drop_last_word), "words", _multiword),
    Corruption("name_initial", 0.020, _set("nama", ne.initial_last_word), "words", _multiword),
    Corruption("name_swap", 0.010, _set("nama", ne.swap_first_words), "words", _multiword),
    Corruption("name_typo", 0.040, _set("nama", ne.typo)),
    Corruption("name_spacing", 0.030, _set("nama", ne.spacing)),
    Corruption("name_case", 0.060, _set("nama", ne.recase)),
    # Birth date
    Corruption("dob_day_month_swap", 0.015, _swap_day_month, "dob",
               lambda rows: (rows["day"] <= 12) & (rows["day"] != rows["month"])),
    Corruption("dob_placeholder_0107", 0.008, _placeholder(1, 7), "dob"),
    Corruption("dob_placeholder_3112", 0.004, _placeholder(31, 12), "dob"),
    Corruption("dob_year_off", 0.010, _shift_year, "dob"),
    # Off by default (the bench's data sets stay as they are); SPARSE_FIELDS turns it on.
    Corruption("dob_blank", 0.0, _blank_dob, "dob"),
    # Sex, address, region
    Corruption("sex_flipped", 0.004, _flip_sex, "sex"),
    Corruption("sex_blank", 0.006, _const("sex", -1), "sex"),
    Corruption("address_blank", 0.020, _const("alamat", "-"), "address"),
    Corruption("dup_other_village", 0.30, _neighbour, "region", _copy_with("has_neighbour")),
    Corruption("region_neighbour_village", 0.030, _neighbour, "region", _is("has_neighbour")),
    Corruption("region_no_dots", 0.120, _const("dotless", True), "region_format"),
)

# Codes after which the NIK cell no longer holds the person's NIK (the apostrophe is harmless).
UNUSABLE_NIK = tuple(c.code for c in CORRUPTIONS if c.group == "nik" and c.code != "nik_apostrophe")


@dataclass(frozen=True)
class ErrorProfile:
    """How messy the lists are, for stress tests.

    Attributes:
        scale: every corruption rate times this (x0.5 cleaner, x3 much messier).
        low_quality_share: share of rows entered carelessly. With it, errors pile up on
            the same rows, as they do in real exports: those rows get their rates times
            `low_quality_factor`, the other rows less, so each rate's mean is unchanged.
        low_quality_factor: how much more often a careless row has each error.
        rates: (code, rate) pairs that replace the configured rates of those codes.
    """

    scale: float = 1.0
    low_quality_share: float = 0.0
    low_quality_factor: float = 4.0
    rates: tuple[tuple[str, float], ...] = ()

    def corruptions(self) -> tuple[Corruption, ...]:
        """CORRUPTIONS with this profile's own rates put in."""
        rates = dict(self.rates)
        unknown = rates.keys() - {c.code for c in CORRUPTIONS}
        if unknown:
            raise ValueError(f"unknown corruption codes: {sorted(unknown)}")
        return tuple(replace(c, rate=rates.get(c.code, c.rate)) for c in CORRUPTIONS)

    def row_scale(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Each row's multiplier of the configured rates."""
        if not self.low_quality_share:
            return np.full(n, self.scale)
        careless = rng.random(n) < self.low_quality_share
        high = self.low_quality_factor
        rest = max(0.0, (1 - self.low_quality_share * high) / (1 - self.low_quality_share))
        return self.scale * np.where(careless, high, rest)


AS_CONFIGURED = ErrorProfile()
# Fields left blank far more often, as on lists typed from paper: about a fifth of rows
# without KK, one in twenty without NIK, some without birth date or sex. The matching
# engine's contract tests run on it (tests/test_match_engine.py).
SPARSE_FIELDS = ErrorProfile(rates=(("nik_blank", 0.055), ("kk_blank", 0.20),
                                    ("dob_blank", 0.02), ("sex_blank", 0.03)))


def _intervals(rng: np.random.Generator, corruptions: tuple[Corruption, ...], n: int,
               row_scale: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per group: each row's (interval start, end) on a shared uniform draw per corruption.

    A group whose scaled rates would add up to more than 1 on a row is shrunk to fit.
    """
    totals: dict[str, float] = {}
    for c in corruptions:
        key = c.group if c.group is not None else c.code
        totals[key] = totals.get(key, 0.0) + c.rate
    if max(totals.values()) > 1:
        raise ValueError("rates of a group add up to more than 1")
    draws: dict[str, np.ndarray] = {}
    start: dict[str, float] = {}
    out = {}
    for c in corruptions:
        key = c.group if c.group is not None else c.code
        if key not in draws:
            draws[key], start[key] = rng.random(n), 0.0
        fit = np.minimum(row_scale, 1 / totals[key])
        out[c.code] = (start[key] * fit, (start[key] + c.rate) * fit, draws[key])
        start[key] += c.rate
    return out


def corrupt(rng: np.random.Generator, rows: Rows,
            profile: ErrorProfile = AS_CONFIGURED) -> tuple[np.ndarray, dict]:
    """Apply the profile's corruptions in order, in place; return each row's codes and
    realised rates."""
    corruptions = profile.corruptions()
    n = len(rows["nik"])
    row_scale = profile.row_scale(rng, n)
    intervals = _intervals(rng, corruptions, n, row_scale)
    codes = np.full(n, "", dtype=object)
    realised = {}
    for c in corruptions:
        lo, hi, u = intervals[c.code]
        applicable = c.applies(rows) if c.applies else np.ones(n, dtype=bool)
        m = applicable & (u >= lo) & (u < hi)
        if m.any():
            c.change(rng, rows, m)
            codes[m] = codes[m] + "," + c.code
        realised[c.code] = {"rate": c.rate, "group": c.group, "applicable": int(applicable.sum()),
                            "applied": int(m.sum()),
                            "realised_rate": round(float(m.sum() / max(applicable.sum(), 1)), 5)}
    return np.strings.lstrip(codes.astype(str), ","), realised
