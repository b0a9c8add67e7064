"""Scale-out: matching province by province gives the same answer on one worker or many."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from reconcile.config import RunConfig
from reconcile.pipeline import run_pipeline

pytestmark = pytest.mark.flow


def _persons_and_links(out: Path) -> list[tuple]:
    return duckdb.sql(f"SELECT id_penerima, person_id, id_individu, match_type FROM "
                      f"read_parquet('{out}/reconciled.parquet/**/*.parquet') ORDER BY 1"
                      ).fetchall()


def test_partitioned_flow_equals_single_process_run(two_province_inputs, tmp_path,
                                                   prefect_harness):
    from flows.reconcile_flow import reconcile_flow

    inputs = two_province_inputs
    single = tmp_path / "single"  # the default run: one process, provinces one at a time
    run_pipeline(RunConfig(kemensos=tuple(map(Path, inputs["kemensos"])),
                           bps=Path(inputs["bps"]), stats=Path(inputs["stats"]), out=single,
                           workers=1))
    result = reconcile_flow(**inputs, out=str(tmp_path / "concurrent"),
                            partition_by="province", workers=2)

    assert result["match"]["partitions"] == 2
    single_rows = _persons_and_links(single)
    assert len(single_rows) > 1000
    assert _persons_and_links(tmp_path / "concurrent") == single_rows


def test_partitioned_matching_is_nearly_as_accurate_as_one_matcher(two_provinces, tmp_path):
    config = {"kemensos": tuple(sorted(two_provinces.glob("kemensos_*.csv"))),
              "bps": two_provinces / "bps_register.parquet",
              "stats": two_provinces / "bps_poverty_stats.csv"}
    for name, extra in (("whole", {"partition_by": None}), ("parts", {"workers": 2})):
        run_pipeline(RunConfig(**config, out=tmp_path / name, **extra))
    truth = f"'{two_provinces}/truth_kemensos.parquet'"
    correct = {name: duckdb.sql(
        f"SELECT count(*) FILTER (r.id_individu = t.true_id_individu) FROM read_parquet("
        f"'{tmp_path / name}/reconciled.parquet/**/*.parquet') r JOIN {truth} t "
        "USING (id_penerima)").fetchall()[0][0] for name in ("whole", "parts")}
    assert correct["parts"] >= correct["whole"] * 0.99, correct


def test_one_province_with_stray_rows_is_not_split(small_data, run_config, tmp_path):
    """Rows with a foreign or blank region are matched with the rest; nothing is refused
    for lacking a region, and a one-province run pays for no split or combine."""
    data = tmp_path / "data"
    data.mkdir()
    for path in small_data.iterdir():
        (data / path.name).write_bytes(path.read_bytes())
    lists = sorted(data.glob("kemensos_*.csv"))
    con = duckdb.connect()
    con.execute("CREATE TABLE k AS SELECT * FROM read_csv($p, all_varchar = true)",
                {"p": str(lists[0])})
    con.execute("UPDATE k SET kode_wilayah = CASE WHEN rowid % 2 = 0 THEN '18.01.01.2001' "
                "ELSE '' END WHERE rowid < 20")
    con.execute("COPY k TO $out (HEADER)", {"out": str(lists[0])})
    result = run_pipeline(run_config(data, tmp_path / "out"))
    assert not {"split", "match_partitions"} & set(result["timings"])
    reasons = con.execute("SELECT DISTINCT no_match_reason FROM read_parquet($p)", {
        "p": str(tmp_path / "out" / "reconciled.parquet" / "**" / "*.parquet")}).fetchall()
    assert ("no region and no valid NIK",) not in reasons
