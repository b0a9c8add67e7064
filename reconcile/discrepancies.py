"""Discrepancies: one row per finding an officer can act on (fixed category names).

Every finding is a set-based query over the reconciled rows and the register. Evidence
texts are short and never carry a full NIK or a name: this table is public to officers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from reconcile import db
from reconcile.match.link import REVIEW_REASONS_SQL
from reconcile.privacy import mask_sql
from reconcile.tables import PROGRAMS, Table
from schemas.outputs import CATEGORIES

COLUMNS = ("category", "severity", "source", "record_id", "person_id", "id_individu",
           "id_keluarga", "program", "kode_wilayah", "evidence", "action_id", "action_en",
           "cost", "penjelasan", "explanation")
ACTIONS = {
    "not_in_register": (
        "Verifikasi lapangan; usulkan masuk DTSEN bila layak",
        "Verify in the field; propose for DTSEN registration if eligible"),
    "possible_match": (
        "Tinjau calon padanan di DTSEN sebelum kunjungan lapangan",
        "Review the likely register match before any field visit"),
    "inclusion_error": (
        "Tinjau kelayakan; usulkan graduasi bila keluarga sudah mampu",
        "Review eligibility; propose graduation if the family is better off"),
    "exclusion_error": (
        "Kunjungi keluarga; usulkan sebagai penerima bantuan",
        "Visit the family; propose it for enrolment"),
    "duplicate_enrolment": (
        "Hapus kepesertaan ganda; pertahankan satu",
        "Remove the extra enrolment; keep one"),
    "invalid_nik": (
        "Perbaiki NIK dengan KTP/KK dan padankan ke Dukcapil",
        "Correct the NIK from the ID card or KK and check it with Dukcapil"),
    "placeholder_nik": (
        "Isi NIK yang sebenarnya dari KTP/KK",
        "Enter the real NIK from the ID card or KK"),
    "nik_dob_conflict": (
        "Cocokkan tanggal lahir dan jenis kelamin dengan KTP",
        "Check date of birth and sex against the ID card"),
    "nik_mismatch": (
        "Periksa NIK penerima terhadap DTSEN; perbaiki salah satunya",
        "Check the beneficiary's NIK against DTSEN; correct whichever is wrong"),
    "region_mismatch": (
        "Perbarui domisili penerima atau data DTSEN",
        "Update the beneficiary's domicile or the DTSEN record"),
}
DEFAULT_CUTOFFS = {"PKH": 4, "BPNT": 4, "BLT": 4, "PBI-JK": 5}
# Each category's name and actions as the findings' SQL reads them ($action_id_<category>).
db.constants({"categories": list(CATEGORIES),
              **{f"category_{c}": c for c in ACTIONS},
              **{f"action_id_{c}": a for c, (a, _) in ACTIONS.items()},
              **{f"action_en_{c}": e for c, (_, e) in ACTIONS.items()}})


@dataclass(frozen=True)
class ReportSettings:
    """Eligibility and costing rules of the report.

    cutoff: the highest desil each program is meant for; default_cutoff for the others.
    exclusion_desil: families at or below this desil with no enrolment are exclusion errors.
    benefit: yearly benefit per program in rupiah, to cost duplicate enrolments.
    """

    cutoff: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CUTOFFS))
    default_cutoff: int = 4
    exclusion_desil: int = 1
    benefit: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_params(cls, params: dict | None) -> ReportSettings:
        """Settings from flow parameters; unknown keys or programs are refused by name."""
        params = dict(params or {})
        unknown = set(params) - {"cutoff", "default_cutoff", "exclusion_desil", "benefit"}
        if unknown:
            raise ValueError(f"unknown eligibility setting(s) {sorted(unknown)}; expected "
                             "cutoff, default_cutoff, exclusion_desil, benefit")
        for key in ("cutoff", "benefit"):
            bad = set(params.get(key, {})) - set(PROGRAMS)
            if bad:
                raise ValueError(f"{key}: unknown program(s) {sorted(bad)}; use {PROGRAMS}")
        return cls(cutoff={**DEFAULT_CUTOFFS, **params.get("cutoff", {})},
                   default_cutoff=int(params.get("default_cutoff", 4)),
                   exclusion_desil=int(params.get("exclusion_desil", 1)),
                   benefit={k: float(v) for k, v in params.get("benefit", {}).items()})

    def bind(self, con: duckdb.DuckDBPyConnection) -> None:
        """Bind the settings as session variables: cutoff_sql and benefit_sql read them, so
        no configured program name or number is ever spliced into SQL text."""
        db.set_variables(con, {
            "cutoff_programs": list(self.cutoff),
            "cutoffs": [int(c) for c in self.cutoff.values()],
            "default_cutoff": int(self.default_cutoff),
            "exclusion_desil": int(self.exclusion_desil),
            "benefit_programs": list(self.benefit),
            "benefits": [float(v) for v in self.benefit.values()]})

    def cutoff_sql(self, program: str = "program") -> str:
        """SQL giving a row's program cut-off (needs bind)."""
        return (f"coalesce(getvariable('cutoffs')[list_position("
                f"getvariable('cutoff_programs'), {program})], getvariable('default_cutoff'))")

    def benefit_sql(self, program: str = "program") -> str:
        """SQL giving a row's yearly benefit, NULL where none is configured (needs bind)."""
        if not self.benefit:
            return "NULL::DOUBLE"
        # parenthesised: `x::DOUBLE[][i]` would parse as a fixed-size array type
        return (f"(getvariable('benefits')::DOUBLE[])[list_position("
                f"getvariable('benefit_programs'), {program})]")




def _kemensos_sql(category: str, severity: str, where: str, evidence: str,
                  cost: str = "NULL::DOUBLE") -> str:
    if category not in ACTIONS:
        raise ValueError(f"unknown category {category!r}")
    return f"""
    SELECT $category_{category} AS category, {severity} AS severity, 'kemensos' AS source,
           id_penerima AS record_id, person_id, id_individu, id_keluarga, program,
           coalesce(kode_wilayah, bps_kode_wilayah) AS kode_wilayah, {evidence} AS evidence,
           $action_id_{category} AS action_id, $action_en_{category} AS action_en,
           {cost} AS cost, penjelasan, explanation, rid
    FROM enrolments WHERE {where}"""


def finding_sqls(settings: ReportSettings) -> list[str]:
    """One query per category over `enrolments` (reconciled plus row order)."""
    masked_k, masked_b = mask_sql("nik"), mask_sql("bps_nik")
    for_review = f"list_contains({REVIEW_REASONS_SQL}, no_match_reason)"
    return [
        # a register candidate more likely the person than not, but no link (below the
        # link threshold, a twin, ambiguous, or taken by a better row) goes to review,
        # not to a field visit for someone who is probably registered
        _kemensos_sql("not_in_register", "'high'",
                      f"id_individu IS NULL AND coalesce(NOT {for_review}, true)",
                      "coalesce(no_match_reason, 'tidak ditemukan di DTSEN / not in register')"),
        _kemensos_sql("possible_match", "'medium'",
                      f"id_individu IS NULL AND {for_review}",
                      "'kemungkinan terdaftar, peluang ' || round(match_probability, 2)"
                      " || ' / likely in the register, probability '"
                      " || round(match_probability, 2)"),
        _kemensos_sql("inclusion_error",
                      f"CASE WHEN desil >= {settings.cutoff_sql()} + 3 THEN 'high'"
                      " ELSE 'medium' END",
                      f"desil > {settings.cutoff_sql()}",
                      f"'desil ' || desil || ' > batas/cut-off ' || {settings.cutoff_sql()}"),
        _kemensos_sql("duplicate_enrolment", "'high'", "enrolment_no > 1",
                      "'pendaftaran ke-' || enrolment_no || ' untuk orang yang sama di ' || program"
                      " || ' / enrolment ' || enrolment_no || ' of the same person'",
                      settings.benefit_sql()),
        _kemensos_sql("invalid_nik", "CASE WHEN nik_status = 'blank' THEN 'medium' ELSE 'high' END",
                      "nik_status IN ('blank', 'excel_damaged', 'bad_length', 'is_kk', 'temporary',"
                      " 'bad_date', 'bad_region')", "'NIK: ' || nik_status"),
        _kemensos_sql("placeholder_nik", "'high'", "nik_status = 'placeholder'",
                      "'NIK berisi nol/angka berulang / placeholder NIK'"),
        _kemensos_sql("nik_dob_conflict", "'low'", "nik_dob_conflict OR nik_sex_conflict",
                      "concat_ws('; ', CASE WHEN nik_dob_conflict THEN 'tanggal lahir di NIK "
                      "berbeda / NIK date differs' END, CASE WHEN nik_sex_conflict THEN "
                      "'jenis kelamin di NIK berbeda / NIK sex differs' END)"),
        _kemensos_sql("nik_mismatch", "'medium'",
                      "id_individu IS NOT NULL AND nik IS NOT NULL AND bps_nik IS NOT NULL "
                      "AND nik <> bps_nik",
                      f"'NIK ' || {masked_k} || ' <> DTSEN ' || {masked_b}"),
        _kemensos_sql("region_mismatch",
                      "CASE WHEN left(kode_wilayah, 8) = left(bps_kode_wilayah, 8) "
                      "THEN 'low' ELSE 'medium' END",
                      "id_individu IS NOT NULL AND kode_wilayah <> bps_kode_wilayah",
                      "'terdaftar di/enrolled in ' || kode_wilayah || ', DTSEN: ' "
                      "|| bps_kode_wilayah"),
    ]


def exclusion_sql(settings: ReportSettings) -> str:
    """Poorest register families none of whose members is enrolled in any program."""
    return f"""
    SELECT 'exclusion_error' AS category, 'high' AS severity, 'bps' AS source,
           b.id_keluarga AS record_id, NULL AS person_id, NULL AS id_individu, b.id_keluarga,
           NULL AS program, any_value(b.kode_wilayah ORDER BY b.rid) AS kode_wilayah,
           'desil ' || min(b.desil) || ', ' || count(*) || ' anggota/members, tanpa bantuan / '
           || 'no enrolment' AS evidence,
           $action_id_exclusion_error AS action_id, $action_en_exclusion_error AS action_en,
           NULL::DOUBLE AS cost,
           NULL AS penjelasan, NULL AS explanation, NULL::BIGINT AS rid
    FROM {Table.CLEAN_BPS} b
    WHERE b.desil <= getvariable('exclusion_desil') AND b.id_keluarga IS NOT NULL
      AND b.id_keluarga NOT IN (SELECT id_keluarga FROM {Table.RECONCILED}
                                WHERE id_keluarga IS NOT NULL)
    GROUP BY b.id_keluarga"""


def find_discrepancies(con: duckdb.DuckDBPyConnection, settings: ReportSettings) -> dict:
    """Write the discrepancies table; return the number of findings per category."""
    settings.bind(con)
    db.run(con, f"""CREATE OR REPLACE TEMP VIEW enrolments AS
        -- the enrolment kept is the row that matches the register best, then the smallest
        -- id: a stable rule, so the same rows in another order flag the same extras
        SELECT *, row_number() OVER (PARTITION BY person_id, program
                                     ORDER BY id_individu IS NULL, match_probability DESC
                                              NULLS LAST, id_penerima, rid) AS enrolment_no
        FROM {Table.RECONCILED}""")
    union = " UNION ALL ".join([*finding_sqls(settings), exclusion_sql(settings)])
    db.run(con, f"""CREATE OR REPLACE TABLE {Table.DISCREPANCIES} AS
        SELECT {', '.join(COLUMNS)} FROM ({union})
        ORDER BY list_position($categories, category), kode_wilayah NULLS LAST, rid, record_id""")
    counts = db.df(con, f"SELECT category, count(*) AS n FROM {Table.DISCREPANCIES} GROUP BY 1")
    return dict(zip(counts["category"], counts["n"].astype(int), strict=True))
