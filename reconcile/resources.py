"""What the machine has, and what each stage used of it (peak memory, bytes spilled).

DuckDB's limits default to the machine rather than to a fixed figure: a share of the
memory this process may use (the cgroup's limit when there is one, else the RAM) and
every core. A fixed "3GB" left 21 of 24 GiB idle at 10M register people while the work
database spilled 9.4 GB to disk.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

MEMORY_SHARE = 0.6  # of the machine, for DuckDB; the rest is Python, Arrow, pandas, the OS
SAMPLE_SECONDS = 0.25  # how often a stage's spill folder is measured
_CGROUP_MAX = Path("/sys/fs/cgroup/memory.max")


def machine_memory_bytes() -> int:
    """The memory this process may use: the cgroup limit if set, else physical RAM."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        text = _CGROUP_MAX.read_text().strip()
    except OSError:
        return physical
    return min(physical, int(text)) if text.isdigit() else physical


def default_memory_limit(parts: int = 1) -> str:
    """DuckDB's memory limit when none is configured: MEMORY_SHARE of the machine,
    split between `parts` databases working at once (partitions)."""
    return f"{int(machine_memory_bytes() * MEMORY_SHARE / max(parts, 1)) // 2**20}MB"


def default_threads() -> int:
    """DuckDB's threads when none are configured: every core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def worker_memory_limit() -> str | None:
    """On a Dask worker, MEMORY_SHARE of that worker's own memory limit split between its
    threads (the coordinator's machine says nothing of the worker's); None elsewhere."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not on a Dask worker
        return None
    limit = worker.memory_manager.memory_limit or machine_memory_bytes()
    return f"{int(limit * MEMORY_SHARE / max(worker.state.nthreads, 1)) // 2**20}MB"


@dataclass(eq=False)  # each measurement is itself (the open ones are removed by identity)
class StageUse:
    """What one stage used: its process's peak resident memory and its largest spill."""

    peak_rss_mb: float = 0.0
    spill_peak_mb: float = 0.0

    def recorded(self) -> dict[str, float]:
        return {"peak_rss_mb": round(self.peak_rss_mb, 1),
                "spill_peak_mb": round(self.spill_peak_mb, 1)}


def _folder_bytes(folder: Path) -> int:
    try:
        return sum(entry.stat().st_size for entry in os.scandir(folder) if entry.is_file())
    except OSError:  # not created (nothing spilled) or removed meanwhile
        return 0


# Measurements open now, outermost first: a stage measured whole while its steps are
# measured too. The kernel keeps one peak counter per process, so before a step resets
# it, the peak so far is folded into every open measurement.
_OPEN: list[StageUse] = []
_OPEN_LOCK = threading.Lock()


def _reset_peak_rss() -> None:
    """Start the kernel's peak-RSS counter (VmHWM) afresh, so it is this stage's peak."""
    with _OPEN_LOCK:
        if _OPEN:
            peak = _peak_rss_mb()
            for use in _OPEN:
                use.peak_rss_mb = max(use.peak_rss_mb, peak)
        with contextlib.suppress(OSError):  # not Linux or not allowed: the process's peak
            Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource  # the process's peak since it started

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def measured(spill_folder: Path) -> Iterator[StageUse]:
    """Measure the body: peak resident memory, and the largest size of `spill_folder`
    (DuckDB's temporary files), sampled in a background thread."""
    use, done = StageUse(), threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_SECONDS):
            use.spill_peak_mb = max(use.spill_peak_mb, _folder_bytes(spill_folder) / 2**20)

    _reset_peak_rss()
    with _OPEN_LOCK:
        _OPEN.append(use)
    sampler = threading.Thread(target=sample, name="spill-sampler", daemon=True)
    sampler.start()
    try:
        yield use
    finally:
        done.set()
        sampler.join()
        with _OPEN_LOCK:
            _OPEN.remove(use)
        use.spill_peak_mb = max(use.spill_peak_mb, _folder_bytes(spill_folder) / 2**20)
        use.peak_rss_mb = max(use.peak_rss_mb, _peak_rss_mb())
