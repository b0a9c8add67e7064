"""Safe output folders: one writer at a time, atomic publication, nothing half-written.

A run writes into a fresh version folder beside the target and, only when every file is
complete, flips the target (a symlink) to it with one atomic `os.replace`. A run that
dies at any moment leaves the previously published output untouched.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from reconcile.errors import RunRefused

KEEP_VERSIONS = 3


def new_run_id() -> str:
    """Sortable, unique run id such as 20261122T020000Z-3f9a1c."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def versions_dir(out: Path) -> Path:
    """Hidden sibling folder holding the published versions of `out`."""
    return out.parent / f".{out.name}.versions"


@contextmanager
def exclusive(out: Path) -> Iterator[None]:
    """Hold the output folder's lock for the duration of a run, or refuse at once."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lock_path = out.parent / f".{out.name}.lock"
    with open(lock_path, "a+") as lock:
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
    """A private folder for this run's files; removed unless published."""
    stage = versions_dir(out) / f".tmp-{run_id}"
    stage.mkdir(parents=True)
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        _remove_if_empty(stage.parent)
        raise


def _remove_if_empty(folder: Path) -> None:
    """A first run that failed leaves nothing behind, not even an empty versions folder."""
    with suppress(OSError):
        folder.rmdir()


def publish(stage: Path, out: Path, run_id: str) -> Path:
    """Make `stage` the content of `out` in one atomic step; return the version folder."""
    final = versions_dir(out) / run_id
    os.rename(stage, final)
    _adopt_plain_folder(out)
    link = out.parent / f".{out.name}.link-{run_id}"
    link.symlink_to(os.path.relpath(final, out.parent))
    os.replace(link, out)
    _prune(out, keep=final)
    return final


def _adopt_plain_folder(out: Path) -> None:
    """An earlier plain folder at `out` becomes a version, so the flip can be atomic."""
    if out.is_dir() and not out.is_symlink():
        os.rename(out, versions_dir(out) / f"adopted-{new_run_id()}")


def _prune(out: Path, keep: Path) -> None:
    """Delete old versions and leftovers of killed runs, keeping the newest few."""
    versions = sorted(p for p in versions_dir(out).iterdir() if not p.name.startswith("."))
    for old in versions[:-KEEP_VERSIONS]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
    for leftover in versions_dir(out).glob(".*"):  # killed runs: .tmp-* folders, .work-* files
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    for link in out.parent.glob(f".{out.name}.link-*"):
        link.unlink(missing_ok=True)
