"""The reconciliation flow: reads as the pipeline, stage by stage."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from flows import tasks
from flows.artifacts import publish_artifacts
from reconcile import publish
from reconcile.config import RunConfig
from reconcile.pipeline import Run


@flow(name="reconcile", log_prints=False)
def reconcile_flow(kemensos: list[str], bps: str, stats: str, out: str,
                   mapping: str | None = None, pseudonymise: bool = False) -> dict:
    """Reconcile Kemensos lists with the BPS register and publish the outputs atomically."""
    config = RunConfig(kemensos=tuple(Path(p) for p in kemensos), bps=Path(bps),
                       stats=Path(stats), out=Path(out),
                       mapping=Path(mapping) if mapping else None, pseudonymise=pseudonymise)
    logger = get_run_logger()
    run_id = publish.new_run_id()
    logger.info("run %s: %d Kemensos file(s) -> %s", run_id, len(kemensos), out)
    with publish.exclusive(config.out), publish.staging(config.out, run_id) as stage:
        run = Run(config, run_id, stage)
        try:
            tasks.ingest(run)
            tasks.validate(run)
            tasks.link(run)
            tasks.report(run)
            summary = tasks.write_outputs(run)
        finally:
            run.work_db.unlink(missing_ok=True)
        publish.publish(stage, config.out, run_id)
    publish_artifacts(config.out, summary)
    return {"run_id": run_id, "out": out, "timings": run.timings, **summary}
