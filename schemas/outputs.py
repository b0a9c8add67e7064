"""Schemas of the published tables officers and analysts rely on."""

from __future__ import annotations

import pandera.pandas as pa

from schemas.clean import REGION

CATEGORIES = ("not_in_register", "possible_match", "inclusion_error", "exclusion_error", "duplicate_enrolment",
              "invalid_nik", "placeholder_nik", "nik_dob_conflict", "nik_mismatch",
              "region_mismatch")
STATUSES = ("open", "confirmed", "exception", "resolved")
NO_FULL_NIK = pa.Check(lambda s: ~s.str.contains(r"[0-9]{16}", na=False),
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
