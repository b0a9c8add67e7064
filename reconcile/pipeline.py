"""The pipeline's stages, each a plain function over the run's DuckDB work database.

`flows/` runs these as Prefect tasks; `run_pipeline` runs them in-process (benchmarks,
tests). Each stage reads the previous stage's tables and writes its own (tables.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from reconcile import db, outputs, publish
from reconcile.config import RunConfig
from reconcile.discrepancies import ReportSettings, find_discrepancies
from reconcile.ingest import read_bps, read_kemensos, read_stats
from reconcile.match import match
from reconcile.region_summary import summarise_regions
from reconcile.tables import Table
from reconcile.validate import clean_bps, clean_kemensos, clean_stats

log = logging.getLogger(__name__)


@dataclass
class Run:
    """One run in progress: where it writes and what it has measured so far."""

    config: RunConfig
    run_id: str
    stage_dir: Path
    timings: dict[str, float] = field(default_factory=dict)
    facts: dict = field(default_factory=dict)

    @property
    def work_db(self) -> Path:
        """The DuckDB file holding the stage tables; never published."""
        return self.stage_dir.parent / f".work-{self.run_id}.duckdb"

    @contextmanager
    def connect(self, stage: str) -> Iterator:
        """Open the work database for one stage and time it."""
        started = time.perf_counter()
        con = db.connect(self.work_db, threads=self.config.threads,
                         memory_limit=self.config.memory_limit)
        try:
            yield con
        finally:
            con.close()
            self.timings[stage] = round(time.perf_counter() - started, 3)
            log.info("stage %s done in %.1f s", stage, self.timings[stage])


def ingest(run: Run) -> None:
    """Read every input into raw tables; raise InputError before anything is written."""
    cfg = run.config
    frames = {
        Table.RAW_KEMENSOS: read_kemensos(cfg.kemensos, cfg.mapping),
        Table.RAW_BPS: read_bps(cfg.bps, cfg.mapping),
        Table.RAW_STATS: read_stats(cfg.stats),
    }
    with run.connect("ingest") as con:
        for name, frame in frames.items():
            db.put(con, name, frame)
        run.facts["rows_read"] = {name.value: len(frame) for name, frame in frames.items()}


def validate(run: Run) -> None:
    """Clean and flag every value; quarantine only rows that cannot be used at all."""
    with run.connect("validate") as con:
        quarantined = []
        for raw, clean, cleaner, source in (
            (Table.RAW_KEMENSOS, Table.CLEAN_KEMENSOS, clean_kemensos, "kemensos"),
            (Table.RAW_BPS, Table.CLEAN_BPS, clean_bps, "bps"),
            (Table.RAW_STATS, Table.CLEAN_STATS, clean_stats, "stats"),
        ):
            good, bad = cleaner(db.df(con, f"SELECT * FROM {raw}"))
            db.put(con, clean, good)
            bad = bad.assign(source=source) if "source" not in bad.columns else bad
            quarantined.append(bad)
        outputs.store_quarantine(con, quarantined)


def link(run: Run) -> None:
    """Deduplicate Kemensos rows into persons and link each person to the register."""
    with run.connect("match") as con:
        run.facts["match"] = match(con)
        outputs.build_reconciled(con)


def report(run: Run, settings: ReportSettings | None = None) -> None:
    """Find discrepancies and summarise coverage per region."""
    settings = settings or ReportSettings()
    with run.connect("discrepancies") as con:
        find_discrepancies(con, settings)
        summarise_regions(con, settings)


def write_outputs(run: Run) -> dict:
    """Write Parquet, the reports and the manifest into the staging folder."""
    with run.connect("outputs") as con:
        summary = outputs.write_all(con, run.stage_dir, run.config, run.run_id)
    run.facts["summary"] = summary
    outputs.write_manifest(run.stage_dir, run.config, run.run_id, run.timings, run.facts)
    return summary


STAGES = (ingest, validate, link, report, write_outputs)


def run_pipeline(config: RunConfig) -> dict:
    """Run every stage in this process and publish the outputs atomically."""
    run_id = publish.new_run_id()
    with publish.exclusive(config.out), publish.staging(config.out, run_id) as stage:
        run = Run(config, run_id, stage)
        try:
            for stage_fn in STAGES:
                stage_fn(run)
        finally:
            run.work_db.unlink(missing_ok=True)
        publish.publish(stage, config.out, run_id)
    return {"run_id": run_id, "out": str(config.out), "timings": run.timings, **run.facts}
