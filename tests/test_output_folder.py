"""The output folder is ours alone: anything else at `--out` is refused, never moved or
deleted; inputs may not live inside it; planted links for the lock and the versions are
refused, never followed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reconcile import publish
from reconcile.errors import InputError, RunRefused
from reconcile.pipeline import run_pipeline


def _tree(folder: Path) -> dict[str, bytes | str]:
    """Every entry under `folder`: file contents, link targets, folders."""
    return {p.relative_to(folder).as_posix(): (os.readlink(p) if p.is_symlink() else
            p.read_bytes() if p.is_file() else "dir") for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("kind", ["folder", "file", "link"])
def test_anything_at_out_not_made_by_us_is_refused_and_left_alone(run_config, small_data,
                                                                  tmp_path, kind):
    out = tmp_path / "mine"
    other = tmp_path / "other"
    other.mkdir()
    (other / "thesis.docx").write_bytes(b"years of work")
    if kind == "folder":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    elif kind == "file":
        out.write_text("mine")
    else:
        out.symlink_to(other)
    before = _tree(tmp_path)

    with pytest.raises(InputError, match=f"--out {out}") as error:
        run_pipeline(run_config(small_data, out))

    assert "nothing was moved or deleted" in str(error.value)
    assert _tree(tmp_path) == before  # not even a lock file


@pytest.mark.slow
def test_an_empty_folder_becomes_our_output(run_config, small_data, tmp_path):
    out = tmp_path / "out"
    out.mkdir()

    result = run_pipeline(run_config(small_data, out))

    assert out.is_symlink() and (out / "manifest.json").exists()
    assert (publish.versions_dir(out) / publish.MARKER).is_file()
    again = run_pipeline(run_config(small_data, out, force=True))  # ours now
    assert again["run_id"] != result["run_id"]


@pytest.mark.parametrize("where", ["out is the inbox", "out holds the inbox", "out is a file"])
def test_inputs_inside_the_output_folder_are_refused(run_config, small_data, tmp_path, where):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for path in small_data.glob("*.*"):
        (inbox / path.name).write_bytes(path.read_bytes())
    out = {"out is the inbox": inbox, "out holds the inbox": tmp_path,
           "out is a file": inbox / "bps_register.parquet"}[where]
    before = _tree(tmp_path)

    with pytest.raises(InputError, match="is inside the output folder"):
        run_config(inbox, out)

    assert _tree(tmp_path) == before


def test_a_planted_lock_link_or_hard_link_is_refused(run_config, small_data, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    lock = tmp_path / ".out.lock"
    for plant in (lock.symlink_to, lambda target: os.link(target, lock)):
        plant(victim)
        with pytest.raises(RunRefused, match=r"\.out\.lock"):
            run_pipeline(run_config(small_data, tmp_path / "out"))
        assert victim.read_text() == "precious"
        lock.unlink()
    assert not (tmp_path / "out").exists()


def test_a_planted_versions_link_is_refused(run_config, small_data, tmp_path):
    trap = tmp_path / "trap"
    trap.mkdir(mode=0o777)
    (tmp_path / ".out.versions").symlink_to(trap)

    with pytest.raises(RunRefused, match=r"\.out\.versions"):
        run_pipeline(run_config(small_data, tmp_path / "out"))

    assert list(trap.iterdir()) == []


@pytest.mark.slow
def test_an_output_of_an_earlier_release_is_still_ours(run_config, small_data, tmp_path):
    out = tmp_path / "out"
    first = run_pipeline(run_config(small_data, out))
    (publish.versions_dir(out) / publish.MARKER).unlink()  # written before markers existed

    second = run_pipeline(run_config(small_data, out, force=True))

    assert second["run_id"] != first["run_id"]
    assert (publish.versions_dir(out) / publish.MARKER).is_file()


@pytest.mark.slow
def test_versions_past_their_retention_are_deleted_and_listed_in_the_manifest(
        run_config, small_data, tmp_path):
    out = tmp_path / "out"
    first = run_pipeline(run_config(small_data, out))
    versions = publish.versions_dir(out)
    old = versions / "20200101T000000Z-0ld000"  # as if published years ago
    old.mkdir()
    state = publish.state_path(out, old.name)
    state.write_bytes(b"")

    second = run_pipeline(run_config(small_data, out, force=True, retention_days=30))

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["retention"] == {"keep_versions": publish.KEEP_VERSIONS,
                                     "retention_days": 30, "pruned_versions": [old.name]}
    assert not old.exists() and not state.exists()
    assert {p.name for p in versions.iterdir() if p.is_dir()} == {first["run_id"],
                                                                  second["run_id"]}


@pytest.mark.parametrize("days", [0, -1, 1.5, True, "30"])
def test_a_bad_retention_is_refused(run_config, small_data, tmp_path, days):
    with pytest.raises(InputError, match="--retention-days"):
        run_config(small_data, tmp_path / "out", retention_days=days)


@pytest.mark.slow
def test_a_configured_group_may_read_the_outputs_and_nobody_else(small_data, run_config,
                                                                   tmp_path):
    import grp
    import os
    import stat

    import pytest

    from reconcile.errors import InputError
    from reconcile.pipeline import run_pipeline

    own = grp.getgrgid(os.getgid()).gr_name
    out = tmp_path / "out"
    run_pipeline(run_config(small_data, out, read_group=own))
    version = out.resolve()
    for path in [version, *version.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert path.stat().st_gid == os.getgid()
        assert mode & 0o040 and not mode & 0o007, (path, oct(mode))  # group reads, others not
    state = [p for p in tmp_path.glob(".out.state/*") if p.is_file()]
    assert state and all(not stat.S_IMODE(p.stat().st_mode) & 0o077 for p in state)
    with pytest.raises(InputError, match="read_group"):
        run_config(small_data, tmp_path / "other", read_group="no-such-group-here")
