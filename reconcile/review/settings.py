"""How much the review queue asks of officers each cycle (a light module: the run's
configuration checks these before any work)."""

from __future__ import annotations

from dataclasses import dataclass

BANDS = (0.5, 0.9, 0.99, 0.999)  # probability bands of the audit sample's strata


def band_sql(expression: str) -> str:
    """The band of a probability expression: k when at or above the k-th of BANDS (bound
    as $bands), 0 below the first, -1 when unknown."""
    return f"coalesce(len(list_filter($bands, lambda x: x <= {expression})), -1)"


@dataclass(frozen=True)
class ReviewSettings:
    """How much the queue asks of officers each cycle.

    cap_per_village: items per village (desa) per cycle, audit items included.
    audit_per_band: random items per probability band and regency, shown blind; their
        decisions estimate precision per band (accuracy.audit_precision).
    weak_link_below: links whose row probability is below this are queued.
    dedupe_threshold: the matcher's; alike pairs above it kept apart were refused.
    """

    cap_per_village: int = 25
    audit_per_band: int = 2
    weak_link_below: float = 0.99
    dedupe_threshold: float = 0.99

    @classmethod
    def from_params(cls, params: dict | None, dedupe_threshold: float) -> ReviewSettings:
        """Settings from run parameters (`cap_per_village`, `audit_per_band`,
        `weak_link_below`); an unknown name or a bad value raises ValueError naming it."""
        params = dict(params or {})
        known = ("cap_per_village", "audit_per_band", "weak_link_below")
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ValueError(f"unknown review setting(s) {unknown}; known: {list(known)}")
        for name in known[:2]:
            value = params.get(name, 1)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number of 0 or more, not {value!r:.40}")
        weak = params.get("weak_link_below", 0.99)
        if isinstance(weak, bool) or not isinstance(weak, int | float) or not 0 <= weak <= 1:
            raise ValueError(f"weak_link_below must be a probability, not {weak!r:.40}")
        return cls(**params, dedupe_threshold=dedupe_threshold)

    def params(self, run_id: str) -> dict:
        return {"cap": int(self.cap_per_village), "audit": int(self.audit_per_band),
                "weak": float(self.weak_link_below), "dedupe": float(self.dedupe_threshold),
                "seed": run_id, "bands": list(BANDS)}
