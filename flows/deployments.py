"""The deployments `make serve` offers, and the worker process that serves them.

- `reconcile-nightly/nightly`: every night at 02:00 Asia/Jakarta, reconciles the newest files
  in the inbox folder (env RECONCILE_INBOX, default `data/inbox`) into RECONCILE_OUT
  (default `data/runs/nightly`). Unchanged inputs are skipped by the reconcile flow itself.
- `reconcile/manual`: no schedule; started by an officer from the UI or the command line,
  with defaults pointing at the newest files in the inbox and `data/runs/manual`.

Served runs read only from the inbox and write only under RECONCILE_OUTPUTS_ROOT (default
`data/runs`); flows.served_paths checks every run's paths before any work.

`python -m flows.serve start` runs `python -m flows.deployments` in the background with
PREFECT_API_URL set to the local server. The reconcile flow is imported only here, inside
the served process, so the launcher stays light.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from flows import environment

environment.apply()  # before Prefect is imported: it reads its settings once

from prefect import flow, get_run_logger  # noqa: E402

from flows import served_paths  # noqa: E402
from reconcile.tables import PROGRAMS  # noqa: E402

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

PROJECT = Path(__file__).resolve().parents[1]

NIGHTLY_CRON = "0 2 * * *"
TIMEZONE = "Asia/Jakarta"
NIGHTLY = "reconcile-nightly/nightly"
MANUAL = "reconcile/manual"

TABLE_SUFFIXES = (".csv", ".xlsx", ".parquet")
# a trailing date or timestamp in a file name: _2026-11-22, -20261122, _20261122T0200 ...
_DATED = re.compile(r"[_-]\d{4}-?\d{2}-?\d{2}(?:[T_-]?\d{2,6})?$")


inbox_folder = served_paths.inbox_folder


def nightly_out_folder() -> Path:
    """Where the nightly run publishes: RECONCILE_OUT, default `nightly` under the outputs
    root (`<project>/data/runs/nightly`)."""
    out = os.environ.get("RECONCILE_OUT")
    return Path(out).expanduser().resolve() if out else served_paths.outputs_root() / "nightly"


def manual_out_folder() -> Path:
    """The manual run's default output: `manual` under the outputs root."""
    return served_paths.outputs_root() / "manual"


def program_key(path: Path) -> str:
    """The program a Kemensos list belongs to: its name without prefix, date and suffix.

    >>> program_key(Path("kemensos_PKH_2026-11-22.xlsx"))
    'pkh'
    >>> program_key(Path("kemensos_pbi-jk.csv"))
    'pbi-jk'
    """
    stem = path.stem.lower().removeprefix("kemensos_")
    return _DATED.sub("", stem) or stem


def _newest(paths: list[Path]) -> Path | None:
    return max(paths, key=lambda p: (p.stat().st_mtime, p.name), default=None)


def newest_inputs(inbox: Path) -> dict:
    """The newest inputs in an inbox folder, as reconcile_flow parameters.

    - kemensos: `kemensos_*.{csv,xlsx,parquet}`, the newest file of each program (files that
      differ only by a trailing date, e.g. `kemensos_pkh_2026-11-22.csv`, are one program);
    - bps: the newest `bps_register*` file, otherwise the newest other `bps_*` table;
    - stats: the newest `bps_poverty_stats*` file.

    Raises FileNotFoundError naming the folder and what is missing.
    """
    inbox = Path(inbox)
    if not inbox.is_dir():
        raise FileNotFoundError(f"inbox folder {inbox} does not exist (set RECONCILE_INBOX)")
    tables = [p for p in inbox.iterdir()
              if p.is_file() and not p.name.startswith((".", "~$"))
              and p.suffix.lower() in TABLE_SUFFIXES]
    names = {p: p.name.lower() for p in tables}
    programs: dict[str, list[Path]] = {}
    for p in tables:
        if names[p].startswith("kemensos_"):
            programs.setdefault(program_key(p), []).append(p)
    kemensos = sorted(str(_newest(files)) for files in programs.values())
    stats = _newest([p for p in tables if names[p].startswith("bps_poverty_stats")])
    bps = _newest([p for p in tables if names[p].startswith("bps_register")]) or _newest(
        [p for p in tables if names[p].startswith("bps_")
         and not names[p].startswith("bps_poverty_stats")])
    missing = [what for what, found in (("kemensos_*.{csv,xlsx,parquet}", kemensos),
                                        ("bps_register.parquet (or bps_*)", bps),
                                        ("bps_poverty_stats.csv", stats)) if not found]
    if missing:
        raise FileNotFoundError(f"inbox folder {inbox} has no {', no '.join(missing)}")
    return {"kemensos": kemensos, "bps": str(bps), "stats": str(stats)}


@flow(name="reconcile-nightly", log_prints=False)
def nightly_flow(inbox: str | None = None, out: str | None = None,
                 pseudonymise: bool = False, force: bool = False) -> dict:
    """Reconcile the newest files in the inbox folder (the scheduled nightly run).

    Args:
        inbox: folder with kemensos_*, bps_register* and bps_poverty_stats* files
            (default: env RECONCILE_INBOX, else data/inbox).
        out: output folder (default: env RECONCILE_OUT, else data/runs/nightly).
        pseudonymise: NIK and No KK as HMAC tokens in the analysts' Parquet.
        force: reconcile again even if the inputs are unchanged since the last run.
    """
    from flows.reconcile_flow import reconcile_flow

    folder = Path(inbox) if inbox else inbox_folder()
    target = out or str(nightly_out_folder())
    if served_paths.enforced():  # anyone who can start a deployment chooses these
        folder = served_paths.check_inbox(folder)
        target = str(served_paths.check_output(target))
    inputs = newest_inputs(folder)
    get_run_logger().info("inbox %s: %s, bps %s, stats %s -> %s", folder,
                          ", ".join(Path(k).name for k in inputs["kemensos"]),
                          Path(inputs["bps"]).name, Path(inputs["stats"]).name, target)
    return reconcile_flow(**inputs, out=target, pseudonymise=pseudonymise, force=force)


def manual_defaults(inbox: Path | None = None, out: Path | None = None) -> dict:
    """Default parameters of the manual deployment: the newest files in the inbox (served
    runs read nothing else), or the names `make sample` writes when it is still empty."""
    inbox = inbox or inbox_folder()
    try:
        inputs = newest_inputs(inbox)
    except (FileNotFoundError, OSError):
        inputs = {"kemensos": sorted(str(inbox / f"kemensos_{p.lower()}.csv")
                                     for p in PROGRAMS),
                  "bps": str(inbox / "bps_register.parquet"),
                  "stats": str(inbox / "bps_poverty_stats.csv")}
    return {**inputs, "out": str(out or manual_out_folder()), "pseudonymise": False,
            "force": False}


def build_deployments() -> list[RunnerDeployment]:
    """The nightly and the manual deployment (imports the reconcile flow)."""
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    from flows.reconcile_flow import reconcile_flow

    nightly = nightly_flow.to_deployment(
        name="nightly", schedules=[Cron(NIGHTLY_CRON, timezone=TIMEZONE)],
        parameters={"inbox": str(inbox_folder()), "out": str(nightly_out_folder())},
        description="Every night at 02:00 WIB: reconcile the newest files in the inbox folder.",
        tags=["reconcile", "nightly"], entrypoint_type=EntrypointType.MODULE_PATH)
    manual = reconcile_flow.to_deployment(
        name="manual", parameters=manual_defaults(),
        description="On demand: reconcile the given Kemensos lists with the BPS register.",
        tags=["reconcile", "manual"], entrypoint_type=EntrypointType.MODULE_PATH)
    return [nightly, manual]


def main() -> None:
    """Register both deployments and run their flow runs until stopped (SIGTERM)."""
    from prefect import serve

    # One run at a time: a reconciliation uses all cores and up to 3 GB of DuckDB memory.
    serve(*build_deployments(), limit=1)


if __name__ == "__main__":
    # Run the importable copy, so that the flows are `flows.deployments.*`, not `__main__.*`:
    # flow runs start in fresh processes that load them by module path.
    from flows import deployments

    deployments.main()
