"""The SLA workbook and its PDF as LibreOffice prints it (scripts/check-xlsx).

Usage: check-xlsx.py BOOK.xlsx BOOK.pdf

The workbook is read with openpyxl (print setup, title, widths, numbers,
links) and its chart with the zip file's XML; the PDF with pypdf: every page
A4 landscape, every page of a sheet with its header row, and each sheet on
as many pages as its rows need (every page full but the last). Prints one
line per sheet and a closing tally; exits 1 on any failure.
"""

import math
import re
import sys
import unicodedata
import zipfile
import xml.etree.ElementTree as ET

import openpyxl
import pypdf

A4_LANDSCAPE = (841.89, 595.28)
MAX_WIDTH = 48  # the writer's widest column, in characters; longer text wraps
CHART = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"

failures = []
passed = 0


def check(ok, what):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(what)
        print(f"FAIL {what}")


def width(text):
    """Display width: a wide or fullwidth (CJK) character counts as two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def squeeze(text):
    return re.sub(r"\s+", "", text)


def check_workbook(path):
    book = openpyxl.load_workbook(path)
    check([c.title for c in book.chartsheets] == ["达成率图"], "one chart sheet, 达成率图")
    sheets = {}
    for ws in book.worksheets:
        name = ws.title
        last_col = ws.max_column
        headers = [ws.cell(2, c).value for c in range(1, last_col + 1)]
        rows = list(ws.iter_rows(min_row=3, values_only=False))
        sheets[name] = (headers, [[c.value for c in r] for r in rows])
        setup = ws.page_setup
        check(setup.orientation == "landscape", f"{name}: landscape")
        check(str(setup.paperSize) == "9", f"{name}: A4 (paper size 9)")
        check(ws.print_title_rows == "$2:$2", f"{name}: the header row repeats ({ws.print_title_rows})")
        check(ws.sheet_properties.pageSetUpPr.fitToPage and setup.fitToHeight == 0
              and setup.fitToWidth in (None, 1), f"{name}: one page wide")
        check(ws.freeze_panes == "A3", f"{name}: title and header frozen")
        title = ws["A1"].value or ""
        for part in ("洛阳市行政审批和政务信息管理局", "服务水平报告", "范围：", "期间：2026-06-01 至 2026-06-30",
                     "截至：2026-07-01 00:00 (+08:00)"):
            check(part in title, f"{name}: the title row says {part!r}")
        merged = [str(r) for r in ws.merged_cells.ranges]
        check(merged == [f"A1:{openpyxl.utils.get_column_letter(last_col)}1"], f"{name}: the title spans the table ({merged})")
        # Wide enough for Chinese text: each column holds its header and
        # every cell that does not wrap, a CJK character counted as two.
        for c in range(1, last_col + 1):
            letter = openpyxl.utils.get_column_letter(c)
            col_width = ws.column_dimensions[letter].width
            for cell in [ws.cell(2, c)] + [r[c - 1] for r in rows]:
                shown = cell.value if isinstance(cell.value, str) else ""
                if cell.hyperlink is not None or cell.alignment.wrap_text:
                    continue
                if width(shown) > col_width:
                    check(False, f"{name}!{cell.coordinate}: {shown!r} ({width(shown)}) wider than its column ({col_width})")
                    break
            else:
                check(col_width <= MAX_WIDTH + 1, f"{name}: column {letter} at most {MAX_WIDTH} wide")
        # Numbers are numbers: no cell holds a number as text; percentages have their format.
        for r in rows:
            for cell in r:
                if isinstance(cell.value, str) and re.fullmatch(r"-?\d+(\.\d+)?%?", cell.value):
                    check(False, f"{name}!{cell.coordinate}: a number stored as text ({cell.value!r})")
                if isinstance(cell.value, float) and headers[cell.column - 1] in ("达成率(%)", "响应", "到场", "恢复"):
                    check(cell.number_format == "0.0%", f"{name}!{cell.coordinate}: shown as a percentage")
    # Links: every breached ticket's row links to the console's page.
    ws = book["超时工单"]
    links = [ws.cell(r, 9).hyperlink for r in range(3, ws.max_row + 1)]
    check(len(links) == 120 and all(l is not None and re.fullmatch(r"https://itsm\.example\.org/tickets/[0-9a-f-]{36}", l.target)
                                    for l in links), "超时工单: 120 links to https://itsm.example.org/tickets/{id}")
    # The chart: a native bar chart, one series per metric, over the items.
    with zipfile.ZipFile(path) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        check(len(charts) == 1, "one chart")
        chart = ET.fromstring(z.read(charts[0]))
        bar = chart.find(f".//{CHART}barChart")
        check(bar is not None and bar.find(f"{CHART}barDir").get("val") == "bar", "a horizontal bar chart")
        series = bar.findall(f"{CHART}ser") if bar is not None else []
        check(len(series) == 3, f"a series per metric ({len(series)})")
        cats = [s.find(f"{CHART}cat//{CHART}f").text for s in series]
        check(all(c.replace("'", "") == "各项目达成率!$B$3:$B$6" for c in cats), f"categories: the four items ({cats})")
        check(any(n.startswith("xl/chartsheets/") for n in z.namelist()), "on a chart sheet")
    print(f"workbook: {len(book.worksheets)} sheets and a chart sheet, {passed} checks")
    return sheets


def check_pdf(path, sheets):
    reader = pypdf.PdfReader(path)
    pages = []
    for i, page in enumerate(reader.pages, 1):
        w, h = float(page.mediabox.width), float(page.mediabox.height)
        rotated = (page.get("/Rotate") or 0) % 180 == 90
        if rotated:
            w, h = h, w
        check(abs(w - A4_LANDSCAPE[0]) < 1 and abs(h - A4_LANDSCAPE[1]) < 1, f"page {i}: A4 landscape ({w:.0f} x {h:.0f} pt)")
        text = page.extract_text()
        first = text.splitlines()[0] if text else ""
        # The page header names the sheet (right); the chart sheet has none.
        sheet = next((s for s in sorted(sheets, key=len, reverse=True) if first.endswith(s)), None)
        if sheet is None:
            check("各运维项目 SLA 达成率" in text, f"page {i}: the chart sheet")
            sheet = "达成率图"
        pages.append((i, sheet, text))
    order = [s for _, s, _ in pages]
    names = list(dict.fromkeys(order))
    check(names == ["合同汇总", "达成率图", "按运维项目", "按服务单位", "巡检", "超时工单", "各项目达成率"],
          f"sheets printed in order ({names})")
    for name, (headers, rows) in sheets.items():
        mine = [(i, t) for i, s, t in pages if s == name]
        # Every page of the sheet has the header row.
        for i, text in mine:
            flat = squeeze(text)
            missing = [h for h in headers if squeeze(h) not in flat]
            check(not missing, f"{name}, page {i}: the header row ({missing} missing)")
        # Each row is printed once; pages hold as many rows as they can: a
        # row starts a line with its first cell's text.
        firsts = {str(r[0]) for r in rows if r[0] is not None}
        per_page = []
        for i, text in mine:
            lines = [l for l in text.splitlines() if squeeze(l)]
            count = sum(1 for l in lines if any(l.startswith(f) for f in firsts)
                        and not l.startswith("洛阳市行政审批和政务信息管理局2025"))
            per_page.append(count)
        check(sum(per_page) == len(rows), f"{name}: {len(rows)} rows printed, once each ({per_page})")
        if per_page:
            capacity = max(per_page[1:] or per_page)
            need = 1 if len(rows) <= per_page[0] else 1 + math.ceil((len(rows) - per_page[0]) / capacity)
            check(len(mine) == need, f"{name}: {len(mine)} pages for {len(rows)} rows ({per_page}), {need} needed")
            check(all(n == capacity for n in per_page[1:-1]), f"{name}: every page full but the first and last ({per_page})")
            check(all(n > 0 for n in per_page) or not rows, f"{name}: no page without rows ({per_page})")
        print(f"{name}: {len(rows)} rows on {len(mine)} pages {per_page}")
    print(f"pdf: {len(pages)} pages")


def main():
    book, pdf = sys.argv[1], sys.argv[2]
    sheets = check_workbook(book)
    check_pdf(pdf, sheets)
    print(f"check-xlsx: {passed} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
