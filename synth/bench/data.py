"""Bench data: clean_kemensos / clean_bps frames with truth, from the generator.

Until the validation stage lands, a small adapter turns the generator's raw files into
the clean contract (apostrophes stripped, four date formats, sex codes, dotted region
codes). Without the generator, the stand-in `synth` is used.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from synth.bench.synth import synth

_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d/%m/%Y %H:%M:%S")
_SEX = {"L": "L", "P": "P", "1": "L", "2": "P", "LAKI-LAKI": "L", "PEREMPUAN": "P",
        "M": "L", "F": "P", "PR": "P", "LK": "L"}


def _dates(raw: pd.Series) -> pd.Series:
    text = raw.astype("string").str.strip()
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    for fmt in _DATE_FORMATS:
        out = out.fillna(pd.to_datetime(text, format=fmt, errors="coerce"))
    return out.dt.date


def _region(raw: pd.Series) -> pd.Series:
    digits = raw.astype("string").str.replace(r"\D", "", regex=True).str.zfill(10)
    dotted = (digits.str[:2] + "." + digits.str[2:4] + "." + digits.str[4:6] + "."
              + digits.str[6:10])
    return dotted.where(digits.str.len() == 10)


def _person_columns(raw: pd.DataFrame) -> pd.DataFrame:
    nik = raw["nik"].astype("string").str.replace(r"[^0-9]", "", regex=True)
    good = nik.str.fullmatch(r"[0-9]{16}").fillna(False)
    return pd.DataFrame({
        "nik": nik.where(good), "nik_status": good.map({True: "valid", False: "invalid"}),
        "no_kk": raw["no_kk"].astype("string").str.replace(r"[^0-9]", "", regex=True),
        "nama": raw["nama"].astype("string"), "tgl_lahir": _dates(raw["tgl_lahir"]),
        "jenis_kelamin": raw["jenis_kelamin"].astype("string").str.upper().str.strip()
        .map(_SEX),
        "alamat": raw["alamat"].astype("string"), "kode_wilayah": _region(raw["kode_wilayah"]),
    })


def from_generated(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clean-contract frames from `reconcile generate` output, truth columns attached."""
    files = sorted(folder.glob("kemensos_*.csv"))
    raw = pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in files],
                    ignore_index=True)
    truth = pd.read_parquet(folder / "truth_kemensos.parquet")
    kem = pd.concat([raw[["id_penerima", "program"]], _person_columns(raw)], axis=1)
    kem = kem.merge(truth[["id_penerima", "true_person_id", "true_id_individu"]],
                    on="id_penerima", how="left")
    kem.insert(0, "rid", range(len(kem)))
    reg = pd.read_parquet(folder / "bps_register.parquet").astype(str)
    bps = pd.concat([reg[["id_individu", "id_keluarga"]], _person_columns(reg),
                     reg[["hubungan_keluarga"]],
                     pd.to_numeric(reg["desil"], errors="coerce").rename("desil")], axis=1)
    bps.insert(0, "rid", range(len(bps)))
    return kem, bps


def bench_data(people: int, seed: int, folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate (or synthesise) the data set of one bench size."""
    try:
        from synth.generate import generate
    except ImportError:
        return synth(people, seed)
    generate(folder, people=people, seed=seed)
    return from_generated(folder)
