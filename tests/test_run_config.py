"""One validated configuration: the CLI, the flow and the manifest share RunConfig."""

from __future__ import annotations

import inspect
import json

import pytest

from reconcile.config import RunConfig
from reconcile.errors import InputError


def test_the_flow_takes_exactly_the_configs_options():
    from flows.reconcile_flow import reconcile_flow

    parameters = set(inspect.signature(reconcile_flow.fn).parameters)
    assert parameters - {"dask_address"} == set(RunConfig.model_fields)


@pytest.mark.parametrize(("options", "named"), [
    ({"threads": 0}, "--threads"),
    ({"threads": "4"}, "--threads"),
    ({"workers": True}, "--workers"),
    ({"retention_days": -1}, "--retention-days"),
    ({"k_anonymity": 1}, "--k-anonymity"),
    ({"regions": ["99"]}, "--region"),
    ({"regions": ["17'; --"]}, "--region"),
    ({"eligibility": {"cutoff": {"NO_SUCH_PROGRAM": 3}}}, "--eligibility"),
    ({"matching": {"threshold": 0.5}}, "matching"),
    ({"partition_by": "regency"}, "--partition-by"),
    ({"memory_limit": "lots"}, "memory_limit"),
    ({"colour": "red"}, "--colour: not an option"),
])
def test_a_bad_option_is_refused_by_name_before_anything_runs(run_config, small_data,
                                                               tmp_path, options, named):
    with pytest.raises(InputError, match=named):
        run_config(small_data, tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_a_missing_hmac_key_is_refused_before_ingest(run_config, small_data, tmp_path,
                                                     monkeypatch):
    monkeypatch.delenv("RECONCILE_HMAC_KEY", raising=False)
    with pytest.raises(InputError, match="RECONCILE_HMAC_KEY"):
        run_config(small_data, tmp_path / "out", pseudonymise=True)


def test_none_means_the_default_and_codes_are_dotted(run_config, small_data, tmp_path):
    config = run_config(small_data, tmp_path / "out", threads=None, workers=None,
                        regions=["1701"], partition_by="none")
    assert config.threads is None and config.workers >= 1
    assert config.regions == ("17.01",) and config.partition_by is None


@pytest.mark.slow
def test_the_manifest_records_every_option(run_config, small_data, tmp_path):
    from reconcile.pipeline import run_pipeline

    out = tmp_path / "out"
    config = run_config(small_data, out, matching={"link_threshold": 0.95})
    run_pipeline(config)
    recorded = json.loads((out / "manifest.json").read_text())["config"]
    assert set(recorded) == set(RunConfig.model_fields)
    assert recorded["matching"] == {"link_threshold": 0.95}
    assert RunConfig.build(**recorded | {"force": True}).matching == config.matching
