"""`python -m flows.serve`: a real Prefect server, the served deployments, a run from the CLI."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 240


def _touch(path: Path, mtime: float) -> Path:
    path.write_text("x\n")
    os.utime(path, (mtime, mtime))
    return path


def test_newest_inputs_takes_the_newest_file_of_each_program(tmp_path):
    from flows.deployments import newest_inputs

    old, new = time.time() - 86_400, time.time()
    _touch(tmp_path / "kemensos_pkh.csv", old)
    pkh = _touch(tmp_path / "kemensos_PKH_2026-11-22.xlsx", new)
    bpnt = _touch(tmp_path / "kemensos_bpnt.parquet", old)
    _touch(tmp_path / "bps_register.parquet", old)
    bps = _touch(tmp_path / "bps_register_20261122.parquet", new)
    stats = _touch(tmp_path / "bps_poverty_stats.csv", old)
    _touch(tmp_path / "kemensos_notes.txt", new)
    _touch(tmp_path / ".kemensos_partial.csv", new)

    assert newest_inputs(tmp_path) == {"kemensos": sorted([str(pkh), str(bpnt)]),
                                       "bps": str(bps), "stats": str(stats)}


def test_newest_inputs_names_what_is_missing(tmp_path):
    from flows.deployments import newest_inputs

    _touch(tmp_path / "kemensos_pkh.csv", time.time())
    with pytest.raises(FileNotFoundError, match=r"no bps_register.*no bps_poverty_stats"):
        newest_inputs(tmp_path)
    with pytest.raises(FileNotFoundError, match="RECONCILE_INBOX"):
        newest_inputs(tmp_path / "absent")


def test_the_nightly_cron_schedule_computes_its_dates():
    """Why pyproject pins whenever>=0.11: with 0.10.5, which Prefect 3.9.1 accepts,
    Prefect's scheduler fails on every zoned cron schedule ("tzinfo must be of type
    ZoneInfo"), so the nightly run would never be scheduled."""
    import asyncio

    from prefect.server.schemas.schedules import CronSchedule

    from flows.deployments import NIGHTLY_CRON, TIMEZONE

    dates = asyncio.run(CronSchedule(cron=NIGHTLY_CRON, timezone=TIMEZONE).get_dates(n=2))
    assert [(d.hour, d.minute) for d in dates] == [(2, 0), (2, 0)]
    assert (dates[1] - dates[0]).total_seconds() == 86_400


def test_served_runs_keep_to_the_inbox_and_the_outputs_root(tmp_path, monkeypatch):
    from flows.served_paths import check_inbox, check_run
    from reconcile.errors import RunRefused

    inbox, root = tmp_path / "inbox", tmp_path / "runs"
    inbox.mkdir()
    root.mkdir()
    (inbox / "kemensos_pkh.csv").write_text("x\n")
    monkeypatch.setenv("RECONCILE_INBOX", str(inbox))
    monkeypatch.setenv("RECONCILE_OUTPUTS_ROOT", str(root))
    good = {"kemensos": [str(inbox / "kemensos_pkh.csv")], "bps": str(inbox / "bps.parquet"),
            "stats": str(inbox / "stats.csv"), "out": str(root / "manual")}
    assert check_run(**good)["out"] == str(root / "manual")
    (root / "escape").symlink_to(tmp_path, target_is_directory=True)
    (inbox / "linked.csv").symlink_to(tmp_path / "secret.csv")

    for change, word in (({"out": str(tmp_path / "elsewhere")}, "outputs root"),
                         ({"out": str(root / "a" / ".." / ".." / "x")}, "outputs root"),
                         ({"out": str(root / "escape" / "x")}, "outputs root"),
                         ({"out": str(root)}, "outputs root"),
                         ({"bps": "/etc/passwd"}, "inbox"),
                         ({"kemensos": [str(inbox / "linked.csv")]}, "inbox"),
                         ({"stats": str(inbox / ".." / "stats.csv")}, "inbox"),
                         ({"mapping": str(tmp_path / "headers.toml")}, "inbox")):
        with pytest.raises(RunRefused, match=word):
            check_run(**(good | change))
    assert check_inbox(inbox) == inbox
    with pytest.raises(RunRefused, match="inbox"):
        check_inbox(tmp_path)


def test_the_credential_is_generated_owner_only_or_taken_from_the_environment(
        tmp_path, monkeypatch):
    from flows.serve import ServeError, credential

    monkeypatch.delenv("RECONCILE_SERVER_AUTH", raising=False)
    auth, source = credential(tmp_path)
    assert source == str(tmp_path / "credential") and auth.startswith("officer:")
    assert oct((tmp_path / "credential").stat().st_mode & 0o777) == "0o600"
    assert credential(tmp_path) == (auth, source)  # the same on every start

    (tmp_path / "credential").chmod(0o644)
    with pytest.raises(ServeError, match="chmod 600"):
        credential(tmp_path)
    monkeypatch.setenv("RECONCILE_SERVER_AUTH", "me:short")
    with pytest.raises(ServeError, match="at least 16 characters"):
        credential(tmp_path)
    monkeypatch.setenv("RECONCILE_SERVER_AUTH", "me:" + "p" * 20)
    assert credential(tmp_path) == ("me:" + "p" * 20, "RECONCILE_SERVER_AUTH")


def _http(url: str, auth: str | None = None, origin: str | None = None):
    """(status, headers) of a GET."""
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    if origin:
        request.add_header("Origin", origin)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(command: str, state: Path, env: dict, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.serve", command, "--state", str(state),
                           *extra], cwd=PROJECT, env=env, capture_output=True, text=True,
                          timeout=300)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _prefect_cli(env: dict, *args: str) -> str:
    """`prefect <args>` against the served server; its output, once it succeeded."""
    prefect = Path(sys.executable).parent / "prefect"
    done = subprocess.run([str(prefect), *args], cwd=PROJECT, env=env | {"COLUMNS": "300"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _trigger(deployment: str, env: dict, **params) -> str:
    """`prefect deployment run` from the command line; returns the flow run id."""
    prefect = Path(sys.executable).parent / "prefect"
    args = [str(prefect), "deployment", "run", deployment]
    for key, value in params.items():
        args += ["--param", f"{key}={json.dumps(value)}"]
    done = subprocess.run(args, cwd=PROJECT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return re.search(r"UUID: ([0-9a-f-]{36})", done.stdout).group(1)


def _wait_for(client, run_id: str, state: Path, completed: bool = True):
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        run = client.read_flow_run(run_id)
        if run.state is not None and run.state.is_final():
            break
        time.sleep(2)
    log = (state / "worker.log").read_text(errors="replace")[-4000:]
    assert run.state is not None and run.state.is_completed() == completed, f"{run.state}\n{log}"
    return run.state


@pytest.mark.slow
@pytest.mark.flow
def test_serve_registers_deployments_and_runs_a_manual_run(small_data, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    port, state, runs = _free_port(), tmp_path / "state", tmp_path / "runs"
    api = f"http://127.0.0.1:{port}/api"
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "cli-home"),
               PREFECT_SERVER_ANALYTICS_ENABLED="false", RECONCILE_INBOX=str(small_data),
               RECONCILE_OUTPUTS_ROOT=str(runs), RECONCILE_OUT=str(runs / "nightly"))
    for key in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING", "RECONCILE_SERVER_AUTH"):
        env.pop(key, None)
    pids = {}
    try:
        started = _serve("start", state, env, "--port", str(port))
        pid_files = {"server": state / "prefect" / "server.pid", "worker": state / "worker.pid"}
        pids = {name: int(path.read_text()) for name, path in pid_files.items()
                if path.exists()}
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"http://127.0.0.1:{port}" in started.stdout
        assert "deployment run 'reconcile/manual'" in started.stdout
        auth = (state / "credential").read_text().strip()
        assert auth not in started.stdout and str(state / "credential") in started.stdout

        # the API answers only with the credential, and to no foreign origin
        assert _http(f"{api}/health")[0] == 200
        assert _http(f"{api}/deployments/name/reconcile/manual")[0] == 401
        assert _http(f"{api}/deployments/name/reconcile/manual", "officer:guess")[0] == 401
        status, headers = _http(f"{api}/deployments/name/reconcile/manual", auth,
                                origin="http://evil.example")
        assert status == 200 and "access-control-allow-origin" not in headers
        assert _http(f"{api}/admin/version", auth, origin=f"http://127.0.0.1:{port}")[1][
            "access-control-allow-origin"] == f"http://127.0.0.1:{port}"

        again = _serve("start", state, env, "--port", str(port))
        assert again.returncode == 1 and "already running" in again.stderr, again.stderr
        status = _serve("status", state, env)
        assert status.returncode == 0 and status.stdout.count(": running") == 2, status.stdout

        cli_env = env | {"PREFECT_API_URL": api, "PREFECT_API_AUTH_STRING": auth}
        with temporary_settings({PREFECT_API_URL: api, PREFECT_API_AUTH_STRING: auth}), \
                get_client(sync_client=True) as client:
            manual = client.read_deployment_by_name("reconcile/manual")
            nightly = client.read_deployment_by_name("reconcile-nightly/nightly")
            assert manual.schedules == []
            [schedule] = [s.schedule for s in nightly.schedules]
            assert (schedule.cron, schedule.timezone) == ("0 2 * * *", "Asia/Jakarta")
            assert nightly.parameters["inbox"] == str(small_data)

            inputs = {"kemensos": sorted(str(p) for p in small_data.glob("kemensos_*.csv")),
                      "bps": str(small_data / "bps_register.parquet"),
                      "stats": str(small_data / "bps_poverty_stats.csv")}
            outside = tmp_path / "outside"
            refused = _wait_for(client, _trigger("reconcile/manual", cli_env, **inputs,
                                                 out=str(outside)), state, completed=False)
            assert "outputs root" in refused.message and not outside.exists(), refused.message
            escape = str(runs / ".." / "outside")
            refused = _wait_for(client, _trigger("reconcile/manual", cli_env, **inputs,
                                                 out=escape), state, completed=False)
            assert "outputs root" in refused.message and not outside.exists(), refused.message

            out = runs / "manual"
            _wait_for(client, _trigger("reconcile/manual", cli_env, **inputs, out=str(out)),
                      state)
            assert (out / "manifest.json").exists()

            _wait_for(client, _trigger("reconcile-nightly/nightly", cli_env), state)
            assert (runs / "nightly" / "manifest.json").exists()

        # Prefect's own commands read the served server (they broke on Prefect 3.8.8 with
        # FastAPI 0.155: 422)
        listed = _prefect_cli(cli_env, "deployment", "ls")
        assert "reconcile/manual" in listed and "reconcile-nightly/nightly" in listed, listed
        runs_listed = _prefect_cli(cli_env, "flow-run", "ls")
        assert runs_listed.count("COMPLETED") >= 2 and "FAILED" in runs_listed, runs_listed
    finally:
        stopped = _serve("stop", state, env)
    assert stopped.returncode == 0, stopped.stderr
    assert set(pids) == {"server", "worker"} and all(map(_gone, pids.values())), pids
    assert not list(state.rglob("*.pid"))
    assert "nothing was running" in _serve("stop", state, env).stdout
