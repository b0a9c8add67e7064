"""What one run needs to know: its inputs, its output folder and its options.

Options are checked here, when the run is configured (CLI and flow alike), so a bad
value is refused with one clear line before any input is read or anything is written.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from reconcile import db, privacy, publish, resources
from reconcile.discrepancies import ReportSettings
from reconcile.errors import InputError
from reconcile.match.settings import MatchSettings
from reconcile.review.settings import ReviewSettings

# province, regency, district, village: 17, 17.01, 17.01.02, 17.01.02.2001, or undotted
DOTTED_REGION = re.compile(r"[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?")
UNDOTTED_REGION = re.compile(r"[0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{10}")
DESIL = range(1, 11)


@dataclass(frozen=True)
class RunConfig:
    """Parameters of one reconciliation run.

    Attributes:
        kemensos: beneficiary lists (CSV, XLSX or Parquet), e.g. one per program.
        bps: the BPS register of individuals in families, with `desil`.
        stats: BPS poverty statistics per regency.
        out: the published output folder (replaced atomically at the end).
        mapping: optional header-mapping file for exports with unusual headers.
        pseudonymise: write the analysts' Parquet with identifiers as HMAC tokens and
            quasi-identifiers generalised (key in RECONCILE_HMAC_KEY, checked here).
        threads: DuckDB threads (default: every core, reconcile.resources).
        memory_limit: DuckDB memory limit, e.g. "8GB" (default: 60% of the machine's
            memory, shared by the partitions matched at once).
        temp_dir: where DuckDB spills what does not fit in memory (default: beside the
            work database, in the output folder's parent); owner-only like the rest.
        read_group: a group of yours (the analysts') that may read the published
            outputs (files 0640, folders 0750); the identity state stays owner-only.
        regions: keep only these region codes ("17", "17.01", "1701"; normalised to the
            dotted form); empty = all.
        review: review-queue settings by name, e.g. {"cap_per_village": 25}; see
            reconcile.review.queue.ReviewSettings.
        eligibility: report settings by name (e.g. {"cutoff": {"PKH": 4}}), see
            reconcile.discrepancies.ReportSettings.from_params.
        force: run even when the inputs are unchanged since the published run.
        partition_by: "province" (default): when the data spans several provinces, match
            province by province (see reconcile.partition), so the answer is the same on
            one process or many; None matches all rows in one matcher.
        workers: provinces matched at once (threads, or Dask workers); default all cores.
        k_anonymity: with pseudonymise, every released combination of birth year, sex
            and region is shared by at least this many persons.
        matching: matching settings by name, e.g. {"link_threshold": 0.95}; see
            reconcile.match.settings.MatchSettings (defaults and why).
        public_reports: make the public report files (publish.PUBLIC_FILES) readable by
            everyone; by default every file a run writes is owner-only.
        retention_days: published versions older than this are deleted when a run
            publishes (None: only the count, publish.KEEP_VERSIONS, limits them).
    """

    kemensos: tuple[Path, ...]
    bps: Path
    stats: Path
    out: Path
    mapping: Path | None = None
    pseudonymise: bool = False
    threads: int | None = None
    memory_limit: str | None = None
    temp_dir: Path | None = None
    read_group: str | None = None
    regions: tuple[str, ...] = ()
    eligibility: dict = field(default_factory=dict)
    force: bool = False
    partition_by: str | None = "province"
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    k_anonymity: int = 5
    matching: dict = field(default_factory=dict)
    review: dict = field(default_factory=dict)
    public_reports: bool = False
    retention_days: int | None = None

    def __post_init__(self) -> None:
        """Refuse bad options before anything runs; normalise region codes."""
        object.__setattr__(self, "regions", tuple(region_code(r) for r in self.regions))
        check_regions_exist(self.regions)
        self.match_settings  # noqa: B018 -- refuses unknown or out-of-range settings now
        self.review_settings  # noqa: B018
        check_eligibility(self.eligibility)
        check_inputs(self)
        db.sql_path(self.out)
        check_retention(self.retention_days)
        check_resources(self.memory_limit, self.threads)
        if self.read_group is not None:
            publish.group_id(self.read_group)
        publish.check_output(self.out, (*self.inputs, *([self.mapping] if self.mapping else [])))
        if self.pseudonymise:
            privacy.hmac_key()
            if not isinstance(self.k_anonymity, int) or self.k_anonymity < 2:
                raise InputError(f"k-anonymity must be a whole number of at least 2, "
                                 f"not {self.k_anonymity!r}")

    @property
    def match_settings(self) -> MatchSettings:
        """The matcher's settings: defaults with this run's `matching` on top."""
        try:
            return MatchSettings.from_params(self.matching)
        except (ValueError, TypeError) as exc:
            raise InputError(f"matching: {exc}") from None

    @property
    def review_settings(self) -> ReviewSettings:
        """The review queue's settings: defaults with this run's `review` on top."""
        try:
            return ReviewSettings.from_params(self.review, self.match_settings.dedupe_threshold)
        except (ValueError, TypeError) as exc:
            raise InputError(f"review: {exc}") from None

    @property
    def partition_memory_limit(self) -> str:
        """DuckDB's limit for one of the partitions matched at once (`workers`)."""
        return self.memory_limit or resources.default_memory_limit(parts=max(1, self.workers))

    @property
    def inputs(self) -> tuple[Path, ...]:
        """Every input file of the run."""
        return (*self.kemensos, self.bps, self.stats)


MEMORY = re.compile(r"[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def check_resources(memory_limit: str | None, threads: int | None) -> None:
    """A memory limit DuckDB understands ("8GB", "512MiB") and a whole number of threads,
    refused here otherwise."""
    if memory_limit is not None and not (isinstance(memory_limit, str)
                                         and MEMORY.fullmatch(memory_limit.strip())):
        raise InputError(f"memory_limit: {memory_limit!r:.40} is not a size such as '8GB' "
                         "or '512MiB'")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise InputError(f"threads: {threads!r:.20} is not a whole number of at least 1")


def region_code(value: object) -> str:
    """A region code in dotted form, or InputError naming the option and the value."""
    text = value.strip() if isinstance(value, str) else ""
    if DOTTED_REGION.fullmatch(text):
        return text
    if UNDOTTED_REGION.fullmatch(text):
        return ".".join(text[a:b] for a, b in ((0, 2), (2, 4), (4, 6), (6, 10)) if a < len(text))
    raise InputError(f"--region: {value!r:.60} is not a region code; use a province (17), "
                     "regency (17.01), district (17.01.02) or village (17.01.02.2001) code")


def check_regions_exist(codes: tuple[str, ...]) -> None:
    """A well-formed code that names no Kemendagri region would filter every row away."""
    if not codes:
        return
    from reconcile.reference import load_regions

    known = set(load_regions()["kode"])
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise InputError(f"--region: {', '.join(unknown)[:60]} is not a Kemendagri region "
                         "code (no province, regency, district or village has it)")


def check_inputs(config: RunConfig) -> None:
    """Every input is a readable regular file, named with its option when it is not: a
    mistyped path, a folder or a pipe (which would hang the reader) stops here."""
    named = [*(("--kemensos", p) for p in config.kemensos), ("--bps", config.bps),
             ("--stats", config.stats), *((("--mapping", config.mapping),) if config.mapping
                                          else ())]
    for option, path in named:
        if not path.exists():
            raise InputError(f"{option} {path}: file not found; check the path")
        if not path.is_file():
            raise InputError(f"{option} {path}: not a file (a folder or a device); "
                             "give the file itself")


def check_retention(days: object) -> None:
    """None, or a whole number of days of at least 1."""
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
        raise InputError(f"--retention-days must be a whole number of days of at least 1, "
                         f"not {days!r:.60}")


def check_eligibility(params: object) -> None:
    """Refuse unknown settings or programs and values that are not desils or amounts."""
    if not isinstance(params, dict):
        raise InputError(f"--eligibility: expected a JSON object, not {params!r:.60}")
    for key in ("cutoff", "benefit"):
        if not isinstance(params.get(key, {}), dict):
            raise InputError(f"--eligibility: {key} must be an object of program: value")
    try:
        ReportSettings.from_params(params)
    except (ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"--eligibility: {exc}") from None
    for key in ("default_cutoff", "exclusion_desil"):
        if key in params:
            _desil(key, params[key])
    for program, value in params.get("cutoff", {}).items():
        _desil(f"cutoff {program}", value)
    for program, value in params.get("benefit", {}).items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e15:
            raise InputError(f"--eligibility: benefit {program} must be an amount in "
                             f"rupiah, not {value!r:.60}")


def _desil(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value not in DESIL:
        raise InputError(f"--eligibility: {name} must be a desil from 1 to 10, "
                         f"not {value!r:.60}")
