"""Prefect's temporary server of a `reconcile run` never outlives its run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.temporary_server import MARKER, _start_ticks, stop_orphans

PROJECT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 240


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for init to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _servers(home: Path) -> list[int]:
    """Live Prefect API servers (ours or Prefect's own) of runs with this PREFECT_HOME."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and _alive(int(proc.name)):
            try:
                cmdline = (proc / "cmdline").read_bytes()
                environ = (proc / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if MARKER.encode() in cmdline and f"PREFECT_HOME={home}".encode() in environ:
                found.append(int(proc.name))
    return found


def _env(root: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    return {**env, "PREFECT_HOME": str(root / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED":
            "false", "DISABLE_PANDERA_IMPORT_WARNING": "True"}


def _command(data: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "flows.cli", "run",
            "--kemensos", *map(str, sorted(data.glob("kemensos_*.csv"))),
            "--bps", str(data / "bps_register.parquet"),
            "--stats", str(data / "bps_poverty_stats.csv"), "--out", str(out),
            "--verbose"]  # Prefect's own lines, "Beginning flow run" among them


def _wait_until(condition, what: str, timeout: float = RUN_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {what} after {timeout:.0f} s")


def _server_record(home: Path) -> dict | None:
    for pid_file in (home / "temporary-servers").glob("*.json"):
        try:
            return json.loads(pid_file.read_text())
        except ValueError:  # being written
            return None
    return None


@pytest.mark.slow
@pytest.mark.flow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "timeout"])
def test_a_killed_run_leaves_no_server(small_data, tmp_path, sig):
    log = tmp_path / "run.log"
    with log.open("wb") as handle:
        run = subprocess.Popen(_command(small_data, tmp_path / "out"), cwd=PROJECT,
                               env=_env(tmp_path), stdout=handle, stderr=subprocess.STDOUT)
    try:
        record = _wait_until(lambda: _server_record(tmp_path / "prefect"), "pid file")
        assert record["parent"] == run.pid
        _wait_until(lambda: b"Beginning flow run" in log.read_bytes(), "flow run")
        assert _servers(tmp_path / "prefect") == [record["server"]]
    finally:
        run.send_signal(sig)  # the run only, as kill -9 or timeout(1) would
        run.wait(timeout=60)

    # the kernel kills the server when its parent dies (PR_SET_PDEATHSIG); on a loaded
    # machine that death and its reaping are not instant
    deadline = time.monotonic() + 15
    while (_servers(tmp_path / "prefect") or _alive(record["server"])) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _servers(tmp_path / "prefect"), log.read_text(errors="replace")[-3000:]
    assert not _alive(record["server"])


def test_the_next_run_stops_a_server_whose_run_is_gone(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", MARKER])
    mine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", MARKER])
    try:
        folder = tmp_path / "temporary-servers"
        folder.mkdir()
        ticks = {p: _start_ticks(p) for p in (server.pid, mine.pid, os.getpid())}
        (folder / f"{server.pid}.json").write_text(json.dumps(
            {"server": server.pid, "server_start": ticks[server.pid], "parent": gone.pid,
             "parent_start": 1, "port": 1}))
        (folder / f"{mine.pid}.json").write_text(json.dumps(  # its run still goes on
            {"server": mine.pid, "server_start": ticks[mine.pid], "parent": os.getpid(),
             "parent_start": ticks[os.getpid()], "port": 2}))

        assert stop_orphans(folder) == [server.pid]
        assert server.wait(timeout=10) == -signal.SIGKILL
        assert mine.poll() is None
        assert sorted(p.name for p in folder.iterdir()) == [f"{mine.pid}.json"]
    finally:
        for process in (server, mine):
            process.kill()
            process.wait()
