"""Fixtures for ingest tests: realistic small exports and a tiny register."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reconcile import db
from reconcile.config import RunConfig
from reconcile.ingest import load_inputs
from reconcile.validate import validate_inputs


@pytest.fixture
def register(tmp_path) -> tuple[Path, Path]:
    """A two-person register and one regency's poverty figures."""
    bps = tmp_path / "bps_register.parquet"
    pd.DataFrame({
        "id_individu": ["IND1", "IND2"], "id_keluarga": ["KEL1", "KEL1"],
        "nik": ["1771014101900001", "1771010505850002"],
        "no_kk": ["1771010101100001"] * 2, "nama": ["SITI AMINAH", "BUDI SANTOSO"],
        "tgl_lahir": ["1990-01-01", "1985-05-05"], "jenis_kelamin": ["P", "L"],
        "alamat": ["RT 01 RW 02"] * 2, "kode_wilayah": ["17.71.01.1001"] * 2,
        "hubungan_keluarga": ["ISTRI", "KEPALA KELUARGA"], "desil": ["1", "1"],
    }).to_parquet(bps)
    stats = tmp_path / "bps_poverty_stats.csv"
    stats.write_text("kode_wilayah,tahun,jumlah_penduduk,penduduk_miskin,persen_miskin,"
                     "persen_miskin_ekstrem\n17.71,2024,380000,17000,4.5,0.4\n")
    return bps, stats


@pytest.fixture
def ingest(register, tmp_path):
    """Run ingest and validation on Kemensos files; return the connection and rows read."""
    bps, stats = register

    def run(*kemensos: Path, mapping: Path | None = None, notes: dict | None = None):
        con = db.connect()
        config = RunConfig(kemensos=tuple(kemensos), bps=bps, stats=stats,
                           out=tmp_path / "out", mapping=mapping)
        rows = load_inputs(con, config, notes)
        validate_inputs(con)
        return con, rows

    return run
