"""Runs that fail leave nothing behind; pseudonymised outputs hold tokens, not NIKs."""

from __future__ import annotations

import os

import duckdb
import pytest

from reconcile.errors import InputError
from reconcile.pipeline import run_pipeline


@pytest.mark.parametrize(("name", "content", "message"), [
    ("kemensos_x.csv", b"id_penerima,nomor\nX1,1\n", "required column"),
    ("kemensos_x.csv", b"", "is empty"),
    ("kemensos_x.ods", b"PK\x03\x04", "unknown file type"),
    ("kemensos_x.xlsx", b"PK\x03\x04 damaged", "cannot be read as xlsx"),
])
def test_a_bad_input_stops_the_run_before_anything_is_written(run_config, small_data, tmp_path,
                                                              name, content, message):
    broken = tmp_path / name
    broken.write_bytes(content)
    out = tmp_path / "out"

    with pytest.raises(InputError, match=message) as error:
        run_pipeline(run_config(small_data, out, kemensos=(broken,)))

    assert name in str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, ".out.lock"])


def test_pseudonymised_outputs_hold_stable_tokens_not_niks(run_config, small_data, tmp_path,
                                                           monkeypatch):
    monkeypatch.setenv("RECONCILE_HMAC_KEY", "test-key-0123456789abcdef-GHIJKLMNOP")
    runs = []
    for n in (1, 2):
        out = tmp_path / f"out{n}"
        run_pipeline(run_config(small_data, out, pseudonymise=True))
        runs.append(out)

    def tokens(out):
        return duckdb.sql(f"SELECT id_penerima, nik, no_kk FROM read_parquet("
                          f"'{out}/reconciled.parquet/**/*.parquet') ORDER BY id_penerima"
                          ).fetchall()

    first = tokens(runs[0])
    assert first == tokens(runs[1])  # same input and key: same tokens
    assert all(nik is None or (len(nik) == 32 and not nik.isdigit()) for _, nik, _ in first)
    columns = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet("
                         f"'{runs[0]}/reconciled.parquet/**/*.parquet')").fetchall()
    assert not {"nama", "alamat"} & {c[0] for c in columns}
    restricted = runs[0] / "restricted"
    assert oct(restricted.stat().st_mode & 0o777) == "0o700"
    identified = duckdb.sql(f"SELECT count(*) FROM read_parquet("
                            f"'{restricted}/reconciled.parquet/**/*.parquet') "
                            "WHERE regexp_full_match(nik, '[0-9]{16}')").fetchall()[0][0]
    assert identified > 0


def test_pseudonymising_without_a_key_is_refused(run_config, small_data, tmp_path,
                                                 monkeypatch):
    monkeypatch.delenv("RECONCILE_HMAC_KEY", raising=False)

    with pytest.raises(InputError, match="RECONCILE_HMAC_KEY"):
        run_pipeline(run_config(small_data, tmp_path / "out", pseudonymise=True))

    assert not (tmp_path / "out").exists()
    assert os.listdir(tmp_path) == []  # refused when configured: not even a lock


def test_an_undecodable_file_stops_the_run_before_anything_is_written(run_config, small_data,
                                                                      tmp_path):
    broken = tmp_path / "kemensos_x.csv"
    broken.write_bytes("NIK,NAMA\n1771014101900001,JOSÉ\n".encode("cp1252"))
    mapping = tmp_path / "headers.toml"
    mapping.write_text('encoding = "utf-8"\n')

    with pytest.raises(InputError, match="kemensos_x.csv: cannot be decoded as utf-8"):
        run_pipeline(run_config(small_data, tmp_path / "out", kemensos=(broken,), mapping=mapping))

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [broken.name, mapping.name, ".out.lock"])
