"""Thresholds and limits of the matching engine, with the reasons for their defaults."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MatchSettings:
    """Options of `reconcile.match.match`.

    Attributes:
        link_threshold: smallest match probability at which a Kemensos row is linked to
            a register individual. 0.9999 (13.3 bits): on generated data at 200k people
            it halves the not-in-register rows wrongly linked compared with 0.99 at no
            measurable loss of recall.
        dedupe_threshold: smallest match probability at which two Kemensos rows are the
            same person (only used for rows the register did not already join).
        ambiguity_bits: a row whose two best register candidates differ by fewer match-
            weight bits than this is not linked (it cannot be told between them).
        max_pairs_per_key: a blocking key that would produce more pairs than this (an
            all-zero NIK, a very common name in one village) is skipped and reported.
        u_sample: rows drawn from each side for the random pairs that estimate u.
        em_max_iterations: upper bound on EM iterations (the match share).
    """

    link_threshold: float = 0.9999
    dedupe_threshold: float = 0.99
    ambiguity_bits: float = 1.0
    max_pairs_per_key: int = 5_000
    u_sample: int = 600
    em_max_iterations: int = 100
