"""Security: no user value reaches SQL text, and pseudonymised outputs stay pseudonymous.

Injection: every user-facing value (regions, eligibility, output and input paths, CLI and
flow) is fed `'`, `;`, `--` and COPY ... TO payloads; each is refused cleanly or runs
correctly, and no file appears outside the output folder. Re-identification: with the
inputs as a dictionary, no NIK, KK number or name appears in any published file, neither
in plain nor as a bare md5/sha1/sha256, and the released table is k-anonymous.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zipfile
from pathlib import Path

import duckdb
import pytest

from flows.cli import main
from reconcile import db, identity, outputs, publish
from reconcile.config import RunConfig
from reconcile.errors import InputError
from reconcile.pipeline import run_pipeline
from reconcile.privacy import KEY_VARIABLE, QUASI_IDENTIFIERS

KEY = "k3y-for-tests-Zq8uW1xV0pLmN4rT6yB2cD9"


def payloads(tmp: Path) -> list[str]:
    """SQL that would write a file into `tmp` if it were ever spliced into a statement."""
    return ["17'", "17; DROP TABLE reconciled; --", "17 --",
            f"17') TO '{tmp}/leak1.csv' (FORMAT csv); --",
            f"17']) OR true; COPY reconciled TO '{tmp}/leak2.csv'; --"]


def _query(sql: str, params: dict | None = None) -> list[tuple]:
    """Rows of one query on a connection of its own."""
    with duckdb.connect() as con:
        return con.execute(sql, params).fetchall()


def leaks(tmp: Path) -> list[Path]:
    return sorted(tmp.rglob("leak*"))


def _cli(data: Path, out: Path, *options: str) -> list[str]:
    return ["run", "--kemensos", *map(str, sorted(data.glob("kemensos_*.csv"))),
            "--bps", str(data / "bps_register.parquet"),
            "--stats", str(data / "bps_poverty_stats.csv"), "--out", str(out), *options]


def _flow_params(data: Path, out: Path, **changes) -> dict:
    params = {"kemensos": [str(p) for p in sorted(data.glob("kemensos_*.csv"))],
              "bps": str(data / "bps_register.parquet"),
              "stats": str(data / "bps_poverty_stats.csv"), "out": str(out),
              "mapping": None, "pseudonymise": False, "regions": None, "eligibility": None,
              "force": False, "partition_by": "province", "workers": 1, "k_anonymity": 5}
    return {**params, **changes}


# --- injection -----------------------------------------------------------------------

@pytest.mark.slow
def test_hostile_regions_are_refused_by_config_flow_and_cli(run_config, small_data, tmp_path,
                                                            capsys):
    out = tmp_path / "out"
    for payload in payloads(tmp_path):
        with pytest.raises(InputError, match="--region"):
            run_config(small_data, out, regions=(payload,))
        with pytest.raises(InputError, match="--region"):
            RunConfig.build(**_flow_params(small_data, out, regions=[payload]))
        assert main(_cli(small_data, out, "--region", payload)) == 2
        err = capsys.readouterr().err
        assert _refusal(err, "reconcile: --region:"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # refused before anything ran


def test_region_codes_are_normalised(run_config, small_data, tmp_path):
    config = run_config(small_data, tmp_path / "out", regions=("1701", "17.02", "170301"))
    assert config.regions == ("17.01", "17.02", "17.03.01")


def test_the_region_filter_binds_its_codes(con, tmp_path):
    for table in ("clean_kemensos", "clean_bps"):
        db.run(con, f"CREATE TABLE {table} AS SELECT * FROM (VALUES ('a.csv', '17.01.01.2001'), "
                    "('a.csv', '18.01.01.2001'), ('a.csv', NULL)) t(source_file, kode_wilayah)")
    dropped = outputs.restrict_to_regions(con, (*payloads(tmp_path), "17.01"))
    assert dropped == {"a.csv": 1}  # only the 18 row: payloads are just codes that match nothing
    assert db.count(con, "clean_kemensos") == 2 and not leaks(tmp_path)


def _refusal(err: str, start: str) -> bool:
    """A refusal as the command prints it: its English line, then its Indonesian one."""
    lines = err.rstrip("\n").split("\n")
    return len(lines) == 2 and lines[0].startswith(start) and lines[1].startswith("  ID: ")


@pytest.mark.parametrize("eligibility", [
    {"cutoff": {"PKH') TO '/tmp/leak.csv' (FORMAT csv); --": 4}},
    {"cutoff": {"PKH": "4; COPY reconciled TO '/tmp/leak.csv'; --"}},
    {"cutoff": {"PKH": 4.5}}, {"cutoff": {"PKH": 11}}, {"cutoff": "PKH"},
    {"benefit": {"PKH": "1' --"}}, {"benefit": {"BLT'; --": 1}}, {"benefit": {"PKH": -1}},
    {"default_cutoff": "4 OR 1=1"}, {"exclusion_desil": True},
    {"cutoff; DROP TABLE reconciled; --": {}}, ["cutoff"],
])
def test_hostile_eligibility_is_refused(run_config, small_data, tmp_path, capsys, eligibility):
    with pytest.raises(InputError, match="--eligibility"):
        run_config(small_data, tmp_path / "out", eligibility=eligibility)
    assert main(_cli(small_data, tmp_path / "out", "--eligibility", json.dumps(eligibility))) == 2
    err = capsys.readouterr().err
    assert _refusal(err, "reconcile: --eligibility:"), err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("text", ["{'cutoff': 4}", '{"cutoff": {"PKH": 4}', "PKH=4"])
def test_eligibility_that_is_not_json_is_refused_in_two_languages(small_data, tmp_path, capsys,
                                                             text):
    assert main(_cli(small_data, tmp_path / "out", "--eligibility", text)) == 2
    err = capsys.readouterr().err
    assert _refusal(err, "reconcile: --eligibility: not valid JSON"), err


@pytest.mark.parametrize("name", ["out\nx", "out\x00x", "out\rx", "out\x1bx"])
def test_paths_with_control_characters_are_refused(run_config, small_data, tmp_path, name):
    with pytest.raises(InputError, match="control character"):
        run_config(small_data, tmp_path / name)
    with pytest.raises(InputError, match="control character"):
        db.sql_path(tmp_path / name)


@pytest.mark.slow
def test_hostile_output_and_input_paths_run_correctly(run_config, small_data, tmp_path,
                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the payloads' relative targets would land
    inbox = tmp_path / "in'); COPY raw_kemensos TO 'leak3.csv'; --"
    inbox.mkdir()
    for path in small_data.glob("*"):
        shutil.copy(path, inbox / path.name.replace("kemensos_", "kemensos_'; --"))
    out = tmp_path / "out'; COPY reconciled TO 'leak4.csv' (FORMAT csv); --"

    result = run_pipeline(run_config(inbox, out, eligibility={"cutoff": {"PKH": 3}}))

    assert result["reconciled_rows"] > 0 and not leaks(tmp_path)
    assert all(row["balanced"] for row in result["rows_per_file"])
    expected = {inbox.name, out.name, *(f".{out.name}.{s}" for s in ("lock", "versions", "state"))}
    assert {p.name for p in tmp_path.iterdir()} == expected
    rows = _query("SELECT count(*) FROM read_parquet($p)",
                  {"p": f"{out}/reconciled.parquet/**/*.parquet"})
    assert rows == [(result["reconciled_rows"],)]


@pytest.mark.slow
def test_hostile_resource_options_are_refused_or_bound(run_config, small_data, tmp_path,
                                                       monkeypatch):
    """--memory-limit and --read-group are checked before the run; --temp-dir is bound
    (a quote in the spill folder's name writes nothing anywhere else)."""
    for payload in payloads(tmp_path):
        with pytest.raises(InputError, match="memory_limit"):
            run_config(small_data, tmp_path / "o", memory_limit=f"1GB{payload}")
        with pytest.raises(InputError, match="read_group"):
            run_config(small_data, tmp_path / "o", read_group=payload)
    monkeypatch.chdir(tmp_path)
    spill = tmp_path / "spill'; COPY reconciled TO 'leak5.csv'; --"
    spill.mkdir()
    result = run_pipeline(run_config(small_data, tmp_path / "out", temp_dir=spill,
                                     memory_limit="512MB"))
    assert result["reconciled_rows"] > 0 and not leaks(tmp_path)
    assert list(spill.iterdir()) == []


@pytest.mark.parametrize(("option", "value"), [
    ("matching", {"link_threshold": "0.9; DROP TABLE links; --"}),
    ("matching", {"ambiguity_bits": "1) OR true --"}),
    ("matching", {"max_pairs_per_key": 5000.5}),
    ("matching", {"u_sample": "600 LIMIT 1; COPY links TO '/tmp/leak.csv'; --"}),
    ("matching", {"link_threshold'; --": 0.9}),
    ("matching", {"review_threshold": 1.5}),
    ("review", {"cap_per_village": "25; DROP TABLE review_queue; --"}),
    ("review", {"audit_per_band": "2') OR true --"}),
    ("review", {"weak_link_below": "0.99 --"}),
    ("review", {"cap_per_village'; --": 25}),
])
def test_hostile_matching_and_review_settings_are_refused(run_config, small_data, tmp_path,
                                                          option, value):
    with pytest.raises(InputError, match=option):
        run_config(small_data, tmp_path / "out", **{option: value})
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("options", [
    ["--review-cap", "25; DROP TABLE review_queue; --"], ["--review-audit", "2 --"],
    ["--matching", json.dumps({"ambiguity_bits": "1; --"})], ["--link-threshold", "0.9'; --"],
])
def test_hostile_review_and_matching_options_stop_the_cli(small_data, tmp_path, capsys,
                                                          options):
    try:
        code = main(_cli(small_data, tmp_path / "out", *options))
    except SystemExit as exc:  # argparse refuses a value that is not a number
        code = exc.code
    assert code == 2 and "reconcile" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_no_option_value_reaches_sql_text(run_config, small_data, tmp_path, monkeypatch):
    """Run with distinctive values for every numeric and text option and record every
    statement the library runs: none of the values is in any statement's text (they are
    bound), while the run uses them (the queue's cap, the benefit's cost)."""
    statements: list[str] = []
    bound = db._bound

    def record(statement, params):
        sql, values = bound(statement, params)
        statements.append(sql)
        return sql, values

    monkeypatch.setattr(db, "_bound", record)
    values = {"0.912345", "0.51234", "0.98765", "0.90123", "1.23456", "4321", "577",
              "8765", "6543", "2471113", "hostile-out-zq", "17.01"}
    out = tmp_path / "hostile-out-zq"
    result = run_pipeline(run_config(
        small_data, out, regions=("17.01",),
        matching={"link_threshold": 0.912345, "review_threshold": 0.51234,
                  "dedupe_threshold": 0.98765, "attach_threshold": 0.90123,
                  "ambiguity_bits": 1.23456, "max_pairs_per_key": 4321, "u_sample": 577},
        review={"cap_per_village": 8765, "audit_per_band": 6543},
        eligibility={"cutoff": {"PKH": 3}, "benefit": {"PBI-JK": 2471113}}))
    assert result["reconciled_rows"] > 0 and len(statements) > 100
    found = {v for v in values for sql in statements if v in sql}
    assert not found, found
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["review"]["cap_per_village"] == 8765
    costs = _query("SELECT DISTINCT cost FROM read_parquet($p) WHERE program = 'PBI-JK' "
                   "AND category = 'duplicate_enrolment'", {"p": str(out / "discrepancies.parquet")})
    assert costs == [(2471113.0,)]  # the benefit, bound, costs the program's duplicates


# --- keys ------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["", "short-key-123", "a" * 40, "abababababababababababababababab"])
def test_weak_keys_are_refused_before_ingest(run_config, small_data, tmp_path, monkeypatch,
                                             capsys, key):
    monkeypatch.setenv(KEY_VARIABLE, key)
    with pytest.raises(InputError, match=KEY_VARIABLE):
        run_config(small_data, tmp_path / "out", pseudonymise=True)
    assert main(_cli(small_data, tmp_path / "out", "--pseudonymise")) == 2
    err = capsys.readouterr().err
    assert _refusal(err, "reconcile: ") and "secrets.token_urlsafe(32)" in err
    assert not list(tmp_path.iterdir())  # no lock, no staging: nothing was read or written


# --- re-identification -----------------------------------------------------------------

@pytest.fixture(scope="module")
def pseudonymised(small_data, tmp_path_factory):
    """One pseudonymised run of the small data set: (out folder, its manifest)."""
    from reconcile.config import RunConfig

    out = tmp_path_factory.mktemp("pseudo") / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_VARIABLE, KEY)
        run_pipeline(RunConfig(kemensos=tuple(sorted(small_data.glob("kemensos_*.csv"))),
                               bps=small_data / "bps_register.parquet",
                               stats=small_data / "bps_poverty_stats.csv", out=out,
                               pseudonymise=True))
    return out, json.loads((out / "manifest.json").read_text())


def _dictionary(data: Path) -> set[str]:
    """Every NIK, KK number and name of the inputs, as given and as cleaned."""
    sources = [f"read_csv('{p}', all_varchar=true)" for p in data.glob("kemensos_*.csv")]
    sources.append(f"'{data}/bps_register.parquet'")
    values = set()
    for source in sources:
        for row in _query(f"SELECT nik, no_kk, nama FROM {source}"):
            values.update(v for v in row if v)
    variants = {form for v in values for form in (v, v.strip(), v.strip().upper())}
    return {v for v in variants if len(v) >= 6}


def _published_texts(out: Path) -> dict[str, str]:
    """Each published file's bytes as text, Parquet values and xlsx members included."""
    texts = {}
    for path in out.rglob("*"):
        if "restricted" in path.relative_to(out).parts or path.is_dir():
            continue
        parts = [path.read_bytes().decode("latin-1")]
        if path.suffix == ".parquet":
            rows = _query("SELECT * FROM read_parquet($p)", {"p": str(path)})
            parts += [str(v) for row in rows for v in row if v is not None]
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as book:
                parts += [book.read(n).decode("utf-8", "replace") for n in book.namelist()]
        texts[str(path.relative_to(out))] = "\n".join(parts)
    return texts


def _windows(text: str, pattern: str, lengths: tuple[int, ...]) -> set[str]:
    """Every substring of these lengths of the runs matching `pattern` (fast lookups)."""
    return {run[i:i + n] for run in re.findall(pattern, text) for n in lengths
            for i in range(len(run) - n + 1)}


@pytest.mark.slow
def test_no_identifier_or_bare_hash_of_one_is_published(pseudonymised, small_data):
    out, _ = pseudonymised
    values = _dictionary(small_data)
    numbers = {v for v in values if v.isdigit()}
    digests = {h(v.encode()).hexdigest() for v in values
               for h in (hashlib.md5, hashlib.sha1, hashlib.sha256)}
    texts = _published_texts(out)
    assert "manifest.json" in texts and any(n.startswith("reconciled.parquet") for n in texts)
    assert not any(n.endswith(".duckdb") for n in texts)  # the identity state is not published
    for name, text in texts.items():
        found = _windows(text.lower(), "[0-9a-f]{32,}", (32, 40, 64)) & digests
        found |= _windows(text, "[0-9]{6,}", tuple({len(v) for v in numbers})) & numbers
        found |= {v for v in values - numbers if v in text}
        assert not found, (name, sorted(found)[:3])


def test_the_released_table_is_k_anonymous(pseudonymised):
    out, manifest = pseudonymised
    facts = manifest["privacy"]
    columns = ", ".join(QUASI_IDENTIFIERS)
    with duckdb.connect() as con:
        table = con.execute("SELECT * FROM read_parquet($p, hive_partitioning = true)",
                            {"p": f"{out}/reconciled.parquet/**/*.parquet"}).df()
        con.register("released", table)
        smallest = con.execute(f"SELECT min(n) FROM (SELECT count(DISTINCT person_id) AS n "
                               f"FROM released GROUP BY {columns})").fetchone()[0]
    assert facts["k_anonymity_min_group"] == smallest >= facts["k_anonymity"] == 5
    assert not {"nama", "alamat", "tgl_lahir", "rid", "source_row"} & set(table.columns)
    assert table["kode_wilayah"].dropna().str.len().max() <= 8  # kecamatan at the finest
    assert table["id_penerima"].str.fullmatch("[0-9a-f]{32}").all()
    assert len(facts["key_id"]) == 12 and KEY not in (out / "manifest.json").read_text()


def test_state_and_secret_are_owner_only_and_outside_the_outputs(pseudonymised):
    out, manifest = pseudonymised
    state = publish.state_dir(out)
    assert state.parent == out.parent and out.resolve() not in state.resolve().parents
    assert oct(state.stat().st_mode & 0o777) == "0o700"
    files = sorted(state.iterdir())
    assert {p.name for p in files} == {"secret.key", f"identity-{manifest['run_id']}.duckdb"}
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in files)
    assert oct((out / "restricted").stat().st_mode & 0o777) == "0o700"
    assert identity.previous_state(out) == state / f"identity-{manifest['run_id']}.duckdb"


@pytest.mark.slow
def test_a_new_key_gives_new_tokens_but_keeps_person_ids(run_config, small_data, tmp_path,
                                                         monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    first = run_pipeline(run_config(small_data, out, pseudonymise=True))
    orphan = publish.state_path(out, "20000101T000000Z-dead00")  # as left by a killed run
    orphan.write_bytes(b"")

    monkeypatch.setenv(KEY_VARIABLE, KEY[::-1] + "-rotated")
    second = run_pipeline(run_config(small_data, out, pseudonymise=True))  # not skipped

    assert not second["skipped"] and second["run_id"] != first["run_id"]
    assert second["persons"] == first["persons"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["identity"]["new_persons"] == 0  # ids survive the rotation
    assert manifest["changes"] == {}                 # and no row looks edited
    assert not orphan.exists()
    versions = {p.name for p in (out.parent / ".out.versions").iterdir()}
    assert versions == {first["run_id"], second["run_id"], publish.MARKER}


# --- nothing personal outside the identified outputs ------------------------------------

NIK = "1771014101900001"


def test_the_manifest_masks_blocking_keys_and_nik_length_numbers(tmp_path):
    capped = [{"rule": "nik", "key": NIK, "pairs": 5995},
              {"rule": "name_dob", "key": "SITI AMINAH:1990-01-01", "pairs": 6000}]
    facts = {"lineage": {"fingerprint": "1234567890123456789abc"},
             "match": {"link_blocking": {"capped_examples": capped}},
             "out_of_scope": {f"kemensos_{NIK}.csv": 1}}

    outputs.write_manifest(tmp_path, "20261201T000000Z-abcdef", {}, facts)

    text = (tmp_path / "manifest.json").read_text()
    assert NIK not in text and "SITI" not in text and "AMINAH" not in text
    assert '"key": "1771********0001"' in text and "S*** A*****:1990-01-01" in text
    assert "1234567890123456789abc" in text  # hashes are not data


def test_the_leak_guard_says_where_a_nik_is_never_which(con):
    from schemas import ContractError, validate_table
    from schemas.outputs import Discrepancies

    db.run(con, "CREATE TABLE d AS SELECT 'invalid_nik' AS category, 'high' AS severity, "
                "'kemensos' AS source, 'R1' AS record_id, NULL AS person_id, "
                "NULL AS id_individu, NULL AS id_keluarga, 'PKH' AS program, "
                "'17.71' AS kode_wilayah, 'NIK ' || $nik AS evidence, 'a' AS action_id, "
                "'a' AS action_en, NULL::DOUBLE AS cost, NULL AS penjelasan, "
                "NULL AS explanation, 'open' AS status", {"nik": NIK})
    with pytest.raises(ContractError) as error:
        validate_table(con, "d", Discrepancies)
    message = str(error.value)
    assert "column evidence: no_full_nik fails in 1 row(s)" in message
    assert NIK not in message and error.value.__cause__ is None


def test_published_tables_mask_an_id_that_is_a_nik(con):
    db.run(con, "CREATE TABLE changes AS SELECT 'person_merge' AS change, 'P-' || $nik AS "
                "person_id, $nik AS record_id, 1 AS n, 'earlier person P-' || $nik AS detail",
           {"nik": NIK})
    masked = db.arrow(con, outputs.masked_sql(con, "changes"))  # binds the mask's pattern
    row = [tuple(r.values()) for r in masked.to_pylist()]
    assert row == [("person_merge", "P-1771********0001", "1771********0001", 1,
                    "earlier person P-1771********0001")]
