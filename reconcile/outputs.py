"""The run's published files: reconciled Parquet, quarantine, reports and the manifest."""

from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path

import duckdb
import pandas as pd

from reconcile import db
from reconcile.config import RunConfig
from reconcile.report import write_report_html, write_report_xlsx
from reconcile.tables import Table

PARTITION = "kode_kabupaten"
PACKAGES = ("pandas", "pandera", "rapidfuzz", "prefect", "duckdb", "pyarrow", "numpy")
QUARANTINE_COLUMNS = ("source", "source_file", "source_row", "reason_code", "reason",
                      "column_name", "raw_values")

RECONCILED_SQL = f"""
SELECT k.rid, k.source_file, k.source_row, k.id_penerima, k.program, p.person_id,
       l.id_individu, b.id_keluarga, b.desil, l.match_probability, l.match_type,
       l.no_match_reason, k.nik, k.nik_status, k.nik_dob_conflict, k.nik_sex_conflict,
       k.no_kk, k.nama, k.tgl_lahir, k.jenis_kelamin, k.alamat, k.kode_wilayah,
       b.nik AS bps_nik, b.kode_wilayah AS bps_kode_wilayah,
       coalesce(left(k.kode_wilayah, 5), left(b.kode_wilayah, 5), 'unknown') AS {PARTITION}
FROM {Table.CLEAN_KEMENSOS} k
LEFT JOIN {Table.KEMENSOS_PERSONS} p USING (rid)
LEFT JOIN {Table.LINKS} l USING (person_id)
LEFT JOIN {Table.CLEAN_BPS} b USING (id_individu)
ORDER BY k.rid
"""


def store_quarantine(con: duckdb.DuckDBPyConnection, parts: list[pd.DataFrame]) -> None:
    """Stack the quarantined rows of every source into one table with fixed columns."""
    frames = [part.reindex(columns=QUARANTINE_COLUMNS).astype("string") for part in parts]
    stacked = pd.concat(frames, ignore_index=True)
    stacked["source_row"] = pd.to_numeric(stacked["source_row"]).astype("Int64")
    db.put(con, Table.QUARANTINE, stacked)


def build_reconciled(con: duckdb.DuckDBPyConnection) -> None:
    """One row per usable Kemensos row, with its person, register match and desil."""
    db.run(con, f"CREATE OR REPLACE TABLE {Table.RECONCILED} AS {RECONCILED_SQL}")


def write_all(con: duckdb.DuckDBPyConnection, stage: Path, config: RunConfig,
              run_id: str) -> dict:
    """Write every output file into `stage` and return the run's short summary."""
    db.copy_parquet(con, f"SELECT * FROM {Table.RECONCILED}", stage / "reconciled.parquet",
                    partition_by=PARTITION)
    db.copy_parquet(con, f"SELECT * FROM {Table.QUARANTINE}", stage / "quarantine.parquet")
    db.copy_parquet(con, f"SELECT * FROM {Table.DISCREPANCIES}",
                    stage / "discrepancies.parquet")
    db.copy_parquet(con, f"SELECT * FROM {Table.REGION_SUMMARY}",
                    stage / "region_summary.parquet")
    summary = summarise(con)
    write_report_html(con, stage / "report.html", {"run_id": run_id, **summary})
    write_report_xlsx(con, stage / "report.xlsx")
    return summary


def summarise(con: duckdb.DuckDBPyConnection) -> dict:
    """The handful of numbers printed at the end of a run."""
    row = db.df(con, f"""
        SELECT count(*) AS rows, count(DISTINCT person_id) AS persons,
               count(id_individu) AS rows_matched,
               round(avg((id_individu IS NOT NULL)::INT), 4) AS share_matched
        FROM {Table.RECONCILED}""").iloc[0]
    findings = db.df(con, f"SELECT category, count(*) AS n FROM {Table.DISCREPANCIES} "
                          "GROUP BY category ORDER BY category")
    return {
        "reconciled_rows": int(row["rows"]),
        "persons": int(row["persons"]),
        "rows_matched": int(row["rows_matched"]),
        "share_matched": float(row["share_matched"] or 0),
        "quarantined_rows": db.count(con, Table.QUARANTINE),
        "discrepancies": dict(zip(findings["category"], findings["n"].astype(int), strict=True)),
        "rows_per_file": rows_per_file(con),
    }


def rows_per_file(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Row accounting per Kemensos file: read = reconciled + quarantined."""
    frame = db.df(con, f"""
        WITH kept AS (SELECT source_file, count(*) AS n FROM {Table.RECONCILED} GROUP BY ALL),
             quar AS (SELECT source_file, count(*) AS n FROM {Table.QUARANTINE}
                      WHERE source = 'kemensos' GROUP BY ALL)
        SELECT source_file, coalesce(kept.n, 0) AS reconciled, coalesce(quar.n, 0) AS quarantined,
               coalesce(kept.n, 0) + coalesce(quar.n, 0) AS rows_read
        FROM kept FULL JOIN quar USING (source_file) ORDER BY source_file""")
    return frame.to_dict(orient="records")


def write_manifest(stage: Path, config: RunConfig, run_id: str, timings: dict,
                   facts: dict) -> None:
    """Lineage of the run: inputs and their hashes, counts, versions, timings, parameters."""
    manifest = {
        "run_id": run_id,
        "code_version": code_version(),
        "parameters": {"kemensos": [str(p) for p in config.kemensos], "bps": str(config.bps),
                       "stats": str(config.stats), "out": str(config.out),
                       "pseudonymise": config.pseudonymise},
        "inputs": [{"path": str(p), "sha256": sha256(p), "bytes": p.stat().st_size}
                   for p in config.inputs],
        "packages": {name: metadata.version(name) for name in PACKAGES},
        "timings_s": timings,
        **facts,
    }
    (stage / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))


def sha256(path: Path) -> str:
    """Content hash of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def code_version() -> str:
    """The git commit of the code, or the package version outside a checkout."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return metadata.version("kemensos-bps-reconcile")
