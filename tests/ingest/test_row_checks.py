"""Properties of ingest's row checks: the fast paths find exactly what the plain rules find.

A damaged cell (a control or unreadable character, or a cell too long) is never let
through by the byte screen, however the column is chunked or sliced; repeated header
rows are the rows where every checked column repeats its header.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.ingest import (
    BAD_CHARACTERS,
    MAX_CELL,
    _damaged_cells,
    _may_be_damaged,
    _repeated_header,
)
from reconcile.ingest.headers import ColumnMap, normalise

PIECES = ["SITI", "aminah", " ", "1771014101900001", "é", "\t", "\n", "\x00", "\x1f", "\x7f",
          "\ufffd", "\ufffe", "\uffff", "\uffef", "\u00ef", "\u0bbf", "NIK", "n.i.k", "Nama"]
cell = st.one_of(st.none(), st.lists(st.sampled_from(PIECES), max_size=5).map("".join),
                 st.just("x" * (MAX_CELL + 1)))


def _column(values: list, cuts: list[int], start: int) -> pa.ChunkedArray:
    """`values` from `start` on, in chunks cut at `cuts`, each its own array and a slice
    of a longer one (its buffer holds text outside it)."""
    values = values[start:]
    bounds = sorted({0, len(values), *(c % (len(values) + 1) for c in cuts)})
    return pa.chunked_array(
        [pa.array(["pad", *values[a:b], "pad"], pa.string()).slice(1, b - a)
         for a, b in zip(bounds, bounds[1:], strict=False)], pa.string())


def _plainly_damaged(values: pa.ChunkedArray) -> bool:
    bad = pc.fill_null(pc.match_substring_regex(values, BAD_CHARACTERS), False)
    long = pc.fill_null(pc.greater(pc.utf8_length(values), MAX_CELL), False)
    return bool(pc.any(pc.or_(bad, long)).as_py())


@settings(max_examples=300, deadline=None)
@given(st.lists(cell, min_size=1, max_size=30), st.lists(st.integers(0, 40), max_size=3),
       st.integers(0, 3))
def test_the_byte_screen_never_hides_a_damaged_cell(values, cuts, start):
    column = _column(values, cuts, min(start, len(values) - 1))
    if _plainly_damaged(column):
        assert _may_be_damaged(column)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(cell, cell), min_size=1, max_size=20))
def test_damaged_rows_are_those_with_a_damaged_cell(rows):
    data = pa.table({"NIK": pa.array([r[0] for r in rows], pa.string()),
                     "NAMA": pa.array([r[1] for r in rows], pa.string())})
    columns = ColumnMap(columns={"nik": "NIK", "nama": "NAMA"}, region_parts={})
    flagged, _ = _damaged_cells(data, columns)
    expected = [any(_plainly_damaged(pa.chunked_array([pa.array([v], pa.string())]))
                    for v in row) for row in rows]
    assert flagged.to_pylist() == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(*[st.sampled_from(["NIK", "n.i.k", "nik ", "Nama", "NAMA", "x", None,
                                             "KK", "no_kk"])] * 3), min_size=0, max_size=25))
def test_repeated_header_rows_repeat_every_checked_column(rows):
    headers = ["NIK", "NAMA", "NO_KK"]
    data = pa.table({h: pa.array([r[i] for r in rows], pa.string())
                     for i, h in enumerate(headers)})
    columns = ColumnMap(columns={"nik": "NIK", "nama": "NAMA", "no_kk": "NO_KK"},
                        region_parts={})
    expected = [all(v is not None and "".join(ch for ch in v.lower() if ch.isascii()
                                              and ch.isalnum()) == normalise(h)
                    for v, h in zip(row, headers, strict=True)) for row in rows]
    assert np.asarray(_repeated_header(data, columns).to_pylist(), bool).tolist() == expected
