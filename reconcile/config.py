"""What one run needs to know: its inputs, its output folder and its options."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class RunConfig:
    """Parameters of one reconciliation run.

    Attributes:
        kemensos: beneficiary lists (CSV, XLSX or Parquet), e.g. one per program.
        bps: the BPS register of individuals in families, with `desil`.
        stats: BPS poverty statistics per regency.
        out: the published output folder (replaced atomically at the end).
        mapping: optional header-mapping file for exports with unusual headers.
        pseudonymise: write the analysts' Parquet with NIK / No KK as HMAC tokens.
        threads: DuckDB threads (default: all cores).
        memory_limit: DuckDB memory limit, e.g. "3GB".
        regions: keep only these province or regency codes ("17", "17.01"); empty = all.
        eligibility: report settings by name (e.g. {"cutoff": {"PKH": 4}}), see
            reconcile.discrepancies.ReportSettings.from_params.
        force: run even when the inputs are unchanged since the published run.
        partition_by: "province" (default): when the data spans several provinces, match
            province by province (see reconcile.partition), so the answer is the same on
            one process or many; None matches all rows in one matcher.
        workers: provinces matched at once (threads, or Dask workers); default all cores.
    """

    kemensos: tuple[Path, ...]
    bps: Path
    stats: Path
    out: Path
    mapping: Path | None = None
    pseudonymise: bool = False
    threads: int | None = None
    memory_limit: str | None = "3GB"
    regions: tuple[str, ...] = ()
    eligibility: dict = field(default_factory=dict)
    force: bool = False
    partition_by: str | None = "province"
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)

    @property
    def inputs(self) -> tuple[Path, ...]:
        """Every input file of the run."""
        return (*self.kemensos, self.bps, self.stats)
