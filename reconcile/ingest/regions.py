"""Region names (provinsi, kabupaten_kota, kecamatan, desa_kelurahan) to Kemendagri codes.

Names are compared without their level word (`KAB.`, `KABUPATEN`, `KOTA`, `KECAMATAN`,
`DESA`, `KELURAHAN`), case, spaces and punctuation, each level within the one above it.
A name with no exact match takes the closest name of the same parent when it is close
enough (Jaro-Winkler >= FUZZY) and no other name is as close. `KOTA X` and `KAB. X` are
different regions; a bare `X` is the regency when both exist.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from reconcile import db
from reconcile.reference import load_regions

LEVELS = ("provinsi", "kabupaten", "kecamatan", "desa")
FUZZY = 0.93
PREFIX = {
    "provinsi": r"^(PROVINSI|PROPINSI|PROV\.?|PROP\.?)\s+",
    "kabupaten": r"^(KABUPATEN|KAB\.?|KOTA ADMINISTRASI|KOTA ADM\.?|KOTA)\s+",
    "kecamatan": r"^(KECAMATAN|KEC\.?)\s+",
    "desa": r"^(DESA|KELURAHAN|KEL\.?|DS\.?)\s+",
}


def _key(names: pd.Series, level: str) -> tuple[pd.Series, pd.Series]:
    """(comparable name, 'KOTA'/'KAB'/'' for regencies) of each name."""
    upper = names.fillna("").astype(str).str.upper().str.strip()
    kind = pd.Series("", index=names.index)
    if level == "kabupaten":
        kind = kind.mask(upper.str.match(r"^KOTA\b"), "KOTA").mask(
            upper.str.match(r"^KAB(UPATEN|\.|\s)"), "KAB")
    bare = upper.str.replace(PREFIX[level], "", regex=True)
    return bare.str.replace(r"[^0-9A-Z]", "", regex=True), kind


def _reference() -> pd.DataFrame:
    regions = load_regions()
    key, kind = _key(regions["nama"], "kabupaten")
    frame = pd.DataFrame({"kode": regions["kode"], "level": regions["level"],
                          "parent": regions["parent"].fillna(""), "key": key, "kind": kind})
    other = regions["level"] != "kabupaten"
    for level in ("provinsi", "kecamatan", "desa"):
        rows = regions["level"] == level
        frame.loc[rows, "key"] = _key(regions.loc[rows, "nama"], level)[0]
    frame.loc[other, "kind"] = ""
    return frame


def resolve_names(con, columns: dict[str, pa.ChunkedArray]) -> tuple[pa.Array, list[str]]:
    """Dotted Kemendagri codes for rows given by name columns (province first, as deep
    as given), and the names that could not be resolved ('KAB. X' in 'PROV')."""
    given = [lv for lv in LEVELS if lv in columns]
    rows = pd.DataFrame({lv: columns[lv].to_pandas() for lv in given})
    distinct = rows.drop_duplicates().reset_index(drop=True)
    distinct["k"] = range(len(distinct))
    con.register("__region_ref", _reference())
    code = pd.Series("", index=distinct.index)
    unresolved: list[str] = []
    try:
        for level in given:
            key, kind = _key(distinct[level], level)
            asked = pd.DataFrame({"k": distinct["k"], "parent": code, "key": key, "kind": kind,
                                  "name": distinct[level].fillna("").astype(str)})
            asked = asked[(key != "") & ((code != "") | (level == "provinsi"))]
            con.register("__region_ask", asked)
            found = db.df(con, """
                WITH pairs AS (
                    SELECT a.k, r.kode, a.key = r.key AS exact,
                           jaro_winkler_similarity(a.key, r.key) AS sim,
                           (a.kind = '' AND r.kind = 'KAB') OR a.kind = r.kind AS kind_ok
                    FROM __region_ask a JOIN __region_ref r
                      ON r.level = $level AND r.parent = a.parent
                     AND (a.kind = '' OR r.kind = a.kind)),
                ranked AS (
                    SELECT *, rank() OVER (PARTITION BY k ORDER BY exact DESC, kind_ok DESC,
                                           sim DESC) AS place,
                           count(*) OVER (PARTITION BY k, exact, kind_ok, sim) AS ties
                    FROM pairs WHERE exact OR sim >= $fuzzy)
                SELECT k, kode FROM ranked WHERE place = 1 AND ties = 1""",
                {"level": level, "fuzzy": FUZZY})
            con.unregister("__region_ask")
            hit = distinct["k"].map(dict(zip(found["k"], found["kode"], strict=True)))
            missed = asked[~asked["k"].isin(found["k"])]
            unresolved += [f"{n!s:.60}" for n in missed["name"].unique()[:20]]
            code = hit.fillna("").where(hit.notna() & (code.ne("") | (level == "provinsi")),
                                        "")
            distinct = distinct.assign(**{f"_{level}": code})
            if (code == "").all():
                break
    finally:
        con.unregister("__region_ref")
    deepest = pd.Series("", index=distinct.index)
    for level in given:
        column = distinct.get(f"_{level}")
        if column is not None:
            deepest = column.where(column != "", deepest)
    joined = rows.merge(distinct.assign(_code=deepest)[[*given, "_code"]], on=given,
                        how="left")["_code"]
    return pa.array(joined.where(joined != "", None), pa.string()), unresolved
