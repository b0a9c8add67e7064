"""The whole flow under Prefect's test harness, checked against the generator's truth."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.flow


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


def _inputs(data: Path) -> dict:
    return {"kemensos": sorted(str(p) for p in data.glob("kemensos_*.csv")),
            "bps": str(data / "bps_register.parquet"),
            "stats": str(data / "bps_poverty_stats.csv")}


@pytest.fixture(scope="module")
def run_result(harness, small_data, tmp_path_factory):
    from flows.reconcile_flow import reconcile_flow

    out = tmp_path_factory.mktemp("runs") / "out"
    result = reconcile_flow(**_inputs(small_data), out=str(out))
    return out, result


def test_outputs_exist_with_their_names(run_result):
    out, _ = run_result
    for name in ("reconciled.parquet", "quarantine.parquet", "discrepancies.parquet",
                 "region_summary.parquet", "report.html", "manifest.json"):
        assert (out / name).exists(), name


def test_links_agree_with_truth(run_result, small_data):
    out, _ = run_result
    scores = duckdb.sql(f"""
        SELECT count(*) FILTER (r.id_individu IS NOT NULL) AS predicted,
               count(*) FILTER (t.true_id_individu IS NOT NULL) AS actual,
               count(*) FILTER (r.id_individu = t.true_id_individu) AS correct
        FROM read_parquet('{out}/reconciled.parquet/**/*.parquet') r
        JOIN '{small_data}/truth_kemensos.parquet' t USING (id_penerima)""").fetchall()[0]
    predicted, actual, correct = scores
    assert correct / predicted >= 0.98, scores
    assert correct / actual >= 0.95, scores


def test_every_row_is_reconciled_or_quarantined(run_result, small_data):
    out, _ = run_result
    manifest = json.loads((out / "manifest.json").read_text())
    read = sum(1 for p in small_data.glob("kemensos_*.csv") for _ in p.open()) - len(
        list(small_data.glob("kemensos_*.csv")))
    kemensos = [f for f in manifest["rows_per_file"] if f["source_file"].startswith("kemensos")]
    assert sum(f["rows_read"] for f in kemensos) == read
    assert all(f["balanced"] for f in manifest["rows_per_file"]), manifest["rows_per_file"]
    assert {"sha256", "path"} <= set(manifest["inputs"][0])


def test_missing_column_fails_before_writing(harness, small_data, tmp_path):
    from flows.reconcile_flow import reconcile_flow
    from reconcile.errors import InputError

    broken = tmp_path / "kemensos_broken.csv"
    broken.write_text("id_penerima,nomor,tanggal\nX1,1,2\n")
    out = tmp_path / "out"
    inputs = _inputs(small_data) | {"kemensos": [str(broken)]}
    with pytest.raises(InputError, match="kemensos_broken.csv"):
        reconcile_flow(**inputs, out=str(out))
    leftovers = [p.name for p in out.parent.iterdir() if p.name != ".out.lock"]
    assert leftovers == [broken.name], leftovers  # no output, no staging, no versions
