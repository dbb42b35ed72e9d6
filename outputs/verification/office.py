"""PDF, DOCX, Markdown, PPTX, XLSX and CSV checks: open the file, find what the plan said."""

from __future__ import annotations

import csv
from pathlib import Path

from docx import Document
from openpyxl import load_workbook
from pptx import Presentation
from pypdf import PdfReader

from outputs.verification.report import VerificationReport


def _norm(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split()).lower()


def check_pdf(path: Path, expectations: dict, report: VerificationReport) -> None:
    state = {}

    def open_pdf():
        reader = PdfReader(str(path), strict=True)
        n = len(reader.pages)
        state["text"] = _norm(" ".join(p.extract_text() or "" for p in reader.pages))
        want = expectations.get("pages")
        if want and n != want:
            raise ValueError(f"{n} pages, expected {want}")
        if n == 0:
            raise ValueError("no pages")
        return f"{n} page{'s' if n != 1 else ''}"

    if report.attempt("PDF opens with the expected pages", open_pdf):
        texts = expectations.get("texts") or []
        absent = [t for t in texts if _norm(t) not in state["text"]]
        report.add(
            "PDF contains the planned sections",
            not absent,
            f"{len(texts)} headings found" if not absent else "missing: " + "; ".join(absent),
        )


def check_docx(path: Path, expectations: dict, report: VerificationReport) -> None:
    state = {}

    def open_docx():
        doc = Document(str(path))
        state["headings"] = {_norm(p.text) for p in doc.paragraphs if p.style.name.startswith(("Heading", "Title"))}
        return f"{len(doc.paragraphs)} paragraphs, {len(doc.tables)} tables"

    if report.attempt("DOCX opens", open_docx):
        want = expectations.get("headings") or []
        absent = [h for h in want if _norm(h) not in state["headings"]]
        report.add(
            "DOCX has the planned headings",
            not absent,
            f"{len(want)} headings found" if not absent else "missing: " + "; ".join(absent),
        )


def check_markdown(path: Path, expectations: dict, report: VerificationReport) -> None:
    def read():
        text = path.read_text(encoding="utf-8")
        heads = {_norm(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}
        absent = [h for h in expectations.get("headings") or [] if _norm(h) not in heads]
        if absent:
            raise ValueError("missing headings: " + "; ".join(absent))
        return f"{len(heads)} headings"

    report.attempt(f"{path.name} has the planned headings", read)


def check_pptx(path: Path, expectations: dict, report: VerificationReport) -> None:
    def open_pptx():
        prs = Presentation(str(path))
        titles = [s.shapes.title.text if s.shapes.title is not None else "" for s in prs.slides]
        want = expectations.get("slide_titles") or []
        if want and [_norm(t) for t in titles] != [_norm(t) for t in want]:
            raise ValueError(f"slide titles are {titles}, expected {want}")
        if not titles:
            raise ValueError("the deck has no slides")
        return f"{len(titles)} slides: {', '.join(titles[:4])}{' …' if len(titles) > 4 else ''}"

    report.attempt("PPTX opens with the planned slides", open_pptx)


def check_xlsx(path: Path, expectations: dict, report: VerificationReport) -> None:
    state = {}

    def open_xlsx():
        state["wb"] = load_workbook(str(path))  # formulas stay as text, so they can be checked
        return "sheets: " + ", ".join(state["wb"].sheetnames)

    if not report.attempt("XLSX opens", open_xlsx):
        return
    wb = state["wb"]
    for sheet, spec in (expectations.get("sheets") or {}).items():

        def headers(sheet=sheet, spec=spec):
            ws = wb[sheet]
            got = [c.value for c in ws[spec["header_row"]]][: len(spec["headers"])]
            if got != spec["headers"]:
                raise ValueError(f"headers are {got}, expected {spec['headers']}")
            return f"{len(got)} headers on row {spec['header_row']}"

        report.attempt(f"sheet “{sheet}” has its headers", headers)
    for sheet, cells in (expectations.get("formulas") or {}).items():

        def formulas(sheet=sheet, cells=cells):
            ws = wb[sheet]
            wrong = [ref for ref, f in cells.items() if str(ws[ref].value) != f]
            if wrong:
                raise ValueError("formula missing or changed in " + ", ".join(wrong[:6]))
            return f"{len(cells)} formulas in place"

        report.attempt(f"sheet “{sheet}” formulas", formulas)


def check_csv(path: Path, expectations: dict, report: VerificationReport) -> None:
    def read():
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        if not rows or rows[0] != expectations["headers"]:
            raise ValueError(f"header row is {rows[0] if rows else 'missing'}")
        if len(rows) - 1 != expectations.get("rows", len(rows) - 1):
            raise ValueError(f"{len(rows) - 1} data rows, expected {expectations['rows']}")
        return f"{len(rows) - 1} rows"

    report.attempt(f"{path.name} reads back", read)
