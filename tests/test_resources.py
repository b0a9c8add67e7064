"""DuckDB's limits come from the machine; each stage reports its peak memory and spill."""

from __future__ import annotations

import time

from reconcile import db, resources


def test_memory_limit_defaults_to_a_share_of_the_machine():
    con = db.connect()
    try:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    finally:
        con.close()
    machine_gib = resources.machine_memory_bytes() / 2**30
    value, unit = limit.split()
    gib = float(value) * {"MiB": 2**-10, "GiB": 1.0, "TiB": 2**10}[unit]
    assert 0.5 * machine_gib < gib <= resources.MEMORY_SHARE * machine_gib + 0.01


def test_a_configured_memory_limit_wins():
    con = db.connect(memory_limit="1GB")
    try:
        assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "953.6 MiB"
    finally:
        con.close()


def test_a_stage_reports_its_largest_spill_even_when_the_files_are_gone(tmp_path):
    spill = tmp_path / "spill"
    with resources.measured(spill) as use:
        spill.mkdir()
        (spill / "block.tmp").write_bytes(b"\0" * 3 * 2**20)
        time.sleep(3 * resources.SAMPLE_SECONDS)
        (spill / "block.tmp").unlink()
        blob = bytearray(64 * 2**20)  # touched memory shows in the stage's peak
        blob[:: 4096] = b"\1" * len(blob[:: 4096])
    assert 2.9 < use.spill_peak_mb < 3.1
    assert use.peak_rss_mb >= 64
    assert set(use.recorded()) == {"peak_rss_mb", "spill_peak_mb"}


def test_a_run_records_each_stage_and_spills_into_the_configured_folder(
        small_data, run_config, tmp_path):
    import json

    from reconcile.pipeline import run_pipeline

    spill_root = tmp_path / "spill"
    spill_root.mkdir()
    config = run_config(small_data, tmp_path / "out", temp_dir=spill_root,
                        memory_limit="256MB")
    result = run_pipeline(config)
    used = json.loads((tmp_path / "out" / "manifest.json").read_text())["resources"]
    assert {"ingest", "validate", "match", "discrepancies", "outputs"} <= set(used)
    assert all(u["peak_rss_mb"] > 0 for u in used.values())
    assert result["run_id"] and list(spill_root.iterdir()) == []  # removed with the run


def test_a_bad_memory_limit_is_refused_before_the_run(small_data, run_config, tmp_path):
    import pytest

    from reconcile.errors import InputError

    with pytest.raises(InputError, match="memory_limit"):
        run_config(small_data, tmp_path / "out", memory_limit="lots")
    config = run_config(small_data, tmp_path / "out", workers=4)
    parts = int(config.partition_memory_limit.removesuffix("MB"))
    assert abs(parts * 4 - int(resources.default_memory_limit().removesuffix("MB"))) <= 4


def test_resource_options_are_checked_like_the_others(small_data, run_config, tmp_path):
    import pytest

    from reconcile.config import RunConfig
    from reconcile.errors import InputError

    with pytest.raises(InputError, match="threads"):
        run_config(small_data, tmp_path / "out", threads=0)
    inputs = {"kemensos": [str(p) for p in sorted(small_data.glob("kemensos_*.csv"))],
              "bps": str(small_data / "bps_register.parquet"),
              "stats": str(small_data / "bps_poverty_stats.csv")}
    config = RunConfig.build(**inputs, out=str(tmp_path / "out"), mapping=None,
                             pseudonymise=False, regions=None, eligibility=None,
                             force=False, partition_by="province", workers=None,
                             k_anonymity=5, memory_limit="2GB", threads=1,
                             temp_dir=str(tmp_path))
    assert (config.memory_limit, config.threads, config.temp_dir) == ("2GB", 1, tmp_path)


def test_a_stage_measured_whole_keeps_the_peak_of_its_steps(tmp_path):
    """A step resets the kernel's peak counter; the stage around it still sees the step's
    peak (the match stage holds the partitions' and the combine's connections)."""
    with resources.measured(tmp_path) as stage:
        with resources.measured(tmp_path) as step:
            blob = bytearray(96 * 2**20)
            blob[:: 4096] = b"\1" * len(blob[:: 4096])
            del blob
        with resources.measured(tmp_path) as later:
            pass
    assert step.peak_rss_mb >= 96
    assert stage.peak_rss_mb >= step.peak_rss_mb > later.peak_rss_mb


def test_threads_default_to_every_core_of_the_machine(small_data, run_config, tmp_path):
    from reconcile.pipeline import Run, RunFacts

    config = run_config(small_data, tmp_path / "out")
    run = Run(config, "r1", tmp_path, RunFacts(lineage={}))
    with run.connect("probe") as con:
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    assert threads == resources.default_threads() == run.threads
    assert set(run.facts.resources["probe"]) == {"peak_rss_mb", "spill_peak_mb"}


def test_measurements_alike_in_value_end_in_any_order(tmp_path):
    """Partitions matched in threads open and close measurements in any order; two that
    happen to hold the same figures are still two."""
    outer, inner = resources.measured(tmp_path), resources.measured(tmp_path)
    first = outer.__enter__()
    second = inner.__enter__()
    first.peak_rss_mb = second.peak_rss_mb = 0.0  # alike at the moment the inner one ends
    inner.__exit__(None, None, None)
    outer.__exit__(None, None, None)
    assert first is not second and first.peak_rss_mb > 0
