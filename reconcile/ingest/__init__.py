"""Ingest: read every input file into raw text tables, keeping each row's file and number.

All files are opened and their headers checked before anything is loaded, so a missing
column stops the run at once with one message that names the file and the fix.
"""

from __future__ import annotations

import difflib
import functools
import logging
import os
import re
import tomllib
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reconcile import db, privacy, publish
from reconcile.config import RunConfig
from reconcile.errors import README, InputError
from reconcile.ingest.headers import ID_COLUMNS, ColumnMap, mapping_keys, normalise, resolve
from reconcile.ingest.readers import ROW, Sheet, open_sheets, text_bytes
from reconcile.ingest.regions import resolve_names
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
# Rows under the table: totals and the signature block of a printed list.
# The words that start them; every later row without a NIK belongs to them (the signer's
# title, name and NIP). Parquet files are tables, never printed lists: not searched.
FOOTER = r"(?i)^\s*(JUMLAH|TOTAL|SUB\s*TOTAL|GRAND\s*TOTAL|MENGETAHUI|DIKETAHUI|DISAHKAN|" \
         r"DISETUJUI)\b"
# Excel keeps 15 significant digits: an identifier it holds as a number with more has lost
# its last digits (1771014101900123 -> 1771014101900120); written as '1.77101E+15' it has
# lost more. The NIK of such a row is never valid (validate: excel_damaged).
EXCEL_DIGITS = 15
SCIENTIFIC = r"^\s*[0-9]([.,][0-9]+)?[eE][+]?[0-9]+\s*$"
MOSTLY_BLANK = 0.5  # a field blank in more than this share of a file's rows is warned about
WATCHED = {"kemensos": ("nik", "nama", "tgl_lahir", "kode_wilayah"),
           "bps": ("nik", "nama", "tgl_lahir", "kode_wilayah"), "stats": ()}
NAME_LEVELS = {"nama_provinsi": "provinsi", "nama_kabupaten": "kabupaten",
               "nama_kecamatan": "kecamatan", "nama_desa": "desa"}
PROGRAM_WORDS = {"pkh": "PKH", "bpnt": "BPNT", "sembako": "BPNT", "pbi": "PBI-JK",
                 "pbijk": "PBI-JK", "blt": "BLT", "bltdd": "BLT"}


def load_inputs(con: duckdb.DuckDBPyConnection, config: RunConfig,
                notes: dict | None = None) -> dict[str, int]:
    """Write raw_kemensos, raw_bps, raw_stats and raw_rejects; return rows read per file.

    `notes` (for the manifest) receives per file what reading it found: title rows above
    the header, skipped sheets, derived ids, footer rows, and warnings (mostly blank
    fields, unused identifier or region columns, unresolved region names). With
    `warnings_are_errors = true` in the mapping file a warning stops the run.
    """
    notes = {} if notes is None else notes
    options = read_mapping(config.mapping)
    files = [("kemensos", Path(p)) for p in config.kemensos] + [
        ("bps", Path(config.bps)), ("stats", Path(config.stats))]
    labels = file_labels([path for _, path in files])
    previews = [(role, path, sheet) for role, path in files
                for sheet in open_sheets(path, options, load=False, label=labels[path])]
    _refuse_unused_mapping(config.mapping, options["columns"],
                           [sheet.headers for _, _, sheet in previews])
    plans = {(path, sheet.label): resolve(sheet.label, role, sheet.headers, ROLES[role][1],
                                          options["columns"], sheet.header_row,
                                          sheet.header_known)
             for role, path, sheet in previews}
    _create_tables(con)
    rows_read: dict[str, int] = {}
    for role, path in files:
        for sheet in open_sheets(path, options, load=True, label=labels[path]):
            note = notes.setdefault(sheet.label, {"warnings": []})
            rows_read[sheet.label] = _store(con, role, path, sheet, plans[path, sheet.label],
                                            note, config.out)
            log.info("read %s: %d rows", sheet.label, rows_read[sheet.label])
            # the workbook's sheets without a table, and those the mapping did not pick
            book = {k: list(v) for k, v in (("skipped_sheets", sheet.skipped_sheets),
                                            ("left_out_sheets", sheet.left_out_sheets)) if v}
            if book:
                notes.setdefault(labels[path], {"warnings": []}).update(book)
    _refuse_empty(files, labels, rows_read)
    _store_notes(con, notes)
    warnings = [f"{label}: {w}" for label, note in notes.items() for w in note["warnings"]]
    if warnings and options.get("warnings_are_errors"):
        shown = "\n".join(warnings[:5])[:1500]
        raise InputError(f"{shown}\n({config.mapping}: warnings_are_errors = true). Fix: "
                         "correct the files, or set warnings_are_errors = false",
                         f"{len(warnings)} peringatan menghentikan proses ({config.mapping}: "
                         "warnings_are_errors = true; rinciannya di atas). Perbaiki: "
                         "betulkan berkasnya, atau tulis warnings_are_errors = false")
    return rows_read


def _store_notes(con: duckdb.DuckDBPyConnection, notes: dict) -> None:
    """The notes officers should see in the report (warnings, skipped sheets, where the
    header was found, derived ids, footers), one line each, bilingual where fixed."""
    lines: list[tuple[str, str]] = []
    for label, note in notes.items():
        lines += [(label, f"Peringatan / Warning: {w}") for w in note.get("warnings", [])]
        if note.get("skipped_sheets"):
            lines.append((label, "Lembar tanpa tabel penerima dilewati / Sheets without a "
                                 f"beneficiary table skipped: {', '.join(note['skipped_sheets'])}"))
        if note.get("left_out_sheets"):
            left = note["left_out_sheets"]
            lines.append((label, f"{len(left)} lembar tidak dibaca (pemetaan 'sheets') / "
                                 f"{len(left)} sheet(s) left out (mapping 'sheets'): "
                                 f"{', '.join(left)}"))
        if note.get("title_rows"):
            lines.append((label, f"Judul kolom di baris {note['header_row']}, di bawah "
                                 f"{len(note['title_rows'])} baris judul / Header on row "
                                 f"{note['header_row']}, below {len(note['title_rows'])} "
                                 "title row(s)"))
        if note.get("footer_rows"):
            lines.append((label, f"{note['footer_rows']} baris jumlah/tanda tangan "
                                 f"dikarantina / {note['footer_rows']} total or signature "
                                 "row(s) quarantined"))
        if note.get("derived_ids"):
            lines.append((label, "Tanpa kolom id: id_penerima diturunkan dari isi baris / No "
                                 "id column: id_penerima derived from each row's content"))
    schema = pa.schema([("source_file", pa.string()), ("seq", pa.int64()),
                        ("note", pa.string())])
    db.put(con, Table.INGEST_NOTES, pa.table({"source_file": [f for f, _ in lines],
                                              "seq": list(range(len(lines))),
                                              "note": [n for _, n in lines]}, schema=schema))


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
            raise InputError(f"{paths[i]}: given twice as an input. Fix: give each file once",
                             f"{paths[i]}: diberikan dua kali. Perbaiki: berikan setiap "
                             "berkas sekali saja")
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
        named = ", ".join(repr(columns[c])[:40] for c in missing)
        raise InputError(f"{mapping}: maps {', '.join(missing)} to header(s) no input has "
                         f"({named}). Fix: check the spelling against the file's header row",
                         f"{mapping}: memetakan {', '.join(missing)} ke judul kolom yang "
                         f"tidak ada di berkas mana pun ({named}). Perbaiki: periksa "
                         "ejaannya dengan baris judul kolom berkas")


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
        named = ", ".join(map(str, kemensos))[:300]
        raise InputError(f"{named}: no beneficiary rows (only a header). Fix: give the "
                         "Kemensos lists with their rows",
                         f"{named}: tidak ada baris penerima (hanya judul kolom). Perbaiki: "
                         "berikan daftar Kemensos beserta barisnya")
    for role, path in files:
        if role != "kemensos" and not read(path):
            what, apa = (("register", "register") if role == "bps"
                         else ("statistics", "statistik"))
            raise InputError(f"{path}: the {what} file has no rows (only a header). Fix: "
                             "export it again",
                             f"{path}: berkas {apa} tidak berisi baris (hanya judul kolom). "
                             "Perbaiki: ekspor ulang")


def read_mapping(path: Path | None) -> dict:
    """The optional mapping file: header overrides, plus encoding, delimiter and sheets.

    TOML: `[columns]` nik = "NOMOR INDUK", and top-level `encoding`, `delimiter`, `sheet`
    (one sheet) or `sheets` (a list).
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
    except tomllib.TOMLDecodeError as exc:
        raise _mapping_error(path, f"not valid TOML ({exc})",
                             f"bukan TOML yang sah ({exc})") from None
    except (OSError, ValueError) as exc:
        raise _mapping_error(path, f"cannot be read ({type(exc).__name__}: {exc})",
                             f"tidak dapat dibaca ({type(exc).__name__})") from None
    data = {"columns": {}, **data}
    columns = data["columns"]
    if not isinstance(columns, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in columns.items()):
        raise _mapping_error(path, "[columns] must map column names to headers "
                             '(nik = "NOMOR INDUK")', "[columns] harus memetakan nama kolom "
                             'ke judul kolom (nik = "NOMOR INDUK")')
    valid = mapping_keys()
    unknown = [k for k in columns if k not in valid]
    if unknown:
        close = {k: difflib.get_close_matches(k, valid, n=1) for k in unknown}
        hints = "; ".join(f"{k} -> {m[0]}?" for k, m in close.items() if m)
        hint = f" ({hints})" if hints else ""
        keys = ", ".join(valid)
        raise _mapping_error(path, f"unknown column key(s) {', '.join(unknown)[:200]}{hint}; "
                             f"valid keys: {keys}",
                             f"kunci kolom tidak dikenal: {', '.join(unknown)[:200]}{hint}; "
                             "kunci yang sah: lihat daftar di atas")
    if "warnings_are_errors" in data and not isinstance(data["warnings_are_errors"], bool):
        raise _mapping_error(path, "warnings_are_errors must be true or false",
                             "warnings_are_errors harus true atau false")
    for key in ("encoding", "delimiter", "sheet"):
        if key in data and not (isinstance(data[key], str) and data[key]):
            raise _mapping_error(path, f"{key} must be a non-empty text value",
                                 f"{key} harus berupa teks yang tidak kosong")
    sheets = data.get("sheets", ["-"])
    if not (isinstance(sheets, list) and sheets
            and all(isinstance(n, str) and n for n in sheets)) or (
            "sheet" in data and "sheets" in data):
        raise _mapping_error(path, 'sheets must be a list of sheet names (sheets = ["PKH", '
                             '"BLT"]), given without sheet', 'sheets harus daftar nama lembar '
                             '(sheets = ["PKH", "BLT"]), tanpa sheet')
    if len(data.get("delimiter", ",")) != 1:
        raise _mapping_error(path, f"delimiter must be one character, not "
                             f"{data['delimiter']!r:.20}", "delimiter harus satu karakter")
    return data


def _mapping_error(path: Path, problem: str, masalah: str) -> InputError:
    """A mapping file that cannot be used: its line where TOML says, and the README."""
    line = re.search(r"at line ([0-9]+)", problem)
    at_en, at_id = (f", line {line[1]}", f", baris {line[1]}") if line else ("", "")
    return InputError(f"{path}{at_en} (mapping file): {problem}. Fix: correct the file "
                      f"({README})",
                      f"{path}{at_id} (berkas pemetaan): {masalah}. Perbaiki: betulkan "
                      f"berkasnya ({README})")


def _create_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table, columns in ROLES.values():
        cols = ", ".join(f"{c} VARCHAR" for c in columns)
        db.run(con, f"CREATE OR REPLACE TABLE {table} (rid BIGINT, source_file VARCHAR, source_row BIGINT, "
                    f"numeric_id_cells VARCHAR, {cols})")
    db.run(con, f"CREATE OR REPLACE TABLE {REJECTS} (source VARCHAR, source_file VARCHAR, "
                "source_row BIGINT, reason_code VARCHAR, reason VARCHAR, raw_values VARCHAR)")


def _bind_derived_id_key(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """Derived ids are published: they are keyed with the output's installation secret
    (made on first use), so a register used as a dictionary cannot recompute them, and
    an output folder's ids stay stable from run to run."""
    privacy.bind_key(con, DERIVED_ID_KEY, privacy.installation_secret(publish.state_dir(out)))


def _store(con: duckdb.DuckDBPyConnection, role: str, path: Path, sheet: Sheet,
           columns: ColumnMap, note: dict, out: Path) -> int:
    """Append one sheet to its raw table in canonical columns; return the records read."""
    table, wanted = ROLES[role]
    data = sheet.rows
    if sheet.title_rows:
        note["title_rows"] = sheet.title_rows
        note["header_row"] = sheet.header_row
        log.info("%s: header found on row %d, below %d title row(s)", sheet.label,
                 sheet.header_row, len(sheet.title_rows))
    repeated = _repeated_header(data, columns)
    canonical = {c: _column(data, columns, c, role, path) for c in wanted}
    if "kode_wilayah" in canonical and columns.region_names:
        canonical["kode_wilayah"] = _named_region(con, data, columns, sheet.label, note)
    if "alamat" in canonical and columns.address_parts:
        canonical["alamat"] = _address(data, canonical["alamat"], columns.address_parts)
    derived = role == "kemensos" and "id_penerima" not in columns.columns
    if derived:
        canonical["id_penerima"] = pa.nulls(data.num_rows, pa.string())
    damaged_ids = _excel_damage(data, columns, sheet.numeric_cells, sheet.label, note)
    # rid: the row's place in reading order, a cheap sort key; past every rid so far, as
    # rows dropped below (repeated headers, damaged cells) leave gaps
    first = db.scalar(con, f"SELECT coalesce(max(rid) + 1, 0) FROM {table}")
    frame = pa.table({"rid": pa.array(np.arange(first, first + data.num_rows, dtype=np.int64)),
                      "source_file": pa.array([sheet.label] * data.num_rows, pa.string()),
                      "source_row": data[ROW],
                      "numeric_id_cells": damaged_ids,
                      **canonical})
    # the line as read would put full NIKs and names into quarantine.parquet: keep
    # only its shape (masked digits, initials) beside the file, row and reason
    rejects = [(r, "unparsable_row", f"row does not parse: {why}", text)
               for r, why, text in sheet.rejects]
    if pc.any(repeated).as_py():
        rows = pc.filter(data[ROW], repeated).to_pylist()
        rejects += [(r, "repeated_header", "the header row repeated inside the data", "")
                    for r in rows]
    footer, blank = _footer_rows(data, columns, path.suffix.lower() in (".parquet", ".pq"))
    footer, blank = pc.and_(footer, pc.invert(repeated)), pc.and_(blank, pc.invert(repeated))
    for mask, code, reason in ((footer, "footer_row", "a total or signature row under the "
                                "table, not a person"),
                               (blank, "blank_row", "a row with no values")):
        if pc.any(mask).as_py():
            rows = pc.filter(data[ROW], mask).to_pylist()
            rejects += [(r, code, reason, "") for r in rows]
            note[code + "s"] = len(rows)
            log.info("%s: %d %s(s) quarantined", sheet.label, len(rows), code)
    repeated = pc.or_(repeated, pc.or_(footer, blank))
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
        if derived:
            _bind_derived_id_key(con, out)
            db.run(con, f"INSERT INTO {table} BY NAME {DERIVED_ID}", {"source": sheet.label})
        else:
            db.run(con, f"INSERT INTO {table} BY NAME SELECT * FROM __sheet")
        if derived:
            _report_derived(con, table, sheet.label, note)
        elif role == "kemensos":
            _report_duplicate_ids(frame, sheet.label, note)
    finally:
        con.unregister("__sheet")
    _warn_losses(frame, role, columns, sheet.label, note)
    if rejects:
        db.put(con, "__rejects", pa.table({
            "source": [role] * len(rejects), "source_file": [sheet.label] * len(rejects),
            "source_row": [r[0] for r in rejects], "reason_code": [r[1] for r in rejects],
            "reason": [r[2] for r in rejects], "raw_values": [mask_text(r[3][:500]) for r in rejects]}))
        db.run(con, f"INSERT INTO {REJECTS} BY NAME SELECT * FROM __rejects")
    return data.num_rows + len(sheet.rejects)


# An id from the row's content, so the same file in another row order gives the same
# ids: a hash of identifiers, name, birth date, program and source, and among rows with
# the same such content their place in the order of the other fields (sex, address,
# region), then of reading: only wholly identical rows, interchangeable, are told apart
# by reading order.
DERIVED_ID_KEY = "derived_id"
CONTENT = ("concat_ws(chr(31), coalesce(nik, ''), coalesce(no_kk, ''), "
           "upper(trim(coalesce(nama, ''))), coalesce(tgl_lahir, ''), "
           "coalesce(program, ''), $source)")
DERIVED_ID = f"""
    SELECT * EXCLUDE (content, n) REPLACE (
               'H' || substr({privacy.keyed_hash_sql('content', DERIVED_ID_KEY)}, 1, 15)
               || CASE WHEN n > 1 THEN '-' || n ELSE '' END AS id_penerima)
    FROM (SELECT *, row_number() OVER (PARTITION BY content ORDER BY jenis_kelamin,
                                       alamat, kode_wilayah, rid) AS n
          FROM (SELECT *, {CONTENT} AS content FROM __sheet))
    ORDER BY rid"""


def _excel_damage(data: pa.Table, columns: ColumnMap, numeric_cells: dict[str, pa.ChunkedArray],
                  label: str, note: dict) -> pa.Array:
    """Per row, the identifier columns (ID_COLUMNS) whose cell Excel damaged ('nik,no_kk'),
    or null: a cell held as a number with more than EXCEL_DIGITS digits, in any column,
    whole or mixed, or a value in scientific notation. Counted per column in the notes;
    the numbers are warned about, as their damage does not show in the value."""
    pieces, shown, hidden = [], {}, {}
    for canonical in ID_COLUMNS:
        header = columns.columns.get(canonical)
        if header is None:
            continue
        values = data[header]
        written = pc.fill_null(pc.match_substring_regex(values, SCIENTIFIC), False)
        held = pa.chunked_array([pa.array(np.zeros(data.num_rows, dtype=bool))])
        if header in numeric_cells:
            digits = pc.utf8_length(pc.replace_substring_regex(values, "[^0-9]", ""))
            held = pc.and_(numeric_cells[header], pc.fill_null(
                pc.greater(digits, EXCEL_DIGITS), False))
        hit = pc.or_(written, held)
        if pc.any(hit).as_py():
            shown[canonical], hidden[canonical] = pc.sum(written).as_py(), pc.sum(held).as_py()
            pieces.append(pc.if_else(hit, canonical, pa.scalar(None, pa.string())))
    if not pieces:
        return pa.nulls(data.num_rows, pa.string())
    note["excel_damaged_cells"] = {c: shown[c] + hidden[c] for c in shown}
    log.info("%s: identifier value(s) in scientific notation (damaged by Excel): %s", label,
             ", ".join(f"{c} {n}" for c, n in shown.items() if n) or "none")
    if any(hidden.values()):
        _warn(note, label, "identifier cell(s) Excel holds as numbers past 15 digits, "
                           "their last digits lost (such a NIK is flagged excel_damaged, "
                           "never valid): " + ", ".join(
                               f"{c} ({columns.columns[c]}) {n}" for c, n in hidden.items()
                               if n) + "; format the columns as Text and export again")
    return _join_present(pieces, ",")


def _join_present(pieces: list, separator: str) -> pa.Array:
    """Per row, the pieces that are not null joined by `separator`; null when none is.
    (pyarrow 26's binary_join_element_wise with null_handling='skip' drops the rows where
    every piece is null instead of giving them a value: a piece stands in for them.)"""
    none = functools.reduce(pc.and_, [pc.is_null(p) for p in pieces])
    first = pc.if_else(none, "", pieces[0])
    joined = pc.binary_join_element_wise(first, *pieces[1:], separator, null_handling="skip")
    return pc.if_else(none, pa.scalar(None, pa.string()), joined).combine_chunks()


def _report_derived(con: duckdb.DuckDBPyConnection, table: str, label: str,
                    note: dict) -> None:
    """Say that ids were derived, and how many rows repeat another row's content."""
    repeats = db.scalar(con, f"SELECT count(*) FROM {table} WHERE source_file = $source "
                             "AND id_penerima LIKE 'H%-%'", {"source": label})
    note["derived_ids"] = True
    note["duplicate_content_rows"] = int(repeats)
    log.info("%s: no id column; id_penerima derived from each row's content (NIK, KK, "
             "name, birth date, program, file), the same in any row order", label)
    if repeats:
        _warn(note, label, f"{repeats} row(s) repeat another row's identifiers, name and "
                           "birth date; kept, with ids numbered by occurrence")


def _report_duplicate_ids(frame: pa.Table, label: str, note: dict) -> None:
    ids = pc.drop_null(frame["id_penerima"])
    counts = pc.value_counts(ids)
    repeated = pc.filter(counts, pc.greater(counts.field("counts"), 1))
    if len(repeated):
        extra = pc.sum(repeated.field("counts")).as_py() - len(repeated)
        note["duplicate_ids"] = len(repeated)
        _warn(note, label, f"{len(repeated)} id_penerima value(s) appear more than once "
                           f"({extra} extra row(s)); every row is kept")


def _warn(note: dict, label: str, message: str) -> None:
    note.setdefault("warnings", []).append(message)
    log.warning("%s: %s", label, message)


def _warn_losses(frame: pa.Table, role: str, columns: ColumnMap, label: str,
                 note: dict) -> None:
    """No silent loss: fields blank in most rows, and identifier- or region-looking
    columns that nothing read, are warned about by file and column."""
    n = frame.num_rows
    if not n:
        return
    blank = []
    for column in WATCHED[role]:
        found = column in columns.columns or (column == "kode_wilayah" and (
            columns.region_parts or columns.region_names))
        if not found and column != "kode_wilayah":
            continue  # an absent optional column is not a loss; no region column is
        values = pc.utf8_trim_whitespace(frame[column])
        empty = pc.sum(pc.fill_null(pc.equal(values, ""), True)).as_py() or 0
        if empty / n > MOSTLY_BLANK:
            source = columns.columns.get(column) or ", ".join(
                [*columns.region_parts.values(), *columns.region_names.values()])
            blank.append(f"{column} (from {source}: {empty / n:.0%} blank)" if source
                         else f"{column} (no column holds it: every row blank)")
    if blank:
        _warn(note, label, "mostly blank: " + "; ".join(blank)[:300])
    if columns.unused:
        _warn(note, label, "column(s) that look like an identifier or a region but are "
                           f"not read: {', '.join(columns.unused)[:300]}; map them in a "
                           "mapping file if they hold data")


def _footer_rows(data: pa.Table, columns: ColumnMap, table_file: bool = False
                 ) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """(footer, blank) rows. A footer starts at a row without a NIK saying JUMLAH, TOTAL
    or Mengetahui (FOOTER), and goes on over every later row without a NIK (the
    signature block). A blank row has no value but a running number."""
    n = data.num_rows
    if table_file:
        none = pa.chunked_array([pa.array(np.zeros(n, dtype=bool))])
        return none, none
    headers = [h for h in data.column_names if h != ROW]
    ignored = {"no", "nomor", "nourut"}
    marker = np.zeros(n, dtype=bool)
    filled = np.zeros(n, dtype=bool)
    for header in headers:
        values = pc.utf8_trim_whitespace(pc.cast(data[header], pa.string()))
        if normalise(header) not in ignored:
            filled |= pc.fill_null(pc.not_equal(values, ""), False).to_numpy(
                zero_copy_only=False)
        marker |= pc.fill_null(pc.match_substring_regex(values, FOOTER), False).to_numpy(
            zero_copy_only=False)
    nik = columns.columns.get("nik")
    has_id = (pc.fill_null(pc.match_substring_regex(data[nik], "^[^A-Za-z]*[0-9]{10}[^A-Za-z]*$"), False)
              .to_numpy(zero_copy_only=False) if nik else np.zeros(n, dtype=bool))
    started = np.cumsum(marker & ~has_id) > 0
    footer = started & ~has_id & (filled | marker)
    blank = ~filled & ~footer
    return (pa.chunked_array([pa.array(footer)]), pa.chunked_array([pa.array(blank)]))


def _named_region(con: duckdb.DuckDBPyConnection, data: pa.Table, columns: ColumnMap,
                  label: str, note: dict) -> pa.Array:
    """Kemendagri codes from region name columns; names that did not resolve are warned."""
    given = {NAME_LEVELS[k]: data[h] for k, h in columns.region_names.items()}
    codes, unresolved = resolve_names(con, given)
    note["region_from_names"] = list(columns.region_names.values())
    if unresolved:
        note["unresolved_region_names"] = unresolved
        _warn(note, label, f"{len(unresolved)} region name(s) not found in the Kemendagri "
                           f"list (the code stops at the level above): "
                           f"{', '.join(unresolved[:10])[:300]}")
    return codes


def _address(data: pa.Table, alamat: pa.Array, parts: dict[str, str]) -> pa.Array:
    """The address with its dusun, RT and RW columns appended ('JL X DUSUN II RT 1 RW 2')."""
    pieces = [alamat]
    for key in ("dusun", "rt", "rw"):
        if key in parts:
            values = pc.utf8_trim_whitespace(data[parts[key]])
            values = pc.if_else(pc.equal(values, ""), None, values)
            pieces.append(values if key == "dusun" else
                          pc.binary_join_element_wise(key.upper(), values, " "))
    pieces = [pc.if_else(pc.equal(p, ""), None, p) for p in pieces]
    return _join_present(pieces, " ")


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
    return pa.nulls(n, pa.string())


def _joined_region(data: pa.Table, parts: dict[str, str]) -> pa.Array:
    """Province, regency, district and village code columns as one dotted code.

    Parts may hold their own digits ('01') or the full code so far ('1701'); the last
    2/2/2/4 digits are this level's.
    """
    widths = {"kode_provinsi": 2, "kode_kabupaten": 2, "kode_kecamatan": 2, "kode_desa": 4}
    pieces = []
    for part, width in widths.items():
        if part not in parts:
            break
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
    headers = columns.used()
    for header in reversed(list(dict.fromkeys(headers))):
        values = data[header]
        if not _may_be_damaged(values):
            continue
        bad_char = pc.fill_null(pc.match_substring_regex(values, BAD_CHARACTERS), False)
        too_long = pc.fill_null(pc.greater(pc.utf8_length(values), MAX_CELL), False)
        reason = pc.if_else(
            bad_char, f"column {header}: holds a control or unreadable character",
            f"column {header}: longer than {MAX_CELL:,} characters")
        hit = pc.or_(bad_char, too_long)
        why = pc.if_else(hit, reason, why)
        flagged = pc.or_(flagged, hit)
    return flagged, why


def _may_be_damaged(values: pa.ChunkedArray) -> bool:
    """False when no cell can be damaged (`_damaged_cells`): no bad byte in the column's
    text and no cell of over MAX_CELL bytes. A byte screen, about 10x cheaper than the
    regular expression, which then runs only on the columns that may hold one."""
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return True
    for chunk in values.chunks:
        if _bad_bytes(text_bytes(chunk)):
            return True
    length = pc.max(pc.binary_length(values)).as_py()
    return length is not None and length > MAX_CELL


def _bad_bytes(data: np.ndarray) -> bool:
    """Whether UTF-8 text holds a byte of BAD_CHARACTERS: a control byte but tab and line
    breaks, DEL, or EF BF BD/BE/BF (U+FFFD-U+FFFF)."""
    control = data[(data < 0x20) | (data == 0x7F)]
    if np.isin(control, (0x09, 0x0A, 0x0D), invert=True).any():
        return True
    lead = np.flatnonzero(data[:-2] == 0xEF)
    return bool(((data[lead + 1] == 0xBF) & (data[lead + 2] >= 0xBD)).any())


def _repeated_header(data: pa.Table, columns: ColumnMap) -> pa.ChunkedArray:
    """Rows that repeat the header (files concatenated by hand)."""
    mapped = [h for h in columns.columns.values() if h in data.column_names][:3]
    rows = None             # the rows that may still repeat it: all, before the first
    for header in mapped:   # each later column only on the rows the ones before left
        values = data[header] if rows is None else pc.take(data[header], rows)
        same = pc.fill_null(pc.equal(pc.utf8_lower(pc.replace_substring_regex(
            values, r"[^0-9A-Za-z]", "")), normalise(header)), False).to_numpy(
            zero_copy_only=False)
        rows = np.flatnonzero(same) if rows is None else rows[same]
    mask = np.zeros(data.num_rows, dtype=bool)
    mask[rows if rows is not None else []] = True
    return pa.chunked_array([pa.array(mask)])


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

