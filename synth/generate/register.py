"""The synthetic population and the BPS register (DTSEN-style) drawn from it.

Everybody, including the people Kemensos lists who are missing from the register, is drawn
together so that NIK serials and KK numbers are unique across both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reconcile.reference import load_regions

from . import vocab as v
from .address import draw_addresses, format_addresses
from .identifiers import first_districts, kk_numbers, nik_numbers, prefixed_ids
from .names import draw_names
from .population import ROLES, draw_population
from .stats import draw_desil, regency_p0
from .text import join_words, replace

URBAN_VILLAGE_WEIGHT = 2.5        # kelurahan are denser than desa
VILLAGE_SIZE_SPREAD = 0.6         # lognormal sigma of village populations
REGISTER_NIK_MISSING = 0.005      # DTSEN is matched to Dukcapil, but not completely
REGISTER_NIK_DATE_MISMATCH = 0.003  # birth date corrected after the NIK was issued (§3.1)


def load_villages(provinces: tuple[str, ...]) -> pd.DataFrame:
    """Villages of the provinces with district/regency codes and a neighbour in the district."""
    villages = load_regions("desa", provinces)
    if villages.empty:
        raise ValueError(f"no villages found for provinces {provinces}")
    kode = villages["kode"]
    district = kode.str.slice(0, 8)
    rank = villages.groupby(district).cumcount().to_numpy()
    count = district.map(district.value_counts()).to_numpy()
    return pd.DataFrame({
        "kode": kode,
        "regency_code": kode.str.slice(0, 5),
        "district": district.str.replace(".", "").astype(np.int64),
        "urban": kode.str.slice(9, 10) == "1",
        "neighbour": np.arange(len(kode)) - rank + (rank + 1) % count,
    })


def _family_frame(rng: np.random.Generator, fam: pd.DataFrame, members: pd.DataFrame,
                  villages: pd.DataFrame, regencies: np.ndarray) -> pd.DataFrame:
    weight = rng.lognormal(0, VILLAGE_SIZE_SPREAD, len(villages))
    weight *= np.where(villages["urban"], URBAN_VILLAGE_WEIGHT, 1)
    village = rng.choice(len(villages), len(fam), p=weight / weight.sum())
    regency = np.searchsorted(regencies, villages["regency_code"].to_numpy()[village])
    size = np.bincount(members["family"], minlength=len(fam))
    urban = villages["urban"].to_numpy()[village]
    frame = pd.DataFrame({"village": village, "regency": regency, "size": size,
                          "group": rng.choice(len(v.GROUPS), len(fam), p=v.GROUP_SHARES),
                          "kk": kk_numbers(rng, villages["district"].to_numpy()[village])})
    frame["desil"] = draw_desil(rng, regency, urban, size, regency_p0(rng, regencies))
    return pd.concat([frame, draw_addresses(rng, urban)], axis=1)


def _nik_birth(rng: np.random.Generator, birth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Birth date encoded in the NIK: a few were corrected later in the population record."""
    mismatch = rng.random(len(birth)) < REGISTER_NIK_DATE_MISMATCH
    shift = rng.integers(1, 400, len(birth)).astype("timedelta64[D]")
    return np.where(mismatch, birth - shift, birth), mismatch


def draw_people(rng: np.random.Generator, people: int, off_register: int,
                provinces: tuple[str, ...]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Families, persons and villages; persons of the first `people` are in the register."""
    villages = load_villages(provinces)
    regencies = np.unique(villages["regency_code"])
    fam_a, mem_a = draw_population(rng, people)
    fam_b, mem_b = draw_population(rng, off_register)
    mem_b["family"] += len(fam_a)
    mem_b.loc[mem_b["twin_of"] >= 0, "twin_of"] += len(mem_a)
    fam = pd.concat([fam_a, fam_b], ignore_index=True)
    persons = pd.concat([mem_a, mem_b], ignore_index=True)
    fam["in_register"] = np.arange(len(fam)) < len(fam_a)
    fam = pd.concat([fam, _family_frame(rng, fam, persons, villages, regencies)], axis=1)

    family = persons["family"].to_numpy()
    persons["nama"], persons["group"] = draw_names(rng, persons, fam["group"].to_numpy())
    district = villages["district"].to_numpy()[fam["village"].to_numpy()[family]]
    all_districts = load_regions("kecamatan")["kode"].str.replace(".", "").astype(np.int64)
    first = first_districts(rng, district, persons["age"].to_numpy(), np.unique(district),
                            all_districts.to_numpy())
    nik_birth, mismatch = _nik_birth(rng, persons["birth"].to_numpy())
    persons["nik"] = nik_numbers(rng, first, nik_birth, persons["female"].to_numpy())
    persons["in_register"] = fam["in_register"].to_numpy()[family]
    persons["person_id"] = prefixed_ids("P", rng.permutation(len(persons)) + 1, 8)
    persons["register_corruptions"] = np.where(mismatch, "nik_date_mismatch", "")
    return fam, persons, villages


def register_frame(rng: np.random.Generator, fam: pd.DataFrame, persons: pd.DataFrame,
                   villages: pd.DataFrame) -> pd.DataFrame:
    """The BPS register as published (all text), with its truth columns alongside."""
    reg = persons[persons["in_register"]].reset_index(drop=True)
    fam_of = reg["family"].to_numpy()
    missing = rng.random(len(reg)) < REGISTER_NIK_MISSING
    corruptions = join_words(reg["register_corruptions"].to_numpy(str),
                             np.where(missing, "nik_missing", ""))
    return pd.DataFrame({
        "id_individu": prefixed_ids("IND", np.arange(1, len(reg) + 1), 9),
        "id_keluarga": prefixed_ids("KEL", fam_of + 1, 8),
        "nik": reg["nik"].where(~missing, None),
        "no_kk": fam["kk"].to_numpy()[fam_of],
        "nama": reg["nama"],
        "tgl_lahir": reg["birth"].to_numpy().astype("datetime64[D]").astype(str),
        "jenis_kelamin": np.where(reg["female"], "P", "L"),
        "alamat": format_addresses(fam)[fam_of],
        "kode_wilayah": villages["kode"].to_numpy()[fam["village"].to_numpy()[fam_of]],
        "hubungan_keluarga": np.asarray(ROLES)[reg["role"].to_numpy()],
        "desil": fam["desil"].to_numpy()[fam_of].astype(str),
        "person_id": reg["person_id"],
        "corruptions": replace(corruptions, " ", ","),
    })
