"""The `reconcile` command: generate sample data, run the flow, benchmark, evaluate."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import logging
import os
import re
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

from flows import environment

environment.apply()  # before Prefect is imported: it reads its settings once


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `reconcile` console script."""
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except Exception as exc:  # the officer sees one clear line, not a traceback
        from flows.temporary_server import ServerStartError

        if isinstance(exc, ServerStartError):
            print(f"reconcile: {exc}", file=sys.stderr)
            return 1
        if not _is_refusal(exc):
            raise
        from reconcile.errors import refusal_text

        if getattr(args, "debug", False):
            traceback.print_exception(exc)
        print(refusal_text(exc), file=sys.stderr)
        _forget_frames(exc)
        return 2


def _is_refusal(exc: BaseException) -> bool:
    from reconcile.errors import InputError, RunRefused

    return isinstance(exc, InputError | RunRefused)


def _forget_frames(exc: BaseException | None) -> None:
    """Drop the local variables of the refused run's frames (Prefect keeps the exception
    in its state): its DuckDB connections close now, not as 'nanobind leaked' at exit."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        traceback.clear_frames(exc.__traceback__)
        exc = exc.__cause__ or exc.__context__
    import gc

    gc.collect()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reconcile", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    gen = sub.add_parser("generate", help="write synthetic data with a known truth")
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--people", type=int, default=20_000, help="register people")
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--province", action="append", help="province code, repeatable (17)")
    gen.set_defaults(handler=_generate)

    run = sub.add_parser("run", help="run the reconciliation flow")
    run.add_argument("--kemensos", type=Path, nargs="+", action="extend", required=True)
    run.add_argument("--bps", type=Path, required=True)
    run.add_argument("--stats", type=Path, required=True)
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("--mapping", type=Path, help="header mapping file (TOML/CSV)")
    run.add_argument("--pseudonymise", action="store_true",
                     help="HMAC-tokenise identifiers and generalise birth date and region "
                          "in the analysts' Parquet (key in RECONCILE_HMAC_KEY)")
    run.add_argument("--k-anonymity", type=int, default=5, metavar="K",
                     help="with --pseudonymise: at least K persons share every released "
                          "birth year, sex and region (default 5)")
    run.add_argument("--region", action="append", dest="regions", metavar="CODE",
                     help="only this region code (17, 17.01, 17.01.02); repeatable")
    run.add_argument("--review-cap", type=int, metavar="N",
                     help="review items per village per cycle (default 25)")
    run.add_argument("--review-audit", type=int, metavar="N",
                     help="blind audit items per probability band and regency (default 2)")
    run.add_argument("--eligibility", default=None, metavar="JSON",
                     help='report settings, e.g. \'{"cutoff": {"PKH": 4}}\'')
    for name, help_text in (
            ("link-threshold", "match probability at which a row is linked (default 0.9)"),
            ("review-threshold", "below the link threshold, a best candidate at this "
                                 "probability is a possible match to review (default 0.5)"),
            ("dedupe-threshold", "match probability at which two rows are one person "
                                 "(default 0.99)")):
        run.add_argument(f"--{name}", type=float, metavar="P", help=help_text)
    run.add_argument("--matching", default=None, metavar="JSON",
                     help='any matching setting by name, e.g. \'{"ambiguity_bits": 2}\'')
    run.add_argument("--force", action="store_true",
                     help="reconcile again even if the inputs are unchanged")
    run.add_argument("--public-reports", action="store_true",
                     help="make report.html, report.xlsx, region_summary.parquet and "
                          "discrepancies.parquet readable by everyone (default: every "
                          "output is owner-only)")
    run.add_argument("--retention-days", type=int, metavar="DAYS",
                     help="delete published versions older than DAYS when a run publishes "
                          "(at most the newest three are kept in any case)")
    run.add_argument("--read-group", metavar="GROUP",
                     help="a group of yours (e.g. the analysts') that may read the "
                          "published outputs; the identity state stays owner-only")
    run.add_argument("--memory-limit", metavar="SIZE",
                     help="DuckDB memory limit, e.g. 8GB (default: 60%% of the machine)")
    run.add_argument("--threads", type=int, metavar="N",
                     help="DuckDB threads (default: every core)")
    run.add_argument("--temp-dir", type=Path, metavar="DIR",
                     help="where DuckDB spills what does not fit in memory (default: "
                          "beside the work database)")
    run.add_argument("--partition-by", choices=["province", "none"], default="province",
                     help="match province by province when the data spans several "
                          "(default), or all rows in one matcher (none)")
    run.add_argument("--workers", type=int, default=None,
                     help="provinces matched at once (default: all cores)")
    run.add_argument("--dask-address", help="Dask scheduler for the provinces "
                     "(default: RECONCILE_DASK_ADDRESS; none: threads here)")
    run.add_argument("--storage-url", metavar="URL",
                     help="where partitions travel to Dask workers as Parquet, any fsspec "
                          "URL (default: RECONCILE_STORAGE_URL, else beside the work "
                          "database); credentials in the environment, never in the URL")
    run.add_argument("--regency-split-above", type=int, metavar="N",
                     help="match a province with more register people than this regency "
                          "by regency, then link movers across them (default: never; "
                          "see README, Scale-out)")
    run.add_argument("--debug", action="store_true",
                     help="show the traceback when a run is refused (default: the message)")
    run.add_argument("--verbose", action="store_true",
                     help="show Prefect's INFO lines (default: warnings and the stages' "
                          "progress; run.log has everything)")
    run.set_defaults(handler=_run)

    bench = sub.add_parser("bench", help="quality and speed against Splink")
    bench.add_argument("--people", type=int, action="append", help="register sizes")
    bench.add_argument("--out", type=Path, default=Path("data/bench"))
    bench.set_defaults(handler=_bench)

    review = sub.add_parser("review", help="officers' review decisions")
    review_sub = review.add_subparsers(required=True, metavar="ACTION")
    imp = review_sub.add_parser(
        "import", help="check returned review workbooks and store their valid decisions")
    imp.add_argument("files", type=Path, nargs="+", help="returned review-*.xlsx workbooks")
    imp.add_argument("--out", type=Path, default=Path("data/runs/latest"),
                     help="the output folder whose runs queued the items")
    imp.set_defaults(handler=_review_import)

    ev = sub.add_parser("evaluate", help="compare a run's outputs with the generator's truth")
    ev.add_argument("--out", type=Path, required=True, help="the run's output folder")
    ev.add_argument("--truth", type=Path, required=True, help="the generated data folder")
    ev.set_defaults(handler=_evaluate)
    return parser


def _generate(args: argparse.Namespace) -> int:
    from synth.generate import generate

    started = time.perf_counter()
    summary = generate(args.out, people=args.people, seed=args.seed,
                       provinces=tuple(args.province or ("17",)))
    print(json.dumps(summary, indent=2, default=str))
    print(f"generated {args.people:,} register people in {time.perf_counter() - started:.1f} s"
          f" -> {args.out}")
    return 0


def _review_import(args: argparse.Namespace) -> int:
    """Store the valid decisions; list each problem by file, sheet and row. Exit 1 when
    some rows were not stored, so a script notices."""
    from reconcile.errors import InputError
    from reconcile.review.decisions import import_workbooks

    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        raise InputError(f"no such workbook: {', '.join(missing)}")
    result = import_workbooks(list(args.files), args.out)
    for row in result.problems.itertuples():
        where = f"{row.file}" + (f" sheet {row.sheet!r}" if row.sheet else "") + \
            (f" row {row.row}" if row.row is not None and row.row == row.row else "")
        column = f" column {row.column!r}" if row.column else ""
        print(f"{where}{column}: {row.problem}")
    print(f"stored {result.stored} decision(s) as batch {result.batch}; "
          f"{len(result.problems)} row(s) need attention")
    return 1 if len(result.problems) else 0


def _run(args: argparse.Namespace) -> int:
    _check_input_paths(args)  # a mistyped path is answered at once, before Prefect starts
    from flows import temporary_server

    # Prefect's temporary server starts first: its ~3 s start-up overlaps the imports below
    server = temporary_server.start_unless_configured()
    from flows.reconcile_flow import reconcile_flow
    from reconcile.config import RunConfig
    from reconcile.publish import owner_only

    if not args.debug:
        _quiet_refusals()
    if not args.verbose:
        _quiet_console()

    params = {"kemensos": [str(p) for p in args.kemensos], "bps": str(args.bps),
              "stats": str(args.stats), "out": str(args.out),
              "mapping": str(args.mapping) if args.mapping else None,
              "pseudonymise": args.pseudonymise, "regions": args.regions,
              "eligibility": _json_option("--eligibility", args.eligibility),
              "force": args.force, "partition_by": args.partition_by,
              "workers": args.workers, "k_anonymity": args.k_anonymity,
              "matching": _matching(args), "public_reports": args.public_reports,
              "retention_days": args.retention_days, "memory_limit": args.memory_limit,
              "threads": args.threads,
              "temp_dir": str(args.temp_dir) if args.temp_dir else None,
              "read_group": args.read_group, "review": _review(args),
              "storage_url": args.storage_url,
              "regency_split_above": args.regency_split_above}
    RunConfig.build(**params)  # refuse bad options here, before the flow starts
    if server is not None:
        _import_while_waiting()
        server.wait_ready(float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"]))
    print(f"reconciling {len(args.kemensos)} Kemensos file(s) with register "
          f"{args.bps.name} and statistics {args.stats.name} -> {args.out}", flush=True)
    with owner_only(), _progress():  # owner_only: Prefect's own server and its database
        result = reconcile_flow(**params, dask_address=args.dask_address)
    print(_summary_text(result))
    return 0


# what Prefect imports on the first flow call (0.4 s): done while the server still starts
FIRST_CALL_IMPORTS = ("prefect.flow_engine", "prefect.utilities.visualization",
                      "fastapi.encoders")


def _import_while_waiting() -> None:
    import importlib

    for module in FIRST_CALL_IMPORTS:
        with contextlib.suppress(ImportError):  # another Prefect version: a little slower
            importlib.import_module(module)


class _RefusalFilter(logging.Filter):
    """Keeps Prefect's console lines about a refused run (its traceback, the failed
    states) off the screen; they still reach Prefect's own log. main prints one line."""

    NAMES = ("InputError", "RunRefused")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            return not _is_refusal(record.exc_info[1])
        message = record.getMessage()
        return not any(f"{name}:" in message or f"{name}(" in message for name in self.NAMES)


def _quiet_refusals() -> None:
    """Put the refusal filter on Prefect's console handlers (root logger)."""
    from prefect.logging.handlers import PrefectConsoleHandler

    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler) and not any(
                isinstance(f, _RefusalFilter) for f in handler.filters):
            handler.addFilter(_RefusalFilter())


def _quiet_console() -> None:
    """Prefect's console lines at WARNING: its INFO lines (flow and task states) would
    come before a refusal; the flow's log in Prefect and run.log keep them."""
    from prefect.logging.handlers import PrefectConsoleHandler

    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler):
            handler.setLevel(max(handler.level, logging.WARNING))


STAGE_DONE = re.compile(r"^stage (\S+) done in ([0-9.]+) s")


class _StageLines(logging.Handler):
    """One short line per finished stage, from the pipeline's own records."""

    def emit(self, record: logging.LogRecord) -> None:
        done = STAGE_DONE.match(record.getMessage())
        if done:
            print(f"  {done[1]:<14} done ({float(done[2]):.1f} s)", flush=True)


@contextlib.contextmanager
def _progress() -> Iterator[None]:
    pipeline = logging.getLogger("reconcile.pipeline")
    handler = _StageLines(logging.INFO)
    pipeline.addHandler(handler)
    try:
        yield
    finally:
        pipeline.removeHandler(handler)


def _check_input_paths(args: argparse.Namespace) -> None:
    """Every input path names a file, or one refusal naming the option, the path and the
    nearest file names in its folder (a mistyped name is the usual cause)."""
    from reconcile.errors import InputError

    named = [*(("--kemensos", p) for p in args.kemensos), ("--bps", args.bps),
             ("--stats", args.stats), *((("--mapping", args.mapping),) if args.mapping else ())]
    for option, path in named:
        if path.is_file():
            continue
        if path.exists():
            raise InputError(f"{option} {path}: not a file (a folder or a device). Fix: "
                             "give the file itself",
                             f"{option} {path}: bukan berkas (folder atau perangkat). "
                             "Perbaiki: berikan berkasnya sendiri")
        near = _near_names(path)
        hint_en = f" Did you mean {' or '.join(near)}?" if near else ""
        hint_id = f" Mungkin maksudnya {' atau '.join(near)}?" if near else ""
        raise InputError(f"{option} {path}: file not found.{hint_en} Fix: check the path "
                         "and the file name",
                         f"{option} {path}: berkas tidak ditemukan.{hint_id} Perbaiki: "
                         "periksa jalur dan nama berkasnya")


def _near_names(path: Path) -> list[str]:
    """Files in the path's folder (or its nearest existing parent) named like it."""
    folder = path.parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    try:
        names = [p.name for p in folder.iterdir() if p.is_file()][:10_000]
    except OSError:
        return []
    return [str(folder / n) for n in difflib.get_close_matches(path.name, names, n=2,
                                                                 cutoff=0.75)]


def _review(args: argparse.Namespace) -> dict:
    """The review-queue options that were given."""
    given = {"cap_per_village": args.review_cap, "audit_per_band": args.review_audit}
    return {k: v for k, v in given.items() if v is not None}


def _matching(args: argparse.Namespace) -> dict:
    """--matching JSON with the threshold options on top."""
    matching = _json_option("--matching", args.matching) or {}
    for name in ("link_threshold", "review_threshold", "dedupe_threshold"):
        if getattr(args, name) is not None:
            matching[name] = getattr(args, name)
    return matching


def _json_option(option: str, text: str | None):
    """A JSON option's value, or InputError (exit 2) when it is not JSON."""
    from reconcile.errors import InputError

    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InputError(f"{option}: not valid JSON ({exc})",
                         f"{option}: bukan JSON yang sah (rinciannya di atas)") from None


def _summary_text(result: dict) -> str:
    header = f"\nOutputs: {Path(result['out']).absolute()}  (run {result['run_id']})"
    if result.get("skipped"):
        header += "\n  inputs unchanged since that run: nothing recomputed (--force to rerun)"
    lines = [header,
             f"  rows reconciled  {result['reconciled_rows']:>9,}",
             f"  persons          {result['persons']:>9,}",
             f"  matched to BPS   {result['share_matched']:>9.1%}",
             f"  quarantined      {result['quarantined_rows']:>9,}",
             "  discrepancies:"]
    lines += [f"    {name:<20} {n:>7,}" for name, n in result["discrepancies"].items()]
    review = result.get("review") or {}
    if review.get("items"):
        lines.append(f"  review queue     {review['items']:>9,} items (at most "
                     f"{review.get('per_village_max', 0)} per village) in "
                     f"{len(review.get('workbooks', []))} workbook(s): restricted/review/")
    lines.append("  time per stage: " + ", ".join(
        f"{stage} {secs:.1f}s" for stage, secs in result["timings"].items()))
    return "\n".join(lines)


def _bench(args: argparse.Namespace) -> int:
    from synth.bench import run_bench

    print(run_bench(args.people or [200_000, 1_000_000], args.out))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from synth.evaluate import evaluate_run

    print(evaluate_run(args.out, args.truth).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
