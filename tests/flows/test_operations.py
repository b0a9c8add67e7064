"""Operations: killed runs leave the published output intact, concurrent runs are refused,
reruns agree, and person ids survive changed inputs with an exact change report."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from reconcile.errors import RunRefused
from reconcile.pipeline import run_pipeline

RUN_SCRIPT = """
import sys
from pathlib import Path
from reconcile.config import RunConfig
from reconcile.pipeline import run_pipeline
data, out = Path(sys.argv[1]), Path(sys.argv[2])
run_pipeline(RunConfig(kemensos=tuple(sorted(data.glob("kemensos_*.csv"))),
                       bps=data / "bps_register.parquet", stats=data / "bps_poverty_stats.csv",
                       out=out, force=True))
"""


def _table(out: Path, name: str) -> pd.DataFrame:
    path = out / name
    source = f"read_parquet('{path}/**/*.parquet')" if path.is_dir() else f"'{path}'"
    return duckdb.sql(f"SELECT * FROM {source} ORDER BY ALL").df()


def _start_run(data: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", RUN_SCRIPT, str(data), str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.parametrize("kill_after", [0.1, 0.6, 1.1])
def test_a_killed_run_leaves_the_published_output_intact(run_config, small_data, tmp_path,
                                                         kill_after):
    out = tmp_path / "out"
    first = run_pipeline(run_config(small_data, out))
    before = _table(out, "reconciled.parquet")

    process = _start_run(small_data, out)
    _wait_for_lock(out.parent / ".out.lock")  # seconds after its work began, not its start
    time.sleep(kill_after)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL  # killed, not finished

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["run_id"] in (first["run_id"], *_published_ids(out))
    pd.testing.assert_frame_equal(_table(out, "reconciled.parquet"), before)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in (out.parent / ".out.versions" / manifest["run_id"]).iterdir())
    run_pipeline(run_config(small_data, out, force=True))  # the lock died with the process


def _wait_for_lock(lock: Path) -> None:
    deadline = time.monotonic() + 30
    while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)


def _published_ids(out: Path) -> list[str]:
    return [p.name for p in (out.parent / ".out.versions").iterdir() if p.is_dir()]


def test_a_second_run_on_the_same_output_is_refused(run_config, small_data, tmp_path):
    out = tmp_path / "out"
    process = _start_run(small_data, out)
    lock = out.parent / ".out.lock"
    deadline = time.monotonic() + 30
    while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        with pytest.raises(RunRefused, match="Another run is already writing"):
            run_pipeline(run_config(small_data, out, force=True))
    finally:
        process.wait(timeout=120)
    assert process.returncode == 0


def test_two_runs_on_the_same_inputs_give_identical_outputs(run_config, small_data, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    run_pipeline(run_config(small_data, one))
    run_pipeline(run_config(small_data, two))
    run_pipeline(run_config(small_data, two, force=True))  # and again, with the state of run 1

    for name in ("reconciled.parquet", "discrepancies.parquet", "region_summary.parquet"):
        pd.testing.assert_frame_equal(_table(one, name), _table(two, name))
    assert _table(two, "changes.parquet").empty


def _edit_inputs(data: Path, target: Path) -> dict[str, set[str]]:
    """Copy the inputs, removing, adding and slightly editing a few PKH rows."""
    target.mkdir()
    for path in data.iterdir():
        if path.suffix in (".csv", ".parquet") and not path.name.startswith("truth"):
            (target / path.name).write_bytes(path.read_bytes())
    pkh = target / "kemensos_pkh.csv"
    with pkh.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    removed = {r["id_penerima"] for r in rows[10:13]}
    edited = {r["id_penerima"] for r in rows[20:22]}
    rows = [r for r in rows if r["id_penerima"] not in removed]
    for row in rows:
        if row["id_penerima"] in edited:
            row["alamat"] = (row["alamat"] or "") + " GG. MAWAR"
    added = []
    for n, source in enumerate(_bpnt_rows(target)[:2]):  # enrol two BPNT people in PKH too
        added.append({**source, "id_penerima": f"PKH-NEW{n}", "program": "PKH"})
    with pkh.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows + added)
    return {"removed": removed, "edited": edited, "added": {r["id_penerima"] for r in added}}


def _bpnt_rows(folder: Path) -> list[dict]:
    with (folder / "kemensos_bpnt.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))[:2]


def test_person_ids_survive_changed_inputs_and_the_change_report_is_exact(run_config,
                                                                          small_data,
                                                                          tmp_path):
    out = tmp_path / "out"
    run_pipeline(run_config(small_data, out))
    before = _table(out, "reconciled.parquet").set_index("id_penerima")["person_id"]
    changed = _edit_inputs(small_data, tmp_path / "changed")

    run_pipeline(run_config(tmp_path / "changed", out))

    after = _table(out, "reconciled.parquet").set_index("id_penerima")["person_id"]
    common = before.index.intersection(after.index)
    assert (before[common] == after[common]).mean() >= 0.999
    assert (before[list(changed["edited"])] == after[list(changed["edited"])]).all()
    bpnt = [r["id_penerima"] for r in _bpnt_rows(tmp_path / "changed")]
    assert set(after[[f"PKH-NEW{n}" for n in range(2)]]) == set(after[bpnt])

    report = _table(out, "changes.parquet")
    by_kind = report.groupby("change")["record_id"].agg(set).to_dict()
    assert by_kind["new_beneficiary"] == changed["added"]
    assert by_kind["removed_beneficiary"] == changed["removed"]
    assert by_kind["edited_beneficiary"] == changed["edited"]
    assert set(report.loc[report["change"] == "edited_beneficiary", "detail"]) == {
        "changed: alamat"}
    assert os.listdir(out)  # still published


def test_unchanged_inputs_skip_the_heavy_stages(run_config, small_data, tmp_path):
    out = tmp_path / "out"
    first = run_pipeline(run_config(small_data, out))

    again = run_pipeline(run_config(small_data, out))

    assert again["skipped"] and again["run_id"] == first["run_id"]
    assert again["timings"] == {}  # nothing was recomputed
    assert _published_ids(out) == [first["run_id"]]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["lineage"]["fingerprint"] and manifest["lineage"]["code_version"]
