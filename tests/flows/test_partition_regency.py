"""A province too big for one matcher is matched regency by regency, then a cross-regency
pass links its movers; the answer is as good as matching it whole and does not depend on
how the regencies are scheduled."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from reconcile.config import RunConfig
from reconcile.pipeline import run_pipeline
from synth.bench.metrics import dedupe_metrics, link_metrics

pytestmark = pytest.mark.flow

MOVED_EVERY = 15  # one Kemensos row in 15 names a village of another regency


@pytest.fixture(scope="module")
def jakarta_with_movers(tmp_path_factory) -> Path:
    """One province of six regencies (DKI Jakarta) whose Kemensos lists place some people
    in a village of another regency than the register's (they moved)."""
    from synth.generate import generate

    out = tmp_path_factory.mktemp("jakarta")
    generate(out, people=6_000, seed=21, provinces=("31",))
    con = duckdb.connect()
    villages = con.execute("SELECT left(kode_wilayah, 5) AS regency, min(kode_wilayah) FROM "
                           "read_parquet($p) GROUP BY 1 ORDER BY 1",
                           {"p": str(out / "bps_register.parquet")}).fetchall()
    con.execute("CREATE TABLE elsewhere (regency VARCHAR, village VARCHAR)")
    # each regency's movers go to the next regency's first village
    con.executemany("INSERT INTO elsewhere VALUES (?, ?)",
                    [(regency, villages[(n + 1) % len(villages)][1])
                     for n, (regency, _) in enumerate(villages)])
    for path in out.glob("kemensos_*.csv"):
        con.execute("CREATE OR REPLACE TABLE k AS SELECT * FROM read_csv($p, all_varchar = "
                    "true)", {"p": str(path)})
        con.execute("""UPDATE k SET kode_wilayah = e.village FROM elsewhere e
                       WHERE e.regency = left(replace(k.kode_wilayah, '.', ''), 2) || '.'
                                         || substr(replace(k.kode_wilayah, '.', ''), 3, 2)
                         AND hash(k.id_penerima) % $every = 0""", {"every": MOVED_EVERY})
        con.execute("COPY k TO $p (HEADER)", {"p": str(path)})
    return out


def _run(data: Path, out: Path, **options) -> dict:
    return run_pipeline(RunConfig(kemensos=tuple(sorted(data.glob("kemensos_*.csv"))),
                                  bps=data / "bps_register.parquet",
                                  stats=data / "bps_poverty_stats.csv", out=out, **options))


def _accuracy(out: Path, truth: Path) -> dict:
    rows = duckdb.sql(f"""
        SELECT r.person_id, r.id_individu, t.true_id_individu, t.true_person_id,
               t.is_not_in_register
        FROM read_parquet('{truth}/truth_kemensos.parquet') t
        LEFT JOIN read_parquet('{out}/reconciled.parquet/**/*.parquet') r USING (id_penerima)
        """).df()
    kept = rows[rows["person_id"].notna()]
    return {**link_metrics(rows["id_individu"], rows["true_id_individu"],
                           rows["is_not_in_register"]),
            **dedupe_metrics(kept["person_id"], kept["true_person_id"])}


def _reconciled(out: Path) -> list[tuple]:
    return duckdb.sql(f"SELECT id_penerima, person_id, id_individu, match_type FROM "
                      f"read_parquet('{out}/reconciled.parquet/**/*.parquet') ORDER BY 1"
                      ).fetchall()


def test_a_split_province_is_as_accurate_as_one_matcher_whatever_the_schedule(
        jakarta_with_movers, tmp_path):
    data = jakarta_with_movers
    whole = _run(data, tmp_path / "whole", workers=2)
    split = _run(data, tmp_path / "split", workers=3, regency_split_above=500)
    one_at_a_time = _run(data, tmp_path / "one", workers=1, regency_split_above=500)

    assert "partitions" not in whole["match"]  # 6,000 people: below the default threshold
    assert split["match"]["partitions"] == 6  # Jakarta's six regencies
    assert split["match"]["cross_regency_links"]["nik"] > 20  # the movers found again
    assert split["match"]["cross_regency_merges"] > 20  # and joined to their other rows
    accuracy = {"whole": _accuracy(tmp_path / "whole", data),
                "split": _accuracy(tmp_path / "split", data)}
    for measure in ("link_f1", "link_precision", "dedupe_f1"):
        assert accuracy["split"][measure] >= accuracy["whole"][measure] - 0.002, accuracy
    assert accuracy["split"]["nir_linked"] <= accuracy["whole"]["nir_linked"] + 0.002
    for figure in ("cross_regency_links", "cross_regency_merges"):
        assert one_at_a_time["match"][figure] == split["match"][figure]
    assert _reconciled(tmp_path / "one") == _reconciled(tmp_path / "split")
