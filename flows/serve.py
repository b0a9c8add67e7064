"""A local Prefect server and the worker that serves the nightly and manual deployments.

    python -m flows.serve start  [--port 4200] [--state DIR]   (`make serve`)
    python -m flows.serve stop   [--state DIR]                  (`make stop`)
    python -m flows.serve status [--state DIR]

The server is Prefect's own: `prefect server start --background`, waited for with
`prefect server status --wait` and stopped with `prefect server stop`, its PREFECT_HOME and
SQLite database in the state folder (default `<project>/.state/serve/`). This module adds
only what Prefect lacks:

- the worker, `python -m flows.deployments` with PREFECT_API_URL pointing at that server, in
  its own process group logging to `<state>/worker.log`: it registers
  `reconcile-nightly/nightly` (02:00 Asia/Jakarta) and `reconcile/manual` and runs their
  flow runs;
- waiting until both deployments are registered and polled, then the officer-facing
  message: the UI address and how to start a run;
- the credential and the paths a served run may touch (below).

Cron schedules fire only with this real server, not in Prefect's ephemeral mode. `stop`
stops the worker (SIGTERM, SIGKILL after 10 s), then the server; it is safe to repeat.

The server is not an open door, even on 127.0.0.1:
- every API call needs the credential (Prefect's basic auth, `user:password`): the one in
  RECONCILE_SERVER_AUTH, else the one in `<state>/credential` (0600), generated at the
  first start; the UI asks for it once;
- state-changing calls need a CSRF token (Prefect's clients and UI fetch one), and only the
  UI's own origin may call the API from a browser (CORS);
- the runs it starts read only from RECONCILE_INBOX and write only under
  RECONCILE_OUTPUTS_ROOT (flows.served_paths), whatever parameters they are given.

This module uses the standard library (and flows.environment, flows.served_paths): it never imports Prefect
or the flows, so that `make stop` and `status` answer at once.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

from flows import environment, served_paths
from reconcile.errors import RunRefused

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_STATE = PROJECT / ".state" / "serve"
DEFAULT_PORT = 4200
HOST = "127.0.0.1"
START_TIMEOUT = 120  # seconds, for the API and again for the worker
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
SERVER_PID = "server.pid"  # Prefect's, in its PREFECT_HOME (prefect.cli._server_utils)
WORKER_MODULE = "flows.deployments"  # `python -m` module of the worker
# (flow name, deployment name), as registered by flows/deployments.py
DEPLOYMENTS = (("reconcile-nightly", "nightly"), ("reconcile", "manual"))
AUTH_ENV = "RECONCILE_SERVER_AUTH"
CREDENTIAL_FILE = "credential"
AUTH_USER = "officer"
MIN_PASSWORD = 16  # characters
CORS_METHODS = "GET,POST,PUT,PATCH,DELETE,OPTIONS"
CORS_HEADERS = "Authorization,Content-Type,Prefect-Csrf-Token,Prefect-Csrf-Client"


class ServeError(RuntimeError):
    """A start that could not complete; the message says why and where to look."""


def _say(message: str = "") -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def urls(port: int) -> tuple[str, str]:
    """The UI and API addresses for a port."""
    return f"http://{HOST}:{port}", f"http://{HOST}:{port}/api"


def child_env(state: Path, port: int, auth: str) -> dict[str, str]:
    """Environment of the server and the worker: everything local, nothing phones home,
    the API behind the credential, the runs kept to the inbox and the outputs root."""
    env = environment.DEFAULTS | dict(os.environ)
    for key in ("PREFECT_API_KEY", "PREFECT_PROFILE", "PREFECT_API_DATABASE_CONNECTION_URL",
                AUTH_ENV):
        env.pop(key, None)
    env.update({
        "PREFECT_SERVER_API_AUTH_STRING": auth,
        "PREFECT_API_AUTH_STRING": auth,
        "PREFECT_SERVER_CSRF_PROTECTION_ENABLED": "true",
        "PREFECT_CLIENT_CSRF_SUPPORT_ENABLED": "true",
        "PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS": urls(port)[0],
        "PREFECT_SERVER_API_CORS_ALLOWED_METHODS": CORS_METHODS,
        "PREFECT_SERVER_API_CORS_ALLOWED_HEADERS": CORS_HEADERS,
        served_paths.SERVED: "1",
        "RECONCILE_INBOX": str(served_paths.inbox_folder()),
        "RECONCILE_OUTPUTS_ROOT": str(served_paths.outputs_root()),
    })
    env.update({
        "PREFECT_HOME": str(_prefect_home(state)),
        "PREFECT_API_URL": urls(port)[1],
        "PREFECT_SERVER_API_HOST": HOST,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{state / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # even if the officer's shell says not
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        # `server start --background` pipes the server's output to a process that exits:
        # only warnings, so that nothing is lost that mattered
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    })
    return env


# ----------------------------------------------------------------------------- credential


def credential_file(state: Path) -> Path:
    return state / CREDENTIAL_FILE


def credential(state: Path) -> tuple[str, str]:
    """(the API credential `user:password`, where it comes from). RECONCILE_SERVER_AUTH
    if set, else `<state>/credential`, generated (0600) the first time."""
    given = os.environ.get(AUTH_ENV)
    if given:
        return _checked(given, AUTH_ENV), AUTH_ENV
    path = credential_file(state)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{AUTH_USER}:{secrets.token_urlsafe(24)}\n")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd) as handle:
        info = os.fstat(handle.fileno())
        if info.st_uid != os.getuid() or info.st_mode & 0o077:
            raise ServeError(f"{path} must be yours and readable by you alone "
                             f"(chmod 600 {path}), or set {AUTH_ENV}")
        return _checked(handle.read().strip(), str(path)), str(path)


def _checked(auth: str, source: str) -> str:
    user, _, password = auth.partition(":")
    if not user or len(password) < MIN_PASSWORD:
        raise ServeError(f"{source}: the credential must read user:password with a password "
                         f"of at least {MIN_PASSWORD} characters")
    return auth


def _auth_header(auth: str) -> str:
    return "Basic " + base64.b64encode(auth.encode()).decode()


# ----------------------------------------------------------------------------- processes


def _prefect_home(state: Path) -> Path:
    return state / "prefect"


def _pid_file(state: Path, name: str) -> Path:
    """The worker's pid file is ours; the server's is Prefect's."""
    return _prefect_home(state) / SERVER_PID if name == "server" else state / "worker.pid"


def _read_pid(state: Path, name: str) -> int | None:
    try:
        return int(_pid_file(state, name).read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int, marker: bytes) -> bool:
    """Whether `pid` runs a command line containing `marker`, so that a stale pid file
    never names a stranger."""
    try:
        os.kill(pid, 0)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (ProcessLookupError, PermissionError):
        return False
    except OSError:  # no /proc: trust the signal
        return True
    return marker in cmdline


def running_pids(state: Path) -> dict[str, int]:
    """{"server" | "worker": pid} of the processes that still run."""
    markers = {"server": b"prefect.server", "worker": WORKER_MODULE.encode()}
    found = {}
    for name, marker in markers.items():
        pid = _read_pid(state, name)
        if pid is not None and pid > 1 and _alive(pid, marker):
            found[name] = pid
    return found


def _terminate(pid: int, grace: float = STOP_GRACE) -> bool:
    """SIGTERM the worker's process group, SIGKILL it after `grace` seconds; True once it
    is gone."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return True
        if _gone_within(pid, wait):
            return True
    return False


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if we started it ourselves
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def _prefect(env: dict[str, str], *args: str, timeout: float = 60.0,
             new_session: bool = False) -> subprocess.CompletedProcess:
    """`prefect <args>` with the served environment; its output captured."""
    return subprocess.run([str(Path(sys.executable).parent / "prefect"), *args], cwd=PROJECT,
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, start_new_session=new_session)


def _said(done: subprocess.CompletedProcess) -> str:
    """What a Prefect command printed, as one indented block for an error message."""
    text = (done.stdout + done.stderr).strip().splitlines()[-15:]
    return "\n".join("    " + line for line in text)


# ----------------------------------------------------------------------------- HTTP


def _api(port: int, path: str, body: dict | None = None, timeout: float = 5.0,
         auth: str | None = None):
    """One API call; with `auth`, authenticated, and a POST with a fresh CSRF token."""
    url = urls(port)[1] + path
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = _auth_header(auth)
        if body is not None:
            client = str(uuid.uuid4())
            token = _api(port, f"/csrf-token?client={client}", timeout=timeout, auth=auth)
            headers |= {"Prefect-Csrf-Token": token["token"], "Prefect-Csrf-Client": client}
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def served_deployments(port: int, auth: str,
                       since: datetime | None = None) -> dict[str, dict]:
    """{"flow/deployment": deployment} for ours; with `since`, only those polled since then."""
    flows = {f["id"]: f["name"]
             for f in _api(port, "/flows/filter", {"limit": 200}, auth=auth)}
    found = {}
    for deployment in _api(port, "/deployments/filter", {"limit": 200}, auth=auth):
        key = (flows.get(deployment["flow_id"]), deployment["name"])
        if key not in DEPLOYMENTS:
            continue
        polled = deployment.get("last_polled")
        if since is not None and (not polled or datetime.fromisoformat(polled) < since):
            continue
        found["/".join(key)] = deployment
    return found


# ----------------------------------------------------------------------------- start


def _log_tail(log: Path, offset: int, lines: int = 25) -> str:
    try:
        with log.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    tail = text.strip().splitlines()[-lines:]
    return "\n".join("    " + line for line in tail)


def _start_server(state: Path, port: int, env: dict[str, str], timeout: int) -> None:
    """Prefect's background server, and its own wait until the API answers."""
    started = _prefect(env, "server", "start", "--background", "--host", HOST,
                       "--port", str(port), new_session=True)  # outlives this process
    if started.returncode != 0:
        raise ServeError(f"`prefect server start` failed:\n{_said(started)}")
    ready = _prefect(env, "server", "status", "--wait", "--timeout", str(timeout),
                     timeout=timeout + 30)
    if ready.returncode != 0:
        raise ServeError(f"the Prefect server did not answer within {timeout} s:\n"
                         f"{_said(ready)}")


def _start_worker(state: Path, port: int, env: dict[str, str], auth: str,
                  timeout: int) -> None:
    """The worker in its own process group, logging to `<state>/worker.log`, waited for
    until it has registered and polled both deployments."""
    log = state / "worker.log"
    since = datetime.now(UTC).replace(microsecond=0)
    command = [sys.executable, "-m", WORKER_MODULE]
    with log.open("ab") as handle:
        handle.write(f"\n==== {since.isoformat()} flows.serve start: {' '.join(command)}\n"
                     .encode())
        offset = handle.tell()
        worker = subprocess.Popen(command, cwd=PROJECT, env=env, stdin=subprocess.DEVNULL,
                                  stdout=handle, stderr=subprocess.STDOUT,
                                  start_new_session=True, umask=0o077)
    _pid_file(state, "worker").write_text(f"{worker.pid}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise ServeError(f"the worker exited with code {worker.returncode} while "
                             f"starting; see {log}:\n{_log_tail(log, offset)}")
        with contextlib.suppress(OSError, ValueError, KeyError):
            if len(served_deployments(port, auth, since)) == len(DEPLOYMENTS):
                return
        time.sleep(1.0)
    raise ServeError(f"the worker had not registered the deployments after {timeout} s; "
                     f"see {log}:\n{_log_tail(log, offset)}")


def start(state: Path, port: int, timeout: int = START_TIMEOUT) -> None:
    """Start the server and the worker in the background and wait until both are ready."""
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(state, 0o700)  # logs, database and credential: the officer's alone
    _prefect_home(state).mkdir(exist_ok=True, mode=0o700)
    running = running_pids(state)
    if running:
        pids = ", ".join(f"{name} pid {pid}" for name, pid in running.items())
        raise ServeError(f"already running ({pids}; state {state}), UI at "
                         f"{_saved_ui(state) or '?'}. Stop it first: "
                         f"python -m flows.serve stop --state {state}  (or make stop)")
    for name in ("server", "worker"):
        _pid_file(state, name).unlink(missing_ok=True)  # stale: Prefect refuses to start
    try:
        served_paths.check_setup(_nightly_out())
    except RunRefused as refused:
        raise ServeError(str(refused)) from None
    auth, source = credential(state)
    env = child_env(state, port, auth)
    try:
        _start_server(state, port, env, timeout)
        _start_worker(state, port, env, auth, timeout)
    except BaseException:
        stop(state, quiet=True)
        raise
    ui, api = urls(port)
    (state / "serve.json").write_text(json.dumps(
        {"port": port, "ui": ui, "api": api, "pids": running_pids(state),
         "credential": source}, indent=2) + "\n")
    _say(started_message(state, port, source))


def _saved_ui(state: Path) -> str | None:
    try:
        return json.loads((state / "serve.json").read_text())["ui"]
    except (OSError, ValueError, KeyError):
        return None


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _nightly_out() -> Path:
    out = os.environ.get("RECONCILE_OUT")
    return Path(out).expanduser().resolve() if out else served_paths.outputs_root() / "nightly"


def started_message(state: Path, port: int, source: str) -> str:
    """What an officer needs after `make serve` (where the credential is, never itself)."""
    ui, api = urls(port)
    prefect = _shown(Path(sys.executable).parent / "prefect")
    inbox, root = _shown(served_paths.inbox_folder()), _shown(served_paths.outputs_root())
    auth = (f'"${AUTH_ENV}"' if source == AUTH_ENV else f'"$(cat {_shown(Path(source))})"')
    return f"""\
Prefect server and worker are running (state and logs in {_shown(state)}/).
  UI         {ui}/deployments   (it asks for the credential: user:password)
  credential {source if source == AUTH_ENV else _shown(Path(source))}
  nightly    reconcile-nightly/nightly  02:00 Asia/Jakarta, newest files in {inbox} -> {_shown(_nightly_out())}
  manual     reconcile/manual           on demand, defaults: newest files in {inbox} -> {root}/manual
  Runs read only from {inbox} (RECONCILE_INBOX) and write only under {root} (RECONCILE_OUTPUTS_ROOT).

Start a run from the UI: Deployments > manual > Run (top right) > Custom run > edit > Submit.
Start a run from the command line:
  export PREFECT_API_URL={api} PREFECT_API_AUTH_STRING={auth}
  {prefect} deployment run 'reconcile/manual' --watch
  {prefect} deployment run 'reconcile/manual' \\
      --param kemensos='["{inbox}/kemensos_pkh.csv"]' --param bps={inbox}/bps_register.parquet \\
      --param stats={inbox}/bps_poverty_stats.csv --param out={root}/manual --watch
  {prefect} deployment run 'reconcile-nightly/nightly'   (nightly now)
Stop: make stop   (python -m flows.serve stop --state {_shown(state)})"""


# ----------------------------------------------------------------------------- stop, status


def stop(state: Path, quiet: bool = False) -> None:
    """Stop the worker (it pauses its schedules through the server on SIGTERM), then the
    server with `prefect server stop`, waiting until it is gone. Safe to repeat."""
    running, stopped = running_pids(state), []
    if "worker" in running:
        if not _terminate(running["worker"]):
            raise ServeError(f"worker process group {running['worker']} did not stop, "
                             "even on SIGKILL")
        stopped.append(f"worker (pid {running['worker']})")
    _pid_file(state, "worker").unlink(missing_ok=True)
    if "server" in running:
        _prefect(dict(os.environ, PREFECT_HOME=str(_prefect_home(state))), "server", "stop")
        if not _gone_within(running["server"], STOP_GRACE):
            os.kill(running["server"], signal.SIGKILL)
        stopped.append(f"server (pid {running['server']})")
    _pid_file(state, "server").unlink(missing_ok=True)
    if not quiet:
        _say(f"stopped {' and '.join(stopped)}" if stopped else "nothing was running")


def status(state: Path) -> int:
    """Print whether the server and the worker run; 0 if both do, 3 otherwise."""
    running = running_pids(state)
    ui = _saved_ui(state)
    for name in ("server", "worker"):
        pid = running.get(name)
        _say(f"{name}: running (pid {pid})" if pid else f"{name}: not running")
    if running and ui:
        _say(f"UI: {ui}")
    return 0 if len(running) == 2 else 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.serve", description=__doc__.split(
        "\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("start", "stop", "status"))
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"API and UI port on {HOST} (start only; default {DEFAULT_PORT})")
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE,
                        help="folder for pid files, logs and the database "
                             "(default .state/serve in the project)")
    args = parser.parse_args(argv)
    state = args.state.resolve()
    os.umask(0o077)  # state, logs, pid files and the database: the officer's alone
    try:
        if args.command == "start":
            start(state, args.port)
        elif args.command == "stop":
            stop(state)
        else:
            return status(state)
    except ServeError as error:
        sys.stderr.write(f"flows.serve {args.command}: {error}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
