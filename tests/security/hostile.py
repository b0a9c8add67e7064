"""The hostile-input corpus: each case builds damaged inputs from a small clean data set,
runs the library's spine on them and says how it ended.

A case ends in one of two clean ways (issue 14, "Every hostile input gets a clean answer"):

- refused: InputError or RunRefused, one short message naming the file (and the row and
  column where that applies), no full NIK in it, nothing published;
- accepted: every row read is reconciled or quarantined (the manifest's row accounting),
  as many rows read as records written, no name garbled, report.xlsx valid XML.

Anything else is a traceback (an unexpected exception) or a hang (over TIMEOUT seconds).
Every input file is hashed before and after: a case must not move, change or delete one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import stat
import threading
import time
import traceback
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pyarrow.parquet as pq

TIMEOUT = 30.0
KEMENSOS = "kemensos_pkh.csv"
BPS = "bps_register.parquet"
STATS = "bps_poverty_stats.csv"
BASE_ROWS = 40            # Kemensos rows in the clean base file
ACCENTED = ("ANDRÉ SIREGAR", "NOËL SIMANJUNTAK", "FRANÇOIS NAINGGOLAN")  # rows 2-4
FULL_NIK = re.compile(r"(?<![0-9])[0-9]{16}(?![0-9])")
STRONG_KEY = "k3y-" + "9f8e7d6c5b4a3210" * 3


# --------------------------------------------------------------------------- inputs

@dataclass
class Inputs:
    """One case's input folder, options and what an acceptance must show."""

    folder: Path
    out: Path
    rows: list[dict]                      # the clean Kemensos records
    kemensos: list[Path] = field(default_factory=list)
    bps: Path | None = None
    stats: Path | None = None
    options: dict = field(default_factory=dict)   # RunConfig keyword arguments
    env: dict = field(default_factory=dict)       # environment during the case
    records: dict[str, int] = field(default_factory=dict)   # label -> records written
    max_quarantined: dict[str, int] = field(default_factory=dict)  # label -> at most
    names: set[str] = field(default_factory=set)  # every name written (cleaned)
    check: Callable[[pd.DataFrame, pd.DataFrame], None] | None = None  # on its published
    # rows: (reconciled, quarantine)

    @property
    def header(self) -> list[str]:
        return list(self.rows[0])

    def write_kemensos(self, data: bytes | str, name: str = KEMENSOS, records: int | None = None,
                       rows: list[dict] | None = None) -> Path:
        """Replace the Kemensos input by this content; `records` written (default all)."""
        path = self.folder / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        self.kemensos = [path]
        self.records = {name: BASE_ROWS if records is None else records}
        self.names = {_clean(r["nama"]) for r in (rows or self.rows)}
        return path

    def csv_text(self, rows: list[dict] | None = None, delimiter: str = ",",
                 newline: str = "\r\n", header: list[str] | None = None) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
        writer.writerow(header or self.header)
        for row in rows or self.rows:
            writer.writerow(row.values())
        return buffer.getvalue()

    def lines(self) -> list[str]:
        """The clean file's lines: header first."""
        return self.csv_text(newline="\n").rstrip("\n").split("\n")

    def write_stats(self, text: str) -> None:
        self.stats.write_text(text, encoding="utf-8")

    def register(self) -> pd.DataFrame:
        return pd.read_parquet(self.bps)

    def with_rows(self, rows: list[dict], **kwargs) -> Path:
        """Write these records as the Kemensos file (CSV) and expect them all."""
        return self.write_kemensos(self.csv_text(rows, **kwargs), records=len(rows), rows=rows)


def _clean(name: str) -> str:
    return re.sub(r"\s+", " ", name.strip())


def make_base(folder: Path) -> Path:
    """The clean data set every case starts from: a generated register and statistics,
    and 40 Kemensos rows, three of them with accented names."""
    from synth.generate import generate

    generate(folder / "generated", people=200, seed=3)
    base = folder / "base"
    base.mkdir()
    for name in (BPS, STATS):
        shutil.copy(folder / "generated" / name, base / name)
    with (folder / "generated" / "kemensos_pbi-jk.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:BASE_ROWS]
    for row, name in zip(rows[1:], ACCENTED, strict=False):
        row["nama"] = name
    (base / "rows.json").write_text(json.dumps(rows))
    return base


def fresh_inputs(base: Path, folder: Path) -> Inputs:
    """A copy of the clean inputs in `folder/inputs`, the output to be `folder/out`."""
    inputs = folder / "inputs"
    inputs.mkdir(parents=True)
    for name in (BPS, STATS):
        shutil.copy(base / name, inputs / name)
    rows = json.loads((base / "rows.json").read_text())
    case = Inputs(inputs, folder / "out", rows, bps=inputs / BPS, stats=inputs / STATS)
    case.write_kemensos(case.csv_text())
    case.records.update({BPS: len(case.register()), STATS: _stats_rows(case.stats)})
    return case


def _stats_rows(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").strip().splitlines()) - 1


# --------------------------------------------------------------------------- outcome

@dataclass
class Outcome:
    name: str
    expected: str
    outcome: str = "hang"           # refused, accepted, traceback, hang
    message: str = ""
    problems: list[str] = field(default_factory=list)   # broken promises
    rows_lost: int = 0
    files_touched: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome == self.expected and not self.problems

    def first_line(self) -> str:
        return self.message.splitlines()[0][:110] if self.message else ""


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under `folder`: its kind and, for a regular file, its content hash
    (a pipe or a device is never opened)."""
    seen = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        if stat.S_ISREG(info.st_mode):
            seen[str(path)] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(),
                               info.st_mode)
        elif stat.S_ISLNK(info.st_mode):
            seen[str(path)] = ("link", os.readlink(path))
        else:
            seen[str(path)] = ("other", stat.S_IFMT(info.st_mode))
    return seen


@dataclass
class Prepared:
    """A case with its inputs built and their state recorded."""

    case: Case
    inputs: Inputs
    before: dict
    out_before: dict | None
    labels: dict[str, str] = field(default_factory=dict)  # label as written -> in the run


def prepare(case: Case, base: Path, folder: Path) -> Prepared:
    inputs = fresh_inputs(base, folder)
    case.build(inputs)
    return Prepared(case, inputs, snapshot(inputs.folder),
                    snapshot(inputs.out) if inputs.out.is_dir() else None)


def run_case(case: Case, base: Path, folder: Path) -> Outcome:
    """Build the case's inputs, run the pipeline in a thread with a deadline, judge it."""
    prepared = prepare(case, base, folder)
    return judge(prepared, *execute(prepared.inputs, prepared.inputs.kemensos))


def run_corpus(cases: list[Case], base: Path, folder: Path) -> list[Outcome]:
    """Every case; the acceptances that differ from the clean inputs only in their
    Kemensos files share one run (each file keeps its own row accounting and checks), so
    the corpus stays fast. If that shared run is not a clean acceptance, each of its
    cases runs on its own, so every outcome is a case's own."""
    prepared = [prepare(c, base, folder / c.name) for c in cases]
    shared = [p for p in prepared if _kemensos_only(p, base)]
    results = {p.case.name: judge(p, *execute(p.inputs, p.inputs.kemensos))
               for p in prepared if p not in shared}
    if shared:
        results.update(_run_shared(shared, base, folder / "_shared"))
    return [results[c.name] for c in cases]


def _kemensos_only(prepared: Prepared, base: Path) -> bool:
    inputs = prepared.inputs
    return (prepared.case.expect == "accepted" and not inputs.options and not inputs.env
            and inputs.bps == inputs.folder / BPS and inputs.stats == inputs.folder / STATS
            and all(_same(inputs.folder / n, base / n) for n in (BPS, STATS))
            and all(p.is_file() and not p.is_symlink() and p.parent == inputs.folder
                    for p in inputs.kemensos)
            and set(inputs.records) - {BPS, STATS} == {p.name for p in inputs.kemensos})


def _same(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


def _run_shared(shared: list[Prepared], base: Path, folder: Path) -> dict[str, Outcome]:
    from reconcile.ingest import file_labels

    together = fresh_inputs(base, folder)
    together.kemensos = [path for p in shared for path in p.inputs.kemensos]
    labels = file_labels(together.kemensos)
    for p in shared:
        p.labels = {path.name: labels[path] for path in p.inputs.kemensos}
    timing, box = execute(together, together.kemensos)
    results = {p.case.name: judge(p, timing, box, shared_run=together) for p in shared}
    for p in shared:  # a case the shared run did not answer cleanly runs on its own
        if not results[p.case.name].ok:
            p.labels = {}
            results[p.case.name] = judge(p, *execute(p.inputs, p.inputs.kemensos))
    return results


def execute(inputs: Inputs, kemensos: list[Path]) -> tuple[float, dict]:
    """Run the pipeline on these inputs in a thread; (seconds, what happened)."""
    box: dict = {}

    def target() -> None:
        from reconcile.errors import InputError, RunRefused

        saved = {k: os.environ.get(k) for k in inputs.env}
        os.environ.update(inputs.env)
        try:
            box["result"] = _run_pipeline(inputs)
        except (InputError, RunRefused) as exc:
            box["refused"] = exc
        except BaseException as exc:  # noqa: BLE001 -- a traceback is what we count
            box["traceback"] = exc
            box["trace"] = traceback.format_exc()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    started = time.perf_counter()
    worker = threading.Thread(target=target, daemon=True, name=f"case-{inputs.folder}")
    worker.start()
    worker.join(TIMEOUT)
    if worker.is_alive():
        box["hang"] = True
    return round(time.perf_counter() - started, 2), box


def judge(prepared: Prepared, seconds: float, box: dict,
          shared_run: Inputs | None = None) -> Outcome:
    """The case's outcome and every promise it broke."""
    case, inputs = prepared.case, prepared.inputs
    result = Outcome(case.name, case.expect, seconds=seconds)
    if box.get("hang"):
        result.outcome, result.message = "hang", f"no answer within {TIMEOUT:.0f} s"
        return result
    after = snapshot(inputs.folder)
    result.files_touched = sum(prepared.before.get(k) != after.get(k) for k in prepared.before)
    if result.files_touched:
        result.problems.append(f"{result.files_touched} input file(s) changed or gone")
    if "traceback" in box:
        exc = box["traceback"]
        result.outcome = "traceback"
        result.message = f"{type(exc).__name__}: {exc}"
        result.problems.append(box["trace"].strip().splitlines()[-1][:200])
    elif "refused" in box:
        result.outcome, result.message = "refused", str(box["refused"])
        _judge_refusal(case, inputs, result, prepared.out_before)
    else:
        result.outcome = "accepted"
        try:
            _judge_acceptance(prepared, result, (shared_run or inputs).out)
        except Exception as exc:  # noqa: BLE001 -- a broken output is a broken promise
            result.problems.append(f"outputs unreadable: {type(exc).__name__}: {exc}"[:200])
        if shared_run is not None:
            result.message += " (in the shared run)"
    return result


def _run_pipeline(inputs: Inputs) -> dict:
    from reconcile.config import RunConfig
    from reconcile.pipeline import run_pipeline

    config = RunConfig(**{"kemensos": tuple(inputs.kemensos), "bps": inputs.bps,
                          "stats": inputs.stats, "out": inputs.out, "threads": 1,
                          "workers": 1, "partition_by": None, **inputs.options})
    return run_pipeline(config)


def _judge_refusal(case: Case, inputs: Inputs, result: Outcome,
                   out_before: dict | None) -> None:
    message = result.message
    for word in case.mentions:
        if word.lower() not in message.lower():
            result.problems.append(f"message does not name {word!r}")
    if len(message.splitlines()) > 10:
        result.problems.append(f"message has {len(message.splitlines())} lines")
    if FULL_NIK.search(message):
        result.problems.append("message shows a full NIK")
    published = snapshot(inputs.out) if inputs.out.is_dir() else None
    if published != out_before:
        result.problems.append("something was published in the output folder")


def _judge_acceptance(prepared: Prepared, result: Outcome, out: Path) -> None:
    inputs = prepared.inputs
    labels = {name: prepared.labels.get(name, name) for name in inputs.records}
    mine = set(labels.values()) if prepared.labels else None  # a shared run: my files only
    manifest = json.loads((out / "manifest.json").read_text())
    per_file = {r["source_file"]: r for r in manifest["rows_per_file"]}
    for label, row in per_file.items():
        if mine is not None and label not in mine:
            continue
        if not row["balanced"]:
            result.problems.append(f"{label}: read {row['rows_read']} != kept + quarantined")
            result.rows_lost += abs(row["rows_read"] - row["kept"] - row["quarantined"]
                                    - row["out_of_scope"])
    kept = quarantined_total = 0
    for name, written in inputs.records.items():
        row = per_file.get(labels[name], {})
        read = row.get("rows_read", 0)
        if read != written:
            result.problems.append(f"{name}: {written} records written, {read} read")
            result.rows_lost += max(written - read, 0)
        quarantined = row.get("quarantined", 0)
        allowed = inputs.max_quarantined.get(name, 0)
        if quarantined > allowed:
            result.problems.append(f"{name}: {quarantined} rows quarantined, at most "
                                   f"{allowed} expected")
            result.rows_lost += quarantined - allowed
        if name not in (BPS, STATS):
            kept, quarantined_total = kept + row.get("kept", 0), quarantined_total + quarantined
    result.message = f"{kept} reconciled, {quarantined_total} quarantined"
    reconciled = published(out, "reconciled.parquet")
    quarantine = published(out, "quarantine.parquet")
    if mine is not None:
        reconciled = reconciled[reconciled["source_file"].isin(mine)]
        quarantine = quarantine[quarantine["source_file"].isin(mine)]
    garbled = set(reconciled["nama"].dropna()) - inputs.names if "nama" in reconciled else ()
    if inputs.names and garbled:
        result.problems.append(f"{len(garbled)} name(s) not as written (garbled)")
    _check_xlsx(out / "report.xlsx", result)
    if inputs.check:
        try:
            inputs.check(reconciled, quarantine)
        except AssertionError as exc:
            result.problems.append(f"check: {exc}")


def published(out: Path, name: str) -> pd.DataFrame:
    """A published table (a file or a partitioned folder), empty when it has no rows."""
    path = out / name
    files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
    frames = [pq.read_table(f, partitioning=None).to_pandas() for f in files]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["source_file", "nama", "alamat", "id_penerima"])


def _check_xlsx(path: Path, result: Outcome) -> None:
    """Every XML part of the workbook parses (U+FFFF or a control character would not)."""
    with zipfile.ZipFile(path) as book:
        for name in book.namelist():
            if name.endswith(".xml") or name.endswith(".rels"):
                try:
                    ElementTree.fromstring(book.read(name))
                except ElementTree.ParseError as exc:
                    result.problems.append(f"report.xlsx {name}: invalid XML ({exc})")


# --------------------------------------------------------------------------- cases

@dataclass(frozen=True)
class Case:
    name: str
    group: str
    expect: str                              # "refused" or "accepted"
    build: Callable[[Inputs], None]
    mentions: tuple[str, ...] = ()           # words a refusal must contain
    note: str = ""


CASES: list[Case] = []


def case(group: str, expect: str, *mentions: str, note: str = ""):
    def register(fn: Callable[[Inputs], None]) -> Callable[[Inputs], None]:
        CASES.append(Case(fn.__name__, group, expect, fn, mentions, note))
        return fn
    return register


def _set(rows: list[dict], index: int, **values) -> list[dict]:
    rows = [dict(r) for r in rows]
    rows[index].update(values)
    return rows


def _lines_file(inputs: Inputs, lines: list[str], records: int, newline: str = "\n",
                name: str = KEMENSOS, quarantined: int = 0) -> None:
    inputs.write_kemensos(newline.join(lines) + newline, name=name, records=records)
    inputs.max_quarantined[name] = quarantined


# ---- CSV quoting

@case("csv", "accepted")
def baseline_clean(inputs: Inputs) -> None:
    """The clean files: the reference acceptance."""


@case("csv", "accepted", note="a quote opened and never closed mid-file costs its row")
def quote_unclosed_mid(inputs: Inputs) -> None:
    lines = inputs.lines()
    lines[10] = lines[10].replace(",", ',"', 3)
    _lines_file(inputs, lines, BASE_ROWS, quarantined=1)


@case("csv", "accepted")
def quote_unclosed_last_row(inputs: Inputs) -> None:
    lines = inputs.lines()
    lines[-1] = lines[-1].replace(",", ',"', 3)
    _lines_file(inputs, lines, BASE_ROWS, quarantined=1)


@case("csv", "accepted")
def quote_unclosed_twice(inputs: Inputs) -> None:
    lines = inputs.lines()
    for n in (5, 20):
        lines[n] = lines[n].replace(",", ',"', 2)
    _lines_file(inputs, lines, BASE_ROWS, quarantined=2)


@case("csv", "refused", KEMENSOS)
def quote_unclosed_in_header(inputs: Inputs) -> None:
    lines = inputs.lines()
    lines[0] = '"' + lines[0]
    _lines_file(inputs, lines, BASE_ROWS)


@case("csv", "accepted")
def quote_stray_inside_value(inputs: Inputs) -> None:
    lines = inputs.lines()
    lines[3] = lines[3].replace("NOËL", 'NO"EL', 1)
    inputs.names.add('NO"EL SIMANJUNTAK')
    _lines_file(inputs, lines, BASE_ROWS)
    inputs.names.add('NO"EL SIMANJUNTAK')


@case("csv", "accepted")
def quote_newline_in_value(inputs: Inputs) -> None:
    rows = _set(inputs.rows, 6, alamat="DUSUN II\nRT 001 RW 002")
    inputs.with_rows(rows)


@case("csv", "accepted")
def quote_doubled_inside(inputs: Inputs) -> None:
    rows = _set(inputs.rows, 7, nama='SITI "ENENG" AMINAH')
    inputs.with_rows(rows)


# ---- encodings

def _encoded(encoding: str, bom: bytes = b""):
    def build(inputs: Inputs) -> None:
        inputs.write_kemensos(bom + inputs.csv_text().encode(encoding))
    return build


for _name, _enc, _bom in (
        ("bom_utf8", "utf-8", b"\xef\xbb\xbf"),
        ("bom_utf8_twice", "utf-8", b"\xef\xbb\xbf\xef\xbb\xbf"),
        ("utf16le_with_bom", "utf-16-le", b"\xff\xfe"),
        ("utf16be_with_bom", "utf-16-be", b"\xfe\xff"),
        ("utf16le_without_bom", "utf-16-le", b""),
        ("utf16be_without_bom", "utf-16-be", b""),
        ("utf32le_with_bom", "utf-32-le", b"\xff\xfe\x00\x00"),
        ("latin1", "latin-1", b""),
        ("cp1252", "cp1252", b"")):
    CASES.append(Case(_name, "encoding", "accepted", _encoded(_enc, _bom)))


@case("encoding", "accepted", note="UTF-8 rows and Windows-1252 rows in one file")
def mixed_utf8_and_cp1252(inputs: Inputs) -> None:
    lines = inputs.lines()
    data = "\n".join(lines[:3]).encode() + b"\n" + "\n".join(lines[3:]).encode("cp1252")
    inputs.write_kemensos(data + b"\n")


@case("encoding", "accepted", note="an encoded lone surrogate costs its row, nothing else")
def utf8_lone_surrogate(inputs: Inputs) -> None:
    lines = inputs.lines()
    data = "\n".join(lines).encode().replace(b"ANDR\xc3\x89", b"ANDR\xed\xa0\x80", 1)
    inputs.write_kemensos(data + b"\n")
    inputs.max_quarantined[KEMENSOS] = 1


@case("encoding", "refused", KEMENSOS)
def declared_encoding_wrong(inputs: Inputs) -> None:
    mapping = inputs.folder / "mapping.toml"
    mapping.write_text('encoding = "ascii"\n')
    inputs.options["mapping"] = mapping


@case("encoding", "refused", KEMENSOS)
def declared_encoding_unknown(inputs: Inputs) -> None:
    mapping = inputs.folder / "mapping.toml"
    mapping.write_text('encoding = "klingon-8"\n')
    inputs.options["mapping"] = mapping


@case("encoding", "accepted")
def nul_byte_in_value(inputs: Inputs) -> None:
    rows = _set(inputs.rows, 8, nama="BUDI\x00SANTOSO")
    inputs.with_rows(rows)
    inputs.max_quarantined[KEMENSOS] = 1


@case("encoding", "refused", KEMENSOS)
def binary_junk(inputs: Inputs) -> None:
    inputs.write_kemensos(bytes(range(256)) * 64)


@case("encoding", "accepted")
def control_characters(inputs: Inputs) -> None:
    rows = _set(inputs.rows, 9, nama="BUDI\x1b[31m SANTOSO")
    rows = _set(rows, 10, alamat="RT 01\x07 RW 02")
    inputs.with_rows(rows)
    inputs.max_quarantined[KEMENSOS] = 2


@case("encoding", "accepted", note="U+FFFF in an id made report.xlsx invalid XML")
def uffff_in_id(inputs: Inputs) -> None:
    rows = _set(inputs.rows, 11, id_penerima="PBI\uffff-1")
    inputs.with_rows(rows)
    inputs.max_quarantined[KEMENSOS] = 1


@case("encoding", "accepted")
def ufffe_in_name(inputs: Inputs) -> None:
    rows = _set(inputs.rows, 12, nama="SITI\ufffe AMINAH")
    inputs.with_rows(rows)
    inputs.max_quarantined[KEMENSOS] = 1


@case("encoding", "accepted")
def zero_width_and_nbsp(inputs: Inputs) -> None:
    rows = _set(inputs.rows, 13, nama="SITI\u200b\u00a0AMINAH")
    inputs.with_rows(rows)
    inputs.names |= {"SITI\u200b AMINAH", "SITI\u200bAMINAH", "SITI\u200b\u00a0AMINAH"}


# ---- line endings and long lines

@case("lines", "accepted")
def crlf(inputs: Inputs) -> None:
    inputs.write_kemensos(inputs.csv_text(newline="\r\n"))


@case("lines", "accepted")
def cr_only(inputs: Inputs) -> None:
    inputs.write_kemensos(inputs.csv_text(newline="\r"))


@case("lines", "accepted")
def mixed_line_endings(inputs: Inputs) -> None:
    lines = inputs.lines()
    text = "".join(line + ("\r\n", "\n", "\r")[n % 3] for n, line in enumerate(lines))
    inputs.write_kemensos(text)


@case("lines", "accepted")
def blank_lines_between(inputs: Inputs) -> None:
    lines = inputs.lines()
    lines = lines[:5] + ["", "   "] + lines[5:] + ["", ""]
    _lines_file(inputs, lines, BASE_ROWS + 1, quarantined=1)  # "   " is a short record


@case("lines", "accepted")
def long_value_200k(inputs: Inputs) -> None:
    rows = _set(inputs.rows, 14, alamat="RT 01 " + "X" * 200_000)
    inputs.with_rows(rows)
    inputs.max_quarantined[KEMENSOS] = 1


@case("lines", "accepted")
def long_line_20mb(inputs: Inputs) -> None:
    rows = _set(inputs.rows, 15, alamat="Y" * 20_000_000)
    inputs.with_rows(rows)
    inputs.max_quarantined[KEMENSOS] = 1


@case("lines", "accepted")
def short_rows(inputs: Inputs) -> None:
    lines = inputs.lines()
    lines[4] = lines[4].rsplit(",", 3)[0]
    lines[9] = lines[9].split(",")[0]
    _lines_file(inputs, lines, BASE_ROWS, quarantined=2)


@case("lines", "accepted")
def extra_fields(inputs: Inputs) -> None:
    lines = inputs.lines()
    lines[4] += ",EXTRA,MORE"
    _lines_file(inputs, lines, BASE_ROWS, quarantined=1)


# ---- delimiters

for _name, _delim in (("semicolon_delimited", ";"), ("tab_delimited", "\t"),
                      ("pipe_delimited", "|")):
    CASES.append(Case(_name, "csv", "accepted",
                      lambda inputs, d=_delim: inputs.write_kemensos(
                          inputs.csv_text(delimiter=d))))


# ---- formulas

def _formula(value: str, column: str = "nama"):
    def build(inputs: Inputs) -> None:
        rows = _set(inputs.rows, 16, **{column: value})
        inputs.with_rows(rows)
        if column == "nama":
            inputs.names.add(value)

        def kept(table: pd.DataFrame, quarantine: pd.DataFrame) -> None:
            quarantined = len(quarantine)
            assert (table[column] == value).any() or quarantined == 1, \
                f"formula {value[:20]!r} neither kept as text nor quarantined"
        inputs.check = kept
    return build


for _name, _value, _column in (
        ("formula_hyperlink", '=HYPERLINK("http://evil.example/x","KLIK")', "nama"),
        ("formula_plus", "+SUM(1,2)", "nama"),
        ("formula_minus", "-2+3*CMD", "nama"),
        ("formula_at", "@SUM(A1:A9)", "nama"),
        ("formula_dde", "=cmd|' /C calc'!A0", "alamat"),
        ("formula_in_id", "=1+1", "id_penerima")):
    CASES.append(Case(_name, "formula", "accepted", _formula(_value, _column)))


# ---- headers

@case("header", "refused", KEMENSOS, "nama")
def header_duplicate_exact(inputs: Inputs) -> None:
    header = [*inputs.header, "nama"]
    rows = [{**r, "nama2": "LAIN"} for r in inputs.rows]
    inputs.write_kemensos(inputs.csv_text(rows, header=header))


@case("header", "refused", KEMENSOS, "nik")
def header_duplicate_normalised(inputs: Inputs) -> None:
    header = [*inputs.header, "NIK"]
    rows = [{**r, "nik2": "1"} for r in inputs.rows]
    inputs.write_kemensos(inputs.csv_text(rows, header=header))


@case("header", "refused", KEMENSOS, "nama")
def header_missing_required(inputs: Inputs) -> None:
    rows = [{k: v for k, v in r.items() if k != "nama"} for r in inputs.rows]
    inputs.write_kemensos(inputs.csv_text(rows, header=list(rows[0])))


@case("header", "accepted")
def header_extra_columns(inputs: Inputs) -> None:
    rows = [{**r, "keterangan": "x", "": ""} for r in inputs.rows]
    inputs.write_kemensos(inputs.csv_text(rows, header=list(rows[0])))


@case("header", "accepted")
def header_aliases_and_case(inputs: Inputs) -> None:
    header = ["ID DTKS" if h == "id_penerima" else "NIK_KTP" if h == "nik" else
              "Nama Lgkp" if h == "nama" else h.upper() for h in inputs.header]
    inputs.write_kemensos(inputs.csv_text(header=header))


@case("header", "accepted", note="files concatenated by hand repeat the header")
def header_repeated_mid_file(inputs: Inputs) -> None:
    lines = inputs.lines()
    lines.insert(20, lines[0])
    _lines_file(inputs, lines, BASE_ROWS + 1, quarantined=1)


@case("header", "accepted")
def header_repeated_many(inputs: Inputs) -> None:
    lines = inputs.lines()
    for at in (30, 20, 10):
        lines.insert(at, lines[0].upper())
    _lines_file(inputs, lines, BASE_ROWS + 3, quarantined=3)


@case("header", "refused", KEMENSOS)
def header_empty(inputs: Inputs) -> None:
    lines = inputs.lines()
    lines[0] = "," * (len(inputs.header) - 1)
    _lines_file(inputs, lines, BASE_ROWS)


@case("header", "refused", KEMENSOS)
def header_only_no_rows(inputs: Inputs) -> None:
    inputs.write_kemensos(inputs.lines()[0] + "\n", records=0)


# ---- register and statistics

@case("register", "refused", BPS, "id_individu", "row")
def register_duplicate_ids(inputs: Inputs) -> None:
    frame = inputs.register()
    frame.loc[5, "id_individu"] = frame.loc[3, "id_individu"]
    frame.to_parquet(inputs.bps)


@case("register", "refused", BPS)
def register_empty(inputs: Inputs) -> None:
    inputs.register().iloc[:0].to_parquet(inputs.bps)


@case("register", "refused", "bps_register.csv")
def register_header_only_csv(inputs: Inputs) -> None:
    path = inputs.folder / "bps_register.csv"
    path.write_text(",".join(inputs.register().columns) + "\n")
    inputs.bps = path


@case("register", "refused", BPS)
def register_no_ids(inputs: Inputs) -> None:
    frame = inputs.register()
    frame["id_individu"] = ""
    frame.to_parquet(inputs.bps)


@case("register", "refused", BPS, "desil")
def register_missing_column(inputs: Inputs) -> None:
    inputs.register().drop(columns="desil").to_parquet(inputs.bps)


@case("register", "accepted", note="numbers where text belongs: flagged, not guessed")
def register_numeric_types(inputs: Inputs) -> None:
    frame = inputs.register()
    frame["desil"] = frame["desil"].astype(int)
    frame["nik"] = frame["nik"].astype(float)
    frame.to_parquet(inputs.bps)


@case("register", "accepted")
def register_as_csv(inputs: Inputs) -> None:
    path = inputs.folder / "bps_register.csv"
    inputs.register().to_csv(path, index=False)
    inputs.records.pop(BPS)
    inputs.records["bps_register.csv"] = len(inputs.register())
    inputs.bps = path


@case("register", "accepted", note="a duplicated beneficiary is a finding, not an error")
def kemensos_duplicate_ids(inputs: Inputs) -> None:
    rows = [*inputs.rows, inputs.rows[0]]
    inputs.with_rows(rows)


@case("register", "refused", KEMENSOS)
def kemensos_nothing_usable(inputs: Inputs) -> None:
    rows = [{**r, "nik": "", "nama": ""} for r in inputs.rows]
    inputs.with_rows(rows)


def _stats_lines(inputs: Inputs) -> list[str]:
    return inputs.stats.read_text(encoding="utf-8").strip().splitlines()


@case("stats", "refused", STATS, "kode_wilayah", "row")
def stats_duplicate_region(inputs: Inputs) -> None:
    lines = _stats_lines(inputs)
    inputs.write_stats("\n".join([*lines, lines[1]]) + "\n")


def _set_stats_cell(inputs: Inputs, line: int, column: int, value: str) -> None:
    """Write the statistics file with one cell (line 0 is the header) replaced."""
    lines = _stats_lines(inputs)
    cells = lines[line].split(",")
    cells[column] = f'"{value}"'
    lines[line] = ",".join(cells)
    inputs.write_stats("\n".join(lines) + "\n")


@case("stats", "refused", STATS, "penduduk_miskin", "row 3")
def stats_negative_count(inputs: Inputs) -> None:
    _set_stats_cell(inputs, 2, 3, "-364")


@case("stats", "refused", STATS, "penduduk_miskin", "row 2")
def stats_non_numeric_count(inputs: Inputs) -> None:
    _set_stats_cell(inputs, 1, 3, "banyak")


@case("stats", "refused", STATS, "persen_miskin", "row 2")
def stats_percent_over_100(inputs: Inputs) -> None:
    _set_stats_cell(inputs, 1, 4, "150.5")


@case("stats", "refused", STATS, "penduduk_miskin", "row 2")
def stats_poor_over_population(inputs: Inputs) -> None:
    _set_stats_cell(inputs, 1, 3, "999999")


@case("stats", "refused", STATS)
def stats_empty(inputs: Inputs) -> None:
    inputs.write_stats(_stats_lines(inputs)[0] + "\n")


@case("stats", "accepted", note="a region code not in Kemendagri's list is quarantined")
def stats_unknown_region(inputs: Inputs) -> None:
    lines = _stats_lines(inputs)
    inputs.write_stats("\n".join([*lines, '"99.99","2024","100","10","10.0","1.0"']) + "\n")
    inputs.records[STATS] += 1
    inputs.max_quarantined[STATS] = 1


# ---- files

@case("file", "refused", "missing.csv")
def file_missing(inputs: Inputs) -> None:
    inputs.kemensos = [inputs.folder / "missing.csv"]


@case("file", "refused", "a_folder.csv")
def file_is_directory(inputs: Inputs) -> None:
    (inputs.folder / "a_folder.csv").mkdir()
    inputs.kemensos = [inputs.folder / "a_folder.csv"]


@case("file", "refused", "pipe.csv", note="a FIFO used to hang the reader forever")
def file_is_fifo(inputs: Inputs) -> None:
    os.mkfifo(inputs.folder / "pipe.csv")
    inputs.kemensos = [inputs.folder / "pipe.csv"]


@case("file", "refused", "/dev/zero")
def file_is_device(inputs: Inputs) -> None:
    inputs.stats = Path("/dev/zero")


@case("file", "refused", "loop.csv")
def file_symlink_loop(inputs: Inputs) -> None:
    (inputs.folder / "loop.csv").symlink_to(inputs.folder / "loop2.csv")
    (inputs.folder / "loop2.csv").symlink_to(inputs.folder / "loop.csv")
    inputs.kemensos = [inputs.folder / "loop.csv"]


@case("file", "accepted")
def file_symlink_to_file(inputs: Inputs) -> None:
    link = inputs.folder / "kemensos_link.csv"
    link.symlink_to(inputs.kemensos[0])
    inputs.kemensos = [link]
    inputs.records = {"kemensos_link.csv": BASE_ROWS}


@case("file", "refused", KEMENSOS)
def file_zero_bytes(inputs: Inputs) -> None:
    inputs.write_kemensos(b"")


@case("file", "refused", KEMENSOS)
def file_only_blank_lines(inputs: Inputs) -> None:
    inputs.write_kemensos("\n \n\r\n\t\n")


@case("file", "refused", STATS)
def stats_zero_bytes(inputs: Inputs) -> None:
    inputs.write_stats("")


def _xlsx(inputs: Inputs, name: str, rows: list[list]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    path = inputs.folder / name
    book.save(path)
    return path


@case("xlsx", "accepted")
def xlsx_clean(inputs: Inputs) -> None:
    rows = [inputs.header, *[list(r.values()) for r in inputs.rows]]
    inputs.kemensos = [_xlsx(inputs, "kemensos_pkh.xlsx", rows)]
    inputs.records = {"kemensos_pkh.xlsx": BASE_ROWS}


@case("xlsx", "accepted", note="formulas without a saved value used to become blank")
def xlsx_formulas_without_values(inputs: Inputs) -> None:
    rows = [inputs.header, *[list(r.values()) for r in inputs.rows]]
    formula = '=HYPERLINK("http://evil.example","KLIK")'
    rows[3][3] = formula
    rows[5][6] = "=1+1"
    inputs.kemensos = [_xlsx(inputs, "kemensos_pkh.xlsx", rows)]
    inputs.records = {"kemensos_pkh.xlsx": BASE_ROWS}
    inputs.names.add(formula)

    def kept(table: pd.DataFrame, quarantine: pd.DataFrame) -> None:
        assert (table["nama"] == formula).any(), "the formula in nama became blank"
        assert (table["alamat"] == "=1+1").any(), "the formula in alamat became blank"
    inputs.check = kept


@case("xlsx", "accepted")
def xlsx_with_empty_sheet(inputs: Inputs) -> None:
    import openpyxl

    path = _xlsx(inputs, "kemensos_pkh.xlsx",
                 [inputs.header, *[list(r.values()) for r in inputs.rows]])
    book = openpyxl.load_workbook(path)
    book.create_sheet("Catatan")
    book.save(path)
    inputs.kemensos = [path]
    inputs.records = {"kemensos_pkh.xlsx#Sheet": BASE_ROWS}


def _bomb(inputs: Inputs, name: str, lie: bool = False) -> Path:
    """A workbook whose sheet inflates from about 100 KB to 100 MB (or, with `lie`, whose
    zip headers claim a few bytes)."""
    good = _xlsx(inputs, "good.xlsx", [inputs.header, *[list(r.values()) for r in inputs.rows]])
    path = inputs.folder / name
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(path, "w",
                                                          zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                head, tail = data.split(b"</sheetData>")
                row = b'<row><c t="inlineStr"><is><t>' + b"A" * 1000 + b"</t></is></c></row>"
                data = head + row * 100_000 + b"</sheetData>" + tail
            target.writestr(item, data)
    good.unlink()
    if lie:
        _shrink_declared_sizes(path, "xl/worksheets/sheet1.xml")
    return path


def _shrink_declared_sizes(path: Path, member: str) -> None:
    """Patch the zip so `member` claims an uncompressed size of 1000 bytes."""
    import struct

    data = bytearray(path.read_bytes())
    name = member.encode()
    local = data.find(b"PK\x03\x04" + b"\x00" * 0)
    while local != -1:
        if data[local + 30:local + 30 + len(name)] == name:
            struct.pack_into("<I", data, local + 22, 1000)
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        if data[central + 46:central + 46 + len(name)] == name:
            struct.pack_into("<I", data, central + 24, 1000)
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))


@case("xlsx", "refused", "kemensos_bomb.xlsx", note="used to allocate 4.2 GB or hang")
def xlsx_zip_bomb(inputs: Inputs) -> None:
    inputs.kemensos = [_bomb(inputs, "kemensos_bomb.xlsx")]


@case("xlsx", "refused", "kemensos_liar.xlsx")
def xlsx_zip_bomb_lying_sizes(inputs: Inputs) -> None:
    inputs.kemensos = [_bomb(inputs, "kemensos_liar.xlsx", lie=True)]


@case("xlsx", "refused", "kemensos_pkh.xlsx")
def xlsx_really_csv(inputs: Inputs) -> None:
    path = inputs.folder / "kemensos_pkh.xlsx"
    path.write_text(inputs.csv_text())
    inputs.kemensos = [path]


@case("xlsx", "refused", "kemensos_pkh.xlsx")
def xlsx_truncated(inputs: Inputs) -> None:
    path = _xlsx(inputs, "kemensos_pkh.xlsx",
                 [inputs.header, *[list(r.values()) for r in inputs.rows]])
    path.write_bytes(path.read_bytes()[:3000])
    inputs.kemensos = [path]


@case("file", "refused", BPS)
def parquet_truncated(inputs: Inputs) -> None:
    inputs.bps.write_bytes(inputs.bps.read_bytes()[:5000])


@case("file", "refused", "bps_register_csv.parquet")
def parquet_really_csv(inputs: Inputs) -> None:
    path = inputs.folder / "bps_register_csv.parquet"
    inputs.register().to_csv(path, index=False)
    inputs.bps = path


@case("file", "refused", "kemensos_parquet.csv")
def csv_really_parquet(inputs: Inputs) -> None:
    path = inputs.folder / "kemensos_parquet.csv"
    pd.DataFrame(inputs.rows).to_parquet(path)
    inputs.kemensos = [path]


@case("file", "refused", "kemensos_pkh.json")
def wrong_extension(inputs: Inputs) -> None:
    path = inputs.folder / "kemensos_pkh.json"
    path.write_text(json.dumps(inputs.rows))
    inputs.kemensos = [path]


@case("file", "refused", "kemensos_pkh")
def no_extension(inputs: Inputs) -> None:
    path = inputs.folder / "kemensos_pkh"
    path.write_text(inputs.csv_text())
    inputs.kemensos = [path]


@case("file", "accepted", note="two regencies' exports may share a file name")
def same_name_in_two_folders(inputs: Inputs) -> None:
    for part, rows in (("a", inputs.rows[:20]), ("b", inputs.rows[20:])):
        (inputs.folder / part).mkdir()
        (inputs.folder / part / KEMENSOS).write_text(inputs.csv_text(rows))
    inputs.kemensos = [inputs.folder / "a" / KEMENSOS, inputs.folder / "b" / KEMENSOS]
    inputs.records = {f"a/{KEMENSOS}": 20, f"b/{KEMENSOS}": 20}


@case("file", "refused", KEMENSOS)
def same_file_twice(inputs: Inputs) -> None:
    inputs.kemensos = [inputs.kemensos[0], inputs.kemensos[0]]


@case("file", "refused", "out")
def out_is_an_input_file(inputs: Inputs) -> None:
    inputs.out = inputs.kemensos[0]


@case("file", "refused", "out")
def out_is_someone_elses_folder(inputs: Inputs) -> None:
    inputs.out.mkdir()
    (inputs.out / "thesis.docx").write_text("years of work")


# ---- options

def _option(**options):
    def build(inputs: Inputs) -> None:
        inputs.options.update(options)
    return build


for _name, _options, _mentions in (
        ("eligibility_not_an_object", {"eligibility": [1, 2]}, ("--eligibility",)),
        ("eligibility_unknown_setting", {"eligibility": {"cutof": {"PKH": 4}}},
         ("--eligibility",)),
        ("eligibility_desil_out_of_range", {"eligibility": {"cutoff": {"PKH": 11}}},
         ("--eligibility",)),
        ("eligibility_boolean_desil", {"eligibility": {"default_cutoff": True}},
         ("--eligibility",)),
        ("eligibility_negative_benefit", {"eligibility": {"benefit": {"PKH": -5}}},
         ("--eligibility",)),
        ("eligibility_cutoff_not_object", {"eligibility": {"cutoff": 4}}, ("--eligibility",)),
        ("region_malformed", {"regions": ("17'; DROP TABLE x; --",)}, ("--region",)),
        ("region_unknown", {"regions": ("99",)}, ("--region", "99")),
        ("threshold_above_one", {"matching": {"link_threshold": 1.5}}, ("link_threshold",)),
        ("threshold_negative", {"matching": {"review_threshold": -0.1}},
         ("review_threshold",)),
        ("threshold_nan", {"matching": {"link_threshold": float("nan")}},
         ("link_threshold",)),
        ("threshold_text", {"matching": {"dedupe_threshold": "high"}},
         ("dedupe_threshold",)),
        ("threshold_review_above_link",
         {"matching": {"link_threshold": 0.6, "review_threshold": 0.8}},
         ("review_threshold",)),
        ("matching_unknown_setting", {"matching": {"no_such": 1}}, ("no_such",)),
        ("retention_zero_days", {"retention_days": 0}, ("retention",)),
):
    CASES.append(Case(_name, "option", "refused", _option(**_options), _mentions))


@case("option", "refused", "k-anonymity")
def k_anonymity_one(inputs: Inputs) -> None:
    inputs.options.update(pseudonymise=True, k_anonymity=1)
    inputs.env["RECONCILE_HMAC_KEY"] = STRONG_KEY


def _key(value: str | None):
    def build(inputs: Inputs) -> None:
        inputs.options["pseudonymise"] = True
        inputs.env["RECONCILE_HMAC_KEY"] = value if value is not None else ""
    return build


for _name, _value in (("hmac_key_missing", None), ("hmac_key_weak_repeated", "a" * 16),
                      ("hmac_key_short", "s3cr3t"), ("hmac_key_weak_pattern", "abcd" * 8)):
    CASES.append(Case(_name, "option", "refused", _key(_value), ("RECONCILE_HMAC_KEY",)))
CASES.append(Case("hmac_key_strong", "option", "accepted", _key(STRONG_KEY)))


def _mapping(text: str, name: str = "mapping.toml"):
    def build(inputs: Inputs) -> None:
        path = inputs.folder / name
        path.write_text(text)
        inputs.options["mapping"] = path
    return build


for _name, _text, _mentions in (
        ("mapping_not_toml", "[columns\nnik = ", ("mapping.toml",)),
        ("mapping_missing_header", '[columns]\nnik = "NOMOR INDUK"\n', ("mapping.toml", "nik")),
        ("mapping_bad_delimiter", 'delimiter = ";;"\n', ("mapping.toml", "delimiter")),
        ("mapping_columns_not_table", 'columns = "nik"\n', ("mapping.toml",)),
):
    CASES.append(Case(_name, "option", "refused", _mapping(_text), _mentions))


@case("option", "refused", "kemensos_pkh.xlsx", "Daftar")
def mapping_missing_sheet(inputs: Inputs) -> None:
    xlsx_clean(inputs)
    _mapping('sheet = "Daftar"\n')(inputs)


# --------------------------------------------------------------------------- report

def summary(results: list[Outcome]) -> str:
    """The corpus table and its counts, as printed by the test."""
    width = max(len(r.name) for r in results)
    lines = [f"{'case':<{width}}  {'expected':<9} {'outcome':<9} {'s':>5}  message (first line)"]
    for r in results:
        flag = "" if r.ok else "  <-- " + "; ".join(r.problems or [f"expected {r.expected}"])
        lines.append(f"{r.name:<{width}}  {r.expected:<9} {r.outcome:<9} {r.seconds:>5.1f}  "
                     f"{r.first_line()}{flag}")
    counts = {kind: sum(r.outcome == kind for r in results)
              for kind in ("refused", "accepted", "traceback", "hang")}
    lines.append("")
    lines.append(f"cases {len(results)}: clean refusals {counts['refused']}, clean acceptances "
                 f"{counts['accepted']}, tracebacks {counts['traceback']}, hangs "
                 f"{counts['hang']}, rows lost {sum(r.rows_lost for r in results)}, "
                 f"user files moved or deleted {sum(r.files_touched for r in results)}, "
                 f"broken promises {sum(not r.ok for r in results)}")
    return "\n".join(lines)
