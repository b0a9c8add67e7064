"""`python -m flows.serve`: a real Prefect server, the served deployments, a run from the CLI."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
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
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


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


def _wait_for(client, run_id: str, state: Path) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        run = client.read_flow_run(run_id)
        if run.state is not None and run.state.is_final():
            break
        time.sleep(2)
    log = (state / "worker.log").read_text(errors="replace")[-4000:]
    assert run.state is not None and run.state.is_completed(), f"{run.state}\n{log}"


@pytest.mark.slow
@pytest.mark.flow
def test_serve_registers_deployments_and_runs_a_manual_run(small_data, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    port, state = _free_port(), tmp_path / "state"
    api = f"http://127.0.0.1:{port}/api"
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "cli-home"),
               PREFECT_SERVER_ANALYTICS_ENABLED="false",
               RECONCILE_INBOX=str(small_data), RECONCILE_OUT=str(tmp_path / "nightly"))
    env.pop("PREFECT_API_URL", None)
    pids = {}
    try:
        started = _serve("start", state, env, "--port", str(port))
        pids = {name: int((state / f"{name}.pid").read_text())
                for name in ("server", "worker") if (state / f"{name}.pid").exists()}
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"http://127.0.0.1:{port}" in started.stdout
        assert "deployment run 'reconcile/manual'" in started.stdout

        again = _serve("start", state, env, "--port", str(port))
        assert again.returncode == 1 and "already running" in again.stderr, again.stderr
        status = _serve("status", state, env)
        assert status.returncode == 0 and status.stdout.count(": running") == 2, status.stdout

        cli_env = env | {"PREFECT_API_URL": api}
        with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            manual = client.read_deployment_by_name("reconcile/manual")
            nightly = client.read_deployment_by_name("reconcile-nightly/nightly")
            assert manual.schedules == []
            [schedule] = [s.schedule for s in nightly.schedules]
            assert (schedule.cron, schedule.timezone) == ("0 2 * * *", "Asia/Jakarta")
            assert nightly.parameters["inbox"] == str(small_data)

            out = tmp_path / "manual"
            run_id = _trigger("reconcile/manual", cli_env,
                              kemensos=sorted(str(p) for p in small_data.glob("kemensos_*.csv")),
                              bps=str(small_data / "bps_register.parquet"),
                              stats=str(small_data / "bps_poverty_stats.csv"), out=str(out))
            _wait_for(client, run_id, state)
            assert (out / "manifest.json").exists()

            _wait_for(client, _trigger("reconcile-nightly/nightly", cli_env), state)
            assert (tmp_path / "nightly" / "manifest.json").exists()
    finally:
        stopped = _serve("stop", state, env)
    assert stopped.returncode == 0, stopped.stderr
    assert pids and all(_gone(pid) for pid in pids.values()), pids
    assert not list(state.glob("*.pid"))
    assert "nothing was running" in _serve("stop", state, env).stdout
