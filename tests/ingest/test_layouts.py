"""Real export layouts (issue 10), each made from the generated sample's clean CSV.

Every layout is run through the whole pipeline in-process and must account for every row
(read = reconciled + quarantined) and link as well as the same rows as clean CSV (F1
within 0.005), with no mapping file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest

from reconcile.errors import InputError
from reconcile.reference import load_regions
from synth.bench.metrics import link_metrics

pytestmark = pytest.mark.slow  # whole runs per layout (25 s): `make test` and CI

SOURCE = "kemensos_pbi-jk.csv"
SOFFICE = shutil.which("soffice")
TITLES = [["DAFTAR PENERIMA BANTUAN PBI-JK TAHAP III 2025"], ["PROVINSI BENGKULU"], []]
FOOTER = [["JUMLAH", "", ""], [], ["", "", "Mengetahui"], ["", "", "Kepala Dinas Sosial"],
          ["", "", "NIP. 197001011990031001"]]


@pytest.fixture(scope="module")
def messy_data(tmp_path_factory) -> Path:
    """Generated lists three times as messy as the sample, errors piled on careless rows:
    clean CSV then links imperfectly, so a layout that loses evidence shows in its F1."""
    from synth.generate import generate
    from synth.generate.corrupt import ErrorProfile

    out = tmp_path_factory.mktemp("messy")
    generate(out, people=3_000, seed=11,
             profile=ErrorProfile(scale=3.0, low_quality_share=0.1))
    return out


@pytest.fixture(scope="module")
def clean(messy_data) -> pd.DataFrame:
    return pd.read_csv(messy_data / SOURCE, dtype=str, keep_default_na=False)


def _digits(codes: pd.Series) -> pd.Series:
    return codes.str.replace(r"[^0-9]", "", regex=True)


def _split(frame: pd.DataFrame, names: tuple[str, str, str, str]) -> pd.DataFrame:
    digits = _digits(frame.pop("kode_wilayah"))
    for name, (start, end) in zip(names, [(0, 2), (2, 4), (4, 6), (6, 10)], strict=True):
        frame[name] = digits.str[start:end]
    return frame


def _named(frame: pd.DataFrame) -> pd.DataFrame:
    regions = load_regions(within=("17",)).set_index("kode")["nama"]
    digits = _digits(frame.pop("kode_wilayah"))
    dotted = {"provinsi": digits.str[:2],
              "kabupaten_kota": digits.str[:2] + "." + digits.str[2:4],
              "kecamatan": digits.str[:2] + "." + digits.str[2:4] + "." + digits.str[4:6],
              "desa_kelurahan": (digits.str[:2] + "." + digits.str[2:4] + "."
                                 + digits.str[4:6] + "." + digits.str[6:10])}
    for column, codes in dotted.items():
        names = codes.map(regions).fillna("").str.upper()
        if column == "kabupaten_kota":  # as P3KE writes them: KAB. X, KOTA X
            names = names.str.replace("KABUPATEN ", "KAB. ", regex=False)
        frame[column] = names
    return frame


def _write_csv(path: Path, frame: pd.DataFrame, titles=(), footer=()) -> int:
    """Write a CSV with title rows and a footer; return the header's row number."""
    width = len(frame.columns)
    lines = [",".join((row + [""] * width)[:width]) for row in titles]
    header_row = len([t for t in lines if t.strip(",")]) + 1
    body = frame.to_csv(index=False, lineterminator="\n")
    tail = [",".join((row + [""] * width)[:width]) for row in footer]
    path.write_text("\n".join(lines + [body.rstrip("\n")] + tail) + "\n")
    return header_row


def _write_xlsx(path: Path, sheets: dict[str, pd.DataFrame], titles=(), footer=(),
                extra: dict[str, list[list[str]]] | None = None) -> int:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, frame in sheets.items():
        sheet = book.create_sheet(name)
        for row in titles:
            sheet.append(row)
        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            sheet.append(list(row))
        for row in footer:
            sheet.append(row)
    for name, rows in (extra or {}).items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return len(titles) + 1


def _run(tmp_path: Path, messy_data: Path, run_config, files: list[Path], out: str = "out",
         **changes):
    from reconcile.pipeline import run_pipeline

    config = run_config(messy_data, tmp_path / out, kemensos=tuple(files), force=True,
                        **changes)
    return run_pipeline(config)


def _outcome(out: Path) -> tuple[pd.DataFrame, dict]:
    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT source_file, source_row, id_penerima, id_individu FROM read_parquet("
            "$g, hive_partitioning = false)",
            {"g": str(out / "reconciled.parquet" / "**" / "*.parquet")}).df()
    finally:
        con.close()
    return rows, json.loads((out / "manifest.json").read_text())


def _f1(rows: pd.DataFrame, truth: pd.DataFrame, key: pd.Series) -> float:
    """Link F1 over every row of the file: `key` gives each output row its original id."""
    pred = pd.Series(rows["id_individu"].to_numpy(), index=key.to_numpy())
    both = truth.assign(pred=truth["id_penerima"].map(pred))
    return link_metrics(both["pred"], both["true_id_individu"],
                        both["true_id_individu"].isna())["link_f1"]


def _balanced(manifest: dict) -> int:
    files = [f for f in manifest["rows_per_file"] if "bps" not in f["source_file"]]
    assert files and all(f["balanced"] for f in files), files
    return sum(f["rows_read"] for f in files)


@pytest.fixture(scope="module")
def baseline(messy_data, tmp_path_factory) -> float:
    from reconcile.config import RunConfig
    from reconcile.pipeline import run_pipeline

    out = tmp_path_factory.mktemp("clean") / "out"
    run_pipeline(RunConfig(kemensos=(messy_data / SOURCE,), bps=messy_data /
                           "bps_register.parquet", stats=messy_data / "bps_poverty_stats.csv",
                           out=out))
    rows, _ = _outcome(out)
    return _f1(rows, _truth(messy_data), rows["id_penerima"])


def _truth(messy_data: Path) -> pd.DataFrame:
    truth = pd.read_parquet(messy_data / "truth_kemensos.parquet")
    return truth[truth["program"] == "PBI-JK"]


def _by_row(rows: pd.DataFrame, ids: pd.Series, first: int, label: str) -> pd.Series:
    """Original ids of output rows of a file written in `ids` order from row `first`."""
    where = dict(zip(range(first, first + len(ids)), ids, strict=True))
    return rows["source_row"].where(rows["source_file"] == label).map(where)


def _layouts(clean: pd.DataFrame) -> dict[str, tuple[str, pd.DataFrame]]:
    """name -> (file name, frame) of the single-table layouts."""
    numbered = clean.copy()
    numbered.insert(0, "NO", [str(i + 1) for i in range(len(clean))])
    siks = _split(clean.rename(columns={
        "id_penerima": "db_iddtks", "nik": "db_nik", "no_kk": "db_nkk", "nama": "db_nama",
        "tgl_lahir": "db_tgl_lahir", "jenis_kelamin": "db_jenkel_id",
        "alamat": "db_alamat"}), ("db_prov", "db_kab", "db_kec", "db_kel"))
    split = _split(clean.copy(), ("kd_prop", "kd_kab", "kd_kec", "kd_kel"))
    bdt = _split(clean.copy(), ("KDPROP", "KDKAB", "KDKEC", "KDDESA"))
    p3ke = _named(clean.copy())
    dtsen = clean.drop(columns=["id_penerima"])
    return {"title_rows_csv": ("kemensos_pbi-jk.csv", numbered),
            "siks_ng": ("kemensos_pbi-jk.csv", siks),
            "split_kd": ("kemensos_pbi-jk.csv", split),
            "split_bdt": ("kemensos_pbi-jk.csv", bdt),
            "p3ke_names": ("kemensos_pbi-jk.csv", p3ke),
            "dtsen_no_id": ("kemensos_pbi-jk.csv", dtsen)}


@pytest.mark.parametrize("layout", ["title_rows_csv", "siks_ng", "split_kd", "split_bdt",
                                    "p3ke_names", "dtsen_no_id"])
def test_csv_layout_links_like_clean_csv(layout, clean, baseline, messy_data, run_config,
                                         tmp_path):
    name, frame = _layouts(clean)[layout]
    path = tmp_path / name
    titles, footer = (TITLES, FOOTER) if layout == "title_rows_csv" else ((), ())
    header = _write_csv(path, frame, titles, footer)

    _run(tmp_path, messy_data, run_config, [path])
    rows, manifest = _outcome(tmp_path / "out")

    assert _balanced(manifest) == len(clean) + (5 if footer else 0)  # blank line counted
    key = (_by_row(rows, clean["id_penerima"], header + 1, name) if layout == "dtsen_no_id"
           else rows["id_penerima"])
    f1 = _f1(rows, _truth(messy_data), key)
    print(f"{layout}: F1 {f1:.4f} (clean CSV {baseline:.4f}), rows {len(clean)}")
    assert abs(f1 - baseline) <= 0.005
    note = manifest["ingest"][name]
    assert not [w for w in note["warnings"] if "blank" in w], note
    if footer:
        assert note["title_rows"][0].startswith("DAFTAR PENERIMA")
        assert note["footer_rows"] == 4
    if layout == "dtsen_no_id":
        assert note["derived_ids"] and rows["id_penerima"].is_unique


def _legacy_xls(xlsx: Path) -> Path:
    """The workbook saved again as BIFF .xls by LibreOffice, as an old Excel would."""
    folder = xlsx.parent / "xls"
    subprocess.run([SOFFICE, f"-env:UserInstallation=file://{xlsx.parent / 'profile'}",
                    "--headless", "--convert-to", "xls", "--outdir", str(folder), str(xlsx)],
                   check=True, capture_output=True, timeout=180)
    xls = folder / xlsx.with_suffix(".xls").name
    assert xls.read_bytes()[:4] == b"\xd0\xcf\x11\xe0"  # BIFF, not a renamed zip
    return xls


@pytest.mark.parametrize("kind", ["xlsx", pytest.param("xls", marks=pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice (soffice) writes the .xls: `make office`"))])
def test_workbook_with_title_rows_and_a_sheet_per_regency(kind, clean, baseline, messy_data,
                                                          run_config, tmp_path):
    numbered = clean.copy()
    numbered.insert(0, "NO", [str(i + 1) for i in range(len(clean))])
    regency = _digits(clean["kode_wilayah"]).str[:4]
    sheets = {f"KAB {code}": numbered[regency == code] for code in sorted(regency.unique())}
    path = tmp_path / "kemensos_pbi-jk.xlsx"
    _write_xlsx(path, sheets, TITLES, FOOTER, extra={
        "REKAP": [["REKAPITULASI"], ["KABUPATEN", "JUMLAH KPM"], ["1701", "12"]],
        "KETERANGAN": [["Data per 30 Juni 2025"]]})
    if kind == "xls":
        path = _legacy_xls(path)

    _run(tmp_path, messy_data, run_config, [path])
    rows, manifest = _outcome(tmp_path / "out")

    assert _balanced(manifest) == len(clean) + 4 * len(sheets)  # JUMLAH + 3 signature rows
    f1 = _f1(rows, _truth(messy_data), rows["id_penerima"])
    print(f"workbook .{kind}: F1 {f1:.4f} (clean CSV {baseline:.4f}), sheets {len(sheets)}")
    assert abs(f1 - baseline) <= 0.005
    assert manifest["ingest"][path.name]["skipped_sheets"] == ["REKAP", "KETERANGAN"]
    first = manifest["ingest"][f"{path.name}#{next(iter(sheets))}"]
    assert first["header_row"] == 4 and first["footer_rows"] == 4
    skipped = "beneficiary table skipped: REKAP, KETERANGAN"
    assert skipped in (tmp_path / "out" / "run.log").read_text()
    summary = openpyxl.load_workbook(tmp_path / "out" / "report.xlsx").worksheets[0]
    assert any(skipped in str(row[0]) for row in summary.iter_rows(values_only=True))


def test_unrecognised_region_columns_are_warned_by_file_and_column(clean, messy_data,
                                                                   run_config, tmp_path,
                                                                   caplog):
    frame = _split(clean.copy(), ("wil_a", "wil_b", "wil_c", "wil_d"))
    path = tmp_path / SOURCE
    _write_csv(path, frame)

    _run(tmp_path, messy_data, run_config, [path])
    _, manifest = _outcome(tmp_path / "out")

    warnings = " ".join(manifest["ingest"][SOURCE]["warnings"])
    assert "kode_wilayah" in warnings and "wil_a" in warnings
    assert any(SOURCE in r.getMessage() and "wil_a" in r.getMessage()
               for r in caplog.records if r.levelname == "WARNING")


def test_a_mapping_names_unusual_region_part_columns_and_they_link_like_clean_csv(
        clean, baseline, messy_data, run_config, tmp_path):
    frame = _split(clean.copy(), ("wil_a", "wil_b", "wil_c", "wil_d"))
    path = tmp_path / SOURCE
    _write_csv(path, frame)
    mapping = tmp_path / "headers.toml"
    mapping.write_text('[columns]\nkode_provinsi = "wil_a"\nkode_kabupaten = "wil_b"\n'
                       'kode_kecamatan = "wil_c"\nkode_desa = "wil_d"\n')

    _run(tmp_path, messy_data, run_config, [path], mapping=mapping)
    rows, manifest = _outcome(tmp_path / "out")

    assert _balanced(manifest) == len(clean)
    assert manifest["ingest"][SOURCE]["warnings"] == []
    assert abs(_f1(rows, _truth(messy_data), rows["id_penerima"]) - baseline) <= 0.005


def test_warnings_are_errors_stops_the_run_naming_the_file_and_columns(
        clean, messy_data, run_config, tmp_path):
    path = tmp_path / SOURCE
    _write_csv(path, _split(clean.copy(), ("wil_a", "wil_b", "wil_c", "wil_d")))
    mapping = tmp_path / "headers.toml"
    mapping.write_text("warnings_are_errors = true\n")

    with pytest.raises(InputError) as refused:
        _run(tmp_path, messy_data, run_config, [path], mapping=mapping)

    assert SOURCE in str(refused.value) and "wil_a" in str(refused.value)
    assert "warnings_are_errors" in refused.value.indonesian
    assert not (tmp_path / "out").exists()  # nothing published


def test_id_less_file_shuffled_gives_identical_ids_and_no_changes(clean, messy_data,
                                                                  run_config, tmp_path):
    dtsen = clean.drop(columns=["id_penerima"])
    dtsen = pd.concat([dtsen, dtsen.iloc[:3]], ignore_index=True)  # identical rows
    path = tmp_path / SOURCE
    _write_csv(path, dtsen)
    _run(tmp_path, messy_data, run_config, [path])
    first, _ = _outcome(tmp_path / "out")

    _write_csv(path, dtsen.sample(frac=1, random_state=3))
    _run(tmp_path, messy_data, run_config, [path])
    second, manifest = _outcome(tmp_path / "out")

    assert sorted(first["id_penerima"]) == sorted(second["id_penerima"])
    assert len(first) == len(dtsen) and first["id_penerima"].is_unique
    assert manifest["ingest"][SOURCE]["duplicate_content_rows"] >= 3  # and the sample's
    changes = pd.read_parquet(tmp_path / "out" / "changes.parquet")
    assert changes.empty, changes[["change", "detail"]].head().to_dict("records")
