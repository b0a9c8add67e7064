"""Fellegi-Sunter scoring: u from random pairs, m from anchor pairs, the prior by EM.

EM runs on the distinct comparison vectors with their counts (a few thousand rows
however many pairs there are), so it takes milliseconds. u is fixed from random pairs,
as Splink does, because blocked pairs over-represent near-misses (family members).
The name's exact level uses the name's own frequency as u (term-frequency adjustment),
so SITI AMINAH = SITI AMINAH counts for less than WAYAN SUDARSANA = WAYAN SUDARSANA.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reconcile import db
from reconcile.match.compare import COMPARISONS, Comparison, level_sql
from reconcile.match.std import NAME_TF

WEIGHTS = "match_weights"
_FLOOR = 1e-6  # keeps log-weights finite for levels never seen in a sample
# No single field may veto a match: a level matches "never" show is still possible.
_M_FLOOR = 0.005
MIN_PAIRS = 100  # fewest pairs behind a re-estimated m

# Anchors for m: for each comparison, blocked pairs that other fields make near-certain
# matches. Each field's m comes from anchors that do not use it, so the estimate is not
# circular. Plain EM was tried and rejected: its latent class becomes "same household"
# (family members share KK, address and often a surname), not "same person".
_NIK = f"gamma_nik = {level_sql('nik', 'exact')}"
_NAME = f"gamma_name >= {level_sql('name', 'same words or jw>=0.95')}"
_DOB = f"gamma_dob = {level_sql('dob', 'exact')}"
ANCHORS = {
    "name": f"{_NIK} AND {_DOB}",
    "dob": f"{_NIK} AND {_NAME}",
    "nik": f"gamma_name = {level_sql('name', 'exact')} AND {_DOB}"
           f" AND gamma_household >= {level_sql('household', 'village, RT and RW')}"
           " AND gamma_sex <> 0",
    "sex": f"{_NIK} AND {_NAME} AND {_DOB}",
    "household": f"{_NIK} AND {_NAME} AND {_DOB}",
}


# Entry quality of a pair: the visible defects of its worse record, 0, 1 or 2 and more
# (std.QUALITY_SQL). Errors pile up on badly entered records, so a disagreement means
# less between such records than between clean ones; m is estimated per quality.
QUALITIES = (0, 1, 2)

Params = dict[str, np.ndarray]


@dataclass
class Model:
    """Fitted parameters: m per entry quality and u per comparison level, the match share
    among blocked pairs (`prior`) and the chance that a random Kemensos x register pair
    matches (`link_prior`, see `pair_prior`). `m` is the pooled m, used for a quality
    whose own estimate had too few pairs."""

    m: Params
    u: Params
    prior: float
    iterations: int = 0
    link_prior: float | None = None
    m_by_quality: dict[int, Params] = field(default_factory=dict)

    @property
    def fitted_link_prior(self) -> float:
        """`link_prior`, which the engine sets when it first scores the blocked pairs."""
        if self.link_prior is None:
            raise RuntimeError("the link prior is set when the blocked pairs are scored")
        return self.link_prior

    def m_for(self, quality: int) -> Params:
        """m of the pairs of one entry quality."""
        return self.m_by_quality.get(quality, self.m)

    def weights(self) -> pd.DataFrame:
        """One row per entry quality and comparison level: m, u, match weight in bits."""
        rows = []
        for quality in QUALITIES:
            m_q = self.m_for(quality)
            for comp in COMPARISONS:
                for gamma in range(comp.top + 1):
                    m, u = m_q[comp.name][gamma], self.u[comp.name][gamma]
                    m = u if gamma in comp.neutral_gammas else m
                    rows.append({"quality": quality, "comparison": comp.name, "gamma": gamma,
                                 "label": comp.label(gamma), "m": m, "u": u,
                                 "match_weight": float(np.log2(m / u))})
        return pd.DataFrame(rows)


def pattern_sql(gamma_table: str, where: str = "true") -> str:
    """Distinct comparison vectors (with their entry quality) and how often each occurs."""
    cols = ", ".join(f"gamma_{c.name}" for c in COMPARISONS)
    return (f"SELECT quality, {cols}, count(*) AS n FROM {gamma_table} WHERE {where}"
            " GROUP BY ALL")


def estimate_u(patterns: pd.DataFrame) -> dict[str, np.ndarray]:
    """Level shares among random pairs (almost all non-matches)."""
    u = {}
    for comp in COMPARISONS:
        g, n = patterns[f"gamma_{comp.name}"].to_numpy(), patterns["n"].to_numpy()
        counts = np.bincount(g[g >= 0], weights=n[g >= 0], minlength=comp.top + 1)
        u[comp.name] = np.maximum(counts / max(counts.sum(), 1), _FLOOR)
    return u


def _initial_m(comp: Comparison) -> np.ndarray:
    # Most mass on the most alike level; EM moves it from there.
    m = np.geomspace(0.01, 1, comp.top + 1)
    return m / m.sum()


def _likelihoods(gammas: np.ndarray, params: Params) -> np.ndarray:
    out = np.ones(len(gammas))
    for j, comp in enumerate(COMPARISONS):
        g = gammas[:, j]
        seen = g >= 0
        out[seen] *= params[comp.name][g[seen]]
    return out


def _match_likelihoods(patterns: pd.DataFrame, gammas: np.ndarray, model: Model) -> np.ndarray:
    """Likelihood of each pattern among matches, with the m of its entry quality."""
    out = np.ones(len(gammas))
    quality = patterns["quality"].to_numpy()
    for q in QUALITIES:
        rows = quality == q
        out[rows] = _likelihoods(gammas[rows], model.m_for(q))
    return out


def _gammas(patterns: pd.DataFrame) -> np.ndarray:
    """Pattern levels as a matrix; neutral levels read as missing (no evidence)."""
    cols = []
    for comp in COMPARISONS:
        g = patterns[f"gamma_{comp.name}"].to_numpy().copy()
        g[np.isin(g, comp.neutral_gammas)] = -1
        cols.append(g)
    return np.column_stack(cols)


def _floored(counts: np.ndarray) -> np.ndarray:
    """Level shares with none below _M_FLOOR, summing to 1."""
    shares = np.maximum(counts / counts.sum(), _M_FLOOR)
    return shares / shares.sum()


def estimate_m(con, gamma_table: str) -> dict[str, np.ndarray]:
    """Level shares of each comparison among its anchor pairs."""
    m = {}
    for comp in COMPARISONS:
        where = ANCHORS[comp.name]
        counts = db.df(con, f"SELECT gamma_{comp.name} AS g, count(*) AS n FROM {gamma_table}"
                            f" WHERE {where} AND gamma_{comp.name} >= 0 GROUP BY 1")
        shares = np.bincount(counts["g"], weights=counts["n"], minlength=comp.top + 1)
        m[comp.name] = _floored(shares if shares.sum() else _initial_m(comp))
    return m


def reestimate_m(con, scored_table: str, model: Model, min_bits: float) -> dict[int, Params]:
    """m per entry quality from the scored pairs that the *other* comparisons alone make
    near-certain matches (their weight with the link prior >= `min_bits`).

    Anchor pairs need clean fields, so their m describes well-typed records; errors pile
    up on the same records (low-quality entry), and such an m makes several mild
    disagreements add up to a veto. Leaving each field out of its own selection keeps
    the estimate from being circular and lets records with other errors in; estimating
    per entry quality keeps the clean records' m sharp.
    """
    names = {f"comparison_{c.name}": c.name for c in COMPARISONS}
    counts = db.df(con, " UNION ALL ".join(f"""
        SELECT $comparison_{c.name} AS comparison, quality, gamma_{c.name} AS g, count(*) AS n
        FROM {scored_table} WHERE match_weight - mw_{c.name} >= $bits AND gamma_{c.name} >= 0
        GROUP BY ALL""" for c in COMPARISONS),
                   {"bits": float(min_bits), **names})
    by_quality = {}
    for quality in QUALITIES:
        m = {}
        for comp in COMPARISONS:
            rows = counts[(counts["comparison"] == comp.name) & (counts["quality"] == quality)]
            shares = np.bincount(rows["g"], weights=rows["n"], minlength=comp.top + 1)
            # too few pairs to say more than the pooled estimate
            m[comp.name] = model.m[comp.name] if shares.sum() < MIN_PAIRS else _floored(shares)
        by_quality[quality] = m
    return by_quality


def _weights(comp: Comparison, m: Params, model: Model) -> list[float]:
    """Match weight in bits of each gamma from -1 (missing: no evidence) to the top level,
    for one entry quality; neutral levels weigh nothing."""
    weights = np.log2(m[comp.name] / model.u[comp.name])
    weights[list(comp.neutral_gammas)] = 0.0
    return [0.0, *map(float, weights)]


def weight_params(model: Model, prior: float) -> dict[str, object]:
    """The values `scored_sql` binds: per comparison a list per entry quality of weights by
    gamma (`$mw_<name>[quality + 1][gamma + 2]`), the m of the term-frequency level per
    quality, the frequency floor and the prior's bits."""
    params: dict[str, object] = {"tf_floor": _FLOOR, "prior_bits": bits(prior)}
    for comp in COMPARISONS:
        params[f"mw_{comp.name}"] = [_weights(comp, model.m_for(q), model) for q in QUALITIES]
        if comp.tf_level is not None:
            gamma = comp.gamma(comp.tf_level)
            params[f"m_tf_{comp.name}"] = [float(model.m_for(q)[comp.name][gamma])
                                           for q in QUALITIES]
    return params


def _mw_sql(comp: Comparison) -> str:
    by_level = f"$mw_{comp.name}[quality + 1][gamma_{comp.name} + 2]"
    if comp.tf_level is None:
        return f"{by_level} AS mw_{comp.name}"
    # u of an exact agreement on this value = the chance two random records share it.
    return (f"CASE WHEN gamma_{comp.name} = {comp.level_sql(comp.tf_level)}"
            f" THEN log2($m_tf_{comp.name}[quality + 1]"
            f" / greatest(coalesce(tf.tf, $tf_floor), $tf_floor)) ELSE {by_level} END"
            f" AS mw_{comp.name}")


def scored_sql(gamma_table: str, model: Model, prior: float) -> db.Step:
    """Add per-field weights (mw_*), the total match weight and the match probability,
    with the weights bound (`weight_params`)."""
    mws = ",\n           ".join(_mw_sql(c) for c in COMPARISONS)
    total = " + ".join(f"mw_{c.name}" for c in COMPARISONS)
    return db.Step(f"""
    WITH w AS (
        SELECT g.*, {mws}
        FROM {gamma_table} g LEFT JOIN {NAME_TF} tf ON tf.name_key = g.name_key_l
    )
    SELECT * EXCLUDE (name_key_l), $prior_bits + {total} AS match_weight,
           1 / (1 + pow(2, -($prior_bits + {total}))) AS match_probability
    FROM w
    """, weight_params(model, prior))


def bits(probability: float) -> float:
    """Log-odds in bits: the match weight of a prior or a probability."""
    return float(np.log2(probability / (1 - probability)))


def pair_prior(blocked_prior: float, blocked_pairs: int, all_pairs: int) -> float:
    """The chance that two records drawn at random match, from the match share λ among
    the blocked pairs: λ x blocked pairs = the expected number of matches.

    Unlike λ, it does not depend on how many non-matches the blocking rules happen to
    let through (looser rules, lower λ), and it falls as the register grows, so a fixed
    probability threshold asks for more evidence where there are more namesakes.

    >>> round(pair_prior(0.5, 1_000, 1_000_000), 6)
    0.0005
    """
    share = blocked_prior * blocked_pairs / max(all_pairs, 1)
    return min(max(share, 1e-12), 1 - 1e-6)


def in_register_share(con, scored_table: str, rows_table: str, pair_bits: float,
                      register_size: int, iterations: int = 200) -> float:
    """EM for rho, the share of rows whose person is in the register.

    Each row's person is one of the register's N people (each equally likely a priori)
    with probability rho, or nobody there. Given the row's candidates' likelihood
    ratios LR_k, P(in register | row) = rho S / ((1 - rho) + rho S) with
    S = sum_k LR_k / N, and rho is the mean of that over all rows (rows without a
    candidate count with S = 0). The link prior of the pairs cannot give it: the EM
    share among blocked pairs counts relatives and namesakes, and rho read off it
    exceeded 1 on the independent 200k data; this estimate was 0.951 against a true
    0.951.
    """
    sums = db.df(con, f"""
        SELECT sum(pow(2, match_weight - $bits)) / $n AS s
        FROM {scored_table} GROUP BY rid_l""", {"bits": float(pair_bits),
                                               "n": float(max(register_size, 1))})["s"]
    rows = max(db.count(con, rows_table), len(sums))
    s = np.concatenate([sums.to_numpy(dtype=float), np.zeros(rows - len(sums))])
    if not rows:
        return 0.0
    rho = 0.5
    for _ in range(iterations):
        new = float(np.mean(rho * s / ((1 - rho) + rho * s)))
        if abs(new - rho) < 1e-10:
            break
        rho = new
    return min(max(new, 0.0), 1 - 1e-6)


def train(con, blocked_gammas: str, random_gammas: str, iterations: int) -> Model:
    """u from random pairs, m from anchor pairs, the match share by EM (the weights are
    stored once m is final, by the engine)."""
    model = Model(m=estimate_m(con, blocked_gammas),
                  u=estimate_u(db.df(con, pattern_sql(random_gammas))), prior=0.5)
    model.prior, model.iterations = refit_prior(con, blocked_gammas, model, iterations)
    return model


def refit_prior(con, gamma_table: str, model: Model,
                iterations: int = 100) -> tuple[float, int]:
    """EM for the match share among a pair set, m and u held fixed; (prior, iterations)."""
    patterns = db.df(con, pattern_sql(gamma_table))
    if patterns.empty:
        return model.prior, 0
    gammas, counts = _gammas(patterns), patterns["n"].to_numpy(dtype=float)
    lm, lu, prior = _match_likelihoods(patterns, gammas, model), _likelihoods(gammas, model.u), 0.1
    done = 0
    while done < iterations:
        done += 1
        p = prior * lm / (prior * lm + (1 - prior) * lu)
        new = float((p * counts).sum() / counts.sum())
        prior, moved = new, abs(new - prior)
        if moved < 1e-9:
            break
    return min(max(prior, 1e-6), 1 - 1e-6), done
