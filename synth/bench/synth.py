"""A small stand-in generator of clean tables with truth, for matching development.

`synth.generate` is the project's generator; this module only makes clean_kemensos /
clean_bps shaped frames directly (no raw-file round trip) so that the matching engine can
be tested quickly. Vectorised numpy/pandas, no per-row Python.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MALE = ["AHMAD", "BUDI", "AGUS", "JOKO", "SLAMET", "WAHYU", "EKO", "DEDI", "HENDRA", "RUDI", "ANDI", "YUSUF", "RIZKI", "DIMAS", "BAMBANG", "SUPARMAN", "SUKARNO", "HARYONO", "SUGENG", "TEGUH", "FAJAR", "ARIF", "HERU", "IWAN", "IMAM", "ILHAM", "RAHMAT", "HASAN", "ALI", "UMAR", "SAIFUL", "NURDIN", "ZAINAL", "SYAHRUL", "SUDIRMAN", "DARMAWAN", "SURYADI", "WAYAN", "MADE", "KETUT", "ROBERT", "DANIEL", "HOTMAN"]
FEMALE = ["SITI", "NUR", "SRI", "DEWI", "RINA", "YANTI", "ANI", "WATI", "ENDANG", "SUMARNI", "SUPARTI", "LESTARI", "FITRI", "RATNA", "INDAH", "PUTRI", "AYU", "DIAN", "MAYA", "LINDA", "NINGSIH", "RAHAYU", "KARTINI", "AMINAH", "FATIMAH", "AISYAH", "KHADIJAH", "MARYAM", "HALIMAH", "JUBAEDAH", "NURHAYATI", "SUSANTI", "WULANDARI", "PURWANTI", "ROSMAWATI", "MARLINA", "YULIANTI"]
SECOND = ["SANTOSO", "WIJAYA", "PRATAMA", "SAPUTRA", "HIDAYAT", "KURNIAWAN", "SETIAWAN", "GUNAWAN", "HARAHAP", "NASUTION", "SIREGAR", "LUBIS", "SARI", "WATI", "NINGSIH", "ASTUTI", "HANDAYANI", "SUSILO", "PURNOMO", "SUPRIYADI", "MULYADI", "IRAWAN", "FIRMANSYAH", "RAMADHAN", "HASIBUAN", "SIMANJUNTAK"]
OLD = {"U": "OE", "J": "DJ", "C": "TJ", "Y": "J"}


def _pick(rng, words, n):
    return np.asarray(words, dtype=object)[rng.integers(0, len(words), n)]


def _families(rng, people: int) -> pd.DataFrame:
    sizes = rng.choice([1, 2, 3, 4, 5, 6], size=people // 3, p=[.1, .2, .25, .25, .12, .08])
    sizes = sizes[np.cumsum(sizes) <= people]
    fam = np.repeat(np.arange(len(sizes)), sizes)
    pos = pd.Series(fam).groupby(fam).cumcount().to_numpy()
    kab = rng.choice(["01", "02", "03", "04", "05", "06", "07", "08", "09", "71"], len(sizes))
    kec = rng.integers(1, 16, len(sizes))
    desa = rng.integers(1, 16, len(sizes)) + 2000
    village = pd.Series([f"17.{k}.{c:02d}.{d}" for k, c, d in zip(kab, kec, desa, strict=True)])
    return pd.DataFrame({
        "family": fam, "pos": pos, "village": village.to_numpy()[fam],
        "rt": rng.integers(1, 20, len(sizes))[fam], "rw": rng.integers(1, 8, len(sizes))[fam],
        "kk": (1701000000000000 + rng.integers(1, 10**9, len(sizes)))[fam].astype(str),
        "desil": rng.integers(1, 11, len(sizes))[fam],
    })


def _persons(rng, people: int) -> pd.DataFrame:
    p = _families(rng, people)
    n = len(p)
    female = np.where(p["pos"] == 1, True, np.where(p["pos"] == 0, False, rng.random(n) < .5))
    first = np.where(female, _pick(rng, FEMALE, n), _pick(rng, MALE, n))
    second = np.where(rng.random(n) < .7, " " + _pick(rng, SECOND, n), "")
    born = np.where(p["pos"] < 2, rng.integers(-9000, 9000, n), rng.integers(9000, 18000, n))
    dob = pd.to_datetime("1970-01-01") + pd.to_timedelta(born, unit="D")
    # Twins: the next child of 1.5% of families shares the birth date.
    twin = (p["pos"] >= 3) & (rng.random(n) < .05)
    dob = pd.Series(dob).where(~twin, pd.Series(dob).shift(1)).to_numpy()
    dob = pd.DatetimeIndex(dob)
    region = pd.Series(p["village"]).str.replace(".", "", regex=False).str[:6]
    moved = rng.random(n) < .05
    region = region.where(~moved, "1701" + pd.Series(rng.integers(1, 16, n)).map("{:02d}".format))
    day = dob.day + np.where(female, 40, 0)
    date_part = (pd.Series(day).map("{:02d}".format) + dob.strftime("%m%y").to_series().values)
    stem = region.to_numpy() + date_part.to_numpy()
    serial = pd.Series(stem).groupby(stem).cumcount().to_numpy() + 1
    p["nik"] = stem + pd.Series(serial).map("{:04d}".format).to_numpy()
    p["nama"] = first + second
    p["sex"] = np.where(female, "P", "L")
    p["dob"] = dob.date
    p["person_id"] = np.arange(n)
    return p


def _corrupt_names(rng, nama: pd.Series) -> pd.Series:
    n = len(nama)
    r = rng.random(n)
    out = nama.copy()
    for i, (new, old) in enumerate(OLD.items()):
        pick = (r >= .04 * i) & (r < .04 * (i + 1))
        out[pick] = out[pick].str.replace(new, old, n=1, regex=False)
    title = rng.random(n) < .05
    out[title] = "H. " + out[title]
    degree = rng.random(n) < .03
    out[degree] = out[degree] + ", S.PD."
    typo = rng.random(n) < .08
    pos = (rng.random(n) * out.str.len().clip(lower=2)).astype(int)
    letters = _pick(rng, list("AEIOUNRST"), n)
    typo_names = [s[:k] + c + s[k + 1:] for s, k, c in
                  zip(out[typo], pos[typo], letters[typo], strict=True)]
    out[typo] = typo_names
    short = rng.random(n) < .05
    out[short] = out[short].str.split(" ").str[0]
    order = rng.random(n) < .03
    out[order] = out[order].str.split(" ").map(lambda t: " ".join(reversed(t)))
    muh = out.str.startswith("MUHAMMAD ") | (rng.random(n) < .03)
    out[muh] = "M. " + out[muh].str.replace("MUHAMMAD ", "", regex=False)
    return out


def _enrol(rng, persons: pd.DataFrame, share: float) -> pd.DataFrame:
    chosen = persons[rng.random(len(persons)) < share]
    copies = rng.choice([1, 2, 3], size=len(chosen), p=[.7, .22, .08])
    rows = chosen.loc[chosen.index.repeat(copies)].reset_index(drop=True)
    rows["is_duplicate_enrolment"] = rows.duplicated("person_id")
    return rows


def _corrupt_rows(rng, rows: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    n = len(rows)
    rows = rows.copy()
    rows["nama"] = _corrupt_names(rng, rows["nama"])
    nik = rows["nik"].copy()
    r = rng.random(n)
    pos = rng.integers(0, 12, n)
    digit = rng.integers(0, 10, n).astype(str)
    typo = r < .03
    nik[typo] = [s[:k] + d + s[k + 1:] for s, k, d in
                 zip(nik[typo], pos[typo], digit[typo], strict=True)]
    family = (r >= .03) & (r < .045)
    head = persons.groupby("family")["nik"].first()
    nik[family] = head.reindex(rows.loc[family, "family"]).to_numpy()
    nik[(r >= .045) & (r < .055)] = nik[(r >= .045) & (r < .055)].str[:15] + "0"
    nik[(r >= .055) & (r < .11)] = None
    rows["nik"] = nik
    dob = pd.to_datetime(pd.Series(rows["dob"]))
    r = rng.random(n)
    swap = (r < .04) & (dob.dt.day <= 12)
    swapped = pd.to_datetime({"year": dob.dt.year, "month": dob.dt.day, "day": dob.dt.month},
                             errors="coerce")
    dob = dob.where(~swap, swapped)
    dob = dob.where(~((r >= .04) & (r < .06)), pd.to_datetime(dob.dt.year.astype(str) + "-07-01"))
    dob = dob.where(~((r >= .06) & (r < .08)), pd.NaT)
    rows["dob"] = dob.dt.date
    moved = rng.random(n) < .03
    rows.loc[moved, "village"] = persons["village"].sample(int(moved.sum()), replace=True,
                                                            random_state=1).to_numpy()
    rows.loc[rng.random(n) < .03, "sex"] = None
    return rows


def synth(people: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(clean_kemensos, clean_bps) frames; kemensos carries true_person_id and
    true_id_individu (NULL for people not in the register)."""
    rng = np.random.default_rng(seed)
    persons = _persons(rng, people)
    in_register = rng.random(len(persons)) >= .03
    bps = persons[in_register]
    rows = _enrol(rng, persons, .3)
    rows = _corrupt_rows(rng, rows, persons)
    n = len(rows)
    kem = pd.DataFrame({
        "rid": np.arange(n), "id_penerima": [f"K{i:08d}" for i in rng.permutation(n)],
        "program": _pick(rng, ["PKH", "BPNT", "PBI-JK", "BLT"], n), "nik": rows["nik"],
        "nik_status": np.where(rows["nik"].isna(), "missing", "valid"),
        "no_kk": rows["kk"].where(rng.random(n) < .8), "nama": rows["nama"],
        "tgl_lahir": rows["dob"], "jenis_kelamin": rows["sex"],
        "alamat": "RT " + rows["rt"].astype(str) + " RW " + rows["rw"].astype(str),
        "kode_wilayah": rows["village"], "true_person_id": rows["person_id"],
        "true_id_individu": np.where(in_register[rows["person_id"]],
                                     "I" + rows["person_id"].astype(str), None),
    })
    reg = pd.DataFrame({
        "rid": np.arange(len(bps)), "id_individu": "I" + bps["person_id"].astype(str),
        "id_keluarga": "F" + bps["family"].astype(str), "nik": bps["nik"],
        "nik_status": "valid", "no_kk": bps["kk"], "nama": bps["nama"].to_numpy(),
        "tgl_lahir": bps["dob"], "jenis_kelamin": bps["sex"],
        "alamat": "RT 00" + bps["rt"].astype(str) + " / RW 00" + bps["rw"].astype(str),
        "kode_wilayah": bps["village"], "hubungan_keluarga": bps["pos"].clip(upper=3) + 1,
        "desil": bps["desil"],
    }).reset_index(drop=True)
    return kem, reg
