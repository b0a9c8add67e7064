"""A real cluster: partitions travel to Dask workers as Parquet at a storage URL.

Each worker process works in its own directory and temp folder; the only place it shares
with the coordinator is the storage location named by URL. The outputs equal those of
the run in one process."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from reconcile.config import RunConfig
from reconcile.pipeline import run_pipeline

pytestmark = [pytest.mark.flow, pytest.mark.slow]

OUTPUTS = ("reconciled.parquet/**/*.parquet", "discrepancies.parquet",
           "region_summary.parquet", "quarantine.parquet", "changes.parquet")


def _published(out: Path) -> dict[str, list[tuple]]:
    """Every published table, its rows in a fixed order."""
    return {name: duckdb.sql(f"SELECT * FROM read_parquet('{out}/{name}') ORDER BY ALL"
                             ).fetchall() for name in OUTPUTS}


def _cluster(root: Path):
    """A LocalCluster of three worker processes, each started in its own working and
    temp directory (TMPDIR, Dask's local_directory)."""
    from distributed import LocalCluster, Nanny

    cluster = LocalCluster(n_workers=0, processes=True, threads_per_worker=1,
                           dashboard_address=None)
    for n in range(3):
        home = root / f"worker-{n}"
        (home / "tmp").mkdir(parents=True)
        cluster.worker_spec[f"w{n}"] = {"cls": Nanny, "options": {
            "nthreads": 1, "local_directory": str(home), "memory_limit": "1GiB",
            "env": {"TMPDIR": str(home / "tmp")}}}
    cluster.scale(3)
    return cluster


def test_a_three_worker_cluster_with_a_storage_url_equals_one_process(two_province_inputs,
                                                                     tmp_path,
                                                                     prefect_harness):
    from distributed import Client

    from flows.reconcile_flow import reconcile_flow

    inputs = two_province_inputs
    single = tmp_path / "single"
    run_pipeline(RunConfig(kemensos=tuple(map(Path, inputs["kemensos"])),
                           bps=Path(inputs["bps"]), stats=Path(inputs["stats"]), out=single,
                           workers=1))
    storage = tmp_path / "storage"
    storage.mkdir()
    with _cluster(tmp_path / "workers") as cluster, Client(cluster) as client:
        client.wait_for_workers(3, timeout=60)
        workers = set(client.scheduler_info()["workers"])
        result = reconcile_flow(**inputs, out=str(tmp_path / "cluster"), workers=3,
                                dask_address=cluster.scheduler_address,
                                storage_url=storage.as_uri())

    matched_on = {p["worker"] for p in result["match"]["per_partition"]}
    assert result["match"]["partitions"] == 2 and matched_on <= workers, matched_on
    assert list(storage.iterdir()) == []  # the partitions' Parquet removed with the run
    for n in range(3):  # each worker's scratch databases gone from its own folder
        assert not list((tmp_path / "workers" / f"worker-{n}").rglob("part.duckdb"))
    cluster_tables, single_tables = _published(tmp_path / "cluster"), _published(single)
    assert len(single_tables["reconciled.parquet/**/*.parquet"]) > 1500
    for name in OUTPUTS:
        assert cluster_tables[name] == single_tables[name], name
