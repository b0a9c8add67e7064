"""Where runs started through `make serve` may read and write.

Anyone who can start a deployment run chooses its parameters, so a served run reads only
from the inbox folder and writes only under the outputs root:

- RECONCILE_INBOX, default `<project>/data/inbox`: every input (Kemensos lists, register,
  statistics, mapping file) must be inside it;
- RECONCILE_OUTPUTS_ROOT, default `<project>/data/runs`: the output folder must be inside
  it (not the root itself).

Paths are resolved first (relative ones against the project folder, `..` and symlinks
followed), then checked, so neither `..` nor a planted link leads out. A run that breaks
the rule is refused (RunRefused) before any work. Runs from the `reconcile` command are
the officer's own and are not restricted. Standard library only (Prefect is imported only
to ask whether a flow run came from a deployment).
"""

from __future__ import annotations

import os
from pathlib import Path

from reconcile.errors import RunRefused

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_INBOX = PROJECT / "data" / "inbox"
DEFAULT_OUTPUTS_ROOT = PROJECT / "data" / "runs"
SERVED = "RECONCILE_SERVED"  # set by flows.serve for its worker and the runs it starts


def inbox_folder() -> Path:
    """The only folder served runs read: RECONCILE_INBOX, default `<project>/data/inbox`."""
    return Path(os.environ.get("RECONCILE_INBOX") or DEFAULT_INBOX).expanduser().resolve()


def outputs_root() -> Path:
    """The folder served runs write under: RECONCILE_OUTPUTS_ROOT, default `data/runs`."""
    root = os.environ.get("RECONCILE_OUTPUTS_ROOT") or DEFAULT_OUTPUTS_ROOT
    return Path(root).expanduser().resolve()


def served() -> bool:
    """Whether this process runs flows for `make serve` (then every run is checked)."""
    return os.environ.get(SERVED) == "1"


def enforced() -> bool:
    """Whether the current flow run must keep to the inbox and the outputs root: it runs
    for `make serve`, or it was started from a deployment (wherever that was served)."""
    if served():
        return True
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    return bool(context and context.flow_run and context.flow_run.deployment_id)


def _resolved(path: str | os.PathLike) -> Path:
    path = Path(path).expanduser()
    return (path if path.is_absolute() else PROJECT / path).resolve()


def _inside(path: Path, root: Path) -> bool:
    return path != root and path.is_relative_to(root)


def _within(path: str | os.PathLike, root: Path, root_itself: bool = False) -> Path | None:
    """The real path if it lies inside `root` (or is `root`, when allowed) and was not
    written with `..`; None otherwise."""
    real = _resolved(path)
    inside = _inside(real, root) or (root_itself and real == root)
    return real if inside and ".." not in Path(path).parts else None


def check_input(path: str | os.PathLike, what: str) -> Path:
    """The input's real path if it lies in the inbox; RunRefused otherwise."""
    inbox = inbox_folder()
    real = _within(path, inbox)
    if real is None:
        raise RunRefused(f"{what} {path}: served runs read only from the inbox folder "
                         f"{inbox} (RECONCILE_INBOX); put the file there")
    return real


def check_inbox(folder: str | os.PathLike) -> Path:
    """The nightly run's folder: the inbox itself or a folder inside it."""
    inbox = inbox_folder()
    real = _within(folder, inbox, root_itself=True)
    if real is None:
        raise RunRefused(f"inbox {folder}: served runs read only from the inbox folder "
                         f"{inbox} (RECONCILE_INBOX)")
    return real


def check_output(path: str | os.PathLike) -> Path:
    """The output folder's real path if it lies under the outputs root; RunRefused
    otherwise."""
    root = outputs_root()
    real = _within(path, root)
    if real is None:
        raise RunRefused(f"out {path}: served runs write only inside the outputs root "
                         f"{root} (RECONCILE_OUTPUTS_ROOT); choose a folder there")
    return real


def check_run(kemensos: list[str], bps: str, stats: str, out: str,
              mapping: str | None = None) -> dict:
    """The run's paths, resolved, if its inputs are in the inbox and its output under the
    root; RunRefused otherwise. The run then uses these real paths, not the given ones."""
    checked = {"out": str(check_output(out)),
               "kemensos": [str(check_input(path, "kemensos")) for path in kemensos]}
    for what, path in (("bps", bps), ("stats", stats), ("mapping", mapping)):
        checked[what] = str(check_input(path, what)) if path else path
    return checked


def check_setup(nightly_out: Path) -> None:
    """The configuration `make serve` starts with: nightly output under the outputs root,
    inbox and outputs root apart (a run must not write into the folder runs read)."""
    inbox, root = inbox_folder(), outputs_root()
    if inbox == root or inbox.is_relative_to(root) or root.is_relative_to(inbox):
        raise RunRefused(f"the inbox {inbox} (RECONCILE_INBOX) and the outputs root {root} "
                         "(RECONCILE_OUTPUTS_ROOT) must not contain one another")
    check_output(nightly_out)
