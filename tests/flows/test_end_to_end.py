"""The whole flow under Prefect's test harness, checked against the generator's truth."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.flow


def _inputs(data: Path) -> dict:
    return {"kemensos": sorted(str(p) for p in data.glob("kemensos_*.csv")),
            "bps": str(data / "bps_register.parquet"),
            "stats": str(data / "bps_poverty_stats.csv")}


@pytest.fixture(scope="module")
def run_result(prefect_harness, small_data, tmp_path_factory):
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


def test_missing_column_fails_before_writing(prefect_harness, small_data, tmp_path):
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


def _full_niks(data: Path) -> set[str]:
    """Every 16-digit NIK and No KK of the inputs (after stripping Excel apostrophes)."""
    rows = duckdb.sql(f"""
        SELECT regexp_replace(v, '[^0-9]', '', 'g') AS v FROM (
            SELECT unnest([nik, no_kk]) AS v FROM read_csv('{data}/kemensos_*.csv', all_varchar=true)
            UNION ALL SELECT unnest([nik, no_kk]) FROM '{data}/bps_register.parquet')
        WHERE length(regexp_replace(v, '[^0-9]', '', 'g')) = 16""").fetchall()
    # Placeholders such as 0000000000000000 identify nobody.
    return {v for (v,) in rows if len(set(v)) > 1}


def _artifact_text() -> str:
    from prefect.client.orchestration import get_client

    # Explicit filter body: this Prefect/FastAPI pairing rejects the client's null defaults.
    body = {"limit": 200, "offset": 0, "sort": "CREATED_DESC"}
    with get_client(sync_client=True) as client:
        response = client._client.post("/artifacts/filter", json=body)
    response.raise_for_status()
    return "\n".join(str(a["data"]) for a in response.json())


def test_no_full_nik_in_logs_artifacts_or_reports(run_result, small_data):
    import re
    import zipfile

    out, _ = run_result
    workbook = zipfile.ZipFile(out / "report.xlsx")
    texts = {
        "run.log": (out / "run.log").read_text(),
        "report.html": (out / "report.html").read_text(),
        "manifest.json": (out / "manifest.json").read_text(),
        "report.xlsx": "\n".join(workbook.read(n).decode() for n in workbook.namelist()),
        "discrepancies.parquet": duckdb.sql(
            f"SELECT string_agg(evidence || record_id, ' ') FROM '{out}/discrepancies.parquet'"
        ).fetchall()[0][0],
        "artifacts": _artifact_text(),
    }
    niks = _full_niks(small_data)
    assert len(niks) > 1000 and "reconcile" in texts["run.log"] and "Rekonsiliasi" in texts[
        "artifacts"]
    for name, text in texts.items():
        leaked = niks & set(re.findall(r"[0-9]{16}", text))
        assert not leaked, (name, sorted(leaked)[:3])


def test_partition_values_read_back_as_text_in_duckdb_and_pandas(run_result):
    import pandas as pd

    out, _ = run_result
    kinds = duckdb.sql(f"SELECT DISTINCT typeof(kode_kabupaten), kode_kabupaten FROM "
                       f"read_parquet('{out}/reconciled.parquet/**/*.parquet')").fetchall()
    assert {kind for kind, _ in kinds} == {"VARCHAR"}
    assert "17.10" in {code for _, code in kinds} or all("." in c for _, c in kinds)
    codes = pd.read_parquet(out / "reconciled.parquet", columns=["kode_kabupaten"])
    assert set(codes["kode_kabupaten"].astype(str)) == {code for _, code in kinds}


def _table(out: Path, name: str) -> list[tuple]:
    return duckdb.execute("SELECT * FROM read_parquet($glob) ORDER BY ALL",
                          {"glob": str(out / name / "**" / "*.parquet")
                           if (out / name).is_dir() else str(out / name)}).fetchall()


def test_the_flow_and_run_pipeline_are_one_spine(run_result, small_data, run_config,
                                                tmp_path):
    """The flow's tasks are the pipeline's stages, by name, and give the same outputs."""
    from flows import tasks
    from reconcile.pipeline import STAGES, run_pipeline

    flow_out, flow_result = run_result
    here = run_pipeline(run_config(small_data, tmp_path / "here"))
    names = [stage.name for stage in STAGES]
    assert [task.name for task in tasks.STAGES] == names
    for result in (flow_result, here):  # the manifest's timings name the same stages
        assert [n for n in result["timings"] if n in names] == names
    for table in ("reconciled.parquet", "discrepancies.parquet", "region_summary.parquet",
                  "quarantine.parquet"):
        assert _table(tmp_path / "here", table) == _table(flow_out, table), table
