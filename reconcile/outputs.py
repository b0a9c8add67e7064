"""The run's published files: reconciled Parquet, quarantine, reports and the manifest."""

from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from reconcile import db, privacy
from reconcile.config import RunConfig
from reconcile.report import write_report_html, write_report_xlsx
from reconcile.review.explain import explanation_sql
from reconcile.tables import Table
from schemas import validate_table
from schemas.outputs import Changes, Quarantine, Reconciled

if TYPE_CHECKING:
    from reconcile.pipeline import RunFacts

PARTITION = "kode_kabupaten"
# Tables officers and analysts see, keyed by file name: no full NIK or KK in any column.
PUBLIC_TABLES = {"quarantine.parquet": Table.QUARANTINE,
                 "discrepancies.parquet": Table.DISCREPANCIES,
                 "region_summary.parquet": Table.REGION_SUMMARY,
                 "changes.parquet": Table.CHANGES}
# discrepancies and region_summary are checked where they are built (pipeline.report)
PUBLISHED_SCHEMAS = {Table.RECONCILED: Reconciled, Table.QUARANTINE: Quarantine,
                     Table.CHANGES: Changes}
# reconciled is derived set-wise from checked clean tables: a fixed sample keeps the check
# under a second at national scale (schemas.validate_table)
SAMPLE_ROWS = {Table.RECONCILED: 200_000}
PACKAGES = ("pandas", "pandera", "rapidfuzz", "prefect", "duckdb", "pyarrow", "numpy")


def reconciled_sql(explained: str, evidence: str) -> str:
    """The reconciled rows, with the explanation columns and the joins they need."""
    return f"""
SELECT k.rid, k.source_file, k.source_row, k.id_penerima, k.program, p.person_id,
       l.id_individu, b.id_keluarga, b.desil, l.match_probability, l.in_register_probability,
       l.match_type,
       l.no_match_reason, k.nik, k.nik_status, k.tgl_lahir_status, k.kode_wilayah_status, k.nik_dob_conflict, k.nik_sex_conflict,
       k.no_kk, k.nama, k.tgl_lahir, k.jenis_kelamin, k.alamat, k.kode_wilayah,
       b.nik AS bps_nik, b.kode_wilayah AS bps_kode_wilayah,
       {explained},
       coalesce(left(k.kode_wilayah, 5), left(b.kode_wilayah, 5), 'unknown') AS {PARTITION}
FROM {Table.CLEAN_KEMENSOS} k
LEFT JOIN {Table.KEMENSOS_PERSONS} p USING (rid)
LEFT JOIN {Table.LINKS} l USING (person_id)
LEFT JOIN {Table.CLEAN_BPS} b USING (id_individu)
{evidence}
ORDER BY k.rid
"""


OTHER_ROW = ("tertaut lewat pendaftaran lain dari orang yang sama",
             "linked through another enrolment of the same person")
NO_CANDIDATE = ("tidak ada calon di DTSEN", "no register candidate")
NEAREST = ("calon terdekat (tidak dipadankan): ", "nearest candidate (not linked): ")
LANGS = ("id", "en")
db.constants({f"{name}_{lang}": texts[i] for i, lang in enumerate(LANGS) for name, texts in
              (("other_row", OTHER_ROW), ("no_candidate", NO_CANDIDATE), ("nearest", NEAREST))})


def _explained_sql(lang: str) -> str:
    """The row's one-line explanation: its best candidate's evidence (review.explain)."""
    return (f"CASE WHEN l.id_individu IS NOT NULL AND eb.id_individu IS DISTINCT FROM "
            f"l.id_individu THEN $other_row_{lang} WHEN e.bps_rid IS NULL "
            f"THEN $no_candidate_{lang} ELSE CASE WHEN l.id_individu IS NULL "
            f"THEN $nearest_{lang} ELSE '' END "
            f"|| {explanation_sql(lang, 'e.')} END")


def build_reconciled(con: duckdb.DuckDBPyConnection) -> None:
    """One row per usable Kemensos row, with its person, register match, desil and the
    one-line explanation of its match (Indonesian and English)."""
    if db.has_table(con, Table.MATCH_EVIDENCE):
        explained = f"{_explained_sql('id')} AS penjelasan, {_explained_sql('en')} AS explanation"
        evidence = (f"LEFT JOIN {Table.MATCH_EVIDENCE} e ON e.rid = k.rid "
                    f"LEFT JOIN {Table.CLEAN_BPS} eb ON eb.rid = e.bps_rid")
    else:
        explained, evidence = "NULL AS penjelasan, NULL AS explanation", ""
    db.materialise(con, Table.RECONCILED, reconciled_sql(explained, evidence))


def restrict_to_regions(con: duckdb.DuckDBPyConnection, prefixes: tuple[str, ...]) -> dict:
    """Drop clean rows outside the requested regions; return the count dropped per file.

    Rows without a usable region code are kept: the filter must not hide them. The
    codes (validated by RunConfig) are bound as a list, never written into the SQL.
    """
    outside = "kode_wilayah IS NOT NULL AND NOT list_has_any($codes, [left(kode_wilayah, 2), " \
              "left(kode_wilayah, 5), left(kode_wilayah, 8), kode_wilayah])"
    codes = {"codes": list(prefixes)}
    dropped: dict[str, int] = {}
    for table in (Table.CLEAN_KEMENSOS, Table.CLEAN_BPS):
        counts = db.df(con, f"SELECT source_file, count(*) AS n FROM {table} "
                            f"WHERE {outside} GROUP BY ALL", codes)
        dropped.update(zip(counts["source_file"], counts["n"].astype(int), strict=True))
        db.run(con, f"DELETE FROM {table} WHERE {outside}", codes)
    return dropped


def write_all(con: duckdb.DuckDBPyConnection, stage: Path, config: RunConfig,
              run_id: str, facts: RunFacts) -> dict:
    """Write every output file into `stage` and return the run's short summary.

    Pseudonymised runs record their key id and achieved k-anonymity in facts.privacy
    (the manifest), never the key."""
    for table, schema in PUBLISHED_SCHEMAS.items():  # the contract analysts rely on
        validate_table(con, table, schema, sample_rows=SAMPLE_ROWS.get(table))
    facts.privacy = write_reconciled(con, stage, config) or None
    for name, table in PUBLIC_TABLES.items():
        db.copy_parquet(con, masked_sql(con, table), stage / name)
    summary = summarise(con, facts)
    write_report_html(con, stage / "report.html", {"run_id": run_id, **summary})
    write_report_xlsx(con, stage / "report.xlsx")
    return summary


def masked_sql(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """SELECT of `table` with every NIK-length digit run in its text columns masked.

    An export whose id column is the NIK carries it into record_id and person_id (and
    a person's id into changes' detail); the work tables keep the full value, which the
    identity state and the change report join on, and the published copy is masked.
    """
    columns = db.df(con, "SELECT column_name FROM duckdb_columns() WHERE table_name = $t "
                         "AND database_name = current_database() "
                         "AND data_type = 'VARCHAR' ORDER BY column_index", {"t": table})
    masked = ", ".join(f'{privacy.mask_long_digits_sql(_quoted_sql(c))} AS {_quoted_sql(c)}'
                       for c in columns["column_name"])
    return f"SELECT * REPLACE ({masked}) FROM {table}" if masked else f"SELECT * FROM {table}"


def _quoted_sql(name: str) -> str:
    """A column name (from the database's own catalogue) as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def write_reconciled(con: duckdb.DuckDBPyConnection, stage: Path, config: RunConfig) -> dict:
    """The analysts' table, partitioned by regency; return what to record about privacy.

    Pseudonymised, identifiers become keyed HMAC tokens, names, addresses and row
    references are left out and birth date and region are generalised to k-anonymity
    (privacy.pseudonymise); the identified table then goes only to `restricted/`
    (owner-only access).
    """
    query = f"SELECT * FROM {Table.RECONCILED}"
    if not config.pseudonymise:
        db.copy_parquet(con, query, stage / "reconciled.parquet", partition_by=PARTITION)
        return {}
    restricted = stage / "restricted"
    restricted.mkdir(mode=0o700)
    db.copy_parquet(con, query, restricted / "reconciled.parquet", partition_by=PARTITION)
    table, facts = privacy.pseudonymise(con, Table.RECONCILED, config.k_anonymity)
    db.copy_parquet(con, f"SELECT * FROM {table}", stage / "reconciled.parquet",
                    partition_by=PARTITION)
    return facts


def summarise(con: duckdb.DuckDBPyConnection, facts: RunFacts) -> dict:
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
        "findings_by_status": facts.findings_status or {},
        "discrepancies": dict(zip(findings["category"], findings["n"].astype(int), strict=True)),
        "rows_per_file": rows_per_file(con, facts.rows_read or {}, facts.out_of_scope or {}),
    }


def rows_per_file(con: duckdb.DuckDBPyConnection, rows_read: dict[str, int],
                  out_of_scope: dict[str, int]) -> list[dict]:
    """Row accounting per input file: read = kept + quarantined + outside the region filter.

    Kept Kemensos rows are exactly the rows of reconciled.parquet; kept register rows are
    the clean register rows every link and family count is drawn from.
    """
    kept = db.df(con, f"""
        SELECT source_file, count(*) AS kept FROM {Table.RECONCILED} GROUP BY ALL
        UNION ALL SELECT source_file, count(*) FROM {Table.CLEAN_BPS} GROUP BY ALL
        UNION ALL SELECT source_file, count(*) FROM {Table.CLEAN_STATS} GROUP BY ALL""")
    quarantined = db.df(con, f"SELECT source_file, count(*) AS quarantined "
                             f"FROM {Table.QUARANTINE} GROUP BY ALL")
    table = pd.DataFrame({"source_file": list(rows_read), "rows_read": list(rows_read.values())})
    table["out_of_scope"] = table["source_file"].map(out_of_scope).fillna(0)
    table = (table.merge(kept, on="source_file", how="outer")
             .merge(quarantined, on="source_file", how="outer").fillna(0))
    counts = ["rows_read", "kept", "quarantined", "out_of_scope"]
    table[counts] = table[counts].astype(int)
    table["balanced"] = table["rows_read"] == table[counts[1:]].sum(axis=1)
    return table.sort_values("source_file").to_dict(orient="records")


def lineage(config: RunConfig) -> dict:
    """What determines a run's result: code version, parameters and input content hashes."""
    facts = {
        "code_version": code_version(),
        "parameters": {"kemensos": [str(p) for p in config.kemensos], "bps": str(config.bps),
                       "stats": str(config.stats), "mapping": str(config.mapping or ""),
                       "pseudonymise": config.pseudonymise, "regions": list(config.regions),
                       "eligibility": config.eligibility,
                       "partition_by": config.partition_by,
                       "matching": config.match_settings.recorded(),
                       "review": dict(config.review),
                       "public_reports": config.public_reports,
                       **_privacy_parameters(config)},
        "inputs": [{"path": str(p), "sha256": sha256(p), "bytes": p.stat().st_size}
                   for p in (*config.inputs, *([config.mapping] if config.mapping else []))],
    }
    canonical = json.dumps(facts, sort_keys=True, default=str).encode()
    return {**facts, "fingerprint": hashlib.sha256(canonical).hexdigest()}


def _privacy_parameters(config: RunConfig) -> dict:
    """A new key or k changes the published tokens, so they are part of the lineage."""
    if not config.pseudonymise:
        return {}
    return {"k_anonymity": config.k_anonymity, "key_id": privacy.key_id(privacy.hmac_key())}


def unchanged_run(config: RunConfig, current: dict) -> dict | None:
    """The published run's result when it came from exactly these inputs, else None."""
    manifest_path = config.out / "manifest.json"
    if config.force or not manifest_path.exists():
        return None
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("lineage", {}).get("fingerprint") != current["fingerprint"]:
        return None
    return {"run_id": manifest["run_id"], "out": str(config.out), "skipped": True,
            "timings": {}, **manifest.get("summary", {})}


def write_manifest(stage: Path, run_id: str, timings: dict, facts: dict) -> None:
    """Lineage of the run: inputs and their hashes, counts, versions, timings, parameters.

    Auditors read it, so no full identifier: privacy.scrub_manifest masks blocking keys
    from the matcher's statistics and any NIK-length digit run."""
    summary = facts.get("summary", {})
    manifest = {
        "run_id": run_id,
        "inputs": facts.get("lineage", {}).get("inputs", []),
        "rows_per_file": summary.get("rows_per_file", []),
        "packages": {name: metadata.version(name) for name in PACKAGES},
        "timings_s": timings,
        **facts,
    }
    text = json.dumps(privacy.scrub_manifest(json.loads(json.dumps(manifest, default=str))),
                      indent=2)
    (stage / "manifest.json").write_text(text)


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
