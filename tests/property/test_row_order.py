"""Row order must not matter: the same rows in another order give the same answer."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconcile.pipeline import run_pipeline

OUTPUTS = {
    "reconciled": "SELECT id_penerima, person_id, id_individu, round(match_probability, 9), "
                  "match_type, no_match_reason FROM read_parquet($p, hive_partitioning = false)",
    "discrepancies": "SELECT category, severity, record_id, person_id, id_individu, evidence "
                     "FROM read_parquet($p)",
}


def _shuffled_copy(data: Path, target: Path, seed: int) -> Path:
    """The data set with the rows of every Kemensos list and of the register reordered."""
    target.mkdir()
    con = duckdb.connect()
    try:
        for csv in data.glob("kemensos_*.csv"):
            con.execute("COPY (SELECT * FROM read_csv($src, all_varchar = true) "
                        "ORDER BY hash(id_penerima, $seed)) TO $out (HEADER)",
                        {"src": str(csv), "seed": seed, "out": str(target / csv.name)})
        con.execute("COPY (SELECT * FROM read_parquet($src) ORDER BY hash(id_individu, $seed)) "
                    "TO $out", {"src": str(data / "bps_register.parquet"), "seed": seed,
                                "out": str(target / "bps_register.parquet")})
    finally:
        con.close()
    (target / "bps_poverty_stats.csv").write_bytes((data / "bps_poverty_stats.csv").read_bytes())
    return target


def _answer(out: Path) -> dict[str, set]:
    con = duckdb.connect()
    try:
        files = {"reconciled": str(out / "reconciled.parquet" / "**" / "*.parquet"),
                 "discrepancies": str(out / "discrepancies.parquet")}
        return {name: set(con.execute(sql, {"p": files[name]}).fetchall())
                for name, sql in OUTPUTS.items()}
    finally:
        con.close()


@pytest.mark.slow
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(1, 10_000))
def test_shuffled_inputs_give_identical_links_persons_and_findings(small_data, run_config,
                                                                   tmp_path_factory, seed):
    work = tmp_path_factory.mktemp("order")
    run_pipeline(run_config(small_data, work / "original"))
    shuffled = _shuffled_copy(small_data, work / "shuffled", seed)
    run_pipeline(run_config(shuffled, work / "shuffled_out"))
    original, reordered = _answer(work / "original"), _answer(work / "shuffled_out")
    for name in OUTPUTS:
        assert original[name] == reordered[name], (
            name, sorted(original[name] ^ reordered[name])[:5])
