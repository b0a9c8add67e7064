"""Kemensos beneficiary lists: who is enrolled in which program, as exported, with the truth.

Family programs (PKH, BPNT, BLT) list one pengurus per family, usually the wife; PBI-JK lists
individuals. Rows are mostly eligible families, plus inclusion errors (desil 6-10), people
missing from the register and repeated enrolments, then corrupted (corrupt.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .address import format_addresses
from .corrupt import AS_CONFIGURED, ErrorProfile, corrupt
from .field_errors import DATE_STYLES, format_dates
from .identifiers import date_parts, prefixed_ids
from .population import ROLE
from .text import replace


@dataclass(frozen=True)
class Program:
    """Targeting rules of one program; `cutoff` is the highest desil it is meant for."""

    name: str
    id_prefix: str
    eligible_desil: int      # enrolled from desil 1..eligible_desil
    cutoff: int
    coverage: float          # share of eligible families enrolled (the rest: exclusion error)
    needs_child: bool
    individual: bool
    wife_share: float        # chance the pengurus is the wife, when there is one


PROGRAMS = (
    Program("PKH", "PKH", 3, 4, 0.60, True, False, 0.90),
    Program("BPNT", "BPNT", 4, 4, 0.70, False, False, 0.60),
    Program("PBI-JK", "PBI", 5, 5, 0.70, False, True, 0.0),
    Program("BLT", "BLT", 4, 4, 0.25, False, False, 0.30),
)
INCLUSION_SHARE = 0.10            # of rows: families in desil 6-10
NOT_IN_REGISTER_SHARE = 0.05      # of rows: people the register does not have
DUPLICATE_SHARE = 0.03            # of rows: the same person enrolled again
PBI_MEMBER_SHARE = 0.92           # members of a PBI family who are listed
INCLUSION_DESIL_WEIGHTS = np.array([0, 0, 0, 0, 0, 0, 0.40, 0.25, 0.17, 0.10, 0.08])
CHILD_AGE = 18
# Export habits differ by program and regency operator; a few rows deviate.
DATE_STYLE_SHARES = (0.35, 0.30, 0.20, 0.15)
SEX_CODES = (("L", "P"), ("1", "2"), ("LAKI-LAKI", "PEREMPUAN"))
SEX_CODE_SHARES = (0.6, 0.2, 0.2)
ADDRESS_STYLE_SHARES = (0.4, 0.3, 0.3)
OFF_STYLE_SHARE = 0.10


def _family_roles(persons: pd.DataFrame, n_families: int) -> pd.DataFrame:
    family = persons["family"].to_numpy()
    role = persons["role"].to_numpy()
    head, wife = np.full(n_families, -1), np.full(n_families, -1)
    head[family[role == ROLE["KEPALA KELUARGA"]]] = np.flatnonzero(role == ROLE["KEPALA KELUARGA"])
    wife[family[role == ROLE["ISTRI"]]] = np.flatnonzero(role == ROLE["ISTRI"])
    child = persons["age"].to_numpy() < CHILD_AGE
    return pd.DataFrame({"head": head, "wife": wife,
                         "start": np.searchsorted(family, np.arange(n_families)),
                         "has_child": np.bincount(family, child, n_families) > 0})


def _take_until(rng: np.random.Generator, pool: np.ndarray, weight: np.ndarray,
                rows: np.ndarray, target: float) -> np.ndarray:
    """Weighted sample without replacement of pool families until `target` rows are reached."""
    key = rng.random(len(pool)) ** (1 / np.maximum(weight, 1e-12))  # Efraimidis-Spirakis
    order = pool[np.argsort(-key, kind="stable")]
    return order[np.cumsum(rows[order]) <= target]


def _select_families(rng: np.random.Generator, prog: Program, fam: pd.DataFrame,
                     rows_per_family: np.ndarray) -> np.ndarray:
    desil, in_reg = fam["desil"].to_numpy(), fam["in_register"].to_numpy()
    fits = fam["has_child"].to_numpy() | (not prog.needs_child)
    eligible = np.flatnonzero(in_reg & fits & (desil <= prog.eligible_desil)
                              & (rng.random(len(fam)) < prog.coverage))
    total = rows_per_family[eligible].sum() / (1 - INCLUSION_SHARE - NOT_IN_REGISTER_SHARE)
    rich = np.flatnonzero(in_reg & fits & (INCLUSION_DESIL_WEIGHTS[desil] > 0))
    included = _take_until(rng, rich, INCLUSION_DESIL_WEIGHTS[desil[rich]], rows_per_family,
                           total * INCLUSION_SHARE)
    outside = np.flatnonzero(~in_reg & fits)
    missing = _take_until(rng, outside, np.ones(len(outside)), rows_per_family,
                          total * NOT_IN_REGISTER_SHARE)
    return np.concatenate([eligible, included, missing])


def _members_of(families: np.ndarray, start: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Person indices of all members of `families` (persons are sorted by family).

    >>> _members_of(np.array([2, 0]), np.array([0, 2, 3]), np.array([2, 1, 3])).tolist()
    [3, 4, 5, 0, 1]
    """
    counts = size[families]
    first_row = np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(start[families], counts) + np.arange(counts.sum()) - first_row


def _enrolled_persons(rng: np.random.Generator, prog: Program, fam: pd.DataFrame,
                      roles: pd.DataFrame, picked: np.ndarray) -> np.ndarray:
    """Person indices listed by the program (pengurus, or picked members for PBI-JK)."""
    size = fam["size"].to_numpy()
    if prog.individual:
        per_family = np.bincount(np.repeat(np.arange(len(fam)), size), picked, len(fam))
        chosen = _select_families(rng, prog, fam, per_family.astype(np.int64))
        members = _members_of(chosen, roles["start"].to_numpy(), size)
        return members[picked[members]]
    chosen = _select_families(rng, prog, fam, np.ones(len(fam), dtype=np.int64))
    wife = roles["wife"].to_numpy()[chosen]
    use_wife = (wife >= 0) & (rng.random(len(chosen)) < prog.wife_share)
    return np.where(use_wife, wife, roles["head"].to_numpy()[chosen])


def enrol(rng: np.random.Generator, fam: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    """One row per (person, program) enrolment, repeated enrolments marked `is_copy`."""
    roles = _family_roles(persons, len(fam))
    fam = pd.concat([fam, roles[["has_child"]]], axis=1)
    picked = rng.random(len(persons)) < PBI_MEMBER_SHARE
    parts = []
    for k, prog in enumerate(PROGRAMS):
        person = _enrolled_persons(rng, prog, fam, roles, picked)
        again = person[rng.random(len(person)) < DUPLICATE_SHARE]
        parts.append(pd.DataFrame({"person": np.r_[person, again], "program": k,
                                   "is_copy": np.r_[np.zeros(len(person), bool),
                                                    np.ones(len(again), bool)]}))
    rows = pd.concat(parts, ignore_index=True)
    rows["other_member"] = _other_member(rng, persons, roles)[rows["person"].to_numpy()]
    return rows


def _other_member(rng: np.random.Generator, persons: pd.DataFrame,
                  roles: pd.DataFrame) -> np.ndarray:
    """For each person, a random other member of the family (-1 when living alone)."""
    family = persons["family"].to_numpy()
    start = roles["start"].to_numpy()[family]
    size = np.bincount(family)[family]
    offset = (np.arange(len(family)) - start + rng.integers(1, np.maximum(size, 2))) % size
    return np.where(size > 1, start + offset, -1)


def _styles(rng: np.random.Generator, key: np.ndarray, shares: tuple[float, ...]) -> np.ndarray:
    """A dominant style per key (program x regency), with a few rows in another style."""
    dominant = rng.choice(len(shares), key.max(initial=0) + 1, p=shares)[key]
    other = rng.choice(len(shares), len(key), p=shares)
    return np.where(rng.random(len(key)) < OFF_STYLE_SHARE, other, dominant)


def context(rows: pd.DataFrame, fam: pd.DataFrame, persons: pd.DataFrame,
            villages: pd.DataFrame) -> dict[str, np.ndarray]:
    """The true values of each row, in the mutable form corrupt() works on."""
    p = rows["person"].to_numpy()
    other = rows["other_member"].to_numpy()
    fam_of = persons["family"].to_numpy()[p]
    village = fam["village"].to_numpy()[fam_of]
    neighbour = villages["neighbour"].to_numpy()[village]
    nik = persons["nik"].to_numpy(str)
    day, month, year = date_parts(persons["birth"].to_numpy()[p])
    return {
        "nik": nik[p].astype(object), "no_kk": fam["kk"].to_numpy(str)[fam_of].astype(object),
        "nama": persons["nama"].to_numpy(str)[p].astype(object),
        "day": day, "month": month, "year": year,
        "sex": persons["female"].to_numpy()[p].astype(np.int64),
        "female": persons["female"].to_numpy()[p],
        "village": village, "neighbour": neighbour, "has_neighbour": neighbour != village,
        "family_nik": np.where(other >= 0, nik[np.maximum(other, 0)], "").astype(object),
        "has_family": other >= 0, "is_copy": rows["is_copy"].to_numpy(),
        "alamat": np.empty(len(p), dtype=object), "dotless": np.zeros(len(p), dtype=bool),
        "dob_blank": np.zeros(len(p), dtype=bool),
    }


def export(rng: np.random.Generator, rows: pd.DataFrame, fam: pd.DataFrame,
           persons: pd.DataFrame, villages: pd.DataFrame,
           profile: ErrorProfile = AS_CONFIGURED) -> tuple[pd.DataFrame, dict]:
    """The rows as written to the CSVs (plus truth columns), and the realised corruption rates."""
    ctx = context(rows, fam, persons, villages)
    fam_of = persons["family"].to_numpy()[rows["person"].to_numpy()]
    key = rows["program"].to_numpy() * 1000 + fam["regency"].to_numpy()[fam_of]
    ctx["alamat"][:] = format_addresses(fam.iloc[fam_of], _styles(rng, key, ADDRESS_STYLE_SHARES))
    codes, realised = corrupt(rng, ctx, profile=profile)
    kode = villages["kode"].to_numpy(str)[ctx["village"]]
    sex_codes = np.asarray(SEX_CODES)[_styles(rng, key, SEX_CODE_SHARES)]
    sex = np.where(ctx["sex"] < 0, "", sex_codes[np.arange(len(key)), np.maximum(ctx["sex"], 0)])
    out = pd.DataFrame({
        "nik": ctx["nik"].astype(str), "no_kk": ctx["no_kk"].astype(str),
        "nama": ctx["nama"].astype(str),
        "tgl_lahir": np.where(ctx["dob_blank"], "", format_dates(
            ctx["day"], ctx["month"], ctx["year"], _styles(rng, key, DATE_STYLE_SHARES))),
        "jenis_kelamin": sex, "alamat": ctx["alamat"].astype(str),
        "kode_wilayah": np.where(ctx["dotless"], replace(kode, ".", ""), kode),
        "program": np.asarray([p.name for p in PROGRAMS])[rows["program"].to_numpy()],
        "corruptions": codes,
    })
    formats = {"date_styles": dict(zip(DATE_STYLES, DATE_STYLE_SHARES, strict=True)),
               "sex_codes": {"/".join(c): s for c, s in zip(SEX_CODES, SEX_CODE_SHARES, strict=True)},
               "address_style_shares": ADDRESS_STYLE_SHARES, "off_style_share": OFF_STYLE_SHARE}
    return out, {"corruptions": realised, "formats": formats}


def truth(rng: np.random.Generator, rows: pd.DataFrame, out: pd.DataFrame, fam: pd.DataFrame,
          persons: pd.DataFrame) -> pd.DataFrame:
    """Order rows like an export (by program and village), number them, attach the truth."""
    order = np.lexsort((rng.random(len(out)), out["kode_wilayah"].str.replace(".", "").to_numpy(str),
                        rows["program"].to_numpy()))
    rows, out = rows.iloc[order].reset_index(drop=True), out.iloc[order].reset_index(drop=True)
    program = rows["program"].to_numpy()
    seq = rows.groupby("program").cumcount().to_numpy() + 1
    prefix = np.asarray([p.id_prefix + "-" for p in PROGRAMS])[program]
    out.insert(0, "id_penerima", np.strings.add(prefix, prefixed_ids("", seq, 7)))
    p = rows["person"].to_numpy()
    fam_of = persons["family"].to_numpy()[p]
    in_reg = fam["in_register"].to_numpy()[fam_of]
    desil = fam["desil"].to_numpy()[fam_of]
    cutoff = np.asarray([prog.cutoff for prog in PROGRAMS])[program]
    out["true_person_id"] = persons["person_id"].to_numpy(str)[p]
    out["true_id_individu"] = pd.Series(prefixed_ids("IND", p + 1, 9)).where(in_reg, None)
    out["true_id_keluarga"] = pd.Series(prefixed_ids("KEL", fam_of + 1, 8)).where(in_reg, None)
    out["true_desil"] = pd.array(np.where(in_reg, desil, 0), dtype="Int8")
    out.loc[~in_reg, "true_desil"] = pd.NA
    out["is_duplicate_enrolment"] = rows.groupby(["program", "person"]).cumcount().to_numpy() > 0
    out["is_inclusion_error"] = in_reg & (desil > cutoff)
    out["is_not_in_register"] = ~in_reg
    return out
