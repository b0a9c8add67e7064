"""report.html: one self-contained page for Dinas Sosial officers, readable offline.

No external URL of any kind (officers open it from a USB stick or a shared drive without
internet): the CSS, the few lines of JavaScript and the charts (inline SVG) are all in the
file. Aggregation happens in DuckDB; Python only formats at most a few thousand rows.
Personal data: no names and no full NIKs; the page never reads `nama` or `nik`.
"""

from __future__ import annotations

import numbers
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from reconcile import db
from reconcile.report import svg
from reconcile.report.labels import (
    ACCURACY_ABSENT,
    ACCURACY_BENCH_NOTE,
    ACCURACY_COLUMNS,
    ACCURACY_EXPECTED,
    ACCURACY_LEVELS,
    ACCURACY_NOTE,
    ACCURACY_RATES,
    ACCURACY_TITLE,
    DISCREPANCY_COLUMNS,
    ESTIMATE_COLUMNS,
    FINDING_STATUS,
    REGION_COLUMNS,
    RUN_INFO,
    SEVERITIES,
    SHARE_COLUMNS,
    SURVEY_NOTE,
    category_label,
    fmt_decimal,
    fmt_int,
    fmt_money,
    fmt_share,
    fmt_value,
    is_missing,
    ordered_categories,
)
from reconcile.report.queries import (
    DISCREPANCIES,
    RECONCILED,
    REGENCY_SQL,
    REGION_SUMMARY,
    SEVERITY_RANK_SQL,
    accuracy_rows,
    category_counts,
    regency_names,
    region_rows,
    safe_text_sql,
)

SAMPLE_ROWS = 2_000      # discrepancy rows in the page; the full list is in report.xlsx
CHART_REGIONS = 40       # regencies per chart; more would not be readable
HISTOGRAM_BINS = 20
# Identifiers and codes must not wrap: officers copy them into other systems.
NOWRAP_COLUMNS = frozenset({"record_id", "person_id", "id_individu", "id_keluarga",
                            "kode_wilayah", "kode_kabupaten"})

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;
 color:#1d2733;background:#f5f7fa;font-size:14px}
header{background:#1f4e79;color:#fff;padding:16px 24px}
header h1{margin:0 0 4px;font-size:22px}
main{padding:0 24px 40px;max-width:1400px}
section{background:#fff;border:1px solid #d9dee5;border-radius:6px;padding:12px 16px;
 margin:16px 0}
h2{font-size:18px;margin:4px 0 10px}
.card{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:8px}
.card div{background:#eef3f8;border-radius:4px;padding:6px 10px}
.card b{display:block;font-size:18px}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:8px 12px}
.scroll{overflow:auto;max-height:640px}
table{border-collapse:collapse;font-size:12px;width:100%}
th,td{border-bottom:1px solid #e3e7ec;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#e9eef4;position:sticky;top:0}
td.num,th.num{text-align:right;white-space:nowrap}td.id{white-space:nowrap}
tbody tr:nth-child(even){background:#fafbfc}
input[type=search]{padding:5px 8px;width:320px;margin:4px 0 8px}
figure{margin:8px 0 16px}figcaption{color:#555;font-size:12px}
nav a{color:#fff;margin-right:14px}
@media print{.scroll{max-height:none;overflow:visible}input{display:none}}
"""

# Filters the rows of the table named by the box's data-table attribute. Row texts are
# lower-cased once, so typing stays fast on a few thousand rows.
SCRIPT = """
document.querySelectorAll('input[data-table]').forEach(function (box) {
  var table = document.getElementById(box.getAttribute('data-table'));
  var out = document.getElementById(box.getAttribute('data-count'));
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var texts = rows.map(function (r) { return r.textContent.toLowerCase(); });
  box.addEventListener('input', function () {
    var q = box.value.trim().toLowerCase(), shown = 0;
    rows.forEach(function (r, i) {
      var hit = !q || texts[i].indexOf(q) !== -1;
      r.hidden = !hit;
      if (hit) { shown += 1; }
    });
    if (out) { out.textContent = shown + ' / ' + rows.length; }
  });
});
document.body.setAttribute('data-search-ready', 'yes');  // tests: the script ran
"""


def write_report_html(con: duckdb.DuckDBPyConnection, path: Path, run_info: dict) -> None:
    """Write the officers' report page to `path` (UTF-8, self-contained)."""
    Path(path).write_text(render(con, run_info), encoding="utf-8")


def render(con: duckdb.DuckDBPyConnection, run_info: dict) -> str:
    """The whole page as text."""
    kabupaten = region_rows(con, "kabupaten")
    body = "".join([
        _run_card(con, run_info),
        f"<section><p class='note'>{escape(SURVEY_NOTE)}</p></section>",
        _charts(con, kabupaten),
        _category_table(con),
        _accuracy_section(con),
        _region_tables(con, kabupaten),
        _discrepancy_sample(con),
    ])
    title = "Laporan Rekonsiliasi Kemensos-BPS / Kemensos-BPS Reconciliation Report"
    nav = "".join(f"<a href='#{a}'>{escape(t)}</a>" for a, t in (
        ("grafik", "Grafik / Charts"), ("kategori", "Temuan / Findings"),
        ("akurasi", "Akurasi (perkiraan) / Accuracy (estimates)"),
        ("wilayah", "Wilayah / Regions"), ("sampel", "Contoh temuan / Sample")))
    return (
        "<!DOCTYPE html><html lang='id'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><nav>{nav}</nav></header><main>{body}"
        "<p><small>Laporan ini tidak memuat nama maupun NIK lengkap. / This report "
        "contains no names and no full NIKs.</small></p></main>"
        f"<script>{SCRIPT}</script></body></html>")


def _text(value: Any) -> str:
    """Escaped text from the data; "://" is written as an entity so a URL typed into a
    source file shows as text but the page still holds no URL string at all."""
    return escape("" if is_missing(value) else str(value)).replace("://", ":&#47;&#47;")


# --- header -------------------------------------------------------------------------

def _run_card(con: duckdb.DuckDBPyConnection, run_info: dict) -> str:
    """Scalar run_info values; nested ones (per-category counts, per-file rows) are
    shown elsewhere or belong to the manifest, so they are skipped."""
    items = [(RUN_INFO.get(str(k), str(k)), fmt_value(str(k), v))
             for k, v in (run_info or {}).items()
             if not isinstance(v, dict | list | tuple | set)]
    total = db.scalar(con, f"SELECT count(*) FROM {DISCREPANCIES}")
    items.append(("Jumlah temuan / Findings", fmt_int(total)))
    items.append(("Dibuat / Generated", datetime.now().strftime("%Y-%m-%d %H:%M")))
    cells = "".join(f"<div>{_text(label)}<b>{_text(value)}</b></div>"
                    for label, value in items)
    return f"<section><h2>Ringkasan proses / Run summary</h2><div class='card'>{cells}</div>" \
           "</section>"


# --- charts -------------------------------------------------------------------------

def _figure(chart: str, caption: str) -> str:
    return f"<figure>{chart}<figcaption>{escape(caption)}</figcaption></figure>"


def _charts(con: duckdb.DuckDBPyConnection, kabupaten: pd.DataFrame) -> str:
    return ("<section id='grafik'><h2>Grafik / Charts</h2>"
            + _coverage_chart(kabupaten) + _desil_chart(con)
            + _discrepancy_chart(con) + _match_histogram(con) + "</section>")


def _region_label(name: Any, code: Any) -> str:
    return f"{name} ({code})" if not is_missing(name) and name else str(code or "?")


def _coverage_chart(kabupaten: pd.DataFrame) -> str:
    """Desil-1 coverage per regency; with many regencies, the least covered ones."""
    title = "Cakupan keluarga desil 1 per kabupaten/kota / Desil-1 family coverage by regency"
    rows = kabupaten.dropna(subset=["desil1_coverage"])
    caption = "Bagian keluarga desil 1 di register yang menerima bantuan. / Share of " \
              "register desil-1 families enrolled in any programme."
    if len(rows) > CHART_REGIONS:
        rows = rows.nsmallest(CHART_REGIONS, "desil1_coverage")
        caption += f" {CHART_REGIONS} terendah / the {CHART_REGIONS} lowest."
    bars = [svg.Bar(_region_label(name, code), float(share), fmt_share(share))
            for name, code, share in zip(rows["nama_wilayah"], rows["kode_wilayah"],
                                         rows["desil1_coverage"].astype(float), strict=True)]
    return f"<h3>{escape(title)}</h3>" + _figure(svg.hbar(title, bars, max_value=1.0), caption)


def _desil_chart(con: duckdb.DuckDBPyConnection) -> str:
    """Beneficiaries per register desil, summed over regency rows (no double counting)."""
    title = "Sebaran desil penerima / Desil distribution of beneficiaries"
    sums = ", ".join([f"sum(beneficiaries_desil_{d}) AS d{d}" for d in range(1, 11)]
                     + ["sum(beneficiaries_desil_unknown) AS unknown"])
    row = db.df(con, f"SELECT {sums} FROM {REGION_SUMMARY} WHERE level = 'kabupaten'").iloc[0]
    labels = [str(d) for d in range(1, 11)] + ["?"]
    values = [0.0 if is_missing(v) else float(v) for v in row.tolist()]
    bars = [svg.Bar(label, v, fmt_int(v)) for label, v in zip(labels, values, strict=True)]
    if not any(values):
        bars = []
    caption = "Desil 1 = 10% rumah tangga termiskin menurut register. / Desil 1 = poorest 10% " \
              "of households in the register; '?' = not matched to the register."
    return f"<h3>{escape(title)}</h3>" + _figure(svg.vbar(title, bars), caption)


def _discrepancy_chart(con: duckdb.DuckDBPyConnection) -> str:
    """Findings per regency split by category (stacked), regencies with most findings."""
    title = "Temuan per kategori dan kabupaten/kota / Findings by category and regency"
    counts = db.df(con, f"""
        WITH c AS (SELECT {REGENCY_SQL} AS kab, category, count(*) AS n
                   FROM {DISCREPANCIES} GROUP BY ALL),
             top AS (SELECT kab FROM c GROUP BY kab ORDER BY sum(n) DESC, kab
                     LIMIT $regions)
        SELECT kab, category, n FROM c SEMI JOIN top USING (kab) ORDER BY kab""",
                    {"regions": CHART_REGIONS})
    names = regency_names(con)
    label = {k: _region_label(names.get(k), k) if k else "tanpa kode / no code"
             for k in counts["kab"].unique()}
    rows = list(dict.fromkeys(label[k] for k in counts["kab"]))
    categories = ordered_categories(counts["category"].dropna().unique().tolist())
    series = [(c, category_label(c)) for c in categories]
    values = {(label[k], c): float(n) for k, c, n in counts.itertuples(index=False)}
    caption = f"Maks. {CHART_REGIONS} kabupaten/kota dengan temuan terbanyak. / At most " \
              f"{CHART_REGIONS} regencies, those with the most findings."
    return f"<h3>{escape(title)}</h3>" + _figure(
        svg.stacked_hbar(title, rows, series, values), caption)


def _match_histogram(con: duckdb.DuckDBPyConnection) -> str:
    """Distribution of link probabilities, one value per Kemensos person."""
    title = "Sebaran probabilitas kecocokan / Histogram of match probability"
    bins = db.df(con, f"""
        WITH p AS (SELECT max(match_probability) AS prob FROM {RECONCILED}
                   GROUP BY coalesce(person_id::VARCHAR, 'row-' || id_penerima::VARCHAR))
        SELECT least(floor(prob * $bins), $bins - 1)::INT AS bin, count(*) AS n
        FROM p WHERE prob IS NOT NULL GROUP BY ALL""", {"bins": HISTOGRAM_BINS})
    unmatched = db.scalar(con, f"""
        SELECT count(*) FROM (SELECT max(match_probability) AS prob FROM {RECONCILED}
        GROUP BY coalesce(person_id::VARCHAR, 'row-' || id_penerima::VARCHAR))
        WHERE prob IS NULL""")
    found = dict(zip(bins["bin"], bins["n"], strict=True))
    bars = [svg.Bar(f"{b / HISTOGRAM_BINS:.2f}".replace(".", ","), float(found.get(b, 0)),
                    fmt_int(found.get(b, 0))) for b in range(HISTOGRAM_BINS)]
    chart = svg.vbar(title, bars if found else [], label_every=4, show_text=False)
    caption = f"Per orang; {fmt_int(unmatched)} orang tanpa pasangan di register tidak " \
              f"ditampilkan. / Per person; {fmt_int(unmatched)} persons without a register " \
              "match are not shown."
    return f"<h3>{escape(title)}</h3>" + _figure(chart, caption)


# --- tables -------------------------------------------------------------------------

def _cell(column: str, value: Any) -> str:
    """One table cell: numbers right-aligned and formatted, text escaped."""
    if column in SHARE_COLUMNS:
        return f"<td class='num'>{fmt_share(value)}</td>"
    if column == "cost":
        return f"<td class='num'>{fmt_money(value)}</td>"
    if column in ACCURACY_RATES:
        return f"<td class='num'>{fmt_share(value, digits=3)}</td>"
    if column in ACCURACY_EXPECTED:
        return f"<td class='num'>{fmt_decimal(value)}</td>"
    if column in ESTIMATE_COLUMNS or (isinstance(value, numbers.Real) and not is_missing(value)):
        return f"<td class='num'>{fmt_int(value)}</td>"
    css = " class='id'" if column in NOWRAP_COLUMNS else ""
    return f"<td{css}>{_text(value)}</td>"


def _table(frame: pd.DataFrame, headers: dict[str, str], table_id: str) -> str:
    """An HTML table of `frame`'s columns named in `headers`, in that order."""
    columns = [c for c in headers if c in frame.columns]
    head = "".join(f"<th>{escape(headers[c])}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(c, v) for c, v in zip(columns, row, strict=True))
                   + "</tr>" for row in frame[columns].itertuples(index=False))
    return (f"<div class='scroll'><table id='{table_id}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


def _search_box(table_id: str, total: int) -> str:
    return (f"<label>Cari / Search: <input type='search' id='search-{table_id}' "
            f"data-table='{table_id}' data-count='count-{table_id}' "
            "placeholder='kode, kategori, ID ... / code, category, ID ...'></label> "
            f"<span id='count-{table_id}'>{total} / {total}</span>")


def _category_table(con: duckdb.DuckDBPyConnection) -> str:
    counts = category_counts(con)
    order = ordered_categories(counts["category"].dropna().tolist())
    counts = counts.set_index("category").reindex(order).reset_index()
    counts.insert(1, "label", [category_label(c) for c in counts["category"]])
    headers = {"label": "Kategori / Category", "category": "Kode / Code",
               "n": "Jumlah / Count", **FINDING_STATUS, "n_high": SEVERITIES["high"],
               "n_medium": SEVERITIES["medium"], "n_low": SEVERITIES["low"],
               "cost": "Nilai (Rp) / Amount (IDR)"}
    return ("<section id='kategori'><h2>Jumlah temuan per kategori / Findings per category"
            "</h2>" + _table(counts, headers, "tabel-kategori") + "</section>")


def _region_tables(con: duckdb.DuckDBPyConnection, kabupaten: pd.DataFrame) -> str:
    kecamatan = region_rows(con, "kecamatan")
    return ("<section id='wilayah'><h2>Ringkasan wilayah / Region summary</h2>"
            f"<p class='note'>{escape(SURVEY_NOTE)}</p>"
            "<h3>Kabupaten/kota / Regencies</h3>"
            + _table(kabupaten, REGION_COLUMNS, "tabel-kabupaten")
            + "<details><summary>Kecamatan / Districts "
              f"({fmt_int(len(kecamatan))})</summary>"
            + _search_box("tabel-kecamatan", len(kecamatan))
            + _table(kecamatan, REGION_COLUMNS, "tabel-kecamatan") + "</details></section>")


def _accuracy_section(con: duckdb.DuckDBPyConnection) -> str:
    """The model's own estimate of its false and missed links (reconcile.accuracy),
    overall, per programme and per regency, worded as estimates with the bench's
    measured distance from the truth, so nobody reads them as counted errors."""
    head = f"<section id='akurasi'><h2>{escape(ACCURACY_TITLE)}</h2>"
    overall = accuracy_rows(con, "overall")
    if overall is None or overall.empty:
        return head + f"<p>{escape(ACCURACY_ABSENT)}</p></section>"
    regencies = accuracy_rows(con, "kabupaten")
    programs = accuracy_rows(con, "program")
    assert regencies is not None and programs is not None  # the same table as `overall`
    return (head + f"<p class='note'>{escape(ACCURACY_NOTE)}<br>"
            f"{escape(ACCURACY_BENCH_NOTE)}</p>"
            f"<h3>{escape(ACCURACY_LEVELS['overall'])}</h3>"
            + _table(overall, _accuracy_headers("program", "kode_kabupaten", "nama_wilayah"),
                     "tabel-akurasi")
            + f"<h3>{escape(ACCURACY_LEVELS['program'])}</h3>"
            + _table(programs, _accuracy_headers("kode_kabupaten", "nama_wilayah"),
                     "tabel-akurasi-program")
            + f"<details><summary>{escape(ACCURACY_LEVELS['kabupaten'])} "
              f"({fmt_int(len(regencies))})</summary>"
            + _search_box("tabel-akurasi-kabupaten", len(regencies))
            + _table(regencies, _accuracy_headers("program"), "tabel-akurasi-kabupaten")
            + "</details></section>")


def _accuracy_headers(*left_out: str) -> dict[str, str]:
    return {k: v for k, v in ACCURACY_COLUMNS.items() if k not in left_out}


def _discrepancy_sample(con: duckdb.DuckDBPyConnection) -> str:
    """Up to SAMPLE_ROWS findings, shared evenly across categories, largest amounts first."""
    total = int(db.scalar(con, f"SELECT count(*) FROM {DISCREPANCIES}"))
    sample = _sample_rows(con)
    sample["severity"] = [SEVERITIES.get(s, s) for s in sample["severity"]]
    sample["category"] = [category_label(c) for c in sample["category"]]
    shown = fmt_int(len(sample))
    note = (f"Menampilkan {shown} dari {fmt_int(total)} temuan (maks. {fmt_int(SAMPLE_ROWS)}, "
            "dibagi merata antar kategori, nilai terbesar dulu); daftar lengkap ada di "
            f"report.xlsx. / Showing {shown} of {fmt_int(total)} findings (at most "
            f"{fmt_int(SAMPLE_ROWS)}, shared evenly across categories, largest amounts "
            "first); the full list is in report.xlsx.")
    return ("<section id='sampel'><h2>Contoh temuan / Sample of findings</h2>"
            f"<p>{escape(note)}</p>" + _search_box("tabel-temuan", len(sample))
            + _table(sample, DISCREPANCY_COLUMNS, "tabel-temuan") + "</section>")


def _sample_rows(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Round-robin over categories (row 1 of each, then row 2, ...), so a category with
    100k findings cannot crowd out one with 20; text is masked after the LIMIT."""
    text = [c for c in DISCREPANCY_COLUMNS if c != "cost"]
    outer = ", ".join([f"{safe_text_sql(c)} AS {c}" for c in text] + ["cost"])
    inner = ", ".join(DISCREPANCY_COLUMNS)
    return db.df(con, f"""
        SELECT {outer} FROM (
            SELECT {inner}, {SEVERITY_RANK_SQL} AS sev,
                   row_number() OVER (PARTITION BY category ORDER BY {SEVERITY_RANK_SQL},
                       cost DESC NULLS LAST, kode_wilayah NULLS LAST, record_id) AS rn
            FROM {DISCREPANCIES} ORDER BY rn, category LIMIT $sample_rows)
        ORDER BY sev, category, cost DESC NULLS LAST, kode_wilayah NULLS LAST, record_id""",
                 {"sample_rows": SAMPLE_ROWS})
