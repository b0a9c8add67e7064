"""Data shared by the scale-out tests: a generated folder from two provinces."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def two_provinces(tmp_path_factory) -> Path:
    """5,000 register people in Bengkulu (17) and Lampung (18), with their truth."""
    from synth.generate import generate

    out = tmp_path_factory.mktemp("two_provinces")
    generate(out, people=5_000, seed=13, provinces=("17", "18"))
    return out


@pytest.fixture(scope="session")
def two_province_inputs(two_provinces) -> dict:
    """The flow's input parameters for `two_provinces`."""
    return {"kemensos": sorted(str(p) for p in two_provinces.glob("kemensos_*.csv")),
            "bps": str(two_provinces / "bps_register.parquet"),
            "stats": str(two_provinces / "bps_poverty_stats.csv")}
