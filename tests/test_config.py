"""Bad input paths are refused in one short message, in English and Indonesian, before
Prefect starts or anything is written."""

from __future__ import annotations

import pytest

from flows.cli import main


@pytest.mark.parametrize(("kemensos", "indonesian", "english"), [
    ("missing.csv", "berkas tidak ditemukan. Perbaiki: periksa jalur dan nama berkasnya",
     "file not found. Fix: check the path and the file name"),
    (".", "bukan berkas (folder atau perangkat). Perbaiki: berikan berkasnya sendiri",
     "not a file (a folder or a device). Fix: give the file itself"),
])
def test_a_mistyped_or_wrong_input_path_is_one_short_message(small_data, tmp_path, capsys,
                                                             kemensos, indonesian, english):
    target = tmp_path / kemensos
    code = main(["run", "--kemensos", str(target),
                 "--bps", str(small_data / "bps_register.parquet"),
                 "--stats", str(small_data / "bps_poverty_stats.csv"),
                 "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip().splitlines() == [
        f"reconcile: --kemensos {target}: {english}",
        f"  ID: --kemensos {target}: {indonesian}"]
    assert captured.out == ""
    assert not (tmp_path / "out").exists()


def test_a_mistyped_file_name_is_answered_with_the_near_names(small_data, tmp_path, capsys):
    typo = small_data / "kemensos_pkhh.csv"
    code = main(["run", "--kemensos", str(typo),
                 "--bps", str(small_data / "bps_register.parquet"),
                 "--stats", str(small_data / "bps_poverty_stats.csv"),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"Did you mean {small_data / 'kemensos_pkh.csv'}" in err
    assert f"Mungkin maksudnya {small_data / 'kemensos_pkh.csv'}" in err
