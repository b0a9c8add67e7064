"""Readers for CSV, Excel and Parquet that keep every value as text.

Identifiers must never pass through a float (domain.md §3.3), so every reader returns
strings, plus each record's row number as the user sees it (the header is row 1).
"""

from __future__ import annotations

import codecs
import csv
import html
import logging
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from reconcile.errors import README, InputError
from reconcile.ingest.headers import HEADER_SEARCH, header_score, id_headers, normalise
from reconcile.ingest.lines import LINE_BREAK, read_records

log = logging.getLogger(__name__)

DELIMITERS = (",", ";", "|", "\t")
ROW = "__row"
KINDS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
         ".xls": "xls", ".parquet": "parquet", ".pq": "parquet"}
HEADER_MIN = 2      # known column names a row needs to be taken for the header
BLOCK_BYTES = 64 << 20   # the longest CSV record read (a longer one is a damaged file)
# Workbooks: a sheet's XML inflates 5-30x; a zip bomb (kilobytes that inflate to gigabytes)
# is refused before any reader allocates for it.
XLSX_MAX_BYTES = 1 << 30          # uncompressed, all parts together
XLSX_MAX_RATIO, XLSX_RATIO_FROM = 200, 16 << 20   # inflation refused above this size
MIXED = "reconcile_utf8_cp1252"   # UTF-8, with any byte that is not UTF-8 as Windows-1252
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"))
UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}"
                           rb"|[\xf0-\xf4][\x80-\xbf]{3}")
MAGIC = {b"PAR1": "a Parquet file", b"PK\x03\x04": "an Excel workbook (a zip file)",
         b"\xd0\xcf\x11\xe0": "a legacy Excel workbook (.xls)"}
XLS_MAX_BYTES = 256 << 20  # a legacy workbook is read whole into memory


@dataclass
class Sheet:
    """One table read from a file: text columns, row numbers and rows that did not parse."""

    label: str                        # file name, plus "#sheet" for workbooks
    headers: list[str]
    table: pa.Table | None = None     # every column string, plus ROW (int64)
    rejects: list[tuple[int, str, str]] = field(default_factory=list)  # row, reason, text
    # identifier headers -> which rows' cells are stored as numbers (Excel, Parquet floats)
    numeric_cells: dict[str, pa.ChunkedArray] = field(default_factory=dict)
    title_rows: list[str] = field(default_factory=list)  # text above the header row
    header_row: int = 1               # the header's row number
    header_known: bool = True         # False: no row had known names; the widest was taken
    skipped_sheets: tuple[str, ...] = ()  # sheets of the workbook without a table
    left_out_sheets: tuple[str, ...] = ()  # sheets the mapping did not pick

    @property
    def rows(self) -> pa.Table:
        """The loaded table (open_sheets with `load`); a preflight sheet has none."""
        if self.table is None:
            raise ValueError(f"{self.label}: only the header was read (load=False)")
        return self.table


def kind_of(path: Path) -> str:
    """The reader for a file, from its extension."""
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"{path}: unknown file type {path.suffix!r}. Fix: give a .csv, "
                         ".xlsx, .xls or .parquet file",
                         f"{path}: jenis berkas {path.suffix!r} tidak dikenal. Perbaiki: "
                         "berikan berkas .csv, .xlsx, .xls atau .parquet")
    return kind


def open_sheets(path: Path, options: dict, load: bool, label: str | None = None) -> list[Sheet]:
    """Every table in a file; with `load` False only headers are read (a cheap preflight).
    `label` names the file in the tables (default: its name). A pipe, a device or a
    folder is refused before it is opened (opening a pipe blocks for ever)."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: not a regular file (a folder, pipe or device). Fix: "
                         "give the file itself",
                         f"{path}: bukan berkas biasa (folder, pipe atau perangkat). "
                         "Perbaiki: berikan berkasnya sendiri")
    if info.st_size == 0:
        raise InputError(f"{path}: the file is empty. Fix: export it again",
                         f"{path}: berkas kosong. Perbaiki: ekspor ulang berkasnya")
    kind = kind_of(path)
    _check_magic(path, kind)
    label = label or path.name
    try:
        if kind == "csv":
            return [_csv(path, options, load, label)]
        if kind in ("xlsx", "xls"):
            return _xlsx(path, options, load, label, kind)
        return [_parquet(path, load, label)]
    except InputError:
        raise
    except Exception as exc:  # a damaged file: say which and what to do
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise InputError(f"{path}: cannot be read as {kind} ({type(exc).__name__}: {detail}). "
                         "Fix: open it in Excel or LibreOffice and save it again",
                         f"{path}: tidak dapat dibaca sebagai {kind} ({type(exc).__name__}). "
                         "Perbaiki: buka di Excel atau LibreOffice lalu simpan ulang"
                         ) from None


def _check_magic(path: Path, kind: str) -> None:
    """A file whose first bytes say it is another kind than its name says is refused."""
    with path.open("rb") as handle:
        head = handle.read(4)
    found = next((what for magic, what in MAGIC.items() if head.startswith(magic)), None)
    expected = {"csv": None, "xlsx": "an Excel workbook (a zip file)",
                "xls": "a legacy Excel workbook (.xls)", "parquet": "a Parquet file"}[kind]
    if found != expected and (found or kind != "csv"):
        what = found or "text, not " + (expected or "")
        isi = {None: "teks", "a Parquet file": "berkas Parquet",
               "an Excel workbook (a zip file)": "buku kerja Excel (berkas zip)",
               "a legacy Excel workbook (.xls)": "buku kerja Excel lama (.xls)"}[found]
        raise InputError(f"{path}: cannot be read as {kind}: named {path.suffix} but the "
                         f"file is {what}. Fix: give it the right name (.csv, .xlsx, .xls or "
                         ".parquet)",
                         f"{path}: tidak dapat dibaca sebagai {kind}: namanya {path.suffix} "
                         f"tetapi isinya {isi}. Perbaiki: beri akhiran nama yang benar "
                         "(.csv, .xlsx, .xls atau .parquet)")


def detect_encoding(path: Path, declared: str | None) -> str:
    """UTF-8 (with or without BOM), UTF-16, else Windows-1252, else Latin-1.

    SIKS-NG and regency offices export from Windows; a declared encoding is checked,
    never trusted blindly, so a wrong one stops the run with a clear message.
    """
    with path.open("rb") as handle:
        head = handle.read(4096)
    for bom, encoding in BOMS:
        if head.startswith(bom):
            return encoding
    if declared:
        if _decodes(path, declared):
            return declared
        raise InputError(f"{path}: cannot be decoded as {declared}. Fix: save it as UTF-8 or "
                         "declare its encoding in the mapping file (encoding = \"cp1252\")",
                         f"{path}: tidak dapat dibaca sebagai {declared}. Perbaiki: simpan "
                         "sebagai UTF-8 atau tulis encoding-nya di berkas pemetaan "
                         "(encoding = \"cp1252\")")
    wide = wide_encoding(head)
    if wide:  # UTF-16 or UTF-32 saved without a byte order mark
        if _decodes(path, wide):
            return wide
        raise InputError(f"{path}: looks like {wide.upper()} text without a byte order "
                         "mark but does not decode as it. Fix: save it as UTF-8",
                         f"{path}: tampak seperti teks {wide.upper()} tanpa BOM tetapi tidak "
                         "dapat dibaca. Perbaiki: simpan sebagai UTF-8")
    if _decodes(path, "utf-8"):
        return "utf-8"
    if _has_utf8_sequences(path):
        log.warning("%s: UTF-8 and Windows-1252 text mixed; each line read in its own",
                    path.name)
        return MIXED
    return "cp1252" if _decodes(path, "cp1252") else "latin-1"


def wide_encoding(head: bytes) -> str | None:
    """UTF-16 or UTF-32 (LE/BE) recognised without a BOM by where the zero bytes of
    ASCII text fall, or None.

    >>> wide_encoding("NIK,NAMA".encode("utf-16-le")), wide_encoding(b"NIK,NAMA")
    ('utf-16-le', None)
    """
    n = len(head) // 4 * 4
    if n < 8:
        return None
    quarter = n / 4
    zeros = [head[i:n:4].count(0) / quarter for i in range(4)]
    high, low = (z > 0.6 for z in zeros), (z < 0.1 for z in zeros)
    pattern = tuple("h" if h else "l" if lo else "?" for h, lo in zip(high, low, strict=True))
    wide: dict[tuple[str, ...], str] = {("l", "h", "h", "h"): "utf-32-le", ("h", "h", "h", "l"): "utf-32-be",
            ("l", "h", "l", "h"): "utf-16-le", ("h", "l", "h", "l"): "utf-16-be"}
    return wide.get(pattern)


def _has_utf8_sequences(path: Path) -> bool:
    """Whether a file that is not valid UTF-8 still holds UTF-8 multi-byte characters (or
    encoded surrogates): lines saved as UTF-8 mixed with lines saved as Windows-1252."""
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            if UTF8_SEQUENCE.search(chunk) or re.search(rb"\xed[\xa0-\xbf][\x80-\xbf]", chunk):
                return True
    return False


def _decodes(path: Path, encoding: str) -> bool:
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Decoding error handler of MIXED: a byte that is not UTF-8 is read as Windows-1252;
    an encoded surrogate (never a character) becomes U+FFFD, so its row is quarantined."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    data, start = exc.object, exc.start
    if data[start] == 0xED and start + 2 < len(data) and 0xA0 <= data[start + 1] <= 0xBF:
        return "\ufffd", start + 3
    try:
        return bytes(data[start:start + 1]).decode("cp1252"), start + 1
    except UnicodeDecodeError:
        return "\ufffd", start + 1


class _MixedDecoder(codecs.BufferedIncrementalDecoder):
    def _buffer_decode(self, data, errors, final):
        return codecs.utf_8_decode(data, "reconcile-cp1252", final)


def _mixed_codec(name: str) -> codecs.CodecInfo | None:
    if name != MIXED:
        return None
    return codecs.CodecInfo(
        name=MIXED, encode=codecs.utf_8_encode,
        decode=lambda data, errors="strict": codecs.utf_8_decode(data, "reconcile-cp1252", True),
        incrementalencoder=codecs.getincrementalencoder("utf-8"),
        incrementaldecoder=_MixedDecoder,
        streamreader=codecs.getreader("utf-8"), streamwriter=codecs.getwriter("utf-8"))


codecs.register_error("reconcile-cp1252", _cp1252_fallback)
codecs.register(_mixed_codec)


def best_header(rows: list[list[str]], mapped: frozenset[str] = frozenset()
                ) -> tuple[int, bool] | None:
    """Which of a file's first rows is its header, and whether it was recognised: the row
    holding the most known column names or headers the mapping file names (at least
    HEADER_MIN); else the first of the widest rows (title rows have one cell), as a
    guess the refusal can show. None for no row at all.

    >>> best_header([["DAFTAR PKH"], [], ["NOMOR INDUK", "NAMA"], ["1771", "SITI"]])
    (2, False)
    """
    if not rows:
        return None
    scores = [header_score(row, mapped) for row in rows]
    best = max(range(len(rows)), key=lambda k: (scores[k], -k))
    if scores[best] >= HEADER_MIN:
        return best, True
    widths = [sum(1 for cell in row if str(cell).strip()) for row in rows]
    return max(range(len(rows)), key=lambda k: (widths[k], -k)), False


def mapped_headers(options: dict) -> frozenset[str]:
    """The headers a mapping file names, in comparable form (they mark the header row)."""
    return frozenset(normalise(h) for h in options.get("columns", {}).values())


def _header_line(path: Path, encoding: str, delimiter: str | None = None,
                 mapped: frozenset[str] = frozenset()) -> tuple[str, int, int, list[str], bool]:
    """The header line among the first HEADER_SEARCH non-blank lines (best_header).
    Returns (line, its physical index, its row number, the lines above it, whether it
    was recognised). The row number counts the blank lines above it, as a spreadsheet
    shows them (and as pyarrow numbers the lines it skips); below it, as before, only
    lines with content are rows."""
    with path.open(encoding=encoding, newline="") as handle:
        head = handle.read(1 << 20)
    lines = LINE_BREAK.split(head)
    candidates = [(i, line) for i, line in enumerate(lines[:-1] if len(lines) > 1 else lines)
                  if line.strip()][:HEADER_SEARCH]
    if not candidates:
        raise InputError(f"{path}: the file has no header row. Fix: export it again with "
                         "headers", f"{path}: berkas tanpa baris judul kolom. Perbaiki: "
                         "ekspor ulang dengan judul kolom")
    rows = [next(csv.reader([line], delimiter=delimiter or detect_delimiter(line)), [])
            for _, line in candidates]
    best, known = best_header(rows, mapped) or (0, False)
    index, line = candidates[best]
    titles = [title_text(text, delimiter or detect_delimiter(line))
              for _, text in candidates[:best]]
    return line, index, index + 1, [t for t in titles if t], known


def title_text(line: str, delimiter: str) -> str:
    """A title row as recorded: its cells joined, long digit runs masked, cut short.

    >>> title_text("DAFTAR PENERIMA PKH,,,", ",")
    'DAFTAR PENERIMA PKH'
    """
    cells = next(csv.reader([line], delimiter=delimiter), []) if delimiter else [line]
    text = " ".join(c.strip() for c in cells if c and c.strip())
    return re.sub(r"[0-9]{8,}", lambda m: m.group()[:4] + "*" * (len(m.group()) - 4),
                  text)[:120]


def detect_delimiter(header: str) -> str:
    """The candidate delimiter that splits the header line most often.

    >>> detect_delimiter("NIK;NAMA;TGL_LAHIR")
    ';'
    """
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv(path: Path, options: dict, load: bool, label: str) -> Sheet:
    encoding = detect_encoding(path, options.get("encoding"))
    line, index, number, titles, known = _header_line(
        path, encoding, options.get("delimiter"), mapped_headers(options))
    delimiter = options.get("delimiter") or detect_delimiter(line)
    headers = next(csv.reader([line], delimiter=delimiter), [])
    sheet = Sheet(label, headers, title_rows=titles, header_row=number, header_known=known)
    if not load:
        return sheet
    names = [f"c{i}" for i in range(len(headers))]  # headers may repeat or be blank
    rejects: list[tuple[int, str, str]] = []

    def reject(row) -> str:
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        rejects.append((row.number, reason, row.text))
        return "skip"

    # Serial parsing, so every skipped record reports its number (0.6 s per million rows).
    try:
        table = _read_csv(path, encoding, delimiter, names, reject, skip=index + 1)
    except pa.ArrowInvalid as exc:
        if "straddling" not in str(exc) and "block size" not in str(exc):
            raise
        raise InputError(f"{path}: a record is longer than {BLOCK_BYTES >> 20} MB: the file "
                         "is damaged. Fix: export it again",
                         f"{path}: satu baris lebih dari {BLOCK_BYTES >> 20} MB: berkas "
                         "rusak. Perbaiki: ekspor ulang") from None
    if _spans_lines(table, rejects):  # a quote ran over line breaks: maybe unclosed
        return _csv_by_lines(path, encoding, delimiter, sheet, index)
    # pyarrow numbers a rejected record as the rows are numbered: every line above the
    # header (blank ones too), then only lines with content
    sheet.table = _with_rows(table.rename_columns(headers), skipped={r[0] for r in rejects},
                             first=number + 1)
    sheet.rejects = rejects
    return sheet


def _read_csv(path: Path, encoding: str, delimiter: str, names: list[str], reject,
              skip: int = 1) -> pa.Table:
    return pcsv.read_csv(
        path,
        read_options=pcsv.ReadOptions(encoding=encoding, use_threads=False, skip_rows=skip,
                                      column_names=names, block_size=BLOCK_BYTES),
        parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                        invalid_row_handler=reject),
        convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                            strings_can_be_null=False,
                                            quoted_strings_can_be_null=False),
    )


def _spans_lines(table: pa.Table, rejects: list[tuple[int, str, str]]) -> bool:
    """Whether a value or a rejected record holds a line break (a quote spanning lines)."""
    if any("\n" in text or "\r" in text for _, _, text in rejects):
        return True
    return any(np.isin(text_bytes(chunk), (0x0A, 0x0D)).any()
               for name in table.column_names for chunk in table[name].chunks)


def text_bytes(chunk: pa.Array) -> np.ndarray:
    """The UTF-8 bytes of a string array's values (a slice's own, not its buffer's)."""
    _, offsets, text = chunk.buffers()
    if text is None or not len(chunk):
        return np.zeros(0, dtype=np.uint8)
    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    bounds = np.frombuffer(offsets, dtype=width)[[chunk.offset, chunk.offset + len(chunk)]]
    return np.frombuffer(text, dtype=np.uint8)[bounds[0]:bounds[1]]


def _csv_by_lines(path: Path, encoding: str, delimiter: str, sheet: Sheet,
                  header_index: int = 0) -> Sheet:
    """Read again record by record, so an unclosed quote costs only its own line."""
    records = read_records(path, encoding, delimiter, len(sheet.headers), header_index,
                           sheet.header_row)
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


def _xlsx(path: Path, options: dict, load: bool, label: str, kind: str = "xlsx"
          ) -> list[Sheet]:
    """Every sheet of a workbook whose header is recognised (searched in its first rows);
    sheets without a beneficiary table (a summary, notes) are skipped and named. A
    mapping's `sheet` or `sheets` picks sheets; those it leaves out are named."""
    import fastexcel

    if kind == "xlsx":
        check_workbook(path)
    elif path.stat().st_size > XLS_MAX_BYTES:
        raise InputError(f"{path}: a legacy .xls workbook larger than "
                         f"{XLS_MAX_BYTES >> 20} MB. Fix: save it as .xlsx or CSV",
                         f"{path}: buku kerja .xls lebih dari {XLS_MAX_BYTES >> 20} MB. "
                         "Perbaiki: simpan sebagai .xlsx atau CSV")
    reader = fastexcel.read_excel(path)
    picked = picked_sheets(options)
    names = _pick_sheets(path, reader.sheet_names, picked, load) if picked else \
        reader.sheet_names
    left_out = tuple(n for n in reader.sheet_names if n not in names)
    sheets, found = [], {}
    for name in names:
        probe = reader.load_sheet(name, header_row=None, n_rows=HEADER_SEARCH,
                                  dtypes="string").to_arrow()
        rows = [[v for v in row.values() if v] for row in probe.to_pylist()]
        header = best_header(rows, mapped_headers(options))
        if header is None or (not header[1] and len(names) > 1 and not picked):
            continue  # no table here; a sheet alone or picked: its refusal names headers
        best, known = header
        found[name] = (best, known, [" ".join(r)[:120] for r in rows[:best] if r])
    skipped = tuple(n for n in names if n not in found)
    if skipped and load:
        log.warning("%s: sheet(s) without a beneficiary table skipped: %s",
                    path.name, ", ".join(skipped)[:300])
    for name, (header_index, known, titles) in found.items():
        sheet_label = label if len(reader.sheet_names) == 1 else f"{label}#{name}"
        probe = reader.load_sheet(name, header_row=header_index, n_rows=50)
        headers = [str(c.name) for c in probe.available_columns()]
        if not headers:
            continue  # an empty sheet (notes, a blank template) holds no records
        sheet = Sheet(sheet_label, headers, title_rows=[title_text(t, "") for t in titles],
                      header_row=header_index + 1, header_known=known,
                      skipped_sheets=skipped, left_out_sheets=left_out)
        if load:
            table = reader.load_sheet(name, header_row=header_index, dtypes="string").to_arrow()
            table = pa.Table.from_batches([table]) if isinstance(table, pa.RecordBatch) else table
            if kind == "xlsx":
                table = _with_formulas(path, name, table, header_index)
            table = _with_rows(table.rename_columns(headers), skipped=set(),
                               first=header_index + 2)
            filled = _not_blank(table)
            sheet.table = table.filter(filled)
            numeric = _numeric_cells(reader, name, header_index,
                                     id_headers(headers, options.get("columns", {})))
            sheet.numeric_cells = {h: pc.filter(cells, filled) for h, cells in numeric.items()
                                   if len(cells) == table.num_rows}
        sheets.append(sheet)
    if not sheets:
        listed = ", ".join(reader.sheet_names)[:200]
        raise InputError(f"{path}: no sheet has a header row with known column names "
                         f"(sheets: {listed}). Fix: head the columns NIK, NAMA, ... or map "
                         f"them in a mapping file ({README})",
                         f"{path}: tidak ada lembar dengan judul kolom yang dikenal (lembar: "
                         f"{listed}). Perbaiki: beri judul kolom NIK, NAMA, ... atau "
                         f"petakan di berkas pemetaan ({README})")
    return sheets


def _numeric_cells(reader, name: str, header_index: int, headers: list[str]
                   ) -> dict[str, pa.ChunkedArray]:
    """For each identifier column, which cells the workbook holds as numbers: they have
    lost every digit past the 15th, also in a column whose other cells are text. Read by
    asking for booleans: a number converts, a text cell does not."""
    if not headers:
        return {}
    cells = reader.load_sheet(name, header_row=header_index, use_columns=headers,
                              dtypes=dict.fromkeys(headers, "boolean")).to_arrow()
    cells = pa.Table.from_batches([cells]) if isinstance(cells, pa.RecordBatch) else cells
    numeric = {h: pc.is_valid(cells[h]) for h in headers if h in cells.column_names}
    return {h: mask for h, mask in numeric.items() if pc.any(mask).as_py()}


def picked_sheets(options: dict) -> list[str]:
    """The sheets a mapping file picks: `sheet = "PKH"` or `sheets = ["PKH", "BLT"]`."""
    return [options["sheet"]] if options.get("sheet") else list(options.get("sheets", []))


def _pick_sheets(path: Path, names: list[str], picked: list[str], load: bool) -> list[str]:
    """The picked sheets in the workbook's order; a name it lacks is refused with the
    sheets it has; those left out are named in the run log."""
    missing = [p for p in picked if p not in names]
    if missing:
        listed = ", ".join(names)[:200]
        raise InputError(f"{path}: no sheet named {', '.join(missing)[:100]} (mapping "
                         f"'sheets'); the workbook has: {listed}. Fix: correct the sheet "
                         "name in the mapping file",
                         f"{path}: tidak ada lembar bernama {', '.join(missing)[:100]} "
                         f"(pemetaan 'sheets'); lembar yang ada: {listed}. Perbaiki: "
                         "betulkan nama lembar di berkas pemetaan")
    chosen = [n for n in names if n in picked]
    left_out = [n for n in names if n not in picked]
    if load and left_out:
        log.warning("%s: %d sheet(s) read as the mapping picks (%s); %d left out: %s",
                    path.name, len(chosen), ", ".join(chosen)[:200], len(left_out),
                    ", ".join(left_out)[:300])
    return chosen


def check_workbook(path: Path) -> None:
    """Refuse a workbook that is not a zip, is damaged, or inflates past XLSX_MAX_BYTES
    (a zip bomb), before any reader allocates for it. Sizes are read from the zip's
    directory, and every part's checksum is verified while inflating it (bounded by the
    size the directory claims), so a directory that lies about sizes is caught too."""
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: cannot be read as xlsx: the workbook (a zip file) is "
                         "damaged. Fix: open it in Excel or LibreOffice and save it again",
                         f"{path}: tidak dapat dibaca sebagai xlsx: buku kerja (berkas zip) "
                         "rusak. Perbaiki: buka di Excel atau LibreOffice lalu simpan ulang")
    try:
        with zipfile.ZipFile(path) as book:
            parts = book.infolist()
            total = sum(p.file_size for p in parts)
            swollen = [p for p in parts if p.file_size > XLSX_RATIO_FROM
                       and p.file_size > XLSX_MAX_RATIO * max(p.compress_size, 1)]
            if total > XLSX_MAX_BYTES or swollen:
                size = f"{total / (1 << 20):,.0f} MB"
                raise InputError(
                    f"{path}: the workbook would inflate to {size} (limit "
                    f"{XLSX_MAX_BYTES >> 20} MB, at most {XLSX_MAX_RATIO}x per part): "
                    "refused as a possible zip bomb. Fix: save the data as CSV",
                    f"{path}: buku kerja akan mengembang menjadi {size} (batas "
                    f"{XLSX_MAX_BYTES >> 20} MB): ditolak sebagai kemungkinan bom zip. "
                    "Perbaiki: simpan datanya sebagai CSV")
            damaged = book.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise InputError(f"{path}: the workbook is damaged ({exc}). Fix: open it in Excel "
                         "or LibreOffice and save it again",
                         f"{path}: buku kerja rusak. Perbaiki: buka di Excel atau "
                         "LibreOffice lalu simpan ulang") from None
    if damaged:
        raise InputError(f"{path}: the workbook is damaged (part {damaged} does not match "
                         "its checksum or size). Fix: save it again",
                         f"{path}: buku kerja rusak (bagian {damaged} tidak cocok dengan "
                         "checksum atau ukurannya). Perbaiki: simpan ulang")


CELL_FORMULA = re.compile(
    rb'<c r="([A-Z]{1,3})([0-9]+)"[^>]*>(?:<f[^>]*/>|<f[^>]*>([^<]*)</f>)'
    rb'(?:<v\s*/>|<v>([^<]*)</v>)?')
DIMENSION = re.compile(rb'<dimension ref="([A-Z]{1,3})([0-9]+)')


def _with_formulas(path: Path, sheet: str, table: pa.Table, header_index: int = 0
                   ) -> pa.Table:
    """Formula cells saved without their value (written by a program, never opened in
    Excel) read as blank; keep each one's formula as text ("=SUM(A1:A3)") instead."""
    with zipfile.ZipFile(path) as book:
        member = _sheet_members(book).get(sheet)
        if member is None or member not in book.namelist():
            return table
        xml = book.read(member)
    if b"<f" not in xml:
        return table
    corner = DIMENSION.search(xml)
    first_col = _column_index(corner.group(1)) if corner else 0
    header_row = (int(corner.group(2)) if corner else 1) + header_index
    patches: dict[int, tuple[list[int], list[str]]] = {}
    for match in CELL_FORMULA.finditer(xml):
        column, row, formula, cached = match.groups()
        if cached:  # Excel saved the value: fastexcel read it
            continue
        i, j = int(row) - header_row - 1, _column_index(column) - first_col
        if 0 <= i < table.num_rows and 0 <= j < table.num_columns:
            rows, values = patches.setdefault(j, ([], []))
            rows.append(i)
            values.append("=" + html.unescape((formula or b"").decode("utf-8", "replace")))
    for j, (rows, values) in patches.items():
        column = table.column(j).to_numpy(zero_copy_only=False).astype(object)
        column[np.array(rows)] = values
        table = table.set_column(j, table.column_names[j], pa.array(column, pa.string()))
    if patches:
        log.warning("%s#%s: %d formula cell(s) without a saved value kept as formula text",
                    path.name, sheet, sum(len(r) for r, _ in patches.values()))
    return table


def _sheet_members(book: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its XML part, from the workbook and its relationships."""
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    members: dict[str, str] = {}
    for element in workbook.iter():
        name = element.get("name")
        if element.tag.endswith("}sheet") and name is not None:
            rid = next((v for k, v in element.attrib.items() if k.endswith("}id")), None)
            target = targets.get(rid, "")
            members[name] = (target.lstrip("/") if target.startswith("/")
                                            else "xl/" + target)
    return members


def _column_index(letters: bytes) -> int:
    """0 for A, 25 for Z, 26 for AA."""
    index = 0
    for letter in letters:
        index = index * 26 + letter - 64
    return index - 1


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


def _parquet(path: Path, load: bool, label: str) -> Sheet:
    schema = pq.read_schema(path)
    sheet = Sheet(label, list(schema.names))
    if load:
        table = pq.read_table(path)
        floats = [f.name for f in schema if pa.types.is_floating(f.type)]
        sheet.numeric_cells = {name: pc.is_valid(table[name]) for name in floats}
        table = pa.table({name: pc.cast(table[name], pa.string()) for name in table.column_names})
        sheet.table = _with_rows(table, skipped=set(), first=1)
    return sheet
