"""Bilingual (Indonesian / English) labels and number formats shared by both reports.

Officers read Indonesian first; analysts and auditors often English. Every label is
"Indonesian / English" so one file serves both.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import pandas as pd

# Fixed order: the most consequential findings first, the data-quality ones after.
CATEGORIES: dict[str, str] = {
    "not_in_register": "Tidak ada di register / Not in register",
    "possible_match": "Kemungkinan terdaftar, perlu ditinjau / Possible match, to review",
    "inclusion_error": "Salah sasaran (inklusi) / Inclusion error",
    "exclusion_error": "Layak tapi belum menerima (eksklusi) / Exclusion error",
    "duplicate_enrolment": "Kepesertaan ganda / Duplicate enrolment",
    "invalid_nik": "NIK tidak valid / Invalid NIK",
    "placeholder_nik": "NIK pengganti (dummy) / Placeholder NIK",
    "nik_dob_conflict": "NIK tidak sesuai tgl. lahir / NIK-birth date conflict",
    "nik_mismatch": "NIK berbeda dari register / NIK differs from register",
    "region_mismatch": "Wilayah berbeda dari register / Region differs from register",
}

SEVERITIES: dict[str, str] = {
    "high": "Tinggi / High",
    "medium": "Sedang / Medium",
    "low": "Rendah / Low",
}

# Findings still open, and those a field team has already handled (review import).
FINDING_STATUS: dict[str, str] = {
    "n_open": "Terbuka / Open",
    "n_handled": "Sudah ditangani / Handled",
}

# Header card labels for the run_info keys the pipeline is known to pass.
RUN_INFO: dict[str, str] = {
    "run_id": "ID proses / Run ID",
    "reconciled_rows": "Baris terekonsiliasi / Reconciled rows",
    "persons": "Orang unik / Distinct persons",
    "rows_matched": "Baris cocok dengan register / Rows matched to register",
    "share_matched": "Bagian cocok / Share matched",
    "quarantined_rows": "Baris dikarantina / Quarantined rows",
}

# Discrepancy columns shown to officers (never names; NIKs are not in this table).
DISCREPANCY_COLUMNS: dict[str, str] = {
    "severity": "Tingkat / Severity",
    "category": "Kategori / Category",
    "source": "Sumber / Source",
    "record_id": "ID catatan / Record ID",
    "person_id": "ID orang / Person ID",
    "id_individu": "ID individu BPS / BPS individual ID",
    "id_keluarga": "ID keluarga BPS / BPS family ID",
    "program": "Program",
    "kode_wilayah": "Kode wilayah / Region code",
    "evidence": "Bukti / Evidence",
    "action_id": "Tindak lanjut / Action (ID)",
    "action_en": "Action (EN)",
    "cost": "Nilai (Rp) / Amount (IDR)",
}

REGION_COLUMNS: dict[str, str] = {
    "kode_wilayah": "Kode / Code",
    "nama_wilayah": "Wilayah / Region",
    "beneficiaries": "Penerima / Beneficiaries",
    "enrolments": "Kepesertaan / Enrolments",
    "enrolments_pkh": "PKH",
    "enrolments_bpnt": "BPNT",
    "enrolments_pbi_jk": "PBI-JK",
    "enrolments_blt": "BLT",
    "share_matched": "Cocok register / Matched",
    "register_desil1_families": "Keluarga desil 1 (register) / Desil-1 families (register)",
    "desil1_families_enrolled": "Desil 1 menerima / Desil-1 enrolled",
    "desil1_coverage": "Cakupan desil 1 / Desil-1 coverage",
    "desil1_families_unserved": "Desil 1 belum menerima / Desil-1 unserved",
    "inclusion_error_share": "Bagian salah sasaran / Inclusion error share",
    "bps_penduduk_miskin": "Penduduk miskin (estimasi survei BPS) / Poor (BPS survey est.)",
    "bps_miskin_ekstrem": "Miskin ekstrem (estimasi survei BPS) / Extreme poor (BPS survey est.)",
}

DESIL_COLUMNS: dict[str, str] = {
    **{f"beneficiaries_desil_{d}": f"Penerima desil {d} / Beneficiaries desil {d}"
       for d in range(1, 11)},
    "beneficiaries_desil_unknown": "Penerima desil ? / Beneficiaries, desil unknown",
}

# Columns holding a 0-1 share: shown as percentages.
SHARE_COLUMNS = frozenset({"share_matched", "desil1_coverage", "inclusion_error_share"})
# Survey estimates are not counts of people on a list: shown rounded.
ESTIMATE_COLUMNS = frozenset({"bps_penduduk_miskin", "bps_miskin_ekstrem"})

SURVEY_NOTE = (
    "Angka BPS adalah estimasi survei (Susenas), sedangkan register adalah daftar by name "
    "by address; selisih keduanya BUKAN jumlah kesalahan. / BPS figures are survey "
    "estimates (Susenas) while the register is a by-name list; the difference between "
    "them is NOT an error count."
)

# Label-free accuracy estimates (reconcile.accuracy): every label says "estimate", since
# officers must not read them as counted errors.
ACCURACY_TITLE = "Perkiraan akurasi (model, tanpa label) / Accuracy estimates (model, no labels)"
ACCURACY_LEVELS: dict[str, str] = {
    "overall": "Keseluruhan / Overall",
    "program": "Per program / By programme",
    "kabupaten": "Per kabupaten/kota / By regency",
}
ACCURACY_COLUMNS: dict[str, str] = {
    "program": "Program",
    "kode_kabupaten": "Kode / Code",
    "nama_wilayah": "Wilayah / Region",
    "rows": "Baris / Rows",
    "links": "Tautan ke register / Links",
    "expected_false_links": "Perkiraan tautan salah / Estimated false links",
    "expected_missed_links": "Perkiraan tautan terlewat / Estimated missed links",
    "estimated_precision": "Perkiraan presisi / Estimated precision",
    "estimated_recall": "Perkiraan recall / Estimated recall",
}
ACCURACY_RATES = frozenset({"estimated_precision", "estimated_recall"})
ACCURACY_EXPECTED = frozenset({"expected_false_links", "expected_missed_links"})
ACCURACY_NOTE = (
    "Ini perkiraan model dari probabilitas kecocokan, bukan hasil pemeriksaan petugas: "
    "tautan dengan probabilitas p salah dengan peluang 1 - p. / These are model "
    "estimates from the match probabilities, not errors counted by anyone: a link with "
    "probability p is wrong with chance 1 - p."
)
# Measured in the bench, 2026-12-02 (README_MATCHING.md, "Label-free accuracy estimates"):
# worst overall error 0.11 pp (our generator, recall), worst regency 0.27 pp.
ACCURACY_BENCH_NOTE = (
    "Pada data uji, perkiraan keseluruhan berselisih paling banyak 0,11 poin persen dari "
    "presisi dan recall sebenarnya, dan per kabupaten/kota paling banyak 0,3 poin persen; "
    "model terlalu yakin bila beberapa kolom salah bersamaan (baris tanpa kode wilayah: "
    "recall diperkirakan 97,7%, sebenarnya 95,0%). / On test data the overall estimate was "
    "within 0.11 percentage points of the true precision and recall, and within 0.3 points "
    "per regency; it is over-confident when several fields are wrong together (rows "
    "without a region code: recall estimated 97.7%, true 95.0%)."
)
ACCURACY_ABSENT = ("Perkiraan akurasi tidak tersedia untuk proses ini. / No accuracy "
                   "estimates for this run.")


def category_label(code: str | None) -> str:
    """The bilingual label of a category, or the code itself for a new category."""
    return CATEGORIES.get(code or "", code or "")


def ordered_categories(present: list[str]) -> list[str]:
    """Known categories in their fixed order, then any new ones alphabetically."""
    known = [c for c in CATEGORIES if c in present]
    return known + sorted(c for c in present if c not in CATEGORIES)


def is_missing(value: Any) -> bool:
    """None, NaN and pandas' NA/NaT all mean "no value"."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-likes: not a missing scalar
        return False


def fmt_int(value: Any) -> str:
    """Whole number with Indonesian thousands separators.

    >>> fmt_int(1234567)
    '1.234.567'
    >>> fmt_int(None)
    '–'
    """
    if is_missing(value):
        return "–"
    return f"{round(float(value)):,}".replace(",", ".")


def fmt_share(value: Any, digits: int = 1) -> str:
    """A 0-1 share as a percentage with a decimal comma.

    >>> fmt_share(0.4567)
    '45,7%'
    """
    if is_missing(value) or (isinstance(value, float) and math.isinf(value)):
        return "–"
    return f"{float(value) * 100:.{digits}f}%".replace(".", ",")


def fmt_decimal(value: Any, digits: int = 1) -> str:
    """A number with a decimal comma and thousands dots (expected counts are fractional).

    >>> fmt_decimal(1234.56)
    '1.234,6'
    """
    if is_missing(value):
        return "–"
    text = f"{float(value):,.{digits}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def fmt_money(value: Any) -> str:
    """Rupiah amount, rounded to whole rupiah.

    >>> fmt_money(1500000.0)
    'Rp 1.500.000'
    """
    return "–" if is_missing(value) else "Rp " + fmt_int(value)


def fmt_value(key: str, value: Any) -> str:
    """Format one run_info / region value by what its name says it holds."""
    if is_missing(value):
        return "–"
    if isinstance(value, bool):
        return "ya / yes" if value else "tidak / no"
    if (key.startswith("share_") or key in SHARE_COLUMNS) and isinstance(value, float):
        return fmt_share(value)
    if isinstance(value, numbers.Real):  # also numpy scalars, which are not int/float
        if float(value).is_integer() or key in ESTIMATE_COLUMNS:
            return fmt_int(value)
        return f"{float(value):.4g}".replace(".", ",")
    return str(value)
