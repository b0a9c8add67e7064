"""The reconciliation flow: reads as the pipeline, stage by stage.

Its parameters are reconcile.config.RunConfig's options under the same names (a test
holds them equal), plus where the provinces are matched (`dask_address`)."""

from __future__ import annotations

import dataclasses
import os

from prefect import flow, get_run_logger, unmapped
from prefect.task_runners import ThreadPoolTaskRunner

from flows import served_paths, tasks
from flows.artifacts import publish_artifacts
from flows.temporary_server import seconds_since_process_start
from reconcile.config import RunConfig
from reconcile.errors import RunRefused
from reconcile.pipeline import PartitionMapper, Run, open_run


@flow(name="reconcile", log_prints=False)
def reconcile_flow(kemensos: list[str], bps: str, stats: str, out: str,
                   mapping: str | None = None, pseudonymise: bool = False,
                   regions: list[str] | None = None, eligibility: dict | None = None,
                   force: bool = False, partition_by: str | None = "province",
                   regency_split_above: int | None = None, workers: int | None = None,
                   dask_address: str | None = None, k_anonymity: int = 5,
                   matching: dict | None = None, public_reports: bool = False,
                   retention_days: int | None = None, memory_limit: str | None = None,
                   threads: int | None = None, temp_dir: str | None = None,
                   storage_url: str | None = None, read_group: str | None = None,
                   review: dict | None = None) -> dict:
    """Reconcile Kemensos lists with the BPS register and publish the outputs atomically.

    Args:
        kemensos: beneficiary lists (CSV, XLSX, Parquet), e.g. one per program.
        bps: the BPS register file; stats: BPS poverty statistics per regency.
        out: the output folder, replaced atomically when the run succeeds.
        mapping: header-mapping file for exports with unusual headers.
        pseudonymise: identifiers as HMAC tokens and birth date and region generalised
            to k-anonymity in the analysts' Parquet (key in RECONCILE_HMAC_KEY).
        regions: only these region codes, e.g. ["17"] or ["17.01"].
        eligibility: report settings, e.g. {"cutoff": {"PKH": 4, "PBI-JK": 5}}.
        force: reconcile again even if the inputs are unchanged since the last run.
        partition_by: "province" (default) matches province by province when the data
            spans several provinces; "none" matches all rows in one matcher.
        regency_split_above: a province with more register people than this is matched
            regency by regency, then a cross-regency pass links its movers by NIK and by
            name and birth date (default: never; README, Scale-out).
        workers: partitions matched at once (default: all cores).
        dask_address: a Dask scheduler (tcp://host:8786) to match provinces on; default
            from RECONCILE_DASK_ADDRESS; without one, threads in this process.
        k_anonymity: with pseudonymise, the smallest group of persons sharing the
            released birth year, sex and region.
        matching: matching settings by name, e.g. {"link_threshold": 0.95}
            (reconcile.match.settings.MatchSettings); recorded in the manifest.
        public_reports: make report.html, report.xlsx, region_summary.parquet and
            discrepancies.parquet readable by everyone; otherwise every file is
            owner-only.
        retention_days: delete published versions older than this many days when a run
            publishes (besides keeping only the newest three); recorded in the manifest.
        memory_limit: DuckDB memory limit, e.g. "8GB" (default: 60% of the machine).
        threads: DuckDB threads (default: every core).
        temp_dir: where DuckDB spills (default: beside the work database).
        storage_url: where partitions travel to their workers and back, as Parquet: a
            folder or fsspec URL every Dask worker can reach (file:///nfs/runs,
            s3://bucket/runs); default from RECONCILE_STORAGE_URL, else a folder beside
            the work database (enough for threads or workers on this machine).
        read_group: a group of the run's user that may read the published outputs.
        review: review-queue settings, e.g. {"cap_per_village": 25, "audit_per_band": 2}
            (reconcile.review.settings.ReviewSettings).

    Runs started through `make serve` read only from RECONCILE_INBOX and write only under
    RECONCILE_OUTPUTS_ROOT (flows.served_paths); anything else is refused before any work.
    """
    startup = seconds_since_process_start()  # from the process's start to the flow's body
    if served_paths.enforced():  # anyone who can start a deployment chooses these parameters
        if dask_address:
            raise RunRefused("dask_address: served runs use RECONCILE_DASK_ADDRESS only")
        if temp_dir:  # spill files hold every NIK and name of the inputs
            raise RunRefused("temp_dir: served runs spill beside their work database only")
        if storage_url:  # so do the partitions' Parquet
            raise RunRefused("storage_url: served runs use RECONCILE_STORAGE_URL only")
        paths = served_paths.check_run(kemensos, bps, stats, out, mapping)
        kemensos, bps, stats, out, mapping = (paths[k] for k in (
            "kemensos", "bps", "stats", "out", "mapping"))
    config = RunConfig.build(
        kemensos=kemensos, bps=bps, stats=stats, out=out, mapping=mapping,
        pseudonymise=pseudonymise, regions=regions, eligibility=eligibility, force=force,
        partition_by=partition_by, regency_split_above=regency_split_above,
        workers=workers, k_anonymity=k_anonymity,
        matching=matching, public_reports=public_reports, retention_days=retention_days,
        memory_limit=memory_limit, threads=threads, temp_dir=temp_dir,
        storage_url=storage_url or os.environ.get("RECONCILE_STORAGE_URL"),
        read_group=read_group, review=review)
    logger = get_run_logger()
    lineage = tasks.fingerprint(config)
    previous = tasks.unchanged_run(config, lineage)
    if previous:
        logger.info("inputs unchanged since run %s: outputs in %s are current",
                    previous["run_id"], out)
        return previous
    with open_run(config, lineage) as run:
        if startup is not None:
            run.timings["startup"] = round(startup, 3)
        logger.info("run %s: %d Kemensos file(s) -> %s", run.run_id, len(kemensos), out)
        run.map_partitions = _partition_mapper(run.config.workers, dask_address)
        for stage_task in tasks.STAGES:
            run.take(stage_task(run))
    result = run.result()
    publish_artifacts(config.out, result)
    return result


def _task_runner(workers: int, dask_address: str | None):
    """Threads here, or the Dask cluster named in the parameters or the environment."""
    address = dask_address or os.environ.get("RECONCILE_DASK_ADDRESS")
    if address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=address)
    return ThreadPoolTaskRunner(max_workers=max(1, workers))


def _partition_mapper(workers: int, dask_address: str | None) -> PartitionMapper:
    """The match stage's provinces as Prefect tasks: threads here, or the Dask cluster."""
    def map_partitions(run: Run, parts: list) -> list[dict]:
        with _task_runner(workers, dask_address) as runner:
            # the run without this closure: a Dask worker receives it pickled
            shipped = dataclasses.replace(run, map_partitions=None)
            futures = runner.map(tasks.match_partition,
                                 {"run": unmapped(shipped), "part": parts})
            return [future.result() for future in futures]

    return map_partitions
