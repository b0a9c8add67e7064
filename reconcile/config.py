"""What one run needs to know: its inputs, its output folder and its options.

`RunConfig` is the one declaration of every option. The CLI, the Prefect flow and the
deployments all build it, and the manifest records it (`config`). Options are checked
here, when the run is configured, so a bad value is refused with one clear line naming the
option before any input is read or anything is written.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from reconcile import db, privacy, publish, resources
from reconcile.discrepancies import ReportSettings
from reconcile.errors import InputError
from reconcile.match.settings import MatchSettings
from reconcile.review.settings import ReviewSettings

# province, regency, district, village: 17, 17.01, 17.01.02, 17.01.02.2001, or undotted
DOTTED_REGION = re.compile(r"[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?")
UNDOTTED_REGION = re.compile(r"[0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{10}")
DESIL = range(1, 11)


Whole = Annotated[StrictInt, Field(ge=1)]  # refused: 0, -1, "4", 4.0, True


class RunConfig(BaseModel):
    """Parameters of one reconciliation run (every field is an option of `reconcile run`
    and of the flow, under the same name)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kemensos: tuple[Path, ...] = Field(
        min_length=1, description="beneficiary lists (CSV, XLSX or Parquet), e.g. one "
                                  "per program")
    bps: Path = Field(description="the BPS register of individuals in families, with desil")
    stats: Path = Field(description="BPS poverty statistics per regency")
    out: Path = Field(description="the published output folder (replaced atomically)")
    mapping: Path | None = Field(None, description="header-mapping file for exports with "
                                                   "unusual headers")
    pseudonymise: StrictBool = Field(
        False, description="identifiers as HMAC tokens and quasi-identifiers generalised in "
                           "the analysts' Parquet (key in RECONCILE_HMAC_KEY)")
    k_anonymity: Annotated[StrictInt, Field(ge=2)] = Field(
        5, description="with pseudonymise: every released birth year, sex and region is "
                       "shared by at least this many persons")
    regions: tuple[str, ...] = Field(
        (), description='only these region codes ("17", "17.01", "1701"; normalised to the '
                        "dotted form); empty = all")
    eligibility: dict[str, Any] = Field(
        default_factory=dict, description='report settings by name, e.g. {"cutoff": '
                                          '{"PKH": 4}} (discrepancies.ReportSettings)')
    matching: dict[str, Any] = Field(
        default_factory=dict, description='matching settings by name, e.g. '
                                          '{"link_threshold": 0.95} (match.settings)')
    review: dict[str, Any] = Field(
        default_factory=dict, description='review-queue settings by name, e.g. '
                                          '{"cap_per_village": 25} (review.settings)')
    force: StrictBool = Field(False, description="run even when the inputs are unchanged "
                                                 "since the published run")
    partition_by: Literal["province"] | None = Field(
        "province", description='"province": match province by province when the data '
                                "spans several; None or \"none\": all rows in one matcher")
    # Off by default: at 10M register people in one province the cross-regency pass by
    # name and birth date linked 16% of the people who are not in the register (README).
    regency_split_above: Whole | None = Field(
        None, description="a province with more register people than this is matched "
                          "regency by regency, then movers are linked across its "
                          "regencies (by NIK, by name and birth date); default: never")
    workers: Whole = Field(default_factory=lambda: os.cpu_count() or 1,
                           description="provinces matched at once (default: every core)")
    threads: Whole | None = Field(None, description="DuckDB threads (default: every core)")
    memory_limit: str | None = Field(
        None, description='DuckDB memory limit, e.g. "8GB" (default: 60% of the machine\'s '
                          "memory, shared by the partitions matched at once)")
    temp_dir: Path | None = Field(None, description="where DuckDB spills (default: beside "
                                                    "the work database); owner-only")
    storage_url: str | None = Field(
        None, description="where partitions travel to their workers and back as Parquet: "
                          "a folder or an fsspec URL every worker can reach (file:///nfs/x, "
                          "s3://bucket/x); default: a folder beside the work database")
    read_group: str | None = Field(
        None, description="a group of yours that may read the published outputs (files "
                          "0640, folders 0750); the identity state stays owner-only")
    public_reports: StrictBool = Field(
        False, description="make the public report files (publish.PUBLIC_FILES) readable "
                           "by everyone; by default every file a run writes is owner-only")
    retention_days: Whole | None = Field(
        None, description="delete published versions older than this when a run publishes")

    @classmethod
    def build(cls, **options: Any) -> RunConfig:
        """A checked config from options given by name (the CLI's, the flow's), with
        None meaning the default; InputError names the option when a value is refused."""
        given = {k: v for k, v in options.items() if v is not None or k in _NONE_MEANS}
        if given.get("partition_by") == "none":
            given["partition_by"] = None
        if isinstance(given.get("regions"), str):  # one code given where a list was meant
            given["regions"] = [given["regions"]]
        return cls(**given)

    def __init__(self, **options: Any) -> None:
        """Built directly or through `build`, a refused value is an InputError naming
        the option (one line for the officer), never pydantic's report."""
        try:
            super().__init__(**options)
        except ValidationError as exc:
            raise InputError(*_option_message(exc)) from None

    @field_validator("regions", mode="after")
    @classmethod
    def _dotted_regions(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        """Region codes in dotted form, each naming a Kemendagri region."""
        dotted = tuple(region_code(code) for code in codes)
        check_regions_exist(dotted)
        return dotted

    @model_validator(mode="after")
    def _refuse_bad_options(self) -> RunConfig:
        """Refuse bad options before anything runs."""
        self.match_settings  # noqa: B018 -- refuses unknown or out-of-range settings now
        self.review_settings  # noqa: B018
        check_eligibility(self.eligibility)
        check_inputs(self)
        db.sql_path(self.out)
        check_memory_limit(self.memory_limit)
        check_storage_url(self.storage_url)
        if self.read_group is not None:
            publish.group_id(self.read_group)
        publish.check_output(self.out, (*self.inputs, *([self.mapping] if self.mapping else [])))
        if self.pseudonymise:
            privacy.hmac_key()
        return self

    def recorded(self) -> dict:
        """Every option as JSON values, for the manifest."""
        return self.model_dump(mode="json")

    @property
    def match_settings(self) -> MatchSettings:
        """The matcher's settings: defaults with this run's `matching` on top."""
        try:
            return MatchSettings.from_params(self.matching)
        except (ValueError, TypeError) as exc:
            raise InputError(f"matching: {exc}", "matching: pengaturan pencocokan tidak "
                             "sah (rinciannya di atas)") from None

    @property
    def review_settings(self) -> ReviewSettings:
        """The review queue's settings: defaults with this run's `review` on top."""
        try:
            return ReviewSettings.from_params(self.review, self.match_settings.dedupe_threshold)
        except (ValueError, TypeError) as exc:
            raise InputError(f"review: {exc}", "review: pengaturan antrean tinjauan tidak "
                             "sah (rinciannya di atas)") from None

    @property
    def partition_memory_limit(self) -> str:
        """DuckDB's limit for one of the partitions matched at once (`workers`)."""
        return self.memory_limit or resources.default_memory_limit(parts=max(1, self.workers))

    @property
    def inputs(self) -> tuple[Path, ...]:
        """Every input file of the run."""
        return (*self.kemensos, self.bps, self.stats)


_NONE_MEANS = ("partition_by",)  # an explicit None is an answer here, not "the default"


def _option_message(exc: ValidationError) -> tuple[str, str]:
    """pydantic's first complaint as one line naming the option (values cut short), in
    English and Indonesian."""
    error = exc.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else "options"
    option = "--region" if field == "regions" else "--" + field.replace("_", "-")
    value = repr(error.get("input"))[:40]
    if error["type"] == "extra_forbidden":
        options = ", ".join(RunConfig.model_fields)
        return (f"{option}: not an option; the options are {options}",
                f"{option}: bukan opsi; opsi yang ada: {options}")
    if error["type"] == "missing":
        return f"{option}: required", f"{option}: wajib diisi"
    return (f"{option}: {error['msg'].lower()} (not {value})",
            f"{option}: nilai {value} tidak sah (rinciannya di atas); lihat "
            "`reconcile run --help`")


MEMORY = re.compile(r"[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def check_memory_limit(memory_limit: str | None) -> None:
    """A memory limit DuckDB understands ("8GB", "512MiB"), refused here otherwise (the
    thread count is a `Whole`, checked by its type)."""
    if memory_limit is not None and not MEMORY.fullmatch(memory_limit.strip()):
        raise InputError(f"memory_limit: {memory_limit!r:.40} is not a size such as '8GB' "
                         "or '512MiB'", f"memory_limit: {memory_limit!r:.40} bukan ukuran "
                         "seperti '8GB' atau '512MiB'")


def check_storage_url(url: str | None) -> None:
    """A storage location fsspec can open (a folder or a URL of a known protocol whose
    package is installed), refused here rather than after ingest."""
    if url is None:
        return
    import fsspec

    try:
        fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise InputError(f"storage_url: {url!r:.60} is not a storage location fsspec can "
                         f"open ({str(exc)[:80]})", f"storage_url: {url!r:.60} bukan lokasi "
                         "penyimpanan yang dapat dibuka") from None


def region_code(value: object) -> str:
    """A region code in dotted form, or InputError naming the option and the value."""
    text = value.strip() if isinstance(value, str) else ""
    if DOTTED_REGION.fullmatch(text):
        return text
    if UNDOTTED_REGION.fullmatch(text):
        return ".".join(text[a:b] for a, b in ((0, 2), (2, 4), (4, 6), (6, 10)) if a < len(text))
    raise InputError(f"--region: {value!r:.60} is not a region code; use a province (17), "
                     "regency (17.01), district (17.01.02) or village (17.01.02.2001) code",
                     f"--region: {value!r:.60} bukan kode wilayah; pakai kode provinsi (17), "
                     "kabupaten/kota (17.01), kecamatan (17.01.02) atau desa/kelurahan "
                     "(17.01.02.2001)")


def check_regions_exist(codes: tuple[str, ...]) -> None:
    """A well-formed code that names no Kemendagri region would filter every row away."""
    if not codes:
        return
    from reconcile.reference import load_regions

    known = set(load_regions()["kode"])
    unknown = [c for c in codes if c not in known]
    if unknown:
        listed = ", ".join(unknown)[:60]
        raise InputError(f"--region: {listed} is not a Kemendagri region code (no province, "
                         "regency, district or village has it)",
                         f"--region: {listed} bukan kode wilayah Kemendagri (tidak ada "
                         "provinsi, kabupaten/kota, kecamatan atau desa dengan kode itu)")


def check_inputs(config: RunConfig) -> None:
    """Every input is a readable regular file, named with its option when it is not: a
    mistyped path, a folder or a pipe (which would hang the reader) stops here."""
    named = [*(("--kemensos", p) for p in config.kemensos), ("--bps", config.bps),
             ("--stats", config.stats), *((("--mapping", config.mapping),) if config.mapping
                                          else ())]
    for option, path in named:
        if not path.exists():
            raise InputError(f"{option} {path}: file not found; check the path",
                             f"{option} {path}: berkas tidak ditemukan; periksa jalurnya")
        if not path.is_file():
            raise InputError(f"{option} {path}: not a file (a folder or a device); "
                             "give the file itself", f"{option} {path}: bukan berkas (folder "
                             "atau perangkat); berikan berkasnya sendiri")


def check_eligibility(params: dict[str, Any]) -> None:
    """Refuse unknown settings or programs and values that are not desils or amounts (an
    object it is already: RunConfig's type)."""
    for key in ("cutoff", "benefit"):
        if not isinstance(params.get(key, {}), dict):
            raise InputError(f"--eligibility: {key} must be an object of program: value",
                             f"--eligibility: {key} harus berupa objek program: nilai")
    try:
        ReportSettings.from_params(params)
    except (ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"--eligibility: {exc}", "--eligibility: pengaturan kelayakan "
                         "tidak sah (rinciannya di atas)") from None
    for key in ("default_cutoff", "exclusion_desil"):
        if key in params:
            _desil(key, params[key])
    for program, value in params.get("cutoff", {}).items():
        _desil(f"cutoff {program}", value)
    for program, value in params.get("benefit", {}).items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e15:
            raise InputError(f"--eligibility: benefit {program} must be an amount in "
                             f"rupiah, not {value!r:.60}", f"--eligibility: benefit "
                             f"{program} harus jumlah rupiah, bukan {value!r:.60}")


def _desil(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value not in DESIL:
        raise InputError(f"--eligibility: {name} must be a desil from 1 to 10, "
                         f"not {value!r:.60}", f"--eligibility: {name} harus desil 1 sampai "
                         f"10, bukan {value!r:.60}")
