"""Thin Prefect tasks, one per pipeline stage; the logic lives in `reconcile.pipeline`.

Each stage task returns the `Run` it was given, so its timings and facts travel back
to the flow when the task runs in another worker.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from reconcile import outputs, partition, pipeline
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


IO_RETRIES = {"retries": 2, "retry_delay_seconds": [2, 10],
              "retry_condition_fn": _retry_unless_bad_input}


@task(name="fingerprint inputs", cache_policy=NO_CACHE, **IO_RETRIES)
def fingerprint(config) -> dict:
    """Content hashes of the inputs, code version and parameters (the run's lineage)."""
    return outputs.lineage(config)


@task(name="compare with published run", cache_policy=NO_CACHE)
def unchanged_run(config, lineage: dict) -> dict | None:
    """The published result when it came from the same lineage; heavy stages are skipped."""
    return outputs.unchanged_run(config, lineage)


def _stage(name: str, stage_fn, io: bool = False):
    """A Prefect task running one pipeline stage."""
    options = IO_RETRIES if io else {}

    @task(name=name, cache_policy=NO_CACHE, **options)
    def run_stage(run: pipeline.Run) -> pipeline.Run:
        stage_fn(run)
        return run

    run_stage.__doc__ = stage_fn.__doc__
    return run_stage


STAGES = (
    _stage("ingest", pipeline.ingest, io=True),
    _stage("validate", pipeline.validate),
    _stage("scope", pipeline.scope),
    _stage("match", pipeline.link),
    _stage("discrepancies", pipeline.report),
    _stage("outputs", pipeline.write_outputs, io=True),
)


@task(name="split by province", cache_policy=NO_CACHE)
def split_partitions(run: pipeline.Run) -> tuple[pipeline.Run, list]:
    """Each province's clean rows in its own work database."""
    return run, pipeline.split_partitions(run)


@task(name="match province", cache_policy=NO_CACHE)
def match_partition(path, threads: int | None, memory_limit: str | None,
                    matching: dict | None = None) -> dict:
    """Match one province; runs wherever the task runner puts it (thread or Dask worker)."""
    return partition.match_partition(path, threads=threads, memory_limit=memory_limit,
                                     matching=matching)


@task(name="combine provinces", cache_policy=NO_CACHE)
def combine_partitions(run: pipeline.Run, per_partition: list[dict]) -> pipeline.Run:
    """Gather the provinces' results and link people who moved, by NIK."""
    pipeline.combine_partitions(run, per_partition)
    return run
