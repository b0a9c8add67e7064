"""The pipeline: one ordered list of stages (`STAGES`) over the run's DuckDB work database.

ingest -> validate -> scope -> match -> discrepancies -> review -> outputs. Each stage reads the
previous stage's tables and writes its own (tables.py). `run_pipeline` runs the list in
this process; the Prefect flow (flows/reconcile_flow.py) runs the same list as tasks
named after the stages. The stage names are the run log's, the manifest's timings' and
the flow's task names. Both run inside `open_run` (lineage, lock, staging, log, publish).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

from reconcile import accuracy, changes, db, identity, outputs, partition, publish, resources
from reconcile.config import RunConfig
from reconcile.discrepancies import ReportSettings, find_discrepancies
from reconcile.ingest import load_inputs
from reconcile.match import match
from reconcile.match.settings import MatchSettings
from reconcile.region_summary import summarise_regions
from reconcile.review import decisions
from reconcile.review import stage as review_stage
from reconcile.tables import Table
from reconcile.validate import validate_inputs
from schemas import validate_table
from schemas.outputs import Discrepancies, RegionSummary
from schemas.pairs import PairsScored
from schemas.raw import Raw
from schemas.std import Standardised

log = logging.getLogger(__name__)

# Matches the partitions (partition.Partition: Parquet at the run's storage location) and
# returns each one's stats: threads here (`in_threads`), Prefect tasks on threads or a
# Dask cluster in the flow.
PartitionMapper = Callable[["Run", list[partition.Partition]], list[dict]]


@dataclass
class RunFacts:
    """What a run has learnt, stage by stage; the manifest records every field that is set.

    Each field is a JSON-ready dict, written by one stage and read by those after it."""

    lineage: dict                    # code version, parameters, input hashes (outputs.lineage)
    config: dict | None = None       # every option of the run (RunConfig.recorded)
    ingest: dict | None = None       # per file: title rows, skipped sheets, warnings
    rows_read: dict | None = None    # rows per input file, before any check
    validation: dict | None = None   # NIK status per source
    out_of_scope: dict | None = None  # rows per file left out by the region filter
    decisions: dict | None = None    # officers' decisions bound to this run's rows
    match: dict | None = None        # the matcher's statistics (masked in the manifest)
    identity: dict | None = None     # stable ids: kept, new, merged, split
    findings_status: dict | None = None  # findings open and handled by officers
    accuracy: dict | None = None     # label-free estimates of precision and recall
    changes: dict | None = None      # the change report's counts
    review: dict | None = None       # the review queue and the blind audit
    privacy: dict | None = None      # pseudonymised runs: key id and achieved k
    summary: dict | None = None      # the handful of numbers printed at the end
    retention: dict | None = None    # the published versions this run prunes
    resources: dict = field(default_factory=dict)  # per stage: peak memory, spill

    def recorded(self) -> dict:
        """The facts set so far, in stage order (the manifest's keys)."""
        return {f.name: value for f in fields(self)
                if (value := getattr(self, f.name)) is not None}

    def update(self, other: RunFacts) -> None:
        """Take what another copy of this run (a task run elsewhere) has learnt."""
        for name, value in other.recorded().items():
            if name == "resources":
                self.resources.update(value)
            else:
                setattr(self, name, value)


@dataclass
class Run:
    """One run in progress: where it writes and what it has measured so far, and how its
    partitions are matched when it has several (threads here unless the caller says)."""

    config: RunConfig
    run_id: str
    stage_dir: Path
    facts: RunFacts
    timings: dict[str, float] = field(default_factory=dict)
    map_partitions: PartitionMapper | None = None
    stage: str = ""  # the stage running now: its name times it and names its log lines

    def result(self) -> dict:
        """What a finished run reports: where its outputs are, its summary and timings."""
        return {"run_id": self.run_id, "out": str(self.config.out), "skipped": False,
                "timings": self.timings, **(self.facts.summary or {}),
                "match": self.facts.match or {},
                "review": {k: v for k, v in (self.facts.review or {}).items()
                           if k in ("items", "audit", "per_village_max", "workbooks")}}

    @property
    def parts_dir(self) -> Path:
        """The partitions' Parquet (unless a storage URL is set) and the scratch folders
        of those matched here (unless a temp_dir is set); never published."""
        path = self.stage_dir.parent / f".parts-{self.run_id}"
        path.mkdir(exist_ok=True, mode=0o700)
        return path

    @property
    def storage_url(self) -> str:
        """Where partitions travel to their workers and back, as Parquet: this run's
        folder at the configured storage URL, else the local parts_dir."""
        if self.config.storage_url:
            return f"{self.config.storage_url.rstrip('/')}/reconcile-{self.run_id}"
        return str(self.parts_dir)

    @property
    def scratch_dir(self) -> Path:
        """Where partitions matched in this process keep their databases and spill."""
        return Path(self.config.temp_dir) if self.config.temp_dir else self.parts_dir

    @property
    def work_db(self) -> Path:
        """The DuckDB file holding the stage tables; never published."""
        return self.stage_dir.parent / f".work-{self.run_id}.duckdb"

    @property
    def spill_dir(self) -> Path:
        """Where DuckDB spills what does not fit in memory: a folder of this run in the
        configured temp_dir, else DuckDB's default beside the work database."""
        if self.config.temp_dir:
            return Path(self.config.temp_dir) / f"reconcile-spill-{self.run_id}"
        return self.work_db.with_name(self.work_db.name + ".tmp")

    @property
    def threads(self) -> int:
        """DuckDB threads of the work database: as configured, else every core."""
        return self.config.threads or resources.default_threads()

    @contextmanager
    def connect(self, step: str | None = None) -> Iterator:
        """Open the work database for the running stage, or for a named `step` of it;
        time it and measure its peak memory and spill (the run log and the manifest's
        `resources`)."""
        stage = step or self.stage
        started = time.perf_counter()
        with resources.measured(self.spill_dir) as use:
            con = db.connect(self.work_db, threads=self.threads,
                             memory_limit=self.config.memory_limit,
                             temp_directory=self.spill_dir)
            try:
                yield con
            finally:
                con.close()
        self.timings[stage] = round(time.perf_counter() - started, 3)
        self.facts.resources[stage] = use.recorded()
        if step:  # the stage's own line is Stage.run's, measured whole
            _log_use("step", step, self.timings[step], use)

    def take(self, other: Run) -> None:
        """Keep what a stage measured on a copy of this run (a task run elsewhere)."""
        if other is not self:
            self.timings.update(other.timings)
            self.facts.update(other.facts)

    def publish(self) -> Path:
        """Publish the staged outputs, pruning the versions the manifest names."""
        return publish.publish(self.stage_dir, self.config.out, self.run_id,
                               self.config.public_reports,
                               (self.facts.retention or {})["pruned_versions"],
                               self.config.read_group)

    def remove_work_files(self) -> None:
        """The work database (every NIK and name of the inputs) with its write-ahead log
        and spill folder, and the partition databases: gone when the run ends."""
        for path in (self.work_db, self.work_db.with_name(self.work_db.name + ".wal")):
            path.unlink(missing_ok=True)
        shutil.rmtree(self.spill_dir, ignore_errors=True)
        if self.config.storage_url:
            partition.remove_storage(self.storage_url)
        shutil.rmtree(self.parts_dir, ignore_errors=True)


def ingest(run: Run) -> None:
    """Read every input into raw tables; raise InputError before anything is written."""
    with run.connect() as con:
        run.facts.ingest = {}  # load_inputs notes title rows, skipped sheets, warnings
        run.facts.rows_read = load_inputs(con, run.config, run.facts.ingest)
        for table in (Table.RAW_KEMENSOS, Table.RAW_BPS, Table.RAW_STATS):
            # structure only, on a fixed sample: every value is checked after cleaning
            validate_table(con, table, Raw, sample_rows=100_000)


def validate(run: Run) -> None:
    """Clean and flag every value; quarantine only rows that cannot be used at all."""
    with run.connect() as con:
        run.facts.validation = validate_inputs(con)
    log.info("NIK status per source: %s", run.facts.validation)


def scope(run: Run) -> None:
    """Keep only the regions asked for (a province or regency filter); count the rest."""
    prefixes = run.config.regions
    with run.connect() as con:
        run.facts.out_of_scope = outputs.restrict_to_regions(con, prefixes) if prefixes else {}


def partitioned(run: Run) -> bool:
    """Whether this run matches partition by partition (partitioning on, and several
    provinces, or a province above `regency_split_above` split into regencies)."""
    if run.config.partition_by != "province":
        return False
    with run.connect("plan") as con:
        return len(partition.plan(con, run.config.regency_split_above)) > 1


def link(run: Run) -> None:
    """Deduplicate Kemensos rows into persons and link each person to the register;
    province by province (`run.map_partitions`) when the data spans several."""
    with run.connect("decisions") as con:  # officers' decisions bind the matcher
        run.facts.decisions = decisions.load(con, run.config.out)
    if partitioned(run):
        parts = split_partitions(run)
        started = time.perf_counter()
        per_partition = (run.map_partitions or in_threads)(run, parts)
        run.timings["match_partitions"] = round(time.perf_counter() - started, 3)
        run.facts.resources["match_partitions"] = used = partitions_use(per_partition)
        log.info("%d partitions matched in %.1f s (largest peak memory %.0f MiB, spilled "
                 "%.0f MiB)", len(parts), run.timings["match_partitions"],
                 used["peak_rss_mb"], used["spill_peak_mb"])
        combine_partitions(run, parts, per_partition)
        return
    with run.connect() as con:
        run.facts.match = match(con, run.config.match_settings)
        validate_table(con, Table.PAIRS_SCORED, PairsScored, sample_rows=100_000)
        finish_link(run, con)


def split_partitions(run: Run) -> list[partition.Partition]:
    """Write each partition's clean rows as Parquet at the run's storage location."""
    with run.connect("split") as con:
        return partition.export_all(con, run.storage_url)


def match_one_partition(run: Run, part: partition.Partition) -> dict:
    """Match one partition with this run's settings, anywhere: a thread or a Prefect task
    here (in the run's scratch folder), or a Dask worker that sees only the storage
    location (in its own local directory, with its own memory unless memory_limit is
    set)."""
    memory = None if run.config.memory_limit else resources.worker_memory_limit()
    return partition.match_partition(part, memory or run.config.partition_memory_limit,
                                     matching=run.config.matching,
                                     scratch=partition.worker_scratch() or run.scratch_dir)


def in_threads(run: Run, parts: list[partition.Partition]) -> list[dict]:
    """The default PartitionMapper: the partitions in this process, `workers` at a time."""
    with ThreadPoolExecutor(max(1, run.config.workers)) as pool:
        return list(pool.map(lambda part: match_one_partition(run, part), parts))


def partitions_use(per_partition: list[dict]) -> dict:
    """What the partitions used wherever they ran: the largest peak memory of one, and
    their spills added up (at most that much was on disk at once)."""
    return {"peak_rss_mb": max((p.get("peak_rss_mb", 0.0) for p in per_partition),
                               default=0.0),
            "spill_peak_mb": round(sum(p.get("spill_peak_mb", 0.0) for p in per_partition),
                                   1)}


def combine_partitions(run: Run, parts: list[partition.Partition],
                       per_partition: list[dict]) -> None:
    """Gather the partitions' results, link movers across them at the run's own link
    threshold, then finish as usual."""
    settings = MatchSettings.from_params(run.config.matching)
    with run.connect() as con:
        run.facts.match = {**partition.combine(con, parts, settings),
                           "per_partition": per_partition}
        finish_link(run, con)


def finish_link(run: Run, con) -> None:
    """Stable person ids, then one reconciled row per Kemensos row."""
    for table in (Table.STD_KEMENSOS, Table.STD_BPS):
        if db.has_table(con, table):
            validate_table(con, table, Standardised, sample_rows=200_000)
    run.facts.identity = identity.stabilise(con, identity.previous_state(run.config.out))
    outputs.build_reconciled(con)
    linked = db.scalar(con, f"SELECT count(id_individu) FROM {Table.LINKS}")
    log.info("linked %s of %s persons to the register", linked, db.count(con, Table.LINKS))


def report(run: Run) -> None:
    """Find discrepancies and summarise coverage per region."""
    settings = ReportSettings.from_params(run.config.eligibility)
    with run.connect() as con:
        find_discrepancies(con, settings)
        run.facts.findings_status = review_stage.mark_findings(con, run.config.out)
        summarise_regions(con, settings)
        validate_table(con, Table.DISCREPANCIES, Discrepancies)
        validate_table(con, Table.REGION_SUMMARY, RegionSummary)
        run.facts.accuracy = accuracy.estimate(con)  # model estimates, no labels
        run.facts.changes = changes.find_changes(
            con, identity.previous_state(run.config.out), settings)


def review(run: Run) -> None:
    """The review queue for officers: uncertain decisions, costliest first, capped per
    village, with a blind audit sample; the decisions applied go to the change report."""
    settings = ReportSettings.from_params(run.config.eligibility)
    with run.connect() as con:
        run.facts.review = review_stage.build(con, run.config.out, run.run_id, settings,
                                                 run.config.review_settings)


def write_outputs(run: Run) -> dict:
    """Write Parquet, the reports and the manifest into the staging folder."""
    with run.connect() as con:
        summary = outputs.write_all(con, run.stage_dir, run.config, run.run_id, run.facts)
        run.facts.review = {**(run.facts.review or {}),
                            "workbooks": review_stage.write(con, run.stage_dir)}
        state = identity.save_state(con, run.config.out, run.run_id)  # owner-only
        review_stage.save_known(con, state)
    run.facts.summary = summary
    run.facts.retention = {  # what publishing this run deletes, for the auditors
        "keep_versions": publish.KEEP_VERSIONS, "retention_days": run.config.retention_days,
        "pruned_versions": publish.to_prune(run.config.out, run.config.retention_days)}
    outputs.write_manifest(run.stage_dir, run.run_id, run.timings, run.facts.recorded())
    return summary


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline: its name (run log, manifest timings, the flow's task),
    its function, and whether it reads or writes files (the flow retries those)."""

    name: str
    function: Callable[[Run], object]
    io: bool = False

    def run(self, run: Run) -> None:
        """Run this stage; its work is timed and measured whole under its name (its
        connections and steps, the partitions matched in this process, too); a failed SQL
        statement names it."""
        run.stage = self.name
        started = time.perf_counter()
        with resources.measured(run.spill_dir) as use, db.stage(self.name):
            self.function(run)
        run.timings[self.name] = round(time.perf_counter() - started, 3)
        run.facts.resources[self.name] = {**run.facts.resources.get(self.name, {}),
                                          **use.recorded()}
        _log_use("stage", self.name, run.timings[self.name], use)


def _log_use(kind: str, name: str, seconds: float, use: resources.StageUse) -> None:
    log.info("%s %s done in %.1f s (peak memory %.0f MiB, spilled %.0f MiB)", kind, name,
             seconds, use.peak_rss_mb, use.spill_peak_mb)


STAGES = (
    Stage("ingest", ingest, io=True),
    Stage("validate", validate),
    Stage("scope", scope),
    Stage("match", link),
    Stage("discrepancies", report),
    Stage("review", review),
    Stage("outputs", write_outputs, io=True),
)


@contextmanager
def run_log(stage_dir: Path) -> Iterator[None]:
    """Copy this package's log records into the run's own `run.log` (published with it)."""
    handler = logging.FileHandler(stage_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package = logging.getLogger("reconcile")
    package.addHandler(handler)
    level = package.level
    package.setLevel(min(level or logging.INFO, logging.INFO))
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(level)
        handler.close()


def run_pipeline(config: RunConfig) -> dict:
    """Run every stage in this process and publish the outputs atomically.

    Unless `config.force`, inputs identical (by content hash, code version and
    parameters) to those of the published run are not reconciled again. Everything the
    run creates is owner-only (publish.owner_only); temporary files stay in its staging.
    """
    lineage = outputs.lineage(config)
    previous = outputs.unchanged_run(config, lineage)
    if previous:
        log.info("inputs unchanged since run %s; nothing to do", previous["run_id"])
        return previous
    with open_run(config, lineage) as run:
        for stage in STAGES:
            stage.run(run)
    return run.result()


@contextmanager
def open_run(config: RunConfig, lineage: dict) -> Iterator[Run]:
    """One run's frame, for this module and the Prefect flow alike: owner-only files, the
    output folder's lock, a staging folder, the run log and private temp files; the work
    files removed whatever happens, and the outputs published only if the body succeeds."""
    run_id = publish.new_run_id()
    with (publish.owner_only(), publish.exclusive(config.out),
          publish.staging(config.out, run_id) as stage):
        run = Run(config, run_id, stage, RunFacts(lineage=lineage, config=config.recorded()))
        try:
            with run_log(stage), publish.private_temp(stage):
                yield run
        finally:
            run.remove_work_files()
        run.publish()
