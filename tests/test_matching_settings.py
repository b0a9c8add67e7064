"""Matching settings reach the matcher from a run's configuration and are recorded."""

from __future__ import annotations

import json

import pytest

from flows.cli import main
from reconcile.errors import InputError
from reconcile.match.settings import MatchSettings
from reconcile.pipeline import run_pipeline


@pytest.mark.parametrize(("params", "message"), [
    ({"link_treshold": 0.9}, "unknown matching setting"),
    ({"link_threshold": 1.5}, "between 0 and 1"),
    ({"dedupe_threshold": "high"}, "must be a number"),
    ({"review_threshold": 0.95, "link_threshold": 0.9}, "not be above"),
    ({"max_pairs_per_key": 10.5}, "whole number"),
])
def test_bad_settings_are_refused_by_name(params, message):
    with pytest.raises(ValueError, match=message):
        MatchSettings.from_params(params)


def test_cli_refuses_a_bad_threshold_in_two_languages(small_data, tmp_path, capsys):
    code = main(["run", "--kemensos", *map(str, small_data.glob("kemensos_*.csv")),
                 "--bps", str(small_data / "bps_register.parquet"),
                 "--stats", str(small_data / "bps_poverty_stats.csv"),
                 "--out", str(tmp_path / "out"), "--link-threshold", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == ["reconcile: matching: link_threshold must be a probability between 0 "
                   "and 1, not 2.0",
                   "  ID: matching: pengaturan pencocokan tidak sah (rinciannya di atas)"]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_settings_change_the_links_and_are_in_the_manifest(small_data, run_config, tmp_path):
    strict = run_pipeline(run_config(small_data, tmp_path / "strict",
                                     matching={"link_threshold": 0.999999}))
    default = run_pipeline(run_config(small_data, tmp_path / "default"))
    manifest = json.loads((tmp_path / "strict" / "manifest.json").read_text())
    recorded = manifest["lineage"]["parameters"]["matching"]
    assert recorded["link_threshold"] == 0.999999
    assert recorded["dedupe_threshold"] == MatchSettings().dedupe_threshold
    assert strict["rows_matched"] < default["rows_matched"]


def test_run_config_refuses_bad_matching_before_anything_runs(small_data, run_config,
                                                             tmp_path):
    with pytest.raises(InputError, match="matching: unknown"):
        run_config(small_data, tmp_path / "out", matching={"threshold": 0.5})
