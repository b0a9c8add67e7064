"""How much of the machine's mistakes the review queue puts before officers.

An item is a true error when the machine's decision on it is wrong: a link item whose row
is (or is not) linked to the candidate against the truth, a dedupe item whose two rows
were kept apart though they are one person. The queue is compared with a random sample
of the same size drawn from every row's link decision: the ratio of their error shares
says how much better than chance the queue spends an officer's time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def queue_quality(run: Path, pred: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """Queue sizes per village, its error share, the random baseline and their ratio."""
    queue = pd.read_parquet(run / "restricted" / "review" / "queue.parquet",
                            columns=["kind", "id_penerima", "other_id", "kode_desa", "audit"])
    rows = truth.merge(pred, on="id_penerima", how="left")
    by_id = rows.drop_duplicates("id_penerima").set_index("id_penerima")
    left = by_id.reindex(queue["id_penerima"])
    link = (queue["kind"] == "link").to_numpy()
    linked_to_candidate = (left["id_individu"].to_numpy() == queue["other_id"].to_numpy())
    truly_candidate = (left["true_id_individu"].to_numpy() == queue["other_id"].to_numpy())
    other = by_id.reindex(queue["other_id"])
    truly_same = (left["true_person_id"].to_numpy() == other["true_person_id"].to_numpy())
    error = pd.Series(((linked_to_candidate != truly_candidate) & link)
                      | (truly_same & ~link), index=queue.index)
    row_errors = ~((rows["id_individu"] == rows["true_id_individu"])
                   | (rows["id_individu"].isna() & rows["true_id_individu"].isna()))
    baseline = float(row_errors.mean())
    per_village = queue.groupby("kode_desa").size()
    manifest = json.loads((run / "manifest.json").read_text())
    share = float(error.mean()) if len(error) else 0.0
    return {"items": len(queue), "audit_items": int(queue["audit"].sum()),
            "cap_per_village": manifest.get("review", {}).get("cap_per_village"),
            "per_village_max": int(per_village.max()) if len(per_village) else 0,
            "per_village_median": float(per_village.median()) if len(per_village) else 0.0,
            "true_errors_in_queue": int(error.sum()), "error_share_in_queue": share,
            "error_share_random_sample": baseline,
            "ratio_to_random": share / baseline if baseline else None,
            "row_link_errors": int(row_errors.sum()),
            "row_link_errors_queued": int(row_errors[rows["id_penerima"].isin(
                queue.loc[error.to_numpy() & link, "id_penerima"])].sum())}
