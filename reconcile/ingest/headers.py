"""Which input column is which: header aliases seen in real exports (domain.md §2.7).

Headers are compared case-, space- and punctuation-insensitively ("NAMA_LGKP",
"Nama Lgkp" and "nama-lgkp" are the same header). A mapping file handles the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reconcile.errors import README, InputError, where
from reconcile.privacy import mask_text

ALIASES: dict[str, tuple[str, ...]] = {
    "id_penerima": ("id_penerima", "iddtks", "id_dtks", "db_iddtks", "db_id_dtks",
                    "va_id_dtks", "idartbdt", "no_peserta",
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
# Region code split over columns, as in BDT (KDPROP...), SIKS-NG (db_prov...) and
# Regsosek/P3KE exports; the mapping file names each part by its key here.
REGION_PARTS: dict[str, tuple[str, ...]] = {
    "kode_provinsi": ("kode_provinsi", "kdprop", "kdprov", "kd_prop", "kd_prov", "kode_prov",
                      "db_prov", "db_province", "va_prov", "kode_propinsi"),
    "kode_kabupaten": ("kode_kabupaten", "kdkab", "kd_kab", "kode_kabupaten_kota",
                       "kode_kab", "kode_kota", "db_kab", "db_regency", "va_kab",
                       "kd_kabkota", "kode_kabkota"),
    "kode_kecamatan": ("kode_kecamatan", "kdkec", "kd_kec", "kode_kec", "db_kec",
                       "db_district", "va_kec"),
    "kode_desa": ("kode_desa", "kddesa", "kd_desa", "kd_kel", "kdkel", "kode_kelurahan",
                  "kode_desa_kelurahan", "kode_kel", "db_kel", "db_desa", "db_village",
                  "va_desa", "va_kel"),
}
# Region names only (P3KE, DTKS imports): resolved to Kemendagri codes (ingest.regions).
REGION_NAMES: dict[str, tuple[str, ...]] = {
    "nama_provinsi": ("nama_provinsi", "provinsi", "propinsi", "nmprop", "nmprov",
                      "nama_prov", "prov", "prop"),
    "nama_kabupaten": ("nama_kabupaten", "kabupaten_kota", "kabupaten", "kab_kota",
                       "kabkota", "kota_kabupaten", "nmkab", "nama_kab", "nama_kabkota",
                       "kab", "kota"),
    "nama_kecamatan": ("nama_kecamatan", "kecamatan", "nmkec", "nama_kec", "kec"),
    "nama_desa": ("nama_desa", "desa_kelurahan", "desa", "kelurahan", "kelurahan_desa",
                  "nmkel", "nmdesa", "nama_kel", "nama_kelurahan", "desa_kel", "kel"),
}
# Parts of the address held in their own columns (SIKS-NG): appended to the address.
ADDRESS_PARTS: dict[str, tuple[str, ...]] = {
    "dusun": ("dusun", "db_dusun", "nama_dusun", "dsn"),
    "rt": ("rt", "db_rt", "va_rt", "no_rt"),
    "rw": ("rw", "db_rw", "va_rw", "no_rw"),
}
# Identifiers of 16 digits or more, which Excel damages when it holds them as numbers.
ID_COLUMNS = ("nik", "no_kk", "id_penerima", "id_individu", "id_keluarga")
HEADER_SEARCH = 30  # first rows searched for the header (title rows above it are common)
# Columns no field is read from, never warned about: the running number of a printed list.
IGNORED = ("no", "nomor", "no_urut", "nourut")
# Headers that look like an identifier or a region: warned about when nothing used them.
LOOKS_USEFUL = re.compile(r"^(db|va)?(nik|nkk|kk|nokk|id|kode|kd|kdwil|wil|wilayah|prov|"
                          r"prop|kab|kota|kec|desa|kel|kelurahan)|(nik|nkk|kk|wilayah|desa|"
                          r"kelurahan|kecamatan|kabupaten|provinsi)$")
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
    region_parts: dict[str, str]     # kode_provinsi.. -> header, when the code is split
    region_names: dict[str, str] = field(default_factory=dict)   # nama_provinsi.. -> header
    address_parts: dict[str, str] = field(default_factory=dict)  # dusun/rt/rw -> header
    unused: tuple[str, ...] = ()     # identifier- or region-looking headers nothing read

    def used(self) -> list[str]:
        """Every header a field is read from."""
        return list(dict.fromkeys([*self.columns.values(), *self.region_parts.values(),
                                   *self.region_names.values(),
                                   *self.address_parts.values()]))


def mapping_keys() -> tuple[str, ...]:
    """Every key a mapping file's [columns] may set."""
    return tuple(dict.fromkeys([*ALIASES, *REGION_PARTS, *REGION_NAMES, *ADDRESS_PARTS]))


KNOWN_HEADERS = frozenset(normalise(a) for group in (ALIASES, REGION_PARTS, REGION_NAMES,
                                                     ADDRESS_PARTS)
                          for key, aliases in group.items() for a in (key, *aliases))


def id_headers(headers: list[str], overrides: dict[str, str]) -> list[str]:
    """The headers that may hold an identifier (ID_COLUMNS by alias or by the mapping).

    >>> id_headers(["NO", "NIK_KTP", "NAMA", "NOMOR KK"], {"no_kk": "Nomor KK"})
    ['NIK_KTP', 'NOMOR KK']
    """
    names = {normalise(a) for c in ID_COLUMNS for a in (c, *ALIASES[c])}
    names |= {normalise(overrides[c]) for c in ID_COLUMNS if c in overrides}
    return [h for h in headers if normalise(h) in names]


def header_score(cells: list[str], mapped: frozenset[str] = frozenset()) -> int:
    """How many distinct known column names (or headers a mapping file names, normalised)
    a row holds: the header row has the most.

    >>> header_score(["NO", "NIK", "NAMA", "TGL LAHIR"]), header_score(["DAFTAR PENERIMA"])
    (3, 0)
    """
    return len({normalise(c) for c in cells} & (KNOWN_HEADERS | mapped))


def _pick(found: dict[str, str], aliases: list[str], used: set[str]) -> str | None:
    for alias in aliases:
        header = found.get(normalise(alias))
        if header is not None and header not in used:
            used.add(header)
            return header
    return None


def _levels(label: str, found: dict[str, str], groups: dict[str, tuple[str, ...]],
            overrides: dict[str, str], used: set[str]) -> dict[str, str]:
    """Region parts from the province down, as far as they go without a gap."""
    parts: dict[str, str] = {}
    for key, aliases in groups.items():
        tried = ([overrides[key]] if key in overrides else []) + [key, *aliases]
        header = _pick(found, tried, set(used) | set(parts.values()))
        if header is None:
            break
        parts[key] = header
    if parts and len(parts) < 2:  # a lone province column says too little
        return {}
    used.update(parts.values())
    return parts


def resolve(label: str, role: str, headers: list[str], wanted: tuple[str, ...],
            overrides: dict[str, str], header_row: int = 1,
            header_known: bool = True) -> ColumnMap:
    """Map a file's headers to the canonical columns of its role, or raise InputError.

    `overrides` (from the mapping file) win over aliases. The error names the file, the
    header's row, each missing column, the aliases tried and the headers found, so one
    message is enough; `header_known` False says no row had known names.
    The region code may come whole, split over code columns (kd_prop, kd_kab...) or as
    names (provinsi, kabupaten_kota...); address parts (dusun, RT, RW) are appended.
    """
    found = {normalise(h): h for h in reversed(headers)}  # first occurrence wins
    columns: dict[str, str] = {}
    used: set[str] = set()
    for canonical in wanted:
        tried = [overrides[canonical]] if canonical in overrides else []
        tried += [canonical, *ALIASES.get(canonical, ())]
        header = _pick(found, tried, used)
        if header is not None:
            columns[canonical] = header
    _refuse_repeated(label, headers, [*columns.values()])
    parts = names = address = {}
    if "kode_wilayah" in wanted and "kode_wilayah" not in columns:
        parts = _levels(label, found, REGION_PARTS, overrides, used)
        names = {} if parts else _levels(label, found, REGION_NAMES, overrides, used)
    if role == "kemensos":
        address = {key: h for key, aliases in ADDRESS_PARTS.items()
                   if (h := _pick(found, ([overrides[key]] if key in overrides else [])
                                  + [key, *aliases], used)) is not None}
    missing = [c for c in REQUIRED[role]
               if c not in columns and not (c == "kode_wilayah" and (parts or names))]
    if missing:
        raise _missing_error(label, missing, overrides, headers, header_row, header_known)
    ignored = {normalise(i) for i in IGNORED}
    unused = tuple(h for h in dict.fromkeys(headers)
                   if h not in used and normalise(h) not in ignored
                   and LOOKS_USEFUL.search(normalise(h) or "-"))
    return ColumnMap(columns, parts, names, address, unused)


def _refuse_repeated(label: str, headers: list[str], mapped: list[str]) -> None:
    """A column the pipeline reads whose header appears twice (also as 'NIK' and 'nik'):
    which one holds the data is a guess, so the file is refused."""
    for header in mapped:
        positions = [i + 1 for i, h in enumerate(headers) if normalise(h) == normalise(header)]
        if len(positions) > 1:
            shown = ", ".join(map(str, positions[:5]))
            raise InputError(f"{label}: {len(positions)} columns are headed {header!r:.40} "
                             f"(columns {shown}). Fix: rename or remove all but one",
                             f"{label}: {len(positions)} kolom berjudul {header!r:.40} "
                             f"(kolom {shown}). Perbaiki: ganti nama atau hapus sampai "
                             "tersisa satu")


def _missing_error(label: str, missing: list[str], overrides: dict[str, str],
                   headers: list[str], header_row: int, header_known: bool) -> InputError:
    """One refusal for every missing column: where the header was read, the headers
    found (masked if they are a record), the names tried, and the mapping that fixes it."""
    # the row is said when title rows moved the header (row 1 goes without saying), and
    # that it was a guess when no row had known names and a later one was the widest
    en, id_ = where(label, None if header_row == 1 else header_row)
    guessed = not header_known and header_row > 1
    # a file without a header row has a record there: shown masked (NIKs, names)
    data_row = any(re.search(r"[0-9]{8}", str(h)) for h in headers)
    shown = ", ".join((mask_text(str(h)) if data_row else str(h))[:40] for h in headers[:20])
    shown = (shown or "(none)") + (" ..." if len(headers) > 20 else "")
    tried = "; ".join(f"{c} = " + ", ".join(list(dict.fromkeys(
        ([overrides[c]] if c in overrides else []) + [c, *ALIASES.get(c, ())]))[:6]) + ", ..."
        for c in missing)
    guess_en = "" if not guessed else (f" (no row of the first {HEADER_SEARCH} has two "
                                       "known column names; the widest was read as header)")
    guess_id = "" if not guessed else (f" (tidak ada baris di {HEADER_SEARCH} baris pertama "
                                       "dengan dua judul kolom yang dikenal)")
    found = _example(headers)
    example = f'[columns] {missing[0]} = "{found or "YOUR HEADER"}"'
    contoh = f'[columns] {missing[0]} = "{found or "JUDUL KOLOM ANDA"}"'
    return InputError(
        f"{en}: required column(s) missing: {', '.join(missing)}{guess_en}.\n"
        f"headers found: {shown}\nheaders tried: {tried}\n"
        f"Fix: rename the column in the file, or map it: --mapping headers.toml with "
        f"{example} ({README})",
        f"{id_}: kolom wajib tidak ada: {', '.join(missing)}{guess_id}.\n"
        f"Perbaiki: ganti judul kolom di berkas, atau petakan: --mapping headers.toml "
        f"berisi {contoh} ({README})")



def _example(headers: list[str]) -> str | None:
    """A header of the file to show in the mapping example: the first that no alias
    knows, that is not a row number ('NO') and that is not a record's value."""
    skip = KNOWN_HEADERS | {normalise(i) for i in IGNORED}
    return next((str(h)[:40] for h in headers if normalise(h) and normalise(h)
                 not in skip and not re.search(r"[0-9]{5}", str(h))), None)
