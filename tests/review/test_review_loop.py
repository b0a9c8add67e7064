"""The review loop end to end: a run queues items and writes workbooks, officers decide,
`reconcile review import` checks and stores the decisions, the next run honours them, and
editing a record expires its decision."""

from __future__ import annotations

import csv
import io
import json
import shutil
import stat
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest

from flows.cli import main
from reconcile.pipeline import run_pipeline
from reconcile.review.workbook import DECISIONS, OUTCOMES

LABEL = {code: label for label, code in (*DECISIONS.items(), *OUTCOMES.items())}


def _queue(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "restricted" / "review" / "queue.parquet")


def _fill(workbook: Path, decisions: dict[str, str], reviewer: str = "Ibu Sari") -> None:
    """Fill the decision cells of the rows holding these item ids, as an officer would."""
    book = openpyxl.load_workbook(workbook)
    for sheet in book.worksheets:
        titles = {str(c.value).strip().lower(): c.column for c in sheet[2] if c.value}
        for row in range(3, sheet.max_row + 1):
            item = sheet.cell(row, titles["item_id"]).value
            if item is not None and item in decisions:
                sheet.cell(row, titles["keputusan"]).value = LABEL[decisions[item]]
                sheet.cell(row, titles["nama pemeriksa"]).value = reviewer
                sheet.cell(row, titles["tanggal"]).value = "01/12/2026"
    book.save(workbook)


def _first_finding(workbook: Path) -> tuple[str, str]:
    """(item id, category) of the first finding listed for field verification."""
    book = openpyxl.load_workbook(workbook, read_only=True)
    for sheet in book.worksheets:
        if sheet.title.startswith("temuan"):
            rows = list(sheet.iter_rows(min_row=2, max_row=3, values_only=True))
            titles = [str(t).strip().lower() if t else "" for t in rows[0]]
            return rows[1][titles.index("item_id")], sheet.title
    raise AssertionError("no finding sheet")


def _workbook_of(out: Path, item: pd.Series) -> Path:
    return out / "restricted" / "review" / f"review-{item['kode_desa'][:8]}.xlsx"


def _edit_name(data: Path, id_penerima: str) -> None:
    """A data officer corrects one beneficiary's name in the source export; every other
    line of the file stays byte for byte as it was."""
    for path in sorted(data.glob("kemensos_*.csv")):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        header = next(csv.reader([lines[0]]))
        for n, line in enumerate(lines[1:], start=1):
            fields = next(csv.reader([line]), [])
            if len(fields) == len(header) and fields[header.index("id_penerima")] == id_penerima:
                fields[header.index("nama")] += " WATI"
                out = io.StringIO()
                csv.writer(out, lineterminator=line[len(line.rstrip("\r\n")):] or "\n"
                           ).writerow(fields)
                lines[n] = out.getvalue()
                path.write_text("".join(lines), encoding="utf-8")
                return
    raise AssertionError(f"{id_penerima} not found")


def _reconciled(out: Path) -> pd.DataFrame:
    return duckdb.sql(f"SELECT id_penerima, person_id, id_individu FROM "
                      f"read_parquet('{out}/reconciled.parquet/**/*.parquet')").df()


def _pick(queue: pd.DataFrame) -> dict[str, pd.Series]:
    """One item per role, from different records."""
    links, dedupes = queue[queue["kind"] == "link"], queue[queue["kind"] == "dedupe"]
    unlinked = links[links["why"].str.startswith(("possible", "ambiguous", "best", "register"),
                                                 na=False)]
    linked = links[links["why"].isin(["nik_mismatch", "nik_dob_conflict"])]
    picked, used = {}, set()
    for role, pool in (("same", unlinked if len(unlinked) else links),
                       ("different", linked if len(linked) else links),
                       ("merge", dedupes), ("unsure", links), ("stale", links),
                       ("conflict", links)):
        pool = pool[~pool["id_penerima"].isin(used) & ~pool["other_id"].isin(used)]
        assert len(pool), f"no queue item left for {role}"
        item = pool.sort_values("item_id").iloc[0]
        picked[role] = item
        used |= {item["id_penerima"], item["other_id"]}
    return picked


@pytest.mark.slow
def test_decisions_bind_the_next_run_and_expire_when_a_record_changes(
        small_data, tmp_path, run_config, capsys):
    data = tmp_path / "data"
    shutil.copytree(small_data, data)
    out = tmp_path / "out"
    config = run_config(data, out, force=True)

    # run 1 writes the queue and the owner-only workbooks
    run_pipeline(config)
    queue = _queue(out)
    workbooks = sorted((out / "restricted" / "review").glob("review-*.xlsx"))
    assert len(queue) and workbooks
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in workbooks)
    assert queue.groupby("kode_desa").size().max() <= 25
    item = _pick(queue)

    # officers decide on run 1's workbooks
    for role, code in (("same", "same"), ("different", "different"), ("merge", "same"),
                       ("unsure", "unsure"), ("stale", "same"), ("conflict", "same")):
        _fill(_workbook_of(out, item[role]), {item[role]["item_id"]: code})
    finding, finding_sheet = _first_finding(workbooks[0])
    _fill(workbooks[0], {finding: "confirmed"})  # a field team confirmed this finding
    second = tmp_path / "returned-by-another-reviewer.xlsx"
    shutil.copy(_workbook_of(out, item["conflict"]), second)
    _fill(second, {item["conflict"]["item_id"]: "different"}, reviewer="Pak Budi")
    returned = [tmp_path / f"returned-{n}.xlsx" for n in range(len(workbooks))]
    for source, copy in zip(workbooks, returned, strict=True):
        shutil.copy(source, copy)

    # meanwhile a record of the 'stale' item is corrected and the night's run happens
    _edit_name(data, item["stale"]["id_penerima"])
    run_pipeline(config)

    # the import stores the valid decisions and names the stale and conflicting rows
    code = main(["review", "import", *map(str, [*returned, second]), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 1
    assert "stored 5 decision(s)" in printed
    stale_lines = [line for line in printed.splitlines() if "stale" in line]
    conflict_lines = [line for line in printed.splitlines() if "conflicting" in line]
    # one line per returned workbook holding the stale decision: the second reviewer's
    # copy holds it too when the stale and the conflicting item share a kecamatan
    copies = 1 + (_workbook_of(out, item["stale"]) == _workbook_of(out, item["conflict"]))
    assert len(stale_lines) == copies and all(" row " in line for line in stale_lines)
    assert len(conflict_lines) == 2 and any(str(second) in line for line in conflict_lines)

    # the next run honours every valid decision and lists them in the change report
    run_pipeline(config)
    rows = _reconciled(out).set_index("id_penerima")
    same, different, merge = item["same"], item["different"], item["merge"]
    assert rows.loc[same["id_penerima"], "id_individu"] == same["other_id"]
    assert rows.loc[different["id_penerima"], "id_individu"] != different["other_id"]
    assert rows.loc[merge["id_penerima"], "person_id"] == rows.loc[merge["other_id"],
                                                                   "person_id"]
    changes = pd.read_parquet(out / "changes.parquet")
    applied = changes[changes["change"] == "decision_applied"]
    assert set(applied["record_id"]) == {same["id_penerima"], different["id_penerima"],
                                         merge["id_penerima"]}
    assert (changes["change"] == "decision_recorded").sum() == 1  # 'unsure' binds nothing
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["decisions"]["store_version"] == 1 and manifest["decisions"]["active"] == 4
    audit = manifest["review"]["audit_precision"]  # measured precision per band, overall
    assert audit[-1]["band"] == "overall" and sum(b["population"] for b in audit[:-1]) > 0
    findings = pd.read_parquet(out / "discrepancies.parquet")
    assert (findings["status"] == "confirmed").sum() == 1  # the field team's outcome
    assert (findings["status"] == "open").sum() == len(findings) - 1
    assert finding_sheet.removeprefix("temuan ") in set(
        findings.loc[findings["status"] == "confirmed", "category"])
    decided = {same["item_id"], different["item_id"], merge["item_id"]}
    assert not decided & set(_queue(out)["item_id"])  # settled items leave the queue

    # editing the matched record expires its decision; the item returns to the queue
    _edit_name(data, same["id_penerima"])
    run_pipeline(config)
    changes = pd.read_parquet(out / "changes.parquet")
    expired = changes[changes["change"] == "decision_expired"]
    assert list(expired["record_id"]) == [same["id_penerima"]]
    assert same["item_id"] in set(_queue(out)["item_id"])
