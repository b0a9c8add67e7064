"""Ingest: read every input file into raw text tables, keeping each row's file and number.

All files are opened and their headers checked before anything is loaded, so a missing
column stops the run at once with one message that names the file and the fix.
"""

from __future__ import annotations

import logging
import os
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
# Characters no export holds on purpose and XML (report.xlsx) cannot carry: C0 controls
# but tab and line breaks, DEL, the non-characters U+FFFE/U+FFFF and U+FFFD, which a
# decoder leaves for bytes it could not read. A row with one is quarantined, not guessed.
BAD_CHARACTERS = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F\x{FFFD}\x{FFFE}\x{FFFF}]"
MAX_CELL = 2_000  # characters: no name, address or id is longer; report.xlsx allows 32,767
PROGRAM_WORDS = {"pkh": "PKH", "bpnt": "BPNT", "sembako": "BPNT", "pbi": "PBI-JK",
                 "pbijk": "PBI-JK", "blt": "BLT", "bltdd": "BLT"}


def load_inputs(con: duckdb.DuckDBPyConnection, config: RunConfig) -> dict[str, int]:
    """Write raw_kemensos, raw_bps, raw_stats and raw_rejects; return rows read per file."""
    options = read_mapping(config.mapping)
    files = [("kemensos", Path(p)) for p in config.kemensos] + [
        ("bps", Path(config.bps)), ("stats", Path(config.stats))]
    labels = file_labels([path for _, path in files])
    previews = [(role, path, sheet) for role, path in files
                for sheet in open_sheets(path, options, load=False, label=labels[path])]
    _refuse_unused_mapping(config.mapping, options["columns"],
                           [sheet.headers for _, _, sheet in previews])
    plans = {(path, sheet.label): resolve(sheet.label, role, sheet.headers, ROLES[role][1],
                                          options["columns"])
             for role, path, sheet in previews}
    _create_tables(con)
    rows_read: dict[str, int] = {}
    for role, path in files:
        for sheet in open_sheets(path, options, load=True, label=labels[path]):
            rows_read[sheet.label] = _store(con, role, path, sheet, plans[path, sheet.label])
            log.info("read %s: %d rows", sheet.label, rows_read[sheet.label])
    _refuse_empty(files, labels, rows_read)
    return rows_read


def file_labels(paths: list[Path]) -> dict[Path, str]:
    """How each input is named in the tables: its file name, or as much of its folder
    path as tells two files of the same name apart ('pkh/kemensos.csv'). One file given
    twice is refused: its rows would count twice.

    >>> file_labels([Path("a/k.csv"), Path("b/k.csv"), Path("s.csv")])[Path("b/k.csv")]
    'b/k.csv'
    """
    resolved = [p.resolve() for p in paths]
    for i, path in enumerate(resolved):
        if path in resolved[:i]:
            raise InputError(f"{paths[i]}: given twice as an input; give each file once")
    given = [Path(os.path.abspath(p)) for p in paths]  # a link keeps its own name
    labels = {}
    for path, full in zip(paths, given, strict=True):
        depth = 1
        while depth < len(full.parts) and any(
                other != full and other.parts[-depth:] == full.parts[-depth:]
                for other in given):
            depth += 1
        labels[path] = "/".join(full.parts[-depth:])
    return labels


def _refuse_unused_mapping(mapping: Path | None, columns: dict[str, str],
                           headers: list[list[str]]) -> None:
    """A header the mapping file names but no input has is a typo: refused, instead of
    the column silently taken from an alias or left empty."""
    found = {normalise(h) for file_headers in headers for h in file_headers}
    missing = [c for c, header in columns.items() if normalise(header) not in found]
    if missing:
        raise InputError(f"{mapping}: maps {', '.join(missing)} to header(s) no input has "
                         f"({', '.join(repr(columns[c])[:40] for c in missing)}); check "
                         "the spelling")


def _refuse_empty(files: list[tuple[str, Path]], labels: dict[Path, str],
                  rows_read: dict[str, int]) -> None:
    """A register or statistics file without rows, or Kemensos lists without any, would
    make every beneficiary 'not in register' or every estimate zero: refused."""
    def read(path: Path) -> int:
        label = labels[path]
        return sum(n for name, n in rows_read.items()
                   if name == label or name.startswith(label + "#"))

    kemensos = [path for role, path in files if role == "kemensos"]
    if not sum(read(p) for p in kemensos):
        raise InputError(f"{', '.join(map(str, kemensos))[:300]}: no beneficiary rows "
                         "(only a header); give the Kemensos lists with their rows")
    for role, path in files:
        if role != "kemensos" and not read(path):
            what = "register" if role == "bps" else "statistics"
            raise InputError(f"{path}: the {what} file has no rows (only a header); "
                             "export it again")


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
                         "'Headers and mapping files'") from None
    data = {"columns": {}, **data}
    columns = data["columns"]
    if not isinstance(columns, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in columns.items()):
        raise InputError(f"{path}: [columns] must map column names to headers "
                         "(nik = \"NOMOR INDUK\"); see README 'Headers and mapping files'")
    for key in ("encoding", "delimiter", "sheet"):
        if key in data and not (isinstance(data[key], str) and data[key]):
            raise InputError(f"{path}: {key} must be a non-empty text value")
    if len(data.get("delimiter", ",")) != 1:
        raise InputError(f"{path}: delimiter must be one character, not "
                         f"{data['delimiter']!r:.20}")
    return data


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
    # rid: the row's place in reading order, a cheap sort key; past every rid so far, as
    # rows dropped below (repeated headers, damaged cells) leave gaps
    first = db.scalar(con, f"SELECT coalesce(max(rid) + 1, 0) FROM {table}")
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
    damaged, why = _damaged_cells(data, columns)
    damaged = pc.and_(damaged, pc.invert(repeated))
    if pc.any(damaged).as_py():
        rejects += [(r, "bad_character", reason, "") for r, reason in zip(
            pc.filter(data[ROW], damaged).to_pylist(), pc.filter(why, damaged).to_pylist(),
            strict=True)]
    dropped = pc.or_(repeated, damaged)
    if pc.any(dropped).as_py():
        frame = frame.filter(pc.invert(dropped))
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


def _damaged_cells(data: pa.Table, columns: ColumnMap) -> tuple[pa.ChunkedArray,
                                                                 pa.ChunkedArray]:
    """Rows with a control or unreadable character (BAD_CHARACTERS) or a value longer
    than MAX_CELL in a column the pipeline reads, and for each the first such column."""
    n = data.num_rows
    flagged = pa.chunked_array([pa.array(np.zeros(n, dtype=bool))])
    why = pa.chunked_array([pa.nulls(n, pa.string())])
    headers = [*columns.columns.values(), *columns.region_parts.values()]
    for header in reversed(list(dict.fromkeys(headers))):
        values = data[header]
        bad_char = pc.fill_null(pc.match_substring_regex(values, BAD_CHARACTERS), False)
        too_long = pc.fill_null(pc.greater(pc.utf8_length(values), MAX_CELL), False)
        reason = pc.if_else(
            bad_char, f"column {header}: holds a control or unreadable character",
            f"column {header}: longer than {MAX_CELL:,} characters")
        hit = pc.or_(bad_char, too_long)
        why = pc.if_else(hit, reason, why)
        flagged = pc.or_(flagged, hit)
    return flagged, why


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

