"""Prefect artifacts of a run: the numbers officers see in the Prefect UI.

Only counts and masked or pseudonymous identifiers go here; artifacts are visible to
everyone with access to the Prefect server.
"""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact, create_table_artifact


def summary_markdown(result: dict) -> str:
    """A short markdown summary of a finished run."""
    lines = [f"# Rekonsiliasi / Reconciliation run `{result['run_id']}`", "",
             f"Output: `{result['out']}`", "",
             "| | |", "|---|---:|",
             f"| Baris direkonsiliasi / rows reconciled | {result['reconciled_rows']:,} |",
             f"| Orang / persons | {result['persons']:,} |",
             f"| Cocok dengan DTSEN / matched to the register | {result['share_matched']:.1%} |",
             f"| Karantina / quarantined rows | {result['quarantined_rows']:,} |", "",
             "## Temuan / Discrepancies", "", "| kategori / category | n |", "|---|---:|"]
    lines += [f"| {name} | {n:,} |" for name, n in result["discrepancies"].items()]
    lines += ["", "Waktu per tahap / time per stage: " + ", ".join(
        f"{stage} {secs:.1f}s" for stage, secs in result.get("timings", {}).items())]
    return "\n".join(lines)


def publish_artifacts(out, result: dict) -> None:
    """Publish the run summary (markdown) and rows per input file (table)."""
    create_markdown_artifact(summary_markdown(result), key="reconcile-summary",
                             description=f"Reconciliation run {result['run_id']}")
    create_table_artifact(result.get("rows_per_file", []), key="reconcile-rows-per-file",
                          description="Rows read, kept, quarantined and out of scope per file")
