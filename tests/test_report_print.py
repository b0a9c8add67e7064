"""report.xlsx on paper (issue 10, item 7): LibreOffice prints a sample run's workbook
to PDF; every page is A4 landscape, the page count is in proportion to the rows, the
summary fits one page with each label beside its number, and every page of a table
repeats its header row.

The PDF is read with a few lines of our own (LibreOffice writes uncompressed object
tables, Flate content streams and a ToUnicode map per font), so the test needs no PDF
library, only `soffice` (`make office`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from pathlib import Path

import openpyxl
import pytest

pytestmark = pytest.mark.slow  # a pipeline run and LibreOffice: 20-40 s

A4_LANDSCAPE = (841.9, 595.3)   # points
Run = tuple[float, float, str]  # x, y, text of one piece of text on a page
Page = tuple[tuple[float, float], list[Run]]  # (width, height) in points, its text


@pytest.fixture(scope="module")
def printed(small_data, tmp_path_factory) -> tuple[Path, list[Page]]:
    """A sample run with a title-row, footer and broken-row file; its report as PDF."""
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("soffice (LibreOffice) is not on PATH: `make office` installs it")
    from reconcile.config import RunConfig
    from reconcile.pipeline import run_pipeline

    root = tmp_path_factory.mktemp("print")
    lines = (small_data / "kemensos_pkh.csv").read_text().splitlines()
    width = lines[0].count(",")
    extra = root / "kemensos_pkh_tahap3.csv"
    extra.write_text("\n".join(
        ["DAFTAR PENERIMA BANTUAN PKH TAHAP III 2025" + "," * width, "," * width]
        + [lines[0]] + [line.replace("PKH-", "PKH3-", 1) for line in lines[1:40]]
        + ['"PKH3-X,"BROKEN ROW', "JUMLAH" + "," * width, "," * 3 + "Mengetahui"
           + "," * (width - 3)]) + "\n")
    out = root / "out"
    # PBI-JK (70% of the enrolments) left out: half the pages, and LibreOffice's time
    kemensos = [p for p in sorted(small_data.glob("kemensos_*.csv")) if "pbi" not in p.name]
    run_pipeline(RunConfig.build(
        kemensos=(*kemensos, extra),
        bps=small_data / "bps_register.parquet", stats=small_data / "bps_poverty_stats.csv",
        out=out))
    subprocess.run([soffice, f"-env:UserInstallation=file://{root}/lo", "--headless",
                    "--convert-to", "pdf", "--outdir", str(root), str(out / "report.xlsx")],
                   check=True, capture_output=True, timeout=300)
    return out / "report.xlsx", pdf_pages(root / "report.pdf")


def test_every_page_is_a4_landscape_and_the_count_fits_the_rows(printed):
    workbook, pages = printed
    book = openpyxl.load_workbook(workbook, read_only=True)
    rows = {s.title: sum(1 for _ in s.iter_rows()) for s in book.worksheets}
    print(f"{len(pages)} pages for {sum(rows.values())} rows in {len(rows)} sheets")
    assert {size for size, _ in pages} == {A4_LANDSCAPE}
    assert all(runs for _, runs in pages)  # text on every page: no blank spill-over pages
    # a table page holds 20-40 rows; the summary sheets a page or a few each
    assert len(pages) <= sum(rows.values()) / 20 + 3 * len(rows)
    footers = [_footer(runs) for _, runs in pages]
    assert [sheet for sheet, _ in footers if sheet] == [sheet for sheet, _ in footers]
    assert [sheet for sheet, _ in footers].count(book.sheetnames[0]) == 1  # summary: 1 page
    assert {n for _, n in footers} == {len(pages)}  # "page / pages" in every footer


def test_summary_labels_are_beside_their_numbers(printed):
    """Each run fact and each category count is printed on the line of its label (the
    label's first line, when it wraps), to its right, on the summary's one page."""
    workbook, pages = printed
    summary = openpyxl.load_workbook(workbook).worksheets[0]
    pairs = [(row[0], row[1] if isinstance(row[1], int) else row[2])
             for row in summary.iter_rows(values_only=True)
             if isinstance(row[0], str) and (isinstance(row[1], int) or (
                 isinstance(row[2], int) and row[1] and "_" in str(row[1])))]
    assert len(pairs) >= 8, pairs  # run facts and the findings per category
    _, page = pages[0]
    for label, number in pairs:
        starts = [r for r in page if len(r[2]) > 3 and label.startswith(r[2].rstrip())]
        assert starts, f"label {label!r} not on the summary page"
        line = max(starts, key=lambda r: len(r[2]))  # its first line
        beside = [r for r in page if r[2] == f"{number:,}" and abs(r[1] - line[1]) < 1.5
                  and r[0] > line[0]]
        assert beside, f"{label!r}: {number} is not on its line"


def test_every_table_page_repeats_its_header(printed):
    """Every page of a table sheet starts with the sheet's whole header row."""
    workbook, pages = printed
    book = openpyxl.load_workbook(workbook, read_only=True)
    headers = {s.title: [h for h in next(s.iter_rows(values_only=True)) if h]
               for s in book.worksheets[1:] if s.title != "Akurasi (Accuracy)"}  # header: row 5
    assert "Karantina (Quarantine)" in headers  # the broken row and the footer
    checked = 0
    for _, runs in pages:
        sheet, _ = _footer(runs)
        if sheet not in headers:
            continue
        top = max(r[1] for r in runs)
        first_lines = [r[2].rstrip() for r in runs if abs(r[1] - top) < 1]
        for header in headers[sheet]:
            assert any(header.startswith(text) for text in first_lines if text), (sheet, header)
        checked += 1
    assert checked >= len(headers)


def _footer(page: list[Run]) -> tuple[str | None, int | None]:
    """(sheet, pages) from the footer 'sheet - page / pages', the lowest text."""
    lowest = min(r[1] for r in page)
    text = "".join(r[2] for r in sorted(page) if abs(r[1] - lowest) < 1)
    found = re.fullmatch(r"(.+) - \d+ / (\d+)", text)
    return (found.group(1), int(found.group(2))) if found else (None, None)


# --- a small reader for LibreOffice's PDF ---------------------------------------------

def pdf_pages(path: Path) -> list[Page]:
    """Each page's size and text runs, (x, y, text) one per shown string, in page order."""
    data = path.read_bytes()
    objects = _objects(data)
    root = next(body for body in objects.values() if re.search(rb"/Type\s*/Pages\b", body)
                and b"/Parent" not in body)
    return [(_media_box(page), _page_runs(objects, page)) for page in _kids(objects, root)]


def _objects(data: bytes) -> dict[int, bytes]:
    """Object number -> its bytes, cut at the offsets of the cross-reference table
    (LibreOffice writes one, uncompressed): no search for `endobj` in binary streams."""
    start = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    table = data[start:data.index(b"trailer", start)]
    offsets = {}
    for first, entries in re.findall(rb"(\d+) \d+[ ]*\r?\n((?:\d{10} \d{5} [nf][ \r\n]*)+)",
                                     table):
        for i, (offset, kind) in enumerate(re.findall(rb"(\d{10}) \d{5} ([nf])", entries)):
            if kind == b"n":
                offsets[int(first) + i] = int(offset)
    bounds = sorted(offsets.values()) + [start]
    end = dict(zip(bounds, bounds[1:], strict=False))
    return {n: data[offset:end[offset]] for n, offset in offsets.items()}


def _kids(objects: dict[int, bytes], node: bytes) -> list[bytes]:
    kids = re.search(rb"/Kids\s*\[([^\]]*)\]", node)
    if kids is None:
        return [node]
    return [leaf for n in re.findall(rb"(\d+) 0 R", kids.group(1))
            for leaf in _kids(objects, objects[int(n)])]


def _ref(objects: dict[int, bytes], body: bytes, key: bytes) -> bytes | None:
    found = re.search(rb"/" + key + rb"\s*(\d+) 0 R", body)
    return objects[int(found.group(1))] if found else None


def _media_box(page: bytes) -> tuple[float, float]:
    box = re.search(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)", page)
    x0, y0, x1, y1 = (float(v) for v in box.groups()) if box else (0.0, 0.0, 0.0, 0.0)
    return round(x1 - x0, 1), round(y1 - y0, 1)


def _stream(objects: dict[int, bytes], body: bytes) -> bytes:
    """A stream's bytes, exactly /Length of them (direct or an object), inflated."""
    length = re.search(rb"/Length\s+(\d+)(\s+0\s+R)?", body)
    if length is None:
        return b""
    size = int(length.group(1))
    if length.group(2):
        size = int(re.search(rb"obj\s*(\d+)", objects[size]).group(1))  # type: ignore[union-attr]
    start = re.search(rb"stream\r?\n", body).end()  # type: ignore[union-attr]
    raw = body[start:start + size]
    return zlib.decompress(raw) if b"FlateDecode" in body[:start] else raw


def _page_runs(objects: dict[int, bytes], page: bytes) -> list[Run]:
    resources = _ref(objects, page, b"Resources") or page
    font_dict = _ref(objects, resources, b"Font") or resources
    maps = {name.decode(): _unicode_map(objects, objects[int(n)])
            for name, n in re.findall(rb"/(\w+)\s+(\d+) 0 R", font_dict)}
    content = _stream(objects, _ref(objects, page, b"Contents") or b"")
    runs, font, x, y = [], {}, 0.0, 0.0
    for match in re.finditer(rb"([-\d.]+) ([-\d.]+) Td|/(\w+) [-\d.]+ Tf|"
                             rb"\[((?:[^\]])*)\]\s*TJ|<([0-9A-Fa-f]*)>\s*Tj", content):
        td_x, td_y, name, array, single = match.groups()
        if td_x is not None:
            x, y = float(td_x), float(td_y)
        elif name is not None:
            font = maps.get(name.decode(), {})
        else:
            hexes = re.findall(rb"<([0-9A-Fa-f]*)>", array) if array is not None else [single]
            text = "".join(font.get(h[i:i + 2].upper(), "?") for h in hexes
                           for i in range(0, len(h), 2))
            runs.append((x, y, text))
    return runs


def _unicode_map(objects: dict[int, bytes], font: bytes) -> dict[bytes, str]:
    """One-byte glyph code (hex) -> text, from the font's ToUnicode CMap."""
    cmap = _ref(objects, font, b"ToUnicode")
    if cmap is None:
        return {}
    text = _stream(objects, cmap)
    mapping = {}
    for section in re.findall(rb"beginbfchar(.*?)endbfchar", text, re.S):
        for code, uni in re.findall(rb"<([0-9A-Fa-f]{2})>\s*<([0-9A-Fa-f]+)>", section):
            mapping[code.upper()] = bytes.fromhex(uni.decode()).decode("utf-16-be")
    for section in re.findall(rb"beginbfrange(.*?)endbfrange", text, re.S):
        for first, last, start in re.findall(
                rb"<([0-9A-Fa-f]{2})>\s*<([0-9A-Fa-f]{2})>\s*<([0-9A-Fa-f]{4})>", section):
            for k, code in enumerate(range(int(first, 16), int(last, 16) + 1)):
                mapping[b"%02X" % code] = chr(int(start, 16) + k)
    return mapping
