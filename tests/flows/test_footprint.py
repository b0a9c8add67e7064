"""Footprint: after a normal, a killed and a failed run, personal data is only where the
README says it is, and owner-only there.

Every file left under the output's parent folder (outputs, versions, state, lock),
Prefect's home and the runs' private TMPDIR is searched for the inputs' NIKs, KK numbers
and names: as bytes, as Parquet and DuckDB values and as the members of zip files. New
entries in the shared system temp folder (other processes write there too, some with
generated data of their own) are searched, as bytes, for a random word added to every
input name, which no other data holds. The inputs are made harder than the generator's: one program's
export uses the NIK as its id column, one NIK is typed in 110 rows (a capped blocking
key), and one line does not parse.
"""

from __future__ import annotations

import csv
import os
import re
import secrets
import signal
import string
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

pytestmark = [pytest.mark.flow, pytest.mark.slow]

PROJECT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 240
PLANTED_ROWS = 110
SYSTEM_TEMP = Path(tempfile.gettempdir())
SHARED_MAX_BYTES = 64 << 20  # other processes' big files there are not ours to read
# Identified by design (README "Personal data"): the analysts' identified table, the
# restricted copy and the identity state. Paths relative to the output's parent.
IDENTIFIED = (r"\.out\.versions/[^/.][^/]*/(reconciled\.parquet|restricted)/.*",
              r"\.out\.state/identity-[^/]+\.duckdb")
# What a killed run leaves (owner-only) until the next run starts and removes it.
DEAD_RUN = r"\.out\.versions/\.(tmp|work|parts)-[^/]+(/.*)?"


# --- inputs ---------------------------------------------------------------------------

def _hard_inputs(data: Path, inbox: Path) -> str:
    """The generated inputs, with the NIK as PKH's id, a NIK in 110 rows, a broken line,
    and a random word added to every name; return that word."""
    inbox.mkdir()
    word = "".join(secrets.choice(string.ascii_uppercase) for _ in range(12))
    duckdb.sql("SELECT * REPLACE (nama || ' ' || $w AS nama) FROM read_parquet($p)",
               params={"w": word, "p": str(data / "bps_register.parquet")}
               ).write_parquet(str(inbox / "bps_register.parquet"))
    (inbox / "bps_poverty_stats.csv").write_bytes((data / "bps_poverty_stats.csv").read_bytes())
    for path in data.glob("kemensos_*.csv"):
        _rewrite(path, inbox / path.name, word)
    return word


def _rewrite(source: Path, target: Path, word: str) -> None:
    """One Kemensos export with `word` in every name; PKH's also made harder."""
    with source.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["nama"] = f"{row['nama']} {word}" if row["nama"] else row["nama"]
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(_harder(rows) if "pkh" in target.name else rows)
        if "pkh" in target.name:  # a line with one field too many
            handle.write(",".join(f'"{v}"' for v in rows[1].values()) + ',"EXTRA"\n')


def _harder(rows: list[dict]) -> list[dict]:
    """The NIK as the id column where it is unique, and one NIK typed in 110 rows."""
    niks = [r["nik"] for r in rows]
    for row in rows:
        if re.fullmatch("[0-9]{16}", row["nik"]) and niks.count(row["nik"]) == 1:
            row["id_penerima"] = row["nik"]
    for row in rows[-PLANTED_ROWS:]:
        row["nik"] = rows[0]["nik"]
    return rows


def _broken_register(inbox: Path, target: Path) -> Path:
    """The register with two rows sharing one id, itself a NIK: it is refused."""
    target.mkdir()
    for path in inbox.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    register = target / "bps_register.parquet"
    duckdb.sql("SELECT * EXCLUDE (rn, first_nik) REPLACE (CASE WHEN rn <= 2 THEN first_nik "
               "ELSE id_individu END AS id_individu) FROM (SELECT *, row_number() OVER () "
               "AS rn, first(nik) OVER () AS first_nik FROM read_parquet($p))",
               params={"p": str(inbox / "bps_register.parquet")}).write_parquet(str(register))
    return target


def _personal(inbox: Path) -> tuple[set[str], set[str]]:
    """(every 16-digit NIK and KK number, every name of two words or more) of the inputs."""
    rows = duckdb.sql("SELECT nik, no_kk, nama FROM read_parquet($p)",
                      params={"p": str(inbox / "bps_register.parquet")}).fetchall()
    for path in inbox.glob("kemensos_*.csv"):
        with path.open(newline="") as handle:
            rows += [(r["nik"], r["no_kk"], r["nama"]) for r in csv.DictReader(handle)]
    numbers, names = set(), set()
    for nik, kk, nama in rows:
        numbers |= {re.sub("[^0-9]", "", v) for v in (nik, kk) if v}
        names.add(_words(nama or ""))
    numbers = {n for n in numbers if len(n) == 16 and len(set(n)) > 1}
    return numbers, {n for n in names if n.count(" ") >= 1}


def _words(text: str) -> str:
    return " ".join(w for w in re.split(r"[^A-Z]+", text.upper()) if len(w) > 1)


# --- runs -----------------------------------------------------------------------------

def _command(data: Path, out: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "flows.cli", "run",
            "--kemensos", *map(str, sorted(data.glob("kemensos_*.csv"))),
            "--bps", str(data / "bps_register.parquet"),
            "--stats", str(data / "bps_poverty_stats.csv"), "--out", str(out), *options]


def _env(root: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    return {**env, "PREFECT_HOME": str(root / "prefect"), "TMPDIR": str(root / "tmp"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def _run(command: list[str], root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=_env(root), cwd=PROJECT, capture_output=True,
                          text=True, timeout=RUN_TIMEOUT)


def _killed_run(command: list[str], root: Path, versions: Path) -> None:
    """Start a run in its own process group; kill -9 the group once its work database
    holds the inputs (Prefect's temporary server dies with it)."""
    process = subprocess.Popen(command, env=_env(root), cwd=PROJECT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not list(versions.glob(".work-*.duckdb")) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # into validation or matching
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


# --- the search -----------------------------------------------------------------------

def _texts(path: Path) -> str | None:
    """A file's bytes as text plus its decoded values; None for a database that cannot
    be opened (counted as holding personal data)."""
    data = path.read_bytes()
    parts = [data.decode("latin-1")]
    try:
        if data[:4] == b"PAR1":
            rows = duckdb.sql("SELECT * FROM read_parquet($p)",
                              params={"p": str(path)}).fetchall()
            parts += [str(v) for row in rows for v in row if v is not None]
        if data[:2] == b"PK":
            with zipfile.ZipFile(path) as book:
                parts += [book.read(n).decode("utf-8", "replace") for n in book.namelist()]
        if data[8:12] == b"DUCK":
            parts += _duckdb_values(path)
    except (duckdb.Error, zipfile.BadZipFile):  # half-written by a killed run
        return None
    return "\n".join(parts)


def _duckdb_values(path: Path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        return [str(v) for (t,) in tables for row in con.execute(f'SELECT * FROM "{t}"')
                .fetchall() for v in row if v is not None]


def _found(text: str, numbers: set[str], names: set[str]) -> set[str]:
    """The inputs' identifiers and names that occur in `text` (names as whole words)."""
    digits = {run[i:i + 16] for run in re.findall("[0-9]{16,}", text)
              for i in range(len(run) - 15)}
    firsts = {n.split(" ", 1)[0] for n in names}
    longest = max(n.count(" ") + 1 for n in names)
    words = _words(text).split()
    grams = {" ".join(words[i:i + n]) for i, w in enumerate(words) if w in firsts
             for n in range(2, longest + 1)}
    return (digits & numbers) | (grams & names)


def _files(roots: list[Path]) -> list[Path]:
    """Every regular file under `roots` (files among them included), links not followed."""
    found = []
    for root in roots:
        walk = os.walk(root) if root.is_dir() else [(root.parent, [], [root.name])]
        for folder, _dirs, files in walk:
            paths = (Path(folder) / name for name in files)
            found += [p for p in paths if not p.is_symlink() and p.is_file()]
    return found


def _holds_word(path: Path, word: str) -> bool:
    """Whether a file of the shared temp folder holds `word` (its bytes, as written)."""
    try:
        return path.stat().st_size < SHARED_MAX_BYTES and word.encode() in path.read_bytes()
    except OSError:  # gone meanwhile, or not ours to read
        return False


def _holders(roots: list[Path], numbers: set[str], names: set[str]) -> dict[Path, set]:
    """Every file under `roots` that holds personal data, with a few of the values."""
    holders = {}
    for path in _files(roots):
        text = _texts(path)
        found = {"<unreadable database>"} if text is None else _found(text, numbers, names)
        if found:
            holders[path] = set(sorted(found)[:3])
    return holders


def _owner_only(path: Path, top: Path) -> bool:
    """The file and every folder up to `top` are closed to group and others."""
    return all(p.lstat().st_mode & 0o077 == 0
               for p in (path, *path.parents) if top in p.parents)


@dataclass
class Search:
    """What to look for, and where besides the output's parent folder."""

    numbers: set[str]
    names: set[str]
    word: str                 # in every input name
    private: list[Path]       # Prefect's home and the runs' TMPDIR
    system_before: set[str]   # the system temp folder's entries before the runs

    def shared(self) -> list[Path]:
        """New entries of the system temp folder (any process's)."""
        return [SYSTEM_TEMP / n for n in set(os.listdir(SYSTEM_TEMP)) - self.system_before]


def _check(work: Path, search: Search, allowed: tuple[str, ...]) -> dict[str, set]:
    """Assert personal data only in `allowed` places, all owner-only; return what held it."""
    holders = _holders([work, *search.private], search.numbers, search.names)
    shared = [str(p) for p in _files(search.shared()) if _holds_word(p, search.word)]
    assert not shared, shared
    outside = {str(p): v for p, v in holders.items() if work not in p.parents}
    assert not outside, outside
    where = {p.relative_to(work).as_posix(): v for p, v in holders.items()}
    unexpected = {p: v for p, v in where.items()
                  if not any(re.fullmatch(rule, p) for rule in allowed)}
    assert not unexpected, unexpected
    assert all(_owner_only(p, work) for p in holders), {
        str(p): oct(p.stat().st_mode) for p in holders if not _owner_only(p, work)}
    return where


def test_personal_data_stays_in_the_identified_outputs(small_data, tmp_path):
    inbox, work, root = tmp_path / "inbox", tmp_path / "work", tmp_path / "env"
    (root / "tmp").mkdir(parents=True)
    before = set(os.listdir(SYSTEM_TEMP))
    word = _hard_inputs(small_data, inbox)
    numbers, names = _personal(inbox)
    assert len(numbers) > 1000 and len(names) > 1000
    search = Search(numbers, names, word, [root], before)
    out, versions = work / "out", work / ".out.versions"

    normal = _run(_command(inbox, out), root)
    assert normal.returncode == 0, normal.stderr[-2000:]
    after_normal = _check(work, search, IDENTIFIED)
    assert any(p.endswith(".duckdb") for p in after_normal)  # the identity state
    # the review workbooks and queue hold names: owner-only, in restricted/ only
    assert any("/restricted/review/review-" in p for p in after_normal)
    assert any(p.endswith("/restricted/review/queue.parquet") for p in after_normal)
    manifest = (out / "manifest.json").read_text()
    assert re.search(r'"key": "[0-9]{4}\*{8}[0-9]{4}"', manifest)  # the planted NIK, masked
    assert all(_owner_only(p, work) for p in versions.rglob("*"))  # every output

    _killed_run(_command(inbox, out, "--force"), root, versions)
    after_kill = _check(work, search, (*IDENTIFIED, DEAD_RUN))
    assert any(re.fullmatch(DEAD_RUN, p) for p in after_kill)  # the killed run's work db

    broken = _broken_register(inbox, tmp_path / "broken")
    failed = _run(_command(broken, out, "--force"), root)
    assert failed.returncode != 0 and "id_individu repeats" in failed.stderr
    assert not _found(failed.stdout + failed.stderr, numbers, names) and word not in (
        failed.stdout + failed.stderr)
    after_fail = _check(work, search, IDENTIFIED)
    assert not any(re.fullmatch(DEAD_RUN, p) for p in after_fail)  # removed at the start
    print("\nfootprint:", {"normal": sorted(after_normal), "killed": sorted(after_kill),
                           "failed": sorted(after_fail)})


# --- modes and temporary files (in-process) -------------------------------------------

def _modes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): oct(p.stat().st_mode & 0o777)
            for p in [folder, *folder.rglob("*")]}


def test_every_output_is_owner_only_and_temp_files_stay_in_the_staging(run_config, small_data,
                                                                       tmp_path, monkeypatch):
    from openpyxl.worksheet import _writer

    from reconcile.pipeline import run_pipeline

    made = []
    original = _writer.create_temporary_file
    monkeypatch.setattr(_writer, "create_temporary_file",
                        lambda suffix="": made.append(original(suffix)) or made[-1])
    umask = os.umask(0o022)
    try:
        result = run_pipeline(run_config(small_data, tmp_path / "out"))
    finally:
        assert os.umask(umask) == 0o022  # the caller's umask is given back
    version = tmp_path / ".out.versions" / result["run_id"]
    modes = _modes(version)
    assert {m for p, m in modes.items() if (version / p).is_dir()} == {"0o700"}, modes
    assert {m for p, m in modes.items() if (version / p).is_file()} == {"0o600"}, modes
    assert oct(version.parent.stat().st_mode & 0o777) == "0o700"
    staging = version.parent / f".tmp-{result['run_id']}"
    assert made and all(Path(f).parent == staging / ".tmp" for f in made)  # openpyxl's
    assert not (version / ".tmp").exists()


def test_public_reports_open_only_the_public_files(run_config, small_data, tmp_path):
    from reconcile.pipeline import run_pipeline
    from reconcile.publish import PUBLIC_FILES

    result = run_pipeline(run_config(small_data, tmp_path / "out", public_reports=True))

    version = tmp_path / ".out.versions" / result["run_id"]
    modes = _modes(version)
    opened = {p for p, m in modes.items() if (version / p).is_file() and m != "0o600"}
    assert opened == set(PUBLIC_FILES) and {modes[p] for p in opened} == {"0o644"}
    assert modes["."] == oct(version.parent.stat().st_mode & 0o777) == "0o711"
    assert modes["reconciled.parquet"] == "0o700"
