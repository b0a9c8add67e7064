"""Which input column is which: header aliases seen in real exports (domain.md §2.7).

Headers are compared case-, space- and punctuation-insensitively ("NAMA_LGKP",
"Nama Lgkp" and "nama-lgkp" are the same header). A mapping file handles the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reconcile.errors import InputError
from reconcile.privacy import mask_text

ALIASES: dict[str, tuple[str, ...]] = {
    "id_penerima": ("id_penerima", "iddtks", "id_dtks", "idartbdt", "no_peserta",
                    "nomor_peserta", "nopesertapkh", "id_kpm", "id"),
    "id_individu": ("id_individu", "id_art", "idartbdt", "id_anggota"),
    "id_keluarga": ("id_keluarga", "id_keluarga_p3ke", "idbdt", "id_kk", "idkeluarga"),
    "nik": ("nik", "nik_ktp", "nomor_nik", "nik_art", "db_nik", "va_nik",
            "nomor_induk_kependudukan", "nik_penerima", "nik_pengurus", "no_nik"),
    "no_kk": ("no_kk", "nokk", "nomor_kk", "nokk_dtks", "db_nkk", "va_nkk",
              "nomor_kartu_keluarga", "nkk", "no_kartu_keluarga"),
    "nama": ("nama", "nama_lgkp", "nama_art", "nama_penerima", "nama_lengkap", "db_nama",
             "va_nama", "nama_kpm", "nama_pengurus"),
    "tgl_lahir": ("tgl_lahir", "tgllahir", "tanggal_lahir", "db_tgl_lahir", "va_tgl_lhr",
                  "tgl_lhr", "tanggal_lahir_art"),
    "jenis_kelamin": ("jenis_kelamin", "jnskel", "jns_kel", "db_jenkel_id", "va_jk",
                      "kd_jenis_kelamin", "jk", "sex"),
    "alamat": ("alamat", "db_alamat", "va_alamat", "alamat_lengkap"),
    "kode_wilayah": ("kode_wilayah", "kd_wilayah", "kode_kemdagri", "kode_kemendagri",
                     "kode_desa_kemendagri", "kode_wil"),
    "program": ("program", "program_bansos", "jenis_bantuan", "bansos", "nama_program"),
    "hubungan_keluarga": ("hubungan_keluarga", "hubkrt", "hub_krt", "hubkel", "shdk",
                          "db_shdk_id", "kd_hubungan_dg_kk", "hubungan_dengan_kepala_keluarga"),
    "desil": ("desil", "desil_kesejahteraan", "desil_nasional", "desil_kemensos",
              "kd_peringkat_kesejahteraan_keluarga", "peringkat_kesejahteraan_keluarga"),
    "tahun": ("tahun", "year", "tahun_data"),
    "jumlah_penduduk": ("jumlah_penduduk", "penduduk", "jml_penduduk"),
    "penduduk_miskin": ("penduduk_miskin", "jumlah_penduduk_miskin", "jml_penduduk_miskin"),
    "persen_miskin": ("persen_miskin", "persentase_penduduk_miskin", "p0"),
    "persen_miskin_ekstrem": ("persen_miskin_ekstrem", "persentase_miskin_ekstrem",
                              "kemiskinan_ekstrem"),
}
# Region code split over columns, as in BDT (KDPROP...) and Regsosek/P3KE exports.
REGION_PARTS: dict[str, tuple[str, ...]] = {
    "prov": ("kdprop", "kdprov", "kode_provinsi", "kode_prov", "db_province"),
    "kab": ("kdkab", "kode_kabupaten", "kode_kabupaten_kota", "kode_kab", "db_regency"),
    "kec": ("kdkec", "kode_kecamatan", "kode_kec", "db_district"),
    "desa": ("kddesa", "kode_desa", "kode_kelurahan", "kode_desa_kelurahan", "db_village"),
}
REQUIRED = {
    "kemensos": ("nik", "nama"),
    "bps": ("id_individu", "id_keluarga", "nik", "nama", "desil"),
    "stats": ("kode_wilayah", "penduduk_miskin"),
}


def normalise(header: str) -> str:
    """The comparable form of a header: lower case, letters and digits only.

    >>> normalise(" NAMA_Lgkp ")
    'namalgkp'
    """
    return re.sub(r"[^0-9a-z]", "", str(header).lower())


@dataclass(frozen=True)
class ColumnMap:
    """How one file's headers map to canonical columns."""

    columns: dict[str, str]          # canonical -> header as found
    region_parts: dict[str, str]     # prov/kab/kec/desa -> header, when split


def resolve(label: str, role: str, headers: list[str], wanted: tuple[str, ...],
            overrides: dict[str, str]) -> ColumnMap:
    """Map a file's headers to the canonical columns of its role, or raise InputError.

    `overrides` (from the mapping file) win over aliases. The error names the file, each
    missing column, the aliases tried and the headers found, so one message is enough.
    """
    found = {normalise(h): h for h in reversed(headers)}  # first occurrence wins
    columns, used = {}, set()
    for canonical in wanted:
        tried = [overrides[canonical]] if canonical in overrides else []
        tried += [canonical, *ALIASES.get(canonical, ())]
        for alias in tried:
            header = found.get(normalise(alias))
            if header is not None and header not in used:
                columns[canonical] = header
                used.add(header)
                break
    _refuse_repeated(label, headers, [*columns.values()])
    parts = {part: found[normalise(a)] for part, aliases in REGION_PARTS.items()
             for a in aliases if normalise(a) in found and found[normalise(a)] not in used}
    parts = parts if len(parts) == len(REGION_PARTS) and "kode_wilayah" not in columns else {}
    missing = [c for c in REQUIRED[role]
               if c not in columns and not (c == "kode_wilayah" and parts)]
    if missing:
        raise InputError(_missing_message(label, missing, overrides, headers))
    return ColumnMap(columns, parts)


def _refuse_repeated(label: str, headers: list[str], mapped: list[str]) -> None:
    """A column the pipeline reads whose header appears twice (also as 'NIK' and 'nik'):
    which one holds the data is a guess, so the file is refused."""
    for header in mapped:
        positions = [i + 1 for i, h in enumerate(headers) if normalise(h) == normalise(header)]
        if len(positions) > 1:
            raise InputError(f"{label}: {len(positions)} columns are headed {header!r:.40} "
                             f"(columns {', '.join(map(str, positions[:5]))}); rename or "
                             "remove all but one")


def _missing_message(label: str, missing: list[str], overrides: dict[str, str],
                     headers: list[str]) -> str:
    lines = [f"{label}: required column(s) missing: {', '.join(missing)}."]
    for column in missing:
        tried = ([overrides[column]] if column in overrides else []) + [
            column, *ALIASES.get(column, ())]
        lines.append(f"  {column}: tried headers {', '.join(dict.fromkeys(tried))}")
    # a file without a header row has a record there: shown masked (NIKs, names)
    data_row = any(re.search(r"[0-9]{8}", str(h)) for h in headers)
    shown = [(mask_text(str(h)) if data_row else str(h))[:40] for h in headers[:30]]
    lines.append(f"  headers found: {', '.join(shown) or '(none)'}"
                 f"{' ...' if len(headers) > 30 else ''}")
    lines.append("  Fix: rename the column in the file, or map it in a mapping file "
                 "(--mapping headers.toml with [columns] nik = \"YOUR HEADER\").")
    return "\n".join(lines)
