"""Prefect's temporary API server for one `reconcile run`: started first, dies with the run.

Prefect's own ephemeral server is started only once the flow is called, after every heavy
import, and it outlives a killed run. This one is started before the imports (they then
overlap with the server's own start-up) and is tied to the run's process:

- on Linux the kernel kills it when the run's process dies, whatever the cause (kill -9,
  a timeout, a crash): `prctl(PR_SET_PDEATHSIG, SIGKILL)` in the child before it starts;
- it is also stopped when the run exits normally (atexit, after Prefect's own exit handlers
  have sent the last logs), and a pid file in the owner-only state lets the next run stop
  one whose run is gone, wherever the parent-death signal is not available;
- it listens on 127.0.0.1 on a socket the run binds itself (no port race) and answers only
  with a random per-run credential, which only the run's process knows.

A configured server (PREFECT_API_URL in the environment or the active Prefect profile) is
used as it is. Standard library only: it runs before Prefect is imported.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
MARKER = "prefect.server.api.server:create_app"  # in the server's command line


class ServerStartError(RuntimeError):
    """The temporary server did not answer; the message says why."""


# ----------------------------------------------------------------------------- /proc facts


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (None if it does not exist)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # field 22; the name may hold spaces


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def seconds_since_process_start() -> float | None:
    """How long this process has run, from the kernel's clock (10 ms steps)."""
    ticks = _start_ticks(os.getpid())
    try:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError):
        return None
    return None if ticks is None else max(0.0, uptime - ticks / os.sysconf("SC_CLK_TCK"))


# ----------------------------------------------------------------------------- configured server


def configured_api_url() -> str | None:
    """PREFECT_API_URL from the environment, else from the active profile of PREFECT_HOME."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    home = Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
    try:
        profiles = tomllib.loads((home / "profiles.toml").read_text())
    except (OSError, ValueError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active", "ephemeral")
    url = profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL")
    return url or None


# ----------------------------------------------------------------------------- pid files


def _state_folder() -> Path:
    """Owner-only folder of the pid files, in Prefect's home."""
    home = Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
    folder = home / "temporary-servers"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    return folder


def stop_orphans(folder: Path | None = None) -> list[int]:
    """Kill temporary servers whose run has gone; returns their pids."""
    folder = folder or _state_folder()
    stopped = []
    for pid_file in folder.glob("*.json"):
        try:
            record = json.loads(pid_file.read_text())
            server, parent = int(record["server"]), int(record["parent"])
        except (OSError, ValueError, KeyError, TypeError):
            pid_file.unlink(missing_ok=True)
            continue
        if _start_ticks(parent) == record.get("parent_start"):
            continue  # its run still goes on
        if _start_ticks(server) == record.get("server_start") and MARKER in _cmdline(server):
            with contextlib.suppress(ProcessLookupError):
                os.kill(server, signal.SIGKILL)
            stopped.append(server)
        pid_file.unlink(missing_ok=True)
    return stopped


# ----------------------------------------------------------------------------- the server


def _die_with(parent: int):
    """preexec_fn of the server: killed when `parent` dies, its files owner-only."""
    libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None

    def preexec() -> None:
        if libc is not None:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the run died before the signal was armed
            os._exit(1)
        os.umask(0o077)

    return preexec


class TemporaryServer:
    """One Prefect API server in a child process, for the lifetime of this process."""

    def __init__(self) -> None:
        self.auth = f"reconcile:{secrets.token_urlsafe(24)}"
        listener = socket.create_server((HOST, 0))
        self.port = listener.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--fd", str(listener.fileno()), "--factory",
             MARKER, "--log-level", "error", "--lifespan", "on"],
            env=self._env(), pass_fds=(listener.fileno(),), stdin=subprocess.DEVNULL,
            preexec_fn=_die_with(os.getpid()))
        listener.close()  # the server holds it now: a dead server refuses, never hangs
        self.pid_file = _state_folder() / f"{self.process.pid}.json"
        self.pid_file.write_text(json.dumps({
            "server": self.process.pid, "server_start": _start_ticks(self.process.pid),
            "parent": os.getpid(), "parent_start": _start_ticks(os.getpid()),
            "port": self.port}))

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.port}/api"

    def _env(self) -> dict[str, str]:
        origin = f"http://{HOST}:{self.port}"
        return {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                "PREFECT__SERVER_FINAL": "1", "PREFECT_SERVER_API_AUTH_STRING": self.auth,
                "PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS": origin}

    def client_env(self) -> dict[str, str]:
        """What this process needs to use the server (set before Prefect is imported)."""
        return {"PREFECT_API_URL": self.api_url, "PREFECT_API_AUTH_STRING": self.auth,
                "PREFECT_UI_URL": ""}  # no UI: no "View at" links to nowhere

    def wait_ready(self, timeout: float) -> None:
        """Return once /api/health answers; ServerStartError if it exits or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerStartError(f"Prefect's temporary server exited with code "
                                       f"{self.process.returncode} while starting")
            try:
                with urllib.request.urlopen(self.api_url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        raise ServerStartError(f"Prefect's temporary server did not answer within {timeout:.0f}"
                               " s (PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)")

    def stop(self) -> None:
        """SIGTERM, SIGKILL after a grace period; the pid file goes. Safe to repeat."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.pid_file.unlink(missing_ok=True)


_current: TemporaryServer | None = None


def start_unless_configured() -> TemporaryServer | None:
    """Start this process's temporary server and point Prefect at it, unless a server is
    configured or Prefect is already imported (its settings are then fixed, and Prefect
    starts its own ephemeral server as usual). Call before importing Prefect."""
    global _current
    if _current is not None or configured_api_url() or "prefect" in sys.modules:
        return _current
    with contextlib.suppress(OSError):
        stop_orphans()
    _current = TemporaryServer()
    # registered before Prefect's handlers, so run after them: the last logs reach the server
    atexit.register(_current.stop)
    os.environ.update(_current.client_env())
    return _current
