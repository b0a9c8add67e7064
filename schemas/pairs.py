"""Schema of pairs_scored: one row per candidate pair with its evidence and weights."""

from __future__ import annotations

import pandera.pandas as pa

PairsScored = pa.DataFrameSchema(
    {
        "rid_l": pa.Column("int64"),
        "rid_r": pa.Column("int64"),
        # the name of the blocking rule that found the pair (reconcile/match/blocking.py)
        "matched_by": pa.Column(str, pa.Check.str_matches(r"^[a-z][a-z0-9_]*$")),
        "name_sim": pa.Column(float, pa.Check.in_range(0.0, 1.0), nullable=True),
        r"gamma_.*": pa.Column("int32", pa.Check.ge(-1), regex=True),
        r"mw_.*": pa.Column(float, regex=True),
        "match_weight": pa.Column(float),
        "match_probability": pa.Column(float, pa.Check.in_range(0.0, 1.0)),
    },
    unique=["rid_l", "rid_r"],
    strict=False,
    coerce=True,
)
"""Kemensos x register pairs; each pair once, with the first blocking rule that found it.

gamma_* is the comparison level (-1 missing, 0 disagree, higher = more alike), mw_* the
bits it contributed, match_weight the prior plus their sum, match_probability
1 / (1 + 2^-match_weight). See README_MATCHING.md.
"""
