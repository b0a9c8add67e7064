"""Quality metrics of a matching run against the generator's truth.

Link metrics are per Kemensos row: the row's predicted id_individu (through its person)
against true_id_individu. Dedupe metrics are over pairs of Kemensos rows: same predicted
person versus same true person.
"""

from __future__ import annotations

import pandas as pd


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def link_metrics(pred: pd.Series, truth: pd.Series, not_in_register: pd.Series) -> dict:
    """Precision, recall, F1 of row links and the share of not-in-register rows linked."""
    predicted, true = pred.notna(), truth.notna()
    correct = int((predicted & true & (pred == truth)).sum())
    p = correct / max(int(predicted.sum()), 1)
    r = correct / max(int(true.sum()), 1)
    nir = not_in_register.astype(bool)
    return {"link_precision": p, "link_recall": r, "link_f1": _f1(p, r),
            "nir_linked": float(predicted[nir].mean()) if nir.any() else 0.0}


def dedupe_metrics(pred_person: pd.Series, true_person: pd.Series) -> dict:
    """Pairwise precision, recall and F1 of the row clustering."""
    both = pd.DataFrame({"p": pred_person.to_numpy(), "t": true_person.to_numpy()})
    tp = _pairs(both.groupby(["p", "t"]).size())
    pp, tt = _pairs(both.groupby("p").size()), _pairs(both.groupby("t").size())
    p, r = tp / max(pp, 1), tp / max(tt, 1)
    return {"dedupe_precision": p, "dedupe_recall": r, "dedupe_f1": _f1(p, r)}
