"""The synthetic data generator: structure, realism and a truth that agrees with the files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reconcile.reference import load_regions
from reconcile.tables import BPS_COLUMNS, KEMENSOS_COLUMNS, STATS_COLUMNS
from synth.generate import generate, program_file
from synth.generate.corrupt import SPARSE_FIELDS, UNUSABLE_NIK, ErrorProfile
from synth.generate.kemensos import PROGRAMS

PEOPLE = 5_000
SEED = 3


@pytest.fixture(scope="module")
def gen_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("generate")
    generate(out, people=PEOPLE, seed=SEED)
    return out


@pytest.fixture(scope="module")
def register(gen_dir) -> pd.DataFrame:
    reg = pd.read_parquet(gen_dir / "bps_register.parquet")
    truth = pd.read_parquet(gen_dir / "truth_register.parquet")
    return reg.merge(truth, on="id_individu", validate="1:1")


@pytest.fixture(scope="module")
def kemensos(gen_dir) -> pd.DataFrame:
    files = [pd.read_csv(gen_dir / program_file(p.name), dtype=str, keep_default_na=False)
             for p in PROGRAMS]
    return pd.concat(files, ignore_index=True)


@pytest.fixture(scope="module")
def truth(gen_dir) -> pd.DataFrame:
    return pd.read_parquet(gen_dir / "truth_kemensos.parquet")


@pytest.fixture(scope="module")
def rates(gen_dir) -> dict:
    return json.loads((gen_dir / "corruption_rates.json").read_text())


def _nik_date(birth: pd.Series, female: pd.Series) -> pd.Series:
    dates = pd.to_datetime(birth, format="%Y-%m-%d")
    day = dates.dt.day + 40 * female
    return (day.astype(str).str.zfill(2) + dates.dt.strftime("%m")
            + dates.dt.strftime("%y"))


def test_same_seed_gives_identical_files(gen_dir, tmp_path):
    summary = generate(tmp_path, people=PEOPLE, seed=SEED)
    for name in summary["files"]:
        assert (tmp_path / name).read_bytes() == (gen_dir / name).read_bytes(), name


def test_register_columns_are_text(gen_dir, register):
    reg = pd.read_parquet(gen_dir / "bps_register.parquet")
    assert tuple(reg.columns) == BPS_COLUMNS
    assert len(reg) == PEOPLE
    assert all(str(t) in ("str", "string", "object") for t in reg.dtypes)
    assert reg["kode_wilayah"].str.fullmatch(r"17\.\d\d\.\d\d\.\d{4}").all()
    assert set(reg["jenis_kelamin"]) == {"L", "P"}
    assert set(reg["desil"].astype(int)) <= set(range(1, 11))
    assert 0.001 < reg["nik"].isna().mean() < 0.012


def test_nik_structure_matches_birth_date_sex_and_a_known_district(register):
    reg = register[register["nik"].notna()]
    assert reg["nik"].str.fullmatch(r"[0-9]{16}").all()
    assert reg["nik"].is_unique
    consistent = ~reg["corruptions"].str.contains("nik_date_mismatch")
    expected = _nik_date(reg["tgl_lahir"], reg["jenis_kelamin"] == "P")
    assert (reg["nik"].str.slice(6, 12) == expected)[consistent].all()
    assert (reg["nik"].str.slice(6, 12) != expected)[~consistent].all()
    districts = set(load_regions("kecamatan")["kode"].str.replace(".", ""))
    assert reg["nik"].str.slice(0, 6).isin(districts).all()
    assert (reg["nik"].str.slice(12) != "0000").all()


def test_serials_number_people_sharing_the_first_12_digits(register):
    nik = register["nik"].dropna()
    serial = nik.str.slice(12).astype(int)
    per_key = serial.groupby(nik.str.slice(0, 12))
    assert (per_key.max() <= per_key.count() + 5).all()  # off-register people share serials
    assert nik.str.slice(0, 12).duplicated().any()


def test_about_a_tenth_of_adults_got_their_nik_in_another_district(register):
    reg = register[register["nik"].notna()]
    adult = pd.to_datetime(reg["tgl_lahir"]) < pd.Timestamp("2000-01-01")
    moved = reg["nik"].str.slice(0, 6) != reg["kode_wilayah"].str.replace(".", "").str.slice(0, 6)
    assert 0.06 < moved[adult].mean() < 0.14
    assert moved[~adult & (pd.to_datetime(reg["tgl_lahir"]) > pd.Timestamp("2010-01-01"))].sum() == 0


def test_families_share_kk_address_region_and_desil(register):
    per_family = register.groupby("id_keluarga")
    for column in ("no_kk", "alamat", "kode_wilayah", "desil"):
        assert (per_family[column].nunique() == 1).all(), column
    heads = register["hubungan_keluarga"] == "KEPALA KELUARGA"
    assert (heads.groupby(register["id_keluarga"]).sum() == 1).all()
    assert register["no_kk"].str.fullmatch(r"[0-9]{16}").all()
    assert register.groupby("no_kk")["id_keluarga"].nunique().max() == 1


def test_parents_are_older_and_mothers_were_16_to_45(register):
    reg = register.assign(birth=pd.to_datetime(register["tgl_lahir"]))
    role, female = reg["hubungan_keluarga"], reg["jenis_kelamin"] == "P"
    mother = reg[(role == "ISTRI") | ((role == "KEPALA KELUARGA") & female)]
    father = reg[(role == "SUAMI") | ((role == "KEPALA KELUARGA") & ~female)]
    child = reg[role == "ANAK"][["id_keluarga", "birth"]]
    for parent, lo, hi in ((mother, 16, 45), (father, 18, 80)):
        pairs = child.merge(parent[["id_keluarga", "birth"]], on="id_keluarga",
                            suffixes=("", "_parent"))
        years = (pairs["birth"] - pairs["birth_parent"]).dt.days / 365.2425
        assert len(pairs) > 0
        assert years.between(lo, hi + 1).all(), years.describe()


def test_twins_share_birth_date_and_family(register):
    children = register[register["hubungan_keluarga"] == "ANAK"]
    same_day = children.duplicated(["id_keluarga", "tgl_lahir"], keep=False)
    twin_share = same_day.sum() / 2 / len(children)
    assert 0.005 < twin_share < 0.04


def test_common_names_collide(register):
    counts = register["nama"].value_counts()
    assert counts.iloc[0] >= 10
    assert register["nama"].str.startswith("MUHAMMAD ").mean() > 0.02
    assert register["nama"].str.contains("BR. ").any()


def test_kemensos_files_are_text_with_the_contract_header(gen_dir, kemensos):
    for prog in PROGRAMS:
        header = (gen_dir / program_file(prog.name)).read_text(encoding="utf-8").splitlines()[0]
        assert header == ",".join(f'"{c}"' for c in KEMENSOS_COLUMNS)
    assert kemensos["id_penerima"].is_unique
    assert kemensos["nik"].str.fullmatch(r"[0-9]\.[0-9]*E\+15").any()
    assert kemensos["nik"].str.startswith("'").any()
    assert (kemensos["nik"] == "0000000000000000").any()
    assert {"L", "P", "1", "2", "LAKI-LAKI", "PEREMPUAN"} <= set(kemensos["jenis_kelamin"])
    assert kemensos["tgl_lahir"].str.fullmatch(r"\d\d/\d\d/\d{4} 0:00:00").any()
    assert kemensos["kode_wilayah"].str.fullmatch(r"[0-9]{10}").any()


def test_every_kemensos_row_has_a_consistent_truth(kemensos, truth, register):
    assert set(truth["id_penerima"]) == set(kemensos["id_penerima"])
    assert len(truth) == len(kemensos)
    in_reg = truth["true_id_individu"].notna()
    assert (in_reg == ~truth["is_not_in_register"]).all()
    assert truth.loc[in_reg, "true_id_individu"].isin(register["id_individu"]).all()
    by_id = register.set_index("id_individu")
    matched = truth[in_reg]
    assert (by_id.loc[matched["true_id_individu"], "person_id"].to_numpy()
            == matched["true_person_id"].to_numpy()).all()
    assert (by_id.loc[matched["true_id_individu"], "desil"].astype(int).to_numpy()
            == matched["true_desil"].to_numpy()).all()
    assert not truth.loc[~in_reg, "true_person_id"].isin(register["person_id"]).any()


def test_duplicate_flags_mark_second_enrolments(truth):
    again = truth.groupby(["program", "true_person_id"]).cumcount() > 0
    assert (again == truth["is_duplicate_enrolment"]).all()
    assert 0.015 < truth["is_duplicate_enrolment"].mean() < 0.05


def test_inclusion_errors_and_missing_people_shares(truth):
    cutoff = truth["program"].map({p.name: p.cutoff for p in PROGRAMS})
    expected = truth["true_desil"].fillna(0).astype(int) > cutoff
    assert (expected == truth["is_inclusion_error"]).all()
    assert abs(truth["is_inclusion_error"].mean() - 0.10) < 0.03
    assert abs(truth["is_not_in_register"].mean() - 0.05) < 0.02


def test_realised_corruption_rates_match_the_configuration(truth, rates):
    codes = truth["corruptions"].str.split(",").explode()
    counts = codes[codes != ""].value_counts()
    for code, r in rates["corruptions"].items():
        assert counts.get(code, 0) == r["applied"], code
        if r["applicable"] >= 200:
            sd = math.sqrt(r["rate"] * (1 - r["rate"]) / r["applicable"])
            assert abs(r["realised_rate"] - r["rate"]) <= 4 * sd + 0.002, code


def test_nik_unusable_share_and_clean_rows_keep_the_true_values(kemensos, truth, register):
    rows = kemensos.merge(truth, on=["id_penerima", "program"])
    bad_nik = rows["corruptions"].str.contains("|".join(UNUSABLE_NIK))
    assert 0.08 <= bad_nik.mean() <= 0.12
    rows = rows[rows["true_id_individu"].notna()].reset_index(drop=True)
    true = register.set_index("person_id").loc[rows["true_person_id"]].reset_index()
    clean_nik = ~rows["corruptions"].str.contains("nik_") & true["nik"].notna()
    assert (rows["nik"] == true["nik"])[clean_nik].all()
    clean_dob = ~rows["corruptions"].str.contains("dob_")
    iso = rows["tgl_lahir"].str.replace(r"^(\d\d)[-/](\d\d)[-/](\d{4}).*$", r"\3-\2-\1", regex=True)
    assert (iso == true["tgl_lahir"])[clean_dob].all()
    clean_name = rows["corruptions"].str.contains("name_") == False  # noqa: E712
    assert (rows["nama"] == true["nama"])[clean_name].all()


def test_poverty_table_agrees_with_the_register(gen_dir, register):
    stats = pd.read_csv(gen_dir / "bps_poverty_stats.csv", dtype=str)
    assert tuple(stats.columns) == STATS_COLUMNS
    population = register["kode_wilayah"].str.slice(0, 5).value_counts()
    assert (stats.set_index("kode_wilayah")["jumlah_penduduk"].astype(int)
            == population.reindex(stats["kode_wilayah"]).to_numpy()).all()
    p0 = stats["persen_miskin"].astype(float)
    assert p0.between(6, 22).all()
    assert 10 < np.average(p0, weights=stats["jumlah_penduduk"].astype(int)) < 17
    assert stats["persen_miskin_ekstrem"].astype(float).between(0.3, 2.5).all()


def test_several_provinces(tmp_path):
    summary = generate(tmp_path, people=1_500, seed=1, provinces=("17", "16"))
    reg = pd.read_parquet(tmp_path / "bps_register.parquet")
    assert summary["people"] == 1_500
    assert set(reg["kode_wilayah"].str.slice(0, 2)) == {"16", "17"}


def test_a_profile_sets_its_own_rates_and_blanks_birth_dates(tmp_path):
    generate(tmp_path, people=3_000, seed=SEED, profile=SPARSE_FIELDS)
    rates = json.loads((tmp_path / "corruption_rates.json").read_text())["corruptions"]
    assert {code: rates[code]["rate"] for code, _ in SPARSE_FIELDS.rates} == dict(
        SPARSE_FIELDS.rates)
    assert rates["dob_blank"]["applied"] > 0
    rows = pd.concat([pd.read_csv(tmp_path / program_file(p.name), dtype=str,
                                  keep_default_na=False) for p in PROGRAMS], ignore_index=True)
    rows = rows.merge(pd.read_parquet(tmp_path / "truth_kemensos.parquet"),
                      on=["id_penerima", "program"])
    blank = rows["corruptions"].str.contains("dob_blank")
    assert blank.sum() == rates["dob_blank"]["applied"]
    assert (rows["tgl_lahir"] == "")[blank].all() and (rows["tgl_lahir"] != "")[~blank].all()


def test_a_profile_naming_an_unknown_corruption_is_refused(tmp_path):
    with pytest.raises(ValueError, match="dob_missing"):
        generate(tmp_path, people=500, profile=ErrorProfile(rates=(("dob_missing", 0.1),)))
