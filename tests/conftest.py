"""Shared fixtures: a fresh DuckDB per test and small generated data sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows import environment

environment.apply()

SMALL_PEOPLE = 3_000
FLOWS = Path(__file__).parent / "flows"


def pytest_collection_modifyitems(items):
    """Everything under tests/flows/ runs the CLI, the flow or a server: `flow`, so that
    `make check` leaves it to `make test`."""
    for item in items:
        if FLOWS in Path(item.fspath).parents:
            item.add_marker(pytest.mark.flow)


@pytest.fixture
def con():
    """A fresh in-memory DuckDB connection, closed after the test."""
    from reconcile import db

    connection = db.connect()
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def prefect_harness():
    """Prefect's test server, started once per test process (it takes seconds) for every
    test that runs a flow."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def small_data(tmp_path_factory) -> Path:
    """A small generated data set with its truth, shared by the tests of one worker."""
    from synth.generate import generate

    out = tmp_path_factory.mktemp("generated")
    generate(out, people=SMALL_PEOPLE, seed=11)
    return out


@pytest.fixture
def run_config():
    """RunConfig for a generated data folder: its Kemensos CSVs, register and statistics."""
    from reconcile.config import RunConfig

    def make(data: Path, out: Path, **changes) -> RunConfig:
        inputs = {"kemensos": tuple(sorted(data.glob("kemensos_*.csv"))),
                  "bps": data / "bps_register.parquet", "stats": data / "bps_poverty_stats.csv"}
        return RunConfig.build(**{**inputs, **changes}, out=out)

    return make
