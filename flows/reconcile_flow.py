"""The reconciliation flow: reads as the pipeline, stage by stage."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from flows import tasks
from flows.artifacts import publish_artifacts
from reconcile import publish
from reconcile.config import RunConfig
from reconcile.pipeline import Run, run_log


@flow(name="reconcile", log_prints=False)
def reconcile_flow(kemensos: list[str], bps: str, stats: str, out: str,
                   mapping: str | None = None, pseudonymise: bool = False,
                   regions: list[str] | None = None, eligibility: dict | None = None,
                   force: bool = False) -> dict:
    """Reconcile Kemensos lists with the BPS register and publish the outputs atomically.

    Args:
        kemensos: beneficiary lists (CSV, XLSX, Parquet), e.g. one per program.
        bps: the BPS register file; stats: BPS poverty statistics per regency.
        out: the output folder, replaced atomically when the run succeeds.
        mapping: header-mapping file for exports with unusual headers.
        pseudonymise: NIK and No KK as HMAC tokens in the analysts' Parquet
            (key in RECONCILE_HMAC_KEY).
        regions: only these province or regency codes, e.g. ["17"] or ["17.01"].
        eligibility: report settings, e.g. {"cutoff": {"PKH": 4, "PBI-JK": 5}}.
        force: reconcile again even if the inputs are unchanged since the last run.
    """
    config = RunConfig(kemensos=tuple(Path(p) for p in kemensos), bps=Path(bps),
                       stats=Path(stats), out=Path(out),
                       mapping=Path(mapping) if mapping else None, pseudonymise=pseudonymise,
                       regions=tuple(regions or ()), eligibility=eligibility or {}, force=force)
    logger = get_run_logger()
    lineage = tasks.fingerprint(config)
    previous = tasks.unchanged_run(config, lineage)
    if previous:
        logger.info("inputs unchanged since run %s: outputs in %s are current",
                    previous["run_id"], out)
        return previous
    run_id = publish.new_run_id()
    logger.info("run %s: %d Kemensos file(s) -> %s", run_id, len(kemensos), out)
    with publish.exclusive(config.out), publish.staging(config.out, run_id) as stage:
        run = Run(config, run_id, stage, facts={"lineage": lineage})
        try:
            with run_log(stage):
                for stage_task in tasks.STAGES:
                    run = stage_task(run)
        finally:
            run.work_db.unlink(missing_ok=True)
        publish.publish(stage, config.out, run_id)
    result = run.result()
    publish_artifacts(config.out, result)
    return result
