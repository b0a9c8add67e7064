"""Readers for CSV, Excel and Parquet that keep every value as text.

Identifiers must never pass through a float (domain.md §3.3), so every reader returns
strings, plus each record's row number as the user sees it (the header is row 1).
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from reconcile.errors import InputError
from reconcile.ingest.lines import read_records

DELIMITERS = (",", ";", "|", "\t")
ROW = "__row"
KINDS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
         ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class Sheet:
    """One table read from a file: text columns, row numbers and rows that did not parse."""

    label: str                        # file name, plus "#sheet" for workbooks
    headers: list[str]
    table: pa.Table | None = None     # every column string, plus ROW (int64)
    rejects: list[tuple[int, str, str]] = field(default_factory=list)  # row, reason, text
    numeric_columns: frozenset[str] = frozenset()  # headers stored as numbers (Excel)


def kind_of(path: Path) -> str:
    """The reader for a file, from its extension."""
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"{path}: unknown file type {path.suffix!r}; "
                         "give a .csv, .xlsx or .parquet file")
    return kind


def open_sheets(path: Path, options: dict, load: bool) -> list[Sheet]:
    """Every table in a file; with `load` False only headers are read (a cheap preflight).
    The file exists and is a regular file (RunConfig checks that first)."""
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; export it again")
    kind = kind_of(path)
    try:
        if kind == "csv":
            return [_csv(path, options, load)]
        if kind == "xlsx":
            return _xlsx(path, options, load)
        return [_parquet(path, load)]
    except InputError:
        raise
    except Exception as exc:  # a damaged file: say which and what to do
        raise InputError(f"{path}: cannot be read as {kind} ({type(exc).__name__}: {exc}); "
                         "open it in Excel or LibreOffice and save it again") from exc


def detect_encoding(path: Path, declared: str | None) -> str:
    """UTF-8 (with or without BOM), UTF-16, else Windows-1252, else Latin-1.

    SIKS-NG and regency offices export from Windows; a declared encoding is checked,
    never trusted blindly, so a wrong one stops the run with a clear message.
    """
    head = path.open("rb").read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    candidates = [declared] if declared else ["utf-8", "cp1252", "latin-1"]
    for encoding in candidates:
        if _decodes(path, encoding):
            return encoding
    raise InputError(f"{path}: cannot be decoded as {declared}; save it as UTF-8 or "
                     "declare its encoding in the mapping file (encoding = \"cp1252\")")


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _header_line(path: Path, encoding: str) -> str:
    with path.open(encoding=encoding, newline="") as handle:
        for line in handle:
            if line.strip():
                return line.rstrip("\r\n")
    raise InputError(f"{path}: the file has no header row; export it again with headers")


def detect_delimiter(header: str) -> str:
    """The candidate delimiter that splits the header line most often.

    >>> detect_delimiter("NIK;NAMA;TGL_LAHIR")
    ';'
    """
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _csv(path: Path, options: dict, load: bool) -> Sheet:
    encoding = detect_encoding(path, options.get("encoding"))
    delimiter = options.get("delimiter") or detect_delimiter(_header_line(path, encoding))
    headers = next(csv.reader([_header_line(path, encoding)], delimiter=delimiter), [])
    sheet = Sheet(path.name, headers)
    if not load:
        return sheet
    names = [f"c{i}" for i in range(len(headers))]  # headers may repeat or be blank
    rejects: list[tuple[int, str, str]] = []

    def reject(row) -> str:
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        rejects.append((row.number, reason, row.text))
        return "skip"

    # Serial parsing, so every skipped record reports its number (0.6 s per million rows).
    table = pcsv.read_csv(
        path,
        read_options=pcsv.ReadOptions(encoding=encoding, use_threads=False, skip_rows=1,
                                      column_names=names),
        parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                        invalid_row_handler=reject),
        convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                            strings_can_be_null=False,
                                            quoted_strings_can_be_null=False),
    )
    if _spans_lines(table, rejects):  # a quote ran over line breaks: maybe unclosed
        return _csv_by_lines(path, encoding, delimiter, sheet)
    sheet.table = _with_rows(table.rename_columns(headers), skipped={r[0] for r in rejects})
    sheet.rejects = rejects
    return sheet


def _spans_lines(table: pa.Table, rejects: list[tuple[int, str, str]]) -> bool:
    """Whether a value or a rejected record holds a line break (a quote spanning lines)."""
    if any("\n" in text or "\r" in text for _, _, text in rejects):
        return True
    return any(pc.any(pc.match_substring_regex(table[name], "[\r\n]")).as_py()
               for name in table.column_names)


def _csv_by_lines(path: Path, encoding: str, delimiter: str, sheet: Sheet) -> Sheet:
    """Read again record by record, so an unclosed quote costs only its own line."""
    records = read_records(path, encoding, delimiter, len(sheet.headers))
    columns = list(zip(*records.rows, strict=True)) or [()] * len(sheet.headers)
    table = pa.table({f"c{i}": pa.array(values, pa.string())
                      for i, values in enumerate(columns)})
    sheet.table = table.rename_columns(sheet.headers).append_column(
        ROW, pa.array(records.numbers, pa.int64()))
    sheet.rejects = records.rejects
    return sheet


def _with_rows(table: pa.Table, skipped: set[int], first: int = 2) -> pa.Table:
    """Attach each record's row number: records are numbered from `first`, skipping rejects."""
    total = table.num_rows + len(skipped)
    numbers = pa.array(range(first, first + total), pa.int64())
    if skipped:
        numbers = pc.filter(numbers, pc.invert(pc.is_in(numbers, pa.array(sorted(skipped)))))
    return table.append_column(ROW, numbers)


def _xlsx(path: Path, options: dict, load: bool) -> list[Sheet]:
    import fastexcel

    reader = fastexcel.read_excel(path)
    names = [options["sheet"]] if options.get("sheet") else reader.sheet_names
    sheets = []
    for name in names:
        if name not in reader.sheet_names:
            raise InputError(f"{path}: no sheet named {name!r}; sheets: {reader.sheet_names}")
        label = path.name if len(reader.sheet_names) == 1 else f"{path.name}#{name}"
        probe = reader.load_sheet(name, n_rows=50)
        headers = [str(c.name) for c in probe.available_columns()]
        if not headers:
            continue  # an empty sheet (notes, a blank template) holds no records
        # Columns Excel holds as numbers have already lost digits past the 15th.
        numeric = frozenset(c.name for c in probe.available_columns()
                            if str(c.dtype) in ("float", "int"))
        sheet = Sheet(label, headers, numeric_columns=numeric)
        if load:
            table = reader.load_sheet(name, dtypes="string").to_arrow()
            table = pa.Table.from_batches([table]) if isinstance(table, pa.RecordBatch) else table
            table = _with_rows(table.rename_columns(headers), skipped=set())
            sheet.table = table.filter(_not_blank(table))
        sheets.append(sheet)
    if not sheets:
        raise InputError(f"{path}: the workbook has no sheet with a header row")
    return sheets


def _not_blank(table: pa.Table) -> pa.ChunkedArray:
    """Rows with at least one non-empty cell (blank rows are not records)."""
    filled = None
    for name in table.column_names:
        if name == ROW:
            continue
        has = pc.fill_null(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(table[name])), 0),
                           False)
        filled = has if filled is None else pc.or_(filled, has)
    return filled if filled is not None else pa.chunked_array([pa.array([True] * table.num_rows, pa.bool_())])


def _parquet(path: Path, load: bool) -> Sheet:
    schema = pq.read_schema(path)
    sheet = Sheet(path.name, list(schema.names),
                  numeric_columns=frozenset(f.name for f in schema
                                            if pa.types.is_floating(f.type)))
    if load:
        table = pq.read_table(path)
        table = pa.table({name: pc.cast(table[name], pa.string()) for name in table.column_names})
        sheet.table = _with_rows(table, skipped=set(), first=1)
    return sheet
