"""Thin Prefect tasks, one per pipeline stage; the logic lives in `reconcile.pipeline`.

Each stage task returns the `Run` it was given, so its timings and facts travel back
to the flow when the task runs in another worker.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from reconcile import outputs, pipeline
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


def stage_task(stage: pipeline.Stage):
    """A Prefect task running one pipeline stage, named as the stage."""
    options = IO_RETRIES if stage.io else {}

    @task(name=stage.name, cache_policy=NO_CACHE, **options)
    def run_stage(run: pipeline.Run) -> pipeline.Run:
        stage.run(run)
        return run

    run_stage.__doc__ = stage.function.__doc__
    return run_stage


# The pipeline's one list of stages, as tasks.
STAGES = tuple(stage_task(stage) for stage in pipeline.STAGES)


@task(name="match partition", cache_policy=NO_CACHE)
def match_partition(run: pipeline.Run, part) -> dict:
    """Match one partition (a province, or a regency of a large one) wherever the task
    runner puts it: a thread here, or a Dask worker that reads and writes only the run's
    storage location and works in its own local directory."""
    return pipeline.match_one_partition(run, part)
