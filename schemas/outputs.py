"""Schemas of the published tables officers and analysts rely on."""

from __future__ import annotations

import pandera.pandas as pa

from schemas.clean import DIGITS16, NIK_STATUSES, REGION

CATEGORIES = ("not_in_register", "possible_match", "inclusion_error", "exclusion_error", "duplicate_enrolment",
              "invalid_nik", "placeholder_nik", "nik_dob_conflict", "nik_mismatch",
              "region_mismatch")
STATUSES = ("open", "confirmed", "exception", "resolved")
FULL_NIK = r"[0-9]{16}"  # anywhere in a text (schemas.in_sql checks the same in SQL)
NO_FULL_NIK = pa.Check(lambda s: ~s.str.contains(FULL_NIK, na=False),
                       name="no_full_nik", element_wise=False)

Discrepancies = pa.DataFrameSchema(
    {
        "category": pa.Column(str, pa.Check.isin(CATEGORIES)),
        "severity": pa.Column(str, pa.Check.isin(("high", "medium", "low"))),
        "source": pa.Column(str, pa.Check.isin(("kemensos", "bps"))),
        "record_id": pa.Column(str),
        "person_id": pa.Column(str, nullable=True),
        "id_individu": pa.Column(str, nullable=True),
        "id_keluarga": pa.Column(str, nullable=True),
        "program": pa.Column(str, nullable=True),
        "kode_wilayah": pa.Column(str, pa.Check.str_matches(REGION), nullable=True),
        "evidence": pa.Column(str, NO_FULL_NIK, nullable=True),
        "action_id": pa.Column(str),
        "action_en": pa.Column(str),
        "cost": pa.Column(float, pa.Check.ge(0), nullable=True),
        # the matcher's evidence in one line, from comparison levels only (no value)
        "penjelasan": pa.Column(str, NO_FULL_NIK, nullable=True),
        "explanation": pa.Column(str, NO_FULL_NIK, nullable=True),
        # field-verification outcome recorded by officers (reconcile review import)
        "status": pa.Column(str, pa.Check.isin(STATUSES)),
    },
    strict=True, coerce=True, name="discrepancies")

RegionSummary = pa.DataFrameSchema(
    {
        "level": pa.Column(str, pa.Check.isin(("kabupaten", "kecamatan"))),
        "kode_wilayah": pa.Column(str, pa.Check.str_matches(REGION)),
        "beneficiaries": pa.Column("int64", pa.Check.ge(0)),
        "share_matched": pa.Column(float, pa.Check.in_range(0, 1), nullable=True),
        "desil1_coverage": pa.Column(float, pa.Check.in_range(0, 1), nullable=True),
        "desil1_families_unserved": pa.Column("int64", pa.Check.ge(0)),
    },
    unique=["level", "kode_wilayah"], strict=False, coerce=True, name="region_summary")


MATCH_TYPES = ("nik_exact", "probabilistic", "none")
BIRTH_DATE_STATUSES = ("valid", "blank", "invalid", "impossible")
REGION_STATUSES = ("valid", "blank", "bps_crosswalk", "unknown")
CODE = r"^[a-z][a-z0-9_]*$"  # reason and change codes: machine-readable, stable
_probability = pa.Column(float, pa.Check.in_range(0, 1), nullable=True)

Reconciled = pa.DataFrameSchema(
    {
        "rid": pa.Column("int64", pa.Check.ge(0), unique=True),
        "source_file": pa.Column(str),
        "source_row": pa.Column("int64", pa.Check.ge(1)),
        "id_penerima": pa.Column(str),
        "program": pa.Column(str, nullable=True),
        "person_id": pa.Column(str),
        "id_individu": pa.Column(str, nullable=True),
        "id_keluarga": pa.Column(str, nullable=True),
        "desil": pa.Column("Int64", pa.Check.in_range(1, 10), nullable=True),
        "match_probability": _probability,
        "in_register_probability": _probability,
        "match_type": pa.Column(str, pa.Check.isin(MATCH_TYPES)),
        "no_match_reason": pa.Column(str, nullable=True),  # a sentence, for officers
        "nik": pa.Column(str, pa.Check.str_matches(DIGITS16), nullable=True),
        "nik_status": pa.Column(str, pa.Check.isin(NIK_STATUSES)),
        "tgl_lahir_status": pa.Column(str, pa.Check.isin(BIRTH_DATE_STATUSES)),
        "kode_wilayah_status": pa.Column(str, pa.Check.isin(REGION_STATUSES)),
        "nik_dob_conflict": pa.Column(bool),
        "nik_sex_conflict": pa.Column(bool),
        "kode_wilayah": pa.Column(str, pa.Check.str_matches(REGION), nullable=True),
        "bps_kode_wilayah": pa.Column(str, pa.Check.str_matches(REGION), nullable=True),
        "penjelasan": pa.Column(str, nullable=True),
        "explanation": pa.Column(str, nullable=True),
    },
    # a linked row has its register person; an unlinked one has no match type
    checks=[pa.Check(lambda f: (f["id_individu"].notna()) == (f["match_type"] != "none"),
                     name="linked_rows_have_a_match_type")],
    strict=False, coerce=True, name="reconciled")

Quarantine = pa.DataFrameSchema(
    {
        "source": pa.Column(str, pa.Check.isin(("kemensos", "bps", "stats"))),
        "source_file": pa.Column(str),
        "source_row": pa.Column("int64", pa.Check.ge(1), nullable=True),
        "reason_code": pa.Column(str, pa.Check.str_matches(CODE)),
        "reason": pa.Column(str),
        "column_name": pa.Column(str, nullable=True),
        # masked before it is written: never a full NIK or KK number
        "raw_values": pa.Column(str, NO_FULL_NIK, nullable=True),
    },
    strict=True, coerce=True, name="quarantine")

Changes = pa.DataFrameSchema(
    {
        "change": pa.Column(str, pa.Check.str_matches(CODE)),
        "person_id": pa.Column(str, nullable=True),
        "record_id": pa.Column(str, nullable=True),
        "program": pa.Column(str, nullable=True),
        "detail": pa.Column(str, nullable=True),
    },
    strict=True, coerce=True, name="changes")
