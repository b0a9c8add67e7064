"""Label-free accuracy estimates (reconcile.accuracy) and the audit-sample precision."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from reconcile import accuracy, db

# Six rows, two programmes, two regencies and a row without a region code. Per row the
# expected false link is 1 - p when linked; the expected missed link is q - p (q when
# unlinked), q the probability that the row's person is in the register at all.
RECONCILED = """
CREATE TABLE reconciled (id_penerima VARCHAR, program VARCHAR, id_individu VARCHAR,
    match_probability DOUBLE, in_register_probability DOUBLE, kode_wilayah VARCHAR);
INSERT INTO reconciled VALUES
 ('K-1', 'PKH',  'I-1', 0.9,  0.96, '17.01.01.2001'),
 ('K-2', 'PKH',  'I-2', 0.8,  0.8,  '17.01.02.2003'),
 ('K-3', 'PKH',  NULL,  0.3,  0.4,  '17.02.01.2001'),
 ('K-4', 'BPNT', 'I-4', 1.0,  1.0,  '17.02.01.2002'),
 ('K-5', 'BPNT', NULL,  NULL, NULL, '17.02.01.2002'),
 ('K-6', 'BPNT', 'I-6', NULL, NULL, NULL)
"""


@pytest.fixture
def estimated(con):
    for statement in RECONCILED.split(";\n"):
        db.run(con, statement)
    return con, accuracy.estimate(con)


def _row(con, level: str, **key) -> dict:
    where = "".join(f" AND {k} = ${k}" for k in key)
    frame = db.df(con, f"SELECT * FROM {accuracy.ESTIMATES} WHERE level = $level{where}",
                  {"level": level, **key})
    assert len(frame) == 1
    return frame.iloc[0].to_dict()


def test_overall_sums(estimated):
    con, figures = estimated
    row = _row(con, "overall")
    # links K-1, K-2, K-4, K-6 (K-6 has no probability: a rule link, counted certain)
    assert row["rows"] == 6 and row["links"] == 4
    assert row["expected_false_links"] == pytest.approx(0.1 + 0.2 + 0 + 0)
    assert row["expected_missed_links"] == pytest.approx(0.06 + 0 + 0.4 + 0 + 0 + 0)
    right = 0.9 + 0.8 + 1.0 + 1.0
    assert row["estimated_precision"] == pytest.approx(right / 4)
    assert row["estimated_recall"] == pytest.approx(right / (right + 0.46))
    assert figures["links"] == 4 and figures["expected_false_links"] == 0.3
    assert figures["expected_missed_links"] == pytest.approx(0.5)  # 0.46 rounded
    assert figures["estimated_precision"] == round(right / 4, 5)
    assert "estimate" in figures["kind"]


def test_per_program(estimated):
    con, figures = estimated
    pkh = _row(con, "program", program="PKH")
    assert (pkh["rows"], pkh["links"]) == (3, 2)
    assert pkh["expected_false_links"] == pytest.approx(0.3)
    assert pkh["expected_missed_links"] == pytest.approx(0.06 + 0.4)
    assert pkh["estimated_recall"] == pytest.approx(1.7 / (1.7 + 0.46))
    bpnt = _row(con, "program", program="BPNT")
    assert bpnt["expected_false_links"] == pytest.approx(0)
    assert bpnt["estimated_precision"] == pytest.approx(1.0)
    assert set(figures["per_program"]) == {"PKH", "BPNT"}
    assert figures["per_program"]["PKH"]["links"] == 2


def test_per_regency(estimated):
    con, _ = estimated
    kab = db.df(con, f"SELECT kode_kabupaten, rows, links, expected_false_links "
                     f"FROM {accuracy.ESTIMATES} WHERE level = 'kabupaten' "
                     "ORDER BY kode_kabupaten")
    assert kab["kode_kabupaten"].tolist() == ["17.01", "17.02", "unknown"]
    assert kab["rows"].tolist() == [2, 3, 1] and kab["links"].tolist() == [2, 1, 1]
    assert kab["expected_false_links"].tolist() == pytest.approx([0.3, 0.0, 0.0])
    south = _row(con, "kabupaten", kode_kabupaten="17.02")
    assert south["expected_missed_links"] == pytest.approx(0.4)


def test_no_links_gives_no_rates(con):
    db.run(con, "CREATE TABLE reconciled (id_penerima VARCHAR, program VARCHAR, "
                "id_individu VARCHAR, match_probability DOUBLE, "
                "in_register_probability DOUBLE, kode_wilayah VARCHAR)")
    db.run(con, "INSERT INTO reconciled VALUES ('K-1', 'PKH', NULL, NULL, 0.0, '17.01.01')")
    figures = accuracy.estimate(con)
    assert figures["links"] == 0 and figures["estimated_precision"] is None
    assert figures["estimated_recall"] is None


# --- audit samples --------------------------------------------------------------------

def test_wilson_known_answers():
    assert [round(x, 4) for x in accuracy.wilson(90, 100)] == [0.8256, 0.9448]
    assert [round(x, 4) for x in accuracy.wilson(100, 100)] == [0.9630, 1.0]
    assert [round(x, 4) for x in accuracy.wilson(0, 10)] == [0.0, 0.2775]
    assert all(math.isnan(x) for x in accuracy.wilson(0, 0))


BANDS = pd.DataFrame({"band": ["[0.5, 0.9)", "[0.9, 0.99)", "[0.99, 1]"],
                      "population": [1_000, 9_000, 90_000],
                      "reviewed": [100, 100, 100], "correct": [90, 99, 100]})


def test_audit_precision_per_band():
    out = accuracy.audit_precision(BANDS).set_index("band")
    assert out.loc["[0.5, 0.9)", "precision"] == pytest.approx(0.9)
    assert out.loc["[0.5, 0.9)", ["ci_low", "ci_high"]].tolist() == pytest.approx(
        [0.8256, 0.9448], abs=1e-4)
    top = out.loc["[0.99, 1]"]  # every reviewed link right: precision 1, interval not
    assert top["precision"] == 1.0 and top["ci_high"] == 1.0
    assert top["ci_low"] == pytest.approx(0.9630, abs=1e-4)


def test_audit_precision_horvitz_thompson_known_answer():
    overall = accuracy.audit_precision(BANDS).set_index("band").loc["overall"]
    # weights 0.01, 0.09, 0.90 of the links, not the 1/3 each of the sample
    assert overall["precision"] == pytest.approx(0.01 * 0.9 + 0.09 * 0.99 + 0.9 * 1.0)
    z2 = accuracy.Z95 ** 2
    variance = sum(w * w * a * (1 - a) / (100 + z2) * (1 - 100 / n) for w, a, n in (
        (0.01, (90 + z2 / 2) / (100 + z2), 1_000), (0.09, (99 + z2 / 2) / (100 + z2), 9_000),
        (0.90, (100 + z2 / 2) / (100 + z2), 90_000)))
    half = accuracy.Z95 * math.sqrt(variance)
    assert overall["ci_low"] == pytest.approx(0.9981 - half)
    assert overall["ci_high"] == pytest.approx(min(1.0, 0.9981 + half))
    assert overall["coverage"] == 1.0
    assert (overall["population"], overall["reviewed"], overall["correct"]) == (
        100_000, 300, 289)


def test_audit_precision_band_nobody_reviewed():
    bands = pd.DataFrame({"band": ["low", "high"], "population": [200, 800],
                          "reviewed": [0, 50], "correct": [0, 50]})
    out = accuracy.audit_precision(bands).set_index("band")
    assert math.isnan(out.loc["low", "precision"]) and math.isnan(out.loc["low", "ci_low"])
    overall = out.loc["overall"]
    assert overall["coverage"] == pytest.approx(0.8)
    assert overall["precision"] == pytest.approx(1.0)  # over the reviewed band only
    # the 200 unreviewed links widen the interval: all wrong below, all right above
    assert overall["ci_high"] == pytest.approx(1.0)
    assert overall["ci_low"] <= 0.8


def test_audit_precision_fully_reviewed_band_is_exact():
    bands = pd.DataFrame({"band": ["all"], "population": [40], "reviewed": [40],
                          "correct": [30]})
    overall = accuracy.audit_precision(bands).set_index("band").loc["overall"]
    assert overall["precision"] == overall["ci_low"] == overall["ci_high"] == 0.75


def test_audit_precision_nothing_reviewed():
    bands = pd.DataFrame({"band": ["a"], "population": [10], "reviewed": [0], "correct": [0]})
    overall = accuracy.audit_precision(bands).set_index("band").loc["overall"]
    assert overall["coverage"] == 0 and math.isnan(overall["precision"])
