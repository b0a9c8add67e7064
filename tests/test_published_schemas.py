"""Every published table has a schema, the write stage checks it, and the files conform."""

from __future__ import annotations

import pytest

from reconcile import db, outputs
from reconcile.pipeline import run_pipeline
from reconcile.tables import Table
from schemas import ContractError, validate_table
from schemas.outputs import Changes, Discrepancies, Quarantine, Reconciled, RegionSummary

pytestmark = pytest.mark.slow  # runs the whole pipeline once

SCHEMAS = {"reconciled.parquet": Reconciled, "quarantine.parquet": Quarantine,
           "discrepancies.parquet": Discrepancies, "region_summary.parquet": RegionSummary,
           "changes.parquet": Changes}


def test_every_published_table_has_a_schema():
    published = {"reconciled.parquet", *outputs.PUBLIC_TABLES}
    assert published == set(SCHEMAS)
    checked = {*outputs.PUBLISHED_SCHEMAS, Table.DISCREPANCIES, Table.REGION_SUMMARY}
    assert {Table.RECONCILED, *outputs.PUBLIC_TABLES.values()} == checked


@pytest.fixture(scope="module")
def published(small_data, tmp_path_factory):
    from reconcile.config import RunConfig

    out = tmp_path_factory.mktemp("schemas") / "out"
    config = RunConfig(kemensos=tuple(sorted(small_data.glob("kemensos_*.csv"))),
                       bps=small_data / "bps_register.parquet",
                       stats=small_data / "bps_poverty_stats.csv", out=out)
    run_pipeline(config)
    return out


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_published_files_conform_to_their_schema(published, name):
    con = db.connect()
    path = published / name
    pattern = str(path / "**" / "*.parquet") if path.is_dir() else str(path)
    con.execute("CREATE TABLE t AS SELECT * FROM read_parquet($p, hive_partitioning = false)",
                {"p": pattern})
    validate_table(con, "t", SCHEMAS[name])


def test_a_reconciled_row_breaking_its_contract_stops_the_write(published, con):
    """A linked row without a match type (a join gone wrong) is named, never written."""
    con.execute("CREATE TABLE reconciled AS SELECT * FROM read_parquet($p)",
                {"p": str(published / "reconciled.parquet" / "**" / "*.parquet")})
    con.execute("UPDATE reconciled SET match_type = 'none' WHERE rid = "
                "(SELECT min(rid) FROM reconciled WHERE id_individu IS NOT NULL)")
    with pytest.raises(ContractError, match="linked_rows_have_a_match_type"):
        validate_table(con, "reconciled", Reconciled)
