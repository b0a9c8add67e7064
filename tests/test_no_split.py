"""`reconcile run` as officers start it (Prefect included) on one province does not split:
no partition export, no partition matching, no combine (issue 15). The in-process run of
a one-province list with stray rows is tested in tests/flows/test_partitions.py."""

from __future__ import annotations

import csv
import json
import subprocess

import pytest

from tests.flows.test_orphans import PROJECT, RUN_TIMEOUT, _command, _env

pytestmark = [pytest.mark.slow, pytest.mark.flow]
SPLIT_STAGES = {"split", "match_partitions", "combine"}


def test_a_one_province_cli_run_is_matched_whole(small_data, tmp_path):
    with (small_data / "bps_poverty_stats.csv").open(newline="") as stats:
        provinces = {row["kode_wilayah"][:2] for row in csv.DictReader(stats)}
    assert len(provinces) == 1, provinces        # the data covers one province
    out = tmp_path / "out"
    done = subprocess.run(_command(small_data, out), cwd=PROJECT, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)

    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    timings = manifest["timings_s"]
    assert "match" in timings, timings
    assert not SPLIT_STAGES & set(timings), timings
