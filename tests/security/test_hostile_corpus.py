"""The hostile corpus (issue 14, must-show 4): every damaged or hostile input ends in a
clean refusal or a clean acceptance, within 30 seconds, with no row lost and no user
file moved or deleted. The table of cases is in tests/security/hostile.py."""

from __future__ import annotations

import pytest

from tests.security.hostile import CASES, make_base, run_corpus, summary


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_base(tmp_path_factory.mktemp("hostile-base"))


def test_the_corpus_covers_the_reported_kinds():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 67
    assert {c.expect for c in CASES} == {"refused", "accepted"}


def test_every_hostile_input_gets_a_clean_answer(base, tmp_path):
    results = run_corpus(CASES, base, tmp_path)
    table = summary(results)
    (tmp_path / "hostile-corpus.txt").write_text(table + "\n")
    print("\n" + table)
    broken = [r for r in results if not r.ok]
    assert not broken, "\n".join(f"{r.name}: {r.outcome} ({r.expected} expected): "
                                 f"{r.first_line()} {r.problems}" for r in broken)
