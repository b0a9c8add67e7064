"""Thresholds and limits of the matching engine, with the reasons for their defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class MatchSettings:
    """Options of `reconcile.match.match`.

    Attributes:
        link_threshold: smallest match probability at which a Kemensos row is linked to
            a register individual. The probability uses the chance that a random
            Kemensos x register pair matches as its prior (`score.pair_prior`), about
            2^-18.5 at 1M register people, so 0.9 asks for about 21.7 bits of evidence
            there and 1.4 bits less at 200k (fewer namesakes). On the 1M bench, 0.5 /
            0.9 / 0.99 / 0.999 gave not-in-register rows linked 0.41 / 0.16 / 0.08 /
            0.02% and link recall 0.9983 / 0.9981 / 0.9977 / 0.9969.
        review_threshold: a row whose best candidate is below `link_threshold` but
            whose *row* probability (`link.row_probability_sql`: the candidate against
            the row's other candidates and the chance that its person is not in the
            register) is at least this (more likely the person than not) is a possible
            match for review, not a person missing from the register (Fellegi-Sunter's
            clerical region; README_MATCHING §6, calibration).
        dedupe_threshold: smallest match probability at which two Kemensos rows are the
            same person (only used for rows the register did not already join). Its
            prior is the match share among the blocked Kemensos x Kemensos pairs.
        attach_threshold: the probability, with the link prior, that an edge putting an
            unlinked row into the person of a linked row must reach. That is a link to
            the row's register individual by another route, so it needs a link's
            evidence; at the dedupe threshold it joined people not in the register to
            namesakes born on the same day (1M bench: 0.4% of those rows).
        ambiguity_bits: a row whose two best register candidates differ by fewer match-
            weight bits than this is not linked (it cannot be told between them).
        max_pairs_per_key: a blocking key that would produce more pairs than this (an
            all-zero NIK, a very common name in one village) is skipped and reported.
        m_rounds: rounds of re-estimating m from the scored pairs that the other fields
            alone make near-certain (`score.reestimate_m`); 0 keeps the anchor m.
        m_certainty: how certain the other fields must make a pair (a probability with
            the link prior) for it to count in the re-estimate of a field's m.
        u_sample: rows drawn from each side for the random pairs that estimate u.
        em_max_iterations: upper bound on EM iterations (the match share).
        keep_intermediate: write std_*, pairs_*, match_row_links and the dedupe tables
            into the database (to inspect them after the stage); by default they are
            temporary tables of the connection and only kemensos_persons, links and
            match_weights are written.
    """

    link_threshold: float = 0.9
    review_threshold: float = 0.5
    dedupe_threshold: float = 0.99
    attach_threshold: float = 0.9
    ambiguity_bits: float = 1.0
    max_pairs_per_key: int = 5_000
    m_rounds: int = 1
    m_certainty: float = 0.999
    u_sample: int = 600
    em_max_iterations: int = 100
    keep_intermediate: bool = False

    @classmethod
    def from_params(cls, params: dict | None) -> MatchSettings:
        """Settings from run parameters by name; an unknown name or a probability outside
        (0, 1) raises ValueError naming it."""
        params = dict(params or {})
        known = {f.name for f in fields(cls)} - {"keep_intermediate"}
        unknown = set(params) - known
        if unknown:
            raise ValueError(f"unknown matching setting(s) {sorted(unknown)}; "
                             f"known: {sorted(known)}")
        defaults = asdict(cls())
        for name, value in params.items():
            kind = type(defaults[name])
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number, not {value!r:.40}")
            if kind is int and value != int(value):
                raise ValueError(f"{name} must be a whole number, not {value!r}")
            params[name] = kind(value)
        settings = cls(**params)
        for name in PROBABILITIES:
            if not 0 < getattr(settings, name) < 1:
                raise ValueError(f"{name} must be a probability between 0 and 1, "
                                 f"not {getattr(settings, name)!r}")
        if settings.review_threshold > settings.link_threshold:
            raise ValueError("review_threshold must not be above link_threshold")
        return settings

    def recorded(self) -> dict:
        """The settings as the manifest records them."""
        return {k: v for k, v in asdict(self).items() if k != "keep_intermediate"}

    @property
    def temp(self) -> bool:
        """Whether the intermediate tables are temporary."""
        return not self.keep_intermediate


PROBABILITIES = ("link_threshold", "review_threshold", "dedupe_threshold", "attach_threshold",
                 "m_certainty")
