"""Thin Prefect tasks, one per pipeline stage; the logic lives in `reconcile.pipeline`."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from reconcile import pipeline
from reconcile.errors import InputError


def _retry_unless_bad_input(task, task_run, state) -> bool:
    """Retry flaky I/O, but never a file the officer has to fix first."""
    try:
        state.result()
    except InputError:
        return False
    except Exception:
        return True
    return False


@task(name="ingest", retries=2, retry_delay_seconds=[2, 10],
      retry_condition_fn=_retry_unless_bad_input, cache_policy=NO_CACHE)
def ingest(run: pipeline.Run) -> None:
    """Read every input file into raw tables."""
    pipeline.ingest(run)


@task(name="validate", cache_policy=NO_CACHE)
def validate(run: pipeline.Run) -> None:
    """Clean values, flag problems, quarantine unusable rows."""
    pipeline.validate(run)


@task(name="match", cache_policy=NO_CACHE)
def link(run: pipeline.Run) -> None:
    """Standardise, block, score, deduplicate and link to the register."""
    pipeline.link(run)


@task(name="discrepancies", cache_policy=NO_CACHE)
def report(run: pipeline.Run) -> None:
    """Find discrepancies and summarise regions."""
    pipeline.report(run)


@task(name="outputs", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def write_outputs(run: pipeline.Run) -> dict:
    """Write Parquet, reports and the manifest into the staging folder."""
    return pipeline.write_outputs(run)
