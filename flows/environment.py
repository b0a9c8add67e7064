"""The environment defaults of every entry point (CLI, served deployments, tests), in one
place: a machine with nothing configured runs Prefect's ephemeral mode, quietly.

Each is a default only: a value already in the environment wins.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # no telemetry to a closed network
    # a cold SQLite migration of Prefect's database takes longer than its default 20 s
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "reconcile",  # the library's records in flow logs
    # the library also runs outside flows (tests, bench): its records then stay local
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    "DISABLE_PANDERA_IMPORT_WARNING": "True",
}


def apply() -> None:
    """Set every default that is not set, and create PREFECT_HOME's parent folders
    (Prefect does not)."""
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    if os.environ.get("PREFECT_HOME"):
        Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)
