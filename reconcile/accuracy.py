"""Accuracy without labels: how many links the model expects to be wrong or missing.

fastLink-style estimates from the row probabilities, published as model indicators (they
are over-confident where fields err together; README_MATCHING compares them with truth).
A linked row is wrong with probability 1 - p; an unlinked row's person is in the register
(a missed link) with its `in_register_probability`.
"""

from __future__ import annotations

import duckdb

from reconcile import db
from reconcile.tables import Table

ESTIMATES = "accuracy_estimates"

ESTIMATES_SQL = f"""
CREATE OR REPLACE TABLE {ESTIMATES} AS
SELECT coalesce(program, 'all') AS program, coalesce({'left(kode_wilayah, 5)'}, 'unknown')
           AS kode_kabupaten,
       count(*) AS rows, count(id_individu) AS links,
       sum(1 - match_probability) FILTER (id_individu IS NOT NULL) AS expected_false_links,
       sum(in_register_probability) FILTER (id_individu IS NULL) AS expected_missed_links
FROM {Table.RECONCILED} GROUP BY GROUPING SETS ((), (program), (left(kode_wilayah, 5)))
"""


def estimate(con: duckdb.DuckDBPyConnection) -> dict:
    """Write ESTIMATES (overall, per program, per regency); return the overall figures."""
    db.run(con, ESTIMATES_SQL)
    row = db.df(con, f"SELECT * FROM {ESTIMATES} WHERE program = 'all' "
                     "AND kode_kabupaten = 'unknown' AND rows = (SELECT count(*) FROM "
                     f"{Table.RECONCILED})").iloc[0]
    links, false, missed = int(row["links"]), float(row["expected_false_links"] or 0), \
        float(row["expected_missed_links"] or 0)
    return {"links": links, "expected_false_links": round(false, 1),
            "expected_missed_links": round(missed, 1),
            "estimated_precision": round(1 - false / links, 5) if links else None,
            "estimated_recall": round((links - false) / (links - false + missed), 5)
            if links else None}
