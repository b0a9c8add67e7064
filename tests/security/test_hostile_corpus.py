"""The hostile corpus (issue 14, must-show 4): every damaged or hostile input ends in a
clean refusal or a clean acceptance, within 30 seconds, with no row lost and no user
file moved or deleted. The table of cases is in tests/security/hostile.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.hostile import CASES, make_base, prepare, run_corpus, snapshot, summary

CLI_TIMEOUT = 120  # a refusal found inside the flow waits for Prefect's temporary server


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_base(tmp_path_factory.mktemp("hostile-base"))


def test_the_corpus_covers_the_reported_kinds():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 67
    assert {c.expect for c in CASES} == {"refused", "accepted"}


@pytest.mark.slow  # 45 s of one worker: in `make test` and CI, not in `make check`
def test_every_hostile_input_gets_a_clean_answer(base, tmp_path):
    results = run_corpus(CASES, base, tmp_path)
    table = summary(results)
    (tmp_path / "hostile-corpus.txt").write_text(table + "\n")
    print("\n" + table)
    broken = [r for r in results if not r.ok]
    assert not broken, "\n".join(f"{r.name}: {r.outcome} ({r.expected} expected): "
                                 f"{r.first_line()} {r.problems}" for r in broken)


# --- the same refusals through the real command ---------------------------------------

RECONCILE = Path(sys.executable).parent / "reconcile"
CLI_CASES = {  # case -> what stderr must name
    "file_missing": "missing.csv",
    "file_is_fifo": "pipe.csv",
    "hmac_key_weak_repeated": "RECONCILE_HMAC_KEY",
    "stats_duplicate_region": "bps_poverty_stats.csv",   # found inside the flow
    "register_duplicate_ids": "bps_register.parquet",    # found inside the flow
}


def _cli_command(inputs, *options: str) -> list[str]:
    command = [str(RECONCILE), "run", "--kemensos", *map(str, inputs.kemensos),
               "--bps", str(inputs.bps), "--stats", str(inputs.stats), "--out",
               str(inputs.out), "--workers", "1", *options]
    if inputs.options.get("pseudonymise"):
        command.append("--pseudonymise")
    return command


@pytest.mark.slow
@pytest.mark.parametrize("name", [*CLI_CASES, "eligibility_not_json"])
def test_the_command_refuses_in_one_line(base, tmp_path, name):
    case = next((c for c in CASES if c.name == name), CASES[0])
    prepared = prepare(case, base, tmp_path / "case")
    inputs = prepared.inputs
    options = ("--eligibility", "{cutoff: 4") if name == "eligibility_not_json" else ()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")},
           "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED":
           "false", "DISABLE_PANDERA_IMPORT_WARNING": "True", **inputs.env}
    (tmp_path / "prefect").mkdir()

    done = subprocess.run(_cli_command(inputs, *options), env=env, capture_output=True,
                          text=True, timeout=CLI_TIMEOUT, cwd=tmp_path)

    err = done.stderr.strip()
    assert done.returncode == 2, (done.returncode, err[-2000:])
    assert "Traceback" not in err, err[-2000:]
    # the refusal is the last block: its English line, then indented detail and the
    # Indonesian text, with no ERROR or traceback noise before it
    noise = [line for line in err.splitlines() if "| INFO" not in line]
    assert noise[0].startswith("reconcile: ") and len(noise) < 10, err[-2000:]
    assert all(line.startswith("  ") for line in noise[1:]), err[-2000:]
    assert CLI_CASES.get(name, "--eligibility") in noise[0], err
    assert snapshot(inputs.folder) == prepared.before  # no input moved or changed
    assert not (inputs.out / "manifest.json").exists()
