"""Scale-out: match province by province, then one cross-province pass by NIK.

National data (DTSEN holds about 286 million people) does not fit one matcher, but almost
every match lies within a province: people are enrolled where they live. So the matching
unit is a province. Each province is matched on its own (in threads here, on a Dask
cluster through the flow), then a cross-province pass links the people still unlinked by
exact, valid NIK with agreeing name or birth date (people who moved), and rows whose
region is unknown. Because each province's result depends only on its own rows, running
provinces one after another or all at once gives the same answer.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import fsspec
from fsspec.implementations.local import LocalFileSystem

from reconcile import db, resources
from reconcile.match import decided, match, score
from reconcile.match.settings import MatchSettings
from reconcile.tables import Table

UNPLACED = "00"
db.constants({"unplaced": UNPLACED})
# One DuckDB thread per province: parallelism comes from running provinces at once, and a
# province's floating-point sums then add up in the same order wherever it runs, so the
# answer cannot depend on the scheduler (more threads reorder parallel aggregates).
THREADS = 1
PART = """coalesce(left(kode_wilayah, 2),
                   CASE WHEN nik_status = 'valid' THEN left(nik, 2) END, '00')"""


REGENCY = "CASE WHEN length(kode_wilayah) >= 5 THEN left(kode_wilayah, 5) END"
PLAN = "partition_plan"  # (province, regency, part): where each row is matched
KEMENSOS_ROWS = "partition_rows_kemensos"  # each row and its partition (export, cross pass)
BPS_ROWS = "partition_rows_bps"

# A partition is a province with register people, or, in a province with more than
# `split_above` of them, a regency with register people (a 50M province is no unit for
# one matcher). Rows of a split province without a known regency are matched in its
# largest regency; rows of any other province code, or with no usable code at all (stray
# rows), in the main partition, the one with the most register people. So a few strays
# neither split a one-province run nor go unmatched; the cross pass (combine) then finds
# the movers among them. Ties go to the lower code: the plan is the data's alone.
PLAN_SQL = f"""
CREATE OR REPLACE TABLE {PLAN} AS
WITH r AS (
    SELECT {PART} AS province, {REGENCY} AS regency FROM {Table.CLEAN_BPS}
    WHERE {PART} <> $unplaced
), p AS (
    SELECT province, count(*) AS people, count(*) > $split_above AS split FROM r GROUP BY ALL
), regencies AS (
    SELECT province, regency, regency AS part, count(*) AS people
    FROM r JOIN p USING (province)
    WHERE p.split AND left(regency, 2) = province GROUP BY ALL
), fallback AS (
    SELECT province, NULL::VARCHAR AS regency,
           first(part ORDER BY people DESC, part) AS part, 0 AS people
    FROM regencies GROUP BY ALL
)
SELECT * FROM regencies UNION ALL SELECT * FROM fallback
UNION ALL SELECT province, NULL, province, people FROM p
WHERE province NOT IN (SELECT province FROM regencies)
"""
PARTS_SQL = f"SELECT part, sum(people) AS people FROM {PLAN} GROUP BY ALL ORDER BY part"
# Each clean row with its partition, sorted by partition: exporting one partition then
# reads only its own row groups, not the whole table once per partition.
ASSIGN_SQL = f"""
CREATE OR REPLACE TABLE {{rows}} AS
SELECT t.*, coalesce(e.part, f.part, $main) AS part
FROM {{table}} t
LEFT JOIN {PLAN} e ON e.regency IS NOT NULL AND e.province = {PART}
                      AND e.regency = {REGENCY}
LEFT JOIN {PLAN} f ON f.regency IS NULL AND f.province = {PART}
ORDER BY part, rid
"""


def plan(con: duckdb.DuckDBPyConnection, split_above: int | None) -> list[str]:
    """The partitions, in code order: provinces, and regencies of the provinces with more
    than `split_above` register people, if given (the plan is kept for the export and the
    cross pass)."""
    db.run(con, PLAN_SQL, {"split_above": 2**62 if split_above is None else split_above})
    return list(db.df(con, PARTS_SQL)["part"])


def provinces(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The partitions when no province is split: provinces with register people."""
    return plan(con, split_above=None)


# What travels: each partition's inputs to its worker, each worker's results back, as
# Parquet at the run's storage location (reconcile.config.RunConfig.storage_url).
INPUTS = (Table.CLEAN_KEMENSOS, Table.CLEAN_BPS, Table.REVIEW_DECISIONS)
OUTPUTS = (Table.KEMENSOS_PERSONS, Table.LINKS, Table.MATCH_EVIDENCE, Table.DEDUPE_EVIDENCE)


@dataclass(frozen=True)
class Partition:
    """One partition as its worker receives it: its code and the storage folder (a URL,
    or a local folder) holding its inputs, `in/<table>.parquet`, and, once matched, its
    results, `out/<table>.parquet`. Nothing else of the coordinator's disk is needed."""

    name: str
    url: str
    inputs: tuple[str, ...]

    def location(self, con: duckdb.DuckDBPyConnection, side: str, table: str) -> str:
        """Where `con` reads or writes one table of this partition (in/ or out/)."""
        return located(con, f"{self.url.rstrip('/')}/{side}/{table}.parquet")


def located(con: duckdb.DuckDBPyConnection, url: str) -> str:
    """A storage URL as DuckDB reads and writes it: a local folder as its path, any other
    fsspec URL (s3://, gcs://, memory://) through fsspec registered with `con`."""
    fs, path = fsspec.core.url_to_fs(url)
    if isinstance(fs, LocalFileSystem):
        Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return db.sql_path(path)
    if not con.filesystem_is_registered(_protocol(fs)):
        con.register_filesystem(fs)
    return fs.unstrip_protocol(db.sql_path(path))


def _protocol(fs: fsspec.AbstractFileSystem) -> str:
    return fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]


def remove_storage(url: str) -> None:
    """The run's folder at the storage location (every NIK and name of the partitions)."""
    fs, path = fsspec.core.url_to_fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def export_all(con: duckdb.DuckDBPyConnection, url: str) -> list[Partition]:
    """Write each partition of the plan (`plan`), strays with the main one, as Parquet at
    the storage folder `url`; each row's partition is kept for the cross pass."""
    parts = db.df(con, PARTS_SQL)
    main = parts.sort_values(["people", "part"], ascending=[False, True])["part"].iloc[0] \
        if len(parts) else None
    for table in (Table.CLEAN_KEMENSOS, Table.CLEAN_BPS):
        db.run(con, ASSIGN_SQL.format(rows=rows_sql(table), table=table), {"main": main})
    return [_export(con, Partition(part, f"{url.rstrip('/')}/part-{part}", _inputs(con)))
            for part in parts["part"]]


def rows_sql(table: str) -> str:
    """The table of each row's partition, for one of the two clean tables."""
    return KEMENSOS_ROWS if table == Table.CLEAN_KEMENSOS else BPS_ROWS


def _inputs(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    return tuple(t for t in INPUTS if t != Table.REVIEW_DECISIONS or decided.present(con))


def _export(con: duckdb.DuckDBPyConnection, part: Partition) -> Partition:
    """Write one partition's clean rows (and the officers' decisions, by row keys shared
    with every partition) as Parquet."""
    for table in part.inputs:
        if table == Table.REVIEW_DECISIONS:
            query = db.Step(f"SELECT * FROM {table}")
        else:
            query = db.Step(f"SELECT * EXCLUDE (part) FROM {rows_sql(table)} "
                            "WHERE part = $part ORDER BY rid", {"part": part.name})
        _copy(con, query, part.location(con, "in", table))
    return part


def _copy(con: duckdb.DuckDBPyConnection, query: db.Step, location: str) -> None:
    """Write a query's result as one Parquet file at `location` (a path or a URL: not
    db.copy_parquet, which takes local paths)."""
    db.run(con, db.Step(f"COPY ({query.sql}) TO $location (FORMAT parquet, "
                        "COMPRESSION zstd)", query.params), {"location": location})


def match_partition(part: Partition, memory_limit: str, matching: dict | None = None,
                    scratch: Path | str | None = None) -> dict:
    """Match one partition in a private database of its own in `scratch` (default: the
    system's temp folder), reading its inputs from and writing its results to the
    storage location; safe in a thread or a worker. Returns the matcher's timings and
    what it used (seconds, peak memory, spill)."""
    work = Path(tempfile.mkdtemp(prefix=f"reconcile-part-{part.name}-", dir=scratch))
    started = time.perf_counter()
    try:
        with resources.measured(work / "spill") as use:
            con = db.connect(work / "part.duckdb", threads=THREADS,
                             memory_limit=memory_limit, temp_directory=work / "spill")
            try:
                stats = _match_here(con, part, MatchSettings.from_params(matching))
            finally:
                con.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"partition": part.name, "worker": _worker_name(),
            "seconds": round(time.perf_counter() - started, 3),
            **use.recorded(), **{k: v for k, v in stats.items() if k == "timings"}}


def _match_here(con: duckdb.DuckDBPyConnection, part: Partition,
                settings: MatchSettings) -> dict:
    for table in part.inputs:
        db.run(con, f"CREATE TABLE {table} AS SELECT * FROM read_parquet($path)",
               {"path": part.location(con, "in", table)})
    stats = match(con, settings) if db.count(con, Table.CLEAN_KEMENSOS) else {}
    for table in OUTPUTS:
        if db.has_table(con, table):
            _copy(con, db.Step(f"SELECT * FROM {table}"), part.location(con, "out", table))
    return stats


def _worker_name() -> str:
    """The Dask worker that matched a partition (its address), or "local"."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "local"


def worker_scratch() -> str | None:
    """A Dask worker's own local directory; elsewhere None (the system's temp folder)."""
    try:
        from distributed import get_worker

        return get_worker().local_directory
    except (ImportError, ValueError):
        return None


# The cross pass. Persons no partition linked (and, in a split province, persons linked
# weakly) against register people: by exact valid NIK with agreeing birth date or name,
# anywhere (people who moved, rows whose region is unknown); and, for the unlinked of a
# split province, by name and birth date to register people of the province, each pair
# judged as the whole-province matcher judges one (`name_dob_posterior`). A pair whose
# register person no partition claimed is a link (APPLY_SQL); one claimed by a person of
# another regency is a second enrolment of that person (MERGE_SQL). Only pairs that are
# one-to-one are taken. Every input is a table: scheduling cannot change it. A province
# matched whole gets exactly the NIK pass it always had.
WEAK_LINK = 0.99   # below this a split province's link may give way to a NIK in another regency
NAME_ALIKE = 0.92  # Jaro-Winkler of upper-case names that counts as the same name
NIK_NAME_ALIKE = 0.9  # a shared valid NIK needs this name likeness (or the birth date)
# No single field may veto a pair (score._M_FLOOR): the least m of a level, and the least
# u of an alike name among random register pairs of the province.
M_FLOOR = 0.005
U_FLOOR = 1e-6
U_SAMPLE = 2_000  # register people of each split province drawn for the alike-name u
db.constants({"weak_link": WEAK_LINK, "name_alike": NAME_ALIKE,
              "nik_name_alike": NIK_NAME_ALIKE})

# A row's NIK is its own when its birth-date part agrees with the row's birth date (women
# add 40 to the day): not a relative's NIK typed into the field (std.std_sql, nik_own).
_NIK_OWN = """coalesce(a.nik_status = 'valid' AND substr(a.nik, 9, 4) = strftime(a.tgl_lahir, '%m%y')
              AND try_cast(substr(a.nik, 7, 2) AS INTEGER)
                  IN (day(a.tgl_lahir), day(a.tgl_lahir) + 40), false)"""
PERSONS_AND_REGISTER = f"""
person_rows AS (
    SELECT p.person_id, a.nik, a.nik_status, a.nama, a.tgl_lahir, a.jenis_kelamin, a.part,
           {_NIK_OWN} AS nik_own,
           l.id_individu IS NULL AS unlinked,
           coalesce(length(a.part) > 2 AND l.match_probability < $weak_link, false) AS weak
    FROM {Table.KEMENSOS_PERSONS} p JOIN {KEMENSOS_ROWS} a USING (rid)
    JOIN {Table.LINKS} l USING (person_id)
), register AS (
    SELECT a.id_individu, a.nik, a.nik_status, a.nama, a.tgl_lahir, a.jenis_kelamin, a.part,
           a.id_individu IN (SELECT id_individu FROM {Table.LINKS}
                             WHERE id_individu IS NOT NULL) AS claimed
    FROM {BPS_ROWS} a
), open_persons AS (
    SELECT * FROM person_rows WHERE unlinked OR weak
), by_nik AS (
    SELECT DISTINCT o.person_id, b.id_individu, b.claimed, o.part AS person_part,
           b.part AS register_part, 'nik' AS via, o.unlinked
    FROM open_persons o JOIN register b ON b.nik = o.nik AND b.nik_status = 'valid'
    WHERE o.nik_status = 'valid'
      AND (o.tgl_lahir = b.tgl_lahir
           OR jaro_winkler_similarity(upper(o.nama), upper(b.nama)) >= $nik_name_alike)
), residual AS (  -- judged by name and birth date: unlinked, split, no NIK pair
    SELECT * FROM person_rows
    WHERE unlinked AND length(part) > 2 AND person_id NOT IN (SELECT person_id FROM by_nik)
)"""

# What the name-and-birth-date pairs of the split provinces' linked persons show: the m of
# the two alike levels (same upper-case name, or Jaro-Winkler >= $name_alike, birth date
# equal) and the share of own valid NIKs that differ from the register person's valid NIK.
# The partitions' links are the anchors here, as blocked pairs with other agreeing fields
# are in score.ANCHORS.
M_SQL = f"""
WITH pairs AS (
    SELECT upper(a.nama) = upper(b.nama) AS same_name,
           jaro_winkler_similarity(upper(a.nama), upper(b.nama)) >= $name_alike AS alike,
           a.tgl_lahir = b.tgl_lahir AS same_dob,
           {_NIK_OWN} AND b.nik_status = 'valid' AS niks, a.nik <> b.nik AS nik_differs
    FROM {Table.LINKS} l JOIN {Table.KEMENSOS_PERSONS} p USING (person_id)
    JOIN {KEMENSOS_ROWS} a USING (rid) JOIN {BPS_ROWS} b USING (id_individu)
    WHERE length(a.part) > 2
)
SELECT count(*) AS pairs,
       count(*) FILTER (same_dob AND same_name) AS exact,
       count(*) FILTER (same_dob AND alike AND NOT same_name) AS alike,
       count(*) FILTER (niks) AS niks,
       count(*) FILTER (niks AND nik_differs) AS niks_differ
FROM pairs
"""
# u of an alike, not equal, name: its share among pairs of register people drawn from each
# split province (every k-th by a hash of the id: the draw is the data's alone).
U_SQL = """
drawn AS (
    SELECT left(a.part, 2) AS province, a.id_individu, upper(a.nama) AS name
    FROM register a JOIN province s ON s.province = left(a.part, 2)
    WHERE length(a.part) > 2 AND hash(a.id_individu) % greatest(s.people // $u_sample, 1) = 0
), drawn_pairs AS (
    SELECT a.province, count(*) AS pairs,
           count(*) FILTER (a.name <> b.name AND jaro_winkler_similarity(a.name, b.name)
                            >= $name_alike) AS alike
    FROM drawn a JOIN drawn b ON b.province = a.province AND b.id_individu > a.id_individu
    GROUP BY ALL
), u_alike AS (
    SELECT province, greatest(alike / greatest(pairs, 1), $u_floor) AS u FROM drawn_pairs
)"""
NAME_PAIRS = "cross_name_pairs"
NAME_PERSONS = "cross_name_persons"
# The name-and-birth-date pairs: an unlinked person of a split province whose NIK names
# nobody against each register person of the province born the same day with an alike
# name and agreeing sex, with the pair's likelihood ratio over N (`name_dob_posterior`):
# m / E, E = N u_name u_dob the register people expected to agree so by chance, u_name the
# name's frequency in the province register (equal names) or the alike u (`U_SQL`), u_dob
# the birth date's, times the m of an own valid NIK that differs from the register's.
NAME_PAIRS_SQL = f"""
CREATE OR REPLACE TEMP TABLE {NAME_PAIRS} AS
WITH {PERSONS_AND_REGISTER}, province AS (
    SELECT left(part, 2) AS province, count(*) AS people FROM register
    WHERE length(part) > 2 GROUP BY ALL
), {U_SQL}, names AS (
    SELECT left(part, 2) AS province, upper(nama) AS name, count(*) AS people
    FROM register WHERE length(part) > 2 GROUP BY ALL
), days AS (
    SELECT left(part, 2) AS province, tgl_lahir, count(*) AS people
    FROM register WHERE length(part) > 2 GROUP BY ALL
), alike AS (
    SELECT o.person_id, o.part AS person_part, b.id_individu, b.claimed,
           b.part AS register_part, upper(o.nama) = upper(b.nama) AS same_name,
           o.nik_own AND b.nik_status = 'valid' AND o.nik <> b.nik AS nik_differs,
           upper(b.nama) AS name, left(b.part, 2) AS province, b.tgl_lahir
    FROM residual o JOIN register b
         ON left(b.part, 2) = left(o.part, 2) AND b.tgl_lahir = o.tgl_lahir
    WHERE (o.jenis_kelamin IS NULL OR b.jenis_kelamin IS NULL
           OR o.jenis_kelamin = b.jenis_kelamin)
      AND jaro_winkler_similarity(upper(o.nama), upper(b.nama)) >= $name_alike
), scored AS (
    SELECT a.*, (CASE WHEN a.same_name THEN $m_exact ELSE $m_alike END)
                * (CASE WHEN a.nik_differs THEN $m_nik_differs ELSE 1 END)
                / (d.people * CASE WHEN a.same_name THEN n.people / p.people
                                   ELSE u.u END)
               AS likelihood
    FROM alike a JOIN province p USING (province) JOIN days d USING (province, tgl_lahir)
    JOIN names n USING (province, name) JOIN u_alike u USING (province)
)
-- a person of several rows: its best-agreeing row speaks for it
SELECT person_id, id_individu, any_value(claimed) AS claimed,
       any_value(person_part) AS person_part, any_value(register_part) AS register_part,
       max(likelihood) AS likelihood, log2(max(likelihood)) AS match_weight,
       person_id AS rid_l
FROM scored GROUP BY person_id, id_individu
"""
NAME_PERSONS_SQL = f"""
CREATE OR REPLACE TEMP TABLE {NAME_PERSONS} AS
WITH {PERSONS_AND_REGISTER}
SELECT DISTINCT person_id FROM residual
"""
# Each person's pairs, by NIK and, above the run's link threshold, by name and birth date
# (a posterior of $link_threshold >= 0.5 leaves no second candidate near it: not ambiguous).
CANDIDATES_SQL = f"""
CREATE OR REPLACE TEMP TABLE cross_candidates AS
WITH {PERSONS_AND_REGISTER}, by_name AS (
    SELECT person_id, id_individu, claimed, person_part, register_part, 'name_dob' AS via,
           true AS unlinked
    FROM {NAME_PAIRS}
    QUALIFY $rho * likelihood
            / ((1 - $rho) + $rho * sum(likelihood) OVER (PARTITION BY person_id))
            >= $link_threshold
), pairs AS (
    SELECT * FROM by_nik UNION ALL SELECT * FROM by_name
), free AS (  -- pairs whose register person no partition claimed
    SELECT * FROM pairs WHERE NOT claimed AND (via = 'nik' OR register_part <> person_part)
)
SELECT *, count(DISTINCT id_individu) OVER (PARTITION BY person_id) AS candidates,
       count(DISTINCT person_id) OVER (PARTITION BY id_individu) AS claimants
FROM free
UNION ALL
SELECT *, NULL, NULL FROM pairs WHERE claimed
"""
APPLY_SQL = f"""
CREATE OR REPLACE TABLE {Table.LINKS} AS
SELECT l.* REPLACE (
           coalesce(c.id_individu, l.id_individu) AS id_individu,
           -- the published kinds (schemas.outputs.MATCH_TYPES); the manifest counts
           -- the cross links by kind and place (match.cross_*_links)
           CASE WHEN c.via = 'nik' THEN 'nik_exact'
                WHEN c.via = 'name_dob' THEN 'probabilistic'
                ELSE l.match_type END AS match_type,
           CASE WHEN c.id_individu IS NOT NULL THEN NULL ELSE l.no_match_reason END
               AS no_match_reason)
FROM {Table.LINKS} l
LEFT JOIN (SELECT DISTINCT person_id, id_individu, person_part, register_part, via
           FROM cross_candidates WHERE candidates = 1 AND claimants = 1) c USING (person_id)
ORDER BY l.person_id
"""


# One person enrolled in two regencies of a split province is two persons after the
# partitions: the one whose register person is held by the other is still unlinked. When
# its pair with that register person (cross_candidates: by NIK, or by name and birth date
# above the link threshold) is its only one, and one person of another regency of the
# province holds that register person, it joins that person (the dedupe a whole-province
# matcher would have made).
MERGE_SQL = f"""
CREATE OR REPLACE TEMP TABLE cross_merges AS
WITH holders AS (
    SELECT l.id_individu, min(l.person_id) AS holder, min(a.part) AS holder_part,
           count(DISTINCT l.person_id) AS holders
    FROM {Table.LINKS} l JOIN {Table.KEMENSOS_PERSONS} p USING (person_id)
    JOIN {KEMENSOS_ROWS} a USING (rid)
    WHERE l.id_individu IS NOT NULL GROUP BY l.id_individu
), found AS (
    SELECT c.person_id, c.id_individu, h.holder
    FROM cross_candidates c JOIN holders h ON h.id_individu = c.id_individu
    JOIN {Table.LINKS} l ON l.person_id = c.person_id
    WHERE c.claimed AND c.unlinked AND l.id_individu IS NULL AND length(c.person_part) > 2
      AND h.holders = 1 AND h.holder_part <> c.person_part
      AND left(h.holder_part, 2) = left(c.person_part, 2)
)
SELECT person_id, min(holder) AS holder FROM found
GROUP BY person_id HAVING count(DISTINCT id_individu) = 1
"""
MERGE_PERSONS_SQL = f"""
CREATE OR REPLACE TABLE {Table.KEMENSOS_PERSONS} AS
SELECT p.* REPLACE (coalesce(m.holder, p.person_id) AS person_id)
FROM {Table.KEMENSOS_PERSONS} p LEFT JOIN cross_merges m USING (person_id)
ORDER BY p.rid
"""
MERGE_LINKS_SQL = f"""
DELETE FROM {Table.LINKS} WHERE person_id IN (SELECT person_id FROM cross_merges)
"""


def name_dob_posterior(con: duckdb.DuckDBPyConnection) -> dict:
    """The values the name-and-birth-date pairs are judged by, as the whole-province
    matcher judges a row (link.row_probability_sql), written to NAME_PAIRS.

    An unlinked person of a split province is one of the province's N register people,
    each a priori equally likely, with probability rho, or nobody there. With LR_k the
    likelihood ratio of its pair with register person k, P(k) = (rho/N) LR_k /
    ((1 - rho) + (rho/N) sum_j LR_j). LR = m/u with u = u_name u_dob, so (1/N) LR = m/E,
    E = N u the register people expected to share the name and birth date by chance: a
    rare name on one day of the province's N people is strong evidence, a common one in a
    province of millions is not (a unique namesake is then likely by chance). m comes from
    the partitions' links (M_SQL), u from the province register (names and days counted,
    U_SQL for alike names), and rho from the residual itself by the matcher's EM
    (score.in_register_share): most of the persons left unlinked are not in the register,
    so their prior is far below the whole run's.
    """
    counts = db.row(con, M_SQL)
    pairs, exact, alike, niks, niks_differ = (int(v or 0) for v in counts)
    m_exact = max(exact / max(pairs, 1), M_FLOOR)
    m_alike = max(alike / max(pairs, 1), M_FLOOR)
    m_nik_differs = max(niks_differ / max(niks, 1), M_FLOOR)
    params = {"m_exact": m_exact, "m_alike": m_alike, "m_nik_differs": m_nik_differs,
              "u_sample": U_SAMPLE, "u_floor": U_FLOOR}
    db.run(con, NAME_PAIRS_SQL, params)
    db.run(con, NAME_PERSONS_SQL)
    rho = score.in_register_share(con, NAME_PAIRS, NAME_PERSONS, pair_bits=0.0,
                                  register_size=1) if db.count(con, NAME_PAIRS) else 0.0
    return {**params, "rho": rho, "persons": db.count(con, NAME_PERSONS),
            "pairs": db.count(con, NAME_PAIRS)}


def combine(con: duckdb.DuckDBPyConnection, parts: Iterable[Partition],
            settings: MatchSettings | None = None) -> dict:
    """Gather the partitions' persons and links from the storage location, then run the
    cross pass (by NIK; in split provinces by name and birth date too, at the run's link
    threshold, `settings`, default the matcher's defaults)."""
    parts, settings = list(parts), settings or MatchSettings()
    for table in OUTPUTS:
        written = [where for part in parts
                   if _exists(where := part.location(con, "out", table))]
        if written:
            db.run(con, f"CREATE OR REPLACE TABLE {table} AS "
                        "SELECT * FROM read_parquet($paths)", {"paths": written})
        elif union := _empty(table):  # no evidence where no partition had Kemensos rows
            db.run(con, f"CREATE OR REPLACE TABLE {table} AS {union}")
    figures = cross_pass(con, settings)
    for copy in (KEMENSOS_ROWS, BPS_ROWS):  # copies of the clean tables: space back
        db.run(con, f"DROP TABLE {copy}")
    return {"partitions": len(parts), **figures}


def cross_pass(con: duckdb.DuckDBPyConnection, settings: MatchSettings) -> dict:
    """Link (APPLY_SQL) and merge (MERGE_SQL) the partitions' persons across partitions,
    from the gathered persons and links and each row's partition (KEMENSOS_ROWS, BPS_ROWS);
    the links and merges made, by kind and place, and the evidence they were judged by."""
    evidence = name_dob_posterior(con)
    db.run(con, CANDIDATES_SQL, {"rho": evidence["rho"],
                                 "link_threshold": settings.link_threshold})
    linked = db.df(con, "SELECT via, person_part, register_part, count(DISTINCT person_id) "
                        "AS persons FROM cross_candidates WHERE candidates = 1 "
                        "AND claimants = 1 GROUP BY ALL")
    db.run(con, APPLY_SQL)
    merged = _merge_across_regencies(con)
    across = linked["person_part"].str[:2] != linked["register_part"].str[:2]
    return {"cross_province_links": int(linked["persons"][across].sum()),
            "cross_regency_links": {
                via: int(linked["persons"][~across & (linked["via"] == via)].sum())
                for via in ("nik", "name_dob")},
            "cross_regency_merges": merged,
            "cross_regency_evidence": {k: round(float(v), 6) for k, v in evidence.items()
                                       if k not in ("u_sample", "u_floor")}}


def _merge_across_regencies(con: duckdb.DuckDBPyConnection) -> int:
    """Join each person enrolled again in another regency to the person holding its
    register person (MERGE_SQL); the persons merged."""
    db.run(con, MERGE_SQL)
    merged = db.count(con, "cross_merges")
    if merged:  # a run with no split province is left exactly as its partitions gave it
        db.run(con, MERGE_PERSONS_SQL)
        db.run(con, MERGE_LINKS_SQL)
    return merged


def _exists(location: str) -> bool:
    fs, path = fsspec.core.url_to_fs(location)
    return bool(fs.exists(path))


def _empty(table: str) -> str:
    if table in (Table.MATCH_EVIDENCE, Table.DEDUPE_EVIDENCE):
        return ""
    if table == Table.KEMENSOS_PERSONS:
        return "SELECT NULL::BIGINT AS rid, NULL::VARCHAR AS person_id LIMIT 0"
    return ("SELECT NULL::VARCHAR AS person_id, NULL::VARCHAR AS id_individu, "
            "NULL::DOUBLE AS match_probability, NULL::DOUBLE AS in_register_probability, "
            "NULL::VARCHAR AS match_type, "
            "NULL::VARCHAR AS no_match_reason LIMIT 0")
