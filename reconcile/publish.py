"""Safe output folders: one writer at a time, atomic publication, nothing half-written.

A run writes into a fresh version folder beside the target and, only when every file is
complete, flips the target (a symlink) to it with one atomic `os.replace`. A run that
dies at any moment leaves the previously published output untouched.

State the next run needs but nobody else may read (the identity state and the secret
keying it) lives in an owner-only sibling folder, never in the published outputs.

Everything a run writes is owner-only (files 0600, folders 0700): work databases, staging,
temporary files and outputs hold NIKs and names. Only the public report files can be
opened to others, and only when the run is told to (`public_reports`).
"""

from __future__ import annotations

import errno
import fcntl
import grp
import os
import re
import shutil
import stat
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconcile.errors import InputError, RunRefused

KEEP_VERSIONS = 3
STATE_PREFIX = "identity-"
# Readable by others with public_reports: aggregate or masked, never a name or full NIK.
PUBLIC_FILES = ("report.html", "report.xlsx", "region_summary.parquet",
                "discrepancies.parquet")
PRIVATE_FILE, PRIVATE_FOLDER = 0o600, 0o700
PUBLIC_FILE, TRAVERSE_ONLY = 0o644, 0o711
DEAD_RUN_PATTERNS = (".tmp-*", ".work-*", ".parts-*")  # what a killed run leaves behind
MARKER = ".reconcile-output"  # in the versions folder: this tool made the output
NOT_OURS = ("choose a new or empty folder (nothing was moved or deleted)")


@contextmanager
def owner_only() -> Iterator[None]:
    """Files and folders created during a run are owner-only (umask 077): a run killed
    at any moment leaves nothing others can read. The previous umask comes back after."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


@contextmanager
def private_temp(stage: Path) -> Iterator[Path]:
    """Temporary files of libraries (openpyxl's worksheets) go to an owner-only folder in
    the staging folder instead of the shared system temp folder, and go with it."""
    folder = stage / ".tmp"
    folder.mkdir(mode=PRIVATE_FOLDER)
    previous, tempfile.tempdir = tempfile.tempdir, str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(folder, ignore_errors=True)


def new_run_id() -> str:
    """Sortable, unique run id such as 20261122T020000Z-3f9a1c."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def versions_dir(out: Path) -> Path:
    """Hidden sibling folder holding the published versions of `out`."""
    return out.parent / f".{out.name}.versions"


def state_folder(out: Path) -> Path:
    """Where the identity state of `out`'s versions lives (see state_dir)."""
    return out.parent / f".{out.name}.state"


def state_dir(out: Path) -> Path:
    """The owner-only (0700) state folder of `out`, created if needed and checked ours."""
    folder = state_folder(out)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        folder.mkdir(mode=PRIVATE_FOLDER)
    own_folder(folder, "the identity state can be kept private")
    folder.chmod(PRIVATE_FOLDER)
    return folder


def own_folder(folder: Path, why: str) -> None:
    """Refuse a folder that is a link or not ours: a planted one would receive our files."""
    info = folder.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) \
            or info.st_uid != os.getuid():
        raise RunRefused(f"{folder} is not a folder owned by this user (a link, or made by "
                         f"someone else); move it away so {why}")


def check_output(out: Path, inputs: tuple[Path, ...]) -> None:
    """Refuse an output folder that is not ours, or that holds an input, before anything
    runs: publishing replaces `out` and pruning deletes versions, so `out` must be new,
    empty, or made by this tool (its versions folder carries MARKER)."""
    for path in inputs:
        if _inside(path, out):
            raise InputError(f"--out {out}: the input {path} is inside the output folder "
                             f"(or is it); keep inputs outside it, {NOT_OURS}",
                             f"--out {out}: masukan {path} ada di dalam folder keluaran; "
                             "simpan masukan di luarnya, atau pilih folder keluaran lain")
    if not os.path.lexists(out) or _ours(out):
        return
    if out.is_dir() and not out.is_symlink() and not any(out.iterdir()):
        return
    raise InputError(f"--out {out}: exists and was not made by reconcile (no {MARKER} in "
                     f"{versions_dir(out).name}); {NOT_OURS}", f"--out {out}: sudah ada dan "
                     "bukan buatan reconcile; pilih folder baru atau folder kosong")


def _inside(path: Path, out: Path) -> bool:
    """Whether `path` is `out`, or lies in it, its versions or its state."""
    ours = (out, versions_dir(out), state_folder(out))
    candidates = {Path(os.path.abspath(path)), path.resolve()}
    folders = {Path(os.path.abspath(f)) for f in ours} | {f.resolve() for f in ours}
    return any(c == f or f in c.parents for c in candidates for f in folders)


def _ours(out: Path) -> bool:
    """`out` is our link into our own versions folder: marked, or (outputs written before
    markers existed) holding a published manifest."""
    versions = versions_dir(out)
    if not out.is_symlink() or not versions.is_dir() or versions.is_symlink():
        return False
    target = Path(os.path.normpath(out.parent / os.readlink(out)))
    if target.parent != Path(os.path.normpath(versions)):
        return False
    owned = versions.lstat().st_uid == os.getuid()
    return owned and ((versions / MARKER).is_file() or (target / "manifest.json").is_file())


def state_path(out: Path, run_id: str) -> Path:
    """The identity state written by run `run_id` (0600, inside state_dir)."""
    return state_dir(out) / f"{STATE_PREFIX}{run_id}.duckdb"


def _open_lock(path: Path):
    """The lock file, opened without following a link; refused unless it is a plain file
    of ours with one name (a planted link or hard link would have us truncate another
    file)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, PRIVATE_FILE)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise RunRefused(f"{path} is a symbolic link; remove it (a lock is never "
                         "followed)") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_nlink != 1:
        os.close(fd)
        raise RunRefused(f"{path} is not a plain file owned by this user; remove it")
    return os.fdopen(fd, "r+")


@contextmanager
def exclusive(out: Path) -> Iterator[None]:
    """Hold the output folder's lock for the duration of a run, or refuse at once."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lock_path = out.parent / f".{out.name}.lock"
    with _open_lock(lock_path) as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise RunRefused(
                f"Another run is already writing to {out} ({holder}). "
                "Wait for it to finish, or choose another output folder with --out."
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%SZ}")
        lock.flush()
        try:
            yield
        finally:
            lock.truncate(0)
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def staging(out: Path, run_id: str) -> Iterator[Path]:
    """A private folder for this run's files; removed unless published.

    Called with the lock held, so work files found beside it belong to runs that died
    (kill -9): they hold every NIK and name, and are removed before this run starts.
    """
    stage = versions_dir(out) / f".tmp-{run_id}"
    stage.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
    own_folder(stage.parent, "the outputs are not written into it")
    stage.parent.chmod(PRIVATE_FOLDER)
    _remove_dead_runs(stage.parent)
    stage.mkdir(mode=PRIVATE_FOLDER)
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        _remove_if_empty(stage.parent)
        raise


def _remove_dead_runs(folder: Path) -> None:
    """Staging folders, work databases and partition folders of runs that died."""
    for pattern in DEAD_RUN_PATTERNS:
        for leftover in folder.glob(pattern):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


def _remove_if_empty(folder: Path) -> None:
    """A first run that failed leaves nothing behind, not even an empty versions folder."""
    with suppress(OSError):
        folder.rmdir()


def to_prune(out: Path, retention_days: int | None = None) -> list[str]:
    """The published versions the next publication deletes: all but the newest
    KEEP_VERSIONS - 1 (the new one is the last kept) and, with `retention_days`, every
    one older (UU PDP: personal data goes when its retention period ends)."""
    folder = versions_dir(out)
    names = sorted(p.name for p in folder.iterdir()
                   if p.is_dir() and not p.name.startswith(".")) if folder.is_dir() else []
    old = set(names[:max(0, len(names) - (KEEP_VERSIONS - 1))])
    if retention_days:
        cutoff = datetime.now(UTC) - timedelta(days=retention_days)
        old |= {name for name in names if _started(name) < cutoff}
    return sorted(old)


def _started(name: str) -> datetime:
    """When a version's run started, from its id (a folder without one counts as old)."""
    found = re.search(r"[0-9]{8}T[0-9]{6}Z", name)
    if not found:
        return datetime.min.replace(tzinfo=UTC)
    return datetime.strptime(found.group(), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def publish(stage: Path, out: Path, run_id: str, public_reports: bool = False,
            pruned: list[str] | None = None, read_group: str | None = None) -> Path:
    """Make `stage` the content of `out` in one atomic step; return the version folder.
    Then delete the versions `pruned` (to_prune's, as the manifest records them)."""
    pruned = to_prune(out) if pruned is None else pruned
    final = versions_dir(out) / run_id
    set_modes(stage, public_reports)
    if read_group:
        grant_group_read(stage, read_group)
    _clear_way(out)
    os.rename(stage, final)
    (versions_dir(out) / MARKER).write_text("made by reconcile: the folder beside it is its "
                                            "published output\n")
    link = out.parent / f".{out.name}.link-{run_id}"
    link.symlink_to(os.path.relpath(final, out.parent))
    os.replace(link, out)
    _prune(out, final, pruned)
    return final


def set_modes(stage: Path, public_reports: bool) -> None:
    """Owner-only throughout, whatever the umask was; with `public_reports` the public
    report files become readable by all and their folders traversable (not listable)."""
    for here, _dirs, files in os.walk(stage):
        os.chmod(here, PRIVATE_FOLDER)
        for name in files:
            path = os.path.join(here, name)
            if not os.path.islink(path):
                os.chmod(path, PRIVATE_FILE)
    if public_reports:
        for folder in (stage.parent, stage):
            folder.chmod(TRAVERSE_ONLY)
        for name in PUBLIC_FILES:
            (stage / name).chmod(PUBLIC_FILE)
    else:
        stage.parent.chmod(PRIVATE_FOLDER)


def group_id(name: str) -> int:
    """The id of a group this user belongs to (only such a group can be granted read
    access to the outputs); InputError otherwise."""
    try:
        gid = grp.getgrnam(name).gr_gid
    except KeyError:
        raise InputError(f"read_group: no group named {name!r:.40} on this machine",
                         f"read_group: tidak ada grup {name!r:.40} di mesin ini") from None
    if gid not in (os.getgid(), *os.getgroups()):
        raise InputError(f"read_group: you are not a member of {name!r:.40}; only your own "
                         "groups can be granted read access", f"read_group: Anda bukan "
                         f"anggota {name!r:.40}; hak baca hanya dapat diberikan ke grup Anda")
    return gid


def grant_group_read(stage: Path, name: str) -> None:
    """Let the members of one configured group read the published outputs (the analysts'
    group): files 0640 and folders 0750 of that group. Others still get nothing, and the
    identity state and work files stay owner-only."""
    gid = group_id(name)
    _grant(stage.parent, gid, 0o050)  # the versions folder: traversable by the group
    for folder, _dirs, files in os.walk(stage):
        _grant(folder, gid, 0o050)
        for path in (os.path.join(folder, f) for f in files):
            if not os.path.islink(path):
                _grant(path, gid, 0o040)


def _grant(path: str | Path, gid: int, bits: int) -> None:
    os.chown(path, -1, gid)
    os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) | bits)


def _clear_way(out: Path) -> None:
    """An empty folder at `out` (accepted by check_output) is removed so the link can
    take its place; anything else that is not our link is refused, never moved."""
    if out.is_dir() and not out.is_symlink():
        try:
            out.rmdir()
        except OSError:
            raise RunRefused(f"{out} is no longer empty (written to during the run); "
                             f"{NOT_OURS}") from None
    elif os.path.lexists(out) and not _ours(out):
        raise RunRefused(f"{out} was replaced during the run; {NOT_OURS}")


def _prune(out: Path, keep: Path, pruned: list[str]) -> None:
    """Delete the pruned versions and leftovers of killed runs."""
    for name in pruned:
        if name != keep.name:
            shutil.rmtree(versions_dir(out) / name, ignore_errors=True)
    _remove_dead_runs(versions_dir(out))
    for link in out.parent.glob(f".{out.name}.link-*"):
        link.unlink(missing_ok=True)
    _prune_state(out, {p.name for p in versions_dir(out).iterdir()})


def _prune_state(out: Path, kept: set[str]) -> None:
    """Identity states of pruned versions and of killed runs (never published) go too."""
    for path in state_dir(out).glob(f"{STATE_PREFIX}*"):
        if path.name.removeprefix(STATE_PREFIX).split(".duckdb")[0] not in kept:
            path.unlink(missing_ok=True)
