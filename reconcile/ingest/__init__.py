"""Ingest: read every input file into raw text tables, keeping each row's file and number.

All files are opened and their headers checked before anything is loaded, so a missing
column stops the run at once with one message that names the file and the fix.
"""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reconcile import db
from reconcile.config import RunConfig
from reconcile.errors import InputError
from reconcile.ingest.headers import ColumnMap, normalise, resolve
from reconcile.ingest.readers import ROW, Sheet, open_sheets
from reconcile.privacy import mask_text
from reconcile.tables import BPS_COLUMNS, KEMENSOS_COLUMNS, STATS_COLUMNS, Table

log = logging.getLogger(__name__)

ROLES = {"kemensos": (Table.RAW_KEMENSOS, KEMENSOS_COLUMNS),
         "bps": (Table.RAW_BPS, BPS_COLUMNS),
         "stats": (Table.RAW_STATS, STATS_COLUMNS)}
REJECTS = "raw_rejects"
EXTRA = ("source_file", "source_row", "numeric_id_cells")
PROGRAM_WORDS = {"pkh": "PKH", "bpnt": "BPNT", "sembako": "BPNT", "pbi": "PBI-JK",
                 "pbijk": "PBI-JK", "blt": "BLT", "bltdd": "BLT"}


def load_inputs(con: duckdb.DuckDBPyConnection, config: RunConfig) -> dict[str, int]:
    """Write raw_kemensos, raw_bps, raw_stats and raw_rejects; return rows read per file."""
    options = read_mapping(config.mapping)
    files = [("kemensos", Path(p)) for p in config.kemensos] + [
        ("bps", Path(config.bps)), ("stats", Path(config.stats))]
    plans = {(path, sheet.label): resolve(sheet.label, role, sheet.headers, ROLES[role][1],
                                          options["columns"])
             for role, path in files for sheet in open_sheets(path, options, load=False)}
    _create_tables(con)
    rows_read: dict[str, int] = {}
    for role, path in files:
        for sheet in open_sheets(path, options, load=True):
            rows_read[sheet.label] = _store(con, role, path, sheet, plans[path, sheet.label])
            log.info("read %s: %d rows", sheet.label, rows_read[sheet.label])
    return rows_read


def read_mapping(path: Path | None) -> dict:
    """The optional mapping file: header overrides, plus encoding, delimiter and sheet.

    TOML: `[columns]` nik = "NOMOR INDUK", and top-level `encoding`, `delimiter`, `sheet`.
    CSV: two columns `column,header`.
    """
    if path is None:
        return {"columns": {}}
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        else:
            lines = [ln.split(",", 1) for ln in path.read_text(encoding="utf-8").splitlines()]
            data = {"columns": {k.strip(): v.strip() for k, v in lines[1:] if v.strip()}}
    except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: mapping file cannot be read ({exc}); see README "
                         "'Headers and mapping files'") from exc
    return {"columns": {}, **data}


def _create_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table, columns in ROLES.values():
        cols = ", ".join(f"{c} VARCHAR" for c in columns)
        db.run(con, f"CREATE OR REPLACE TABLE {table} (rid BIGINT, source_file VARCHAR, source_row BIGINT, "
                    f"numeric_id_cells VARCHAR, {cols})")
    db.run(con, f"CREATE OR REPLACE TABLE {REJECTS} (source VARCHAR, source_file VARCHAR, "
                "source_row BIGINT, reason_code VARCHAR, reason VARCHAR, raw_values VARCHAR)")


def _store(con: duckdb.DuckDBPyConnection, role: str, path: Path, sheet: Sheet,
           columns: ColumnMap) -> int:
    """Append one sheet to its raw table in canonical columns; return the records read."""
    table, wanted = ROLES[role]
    data = sheet.table
    repeated = _repeated_header(data, columns)
    canonical = {c: _column(data, columns, c, role, path) for c in wanted}
    numeric = ",".join(c for c in ("nik", "no_kk")
                       if columns.columns.get(c) in sheet.numeric_columns)
    first = db.count(con, table)  # rid: the row's place in reading order, a cheap sort key
    frame = pa.table({"rid": pa.array(np.arange(first, first + data.num_rows, dtype=np.int64)),
                      "source_file": pa.array([sheet.label] * data.num_rows, pa.string()),
                      "source_row": data[ROW],
                      "numeric_id_cells": pa.array([numeric or None] * data.num_rows,
                                                   pa.string()),
                      **canonical})
    # the line as read would put full NIKs and names into quarantine.parquet: keep
    # only its shape (masked digits, initials) beside the file, row and reason
    rejects = [(r, "unparsable_row", f"row does not parse: {why}", text)
               for r, why, text in sheet.rejects]
    if pc.any(repeated).as_py():
        rows = pc.filter(data[ROW], repeated).to_pylist()
        rejects += [(r, "repeated_header", "the header row repeated inside the data", "")
                    for r in rows]
        frame = frame.filter(pc.invert(repeated))
    con.register("__sheet", frame)
    try:
        db.run(con, f"INSERT INTO {table} BY NAME SELECT * FROM __sheet")
    finally:
        con.unregister("__sheet")
    if rejects:
        db.put(con, "__rejects", pa.table({
            "source": [role] * len(rejects), "source_file": [sheet.label] * len(rejects),
            "source_row": [r[0] for r in rejects], "reason_code": [r[1] for r in rejects],
            "reason": [r[2] for r in rejects], "raw_values": [mask_text(r[3][:500]) for r in rejects]}))
        db.run(con, f"INSERT INTO {REJECTS} BY NAME SELECT * FROM __rejects")
    return data.num_rows + len(sheet.rejects)


def _column(data: pa.Table, columns: ColumnMap, canonical: str, role: str,
            path: Path) -> pa.Array:
    """One canonical column: as found, composed from region parts, or derived."""
    n = data.num_rows
    if canonical in columns.columns:
        return data[columns.columns[canonical]].combine_chunks()
    if canonical == "kode_wilayah" and columns.region_parts:
        return _joined_region(data, columns.region_parts)
    if canonical == "program" and role == "kemensos":
        return pa.array([program_from_name(path)] * n, pa.string())
    if canonical == "id_penerima":  # exports without an id: file and row identify the row
        return pc.binary_join_element_wise(path.stem, pc.cast(data[ROW], pa.string()), ":")
    return pa.nulls(n, pa.string())


def _joined_region(data: pa.Table, parts: dict[str, str]) -> pa.Array:
    """Province, regency, district and village code columns as one dotted code.

    Parts may hold their own digits ('01') or the full code so far ('1701'); the last
    2/2/2/4 digits are this level's.
    """
    widths = {"prov": 2, "kab": 2, "kec": 2, "desa": 4}
    pieces = []
    for part, width in widths.items():
        digits = pc.replace_substring_regex(data[parts[part]], r"[^0-9]", "")
        padded = pc.utf8_lpad(digits, width, "0")
        pieces.append(pc.utf8_slice_codeunits(padded, -width))
    return pc.binary_join_element_wise(*pieces, ".").combine_chunks()


def _repeated_header(data: pa.Table, columns: ColumnMap) -> pa.ChunkedArray:
    """Rows that repeat the header (files concatenated by hand)."""
    mapped = [h for h in columns.columns.values() if h in data.column_names][:3]
    mask = pa.chunked_array([pa.array([bool(mapped)] * data.num_rows, pa.bool_())])
    for header in mapped:
        values = pc.utf8_lower(pc.replace_substring_regex(data[header], r"[^0-9A-Za-z]", ""))
        mask = pc.and_(mask, pc.fill_null(pc.equal(values, normalise(header)), False))
    return mask


def program_from_name(path: Path) -> str | None:
    """The program a file is for, from words in its name ('kemensos_pkh.csv' -> 'PKH').

    >>> program_from_name(Path("kemensos_pbi-jk_2026.xlsx"))
    'PBI-JK'
    """
    words = re.split(r"[^0-9a-z]+", path.stem.lower())
    joined = {a + b for a, b in zip(words, words[1:], strict=False)}
    for word in [*joined, *words]:
        if word in PROGRAM_WORDS:
            return PROGRAM_WORDS[word]
    return None

