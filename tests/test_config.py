"""Bad input paths are refused in one line, before Prefect starts or anything is written."""

from __future__ import annotations

import pytest

from flows.cli import main


@pytest.mark.parametrize(("kemensos", "message"), [
    ("missing.csv", "file not found; check the path"),
    (".", "not a file (a folder or a device)"),
])
def test_a_mistyped_or_wrong_input_path_is_one_line(small_data, tmp_path, capsys,
                                                    kemensos, message):
    target = tmp_path / kemensos
    code = main(["run", "--kemensos", str(target),
                 "--bps", str(small_data / "bps_register.parquet"),
                 "--stats", str(small_data / "bps_poverty_stats.csv"),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [f"reconcile: --kemensos {target}: {message}"
                   + ("" if "found" in message else "; give the file itself")]
    assert not (tmp_path / "out").exists()
