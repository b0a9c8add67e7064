"""What one run needs to know: its inputs, its output folder and its options."""

from __future__ import annotations

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
    """

    kemensos: tuple[Path, ...]
    bps: Path
    stats: Path
    out: Path
    mapping: Path | None = None
    pseudonymise: bool = False
    threads: int | None = None
    memory_limit: str | None = "3GB"
    extra: dict = field(default_factory=dict)

    @property
    def inputs(self) -> tuple[Path, ...]:
        """Every input file of the run."""
        return (*self.kemensos, self.bps, self.stats)
