"""Content written by another author (a model) as typed specs: validated, rendered by the same
generators, opened back with the real libraries, and credited to its author on the card."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from django.urls import reverse
from docx import Document
from openpyxl import load_workbook
from pptx import Presentation
from pypdf import PdfReader

from outputs.content import sanitise_svg
from outputs.generators import GenerationError, GenerationRequest
from outputs.services import output_render, output_verify_generated
from outputs.verification import recalc
from providers.contracts import Deliverable, DeliverableBrief

AUTHOR = "Anthropic (claude-test)"


def _request(category: str, title: str = "Document", brief: DeliverableBrief | None = None) -> GenerationRequest:
    deliverable = Deliverable(id="d1", category=category, title=title, brief=brief or DeliverableBrief())
    return GenerationRequest(deliverable=deliverable, options={"width": 320, "height": 180})


DOC = {
    "kind": "document",
    "title": "Night-shift handover for ward 7",
    "subtitle": "What the incoming nurse needs in ten minutes",
    "sections": [
        {"heading": "Patients to watch", "bullets": ["Bed 3: fluids chart", "Bed 9: falls risk"]},
        {"heading": "Medication due", "paragraphs": ["Insulin rounds at 22:00 and 06:00."]},
    ],
    "closing": "Sign the handover sheet before leaving.",
}


@pytest.mark.parametrize("category", ["document", "pdf"])
def test_a_written_document_reaches_the_file(category, tmp_path):
    brief = DeliverableBrief(subject="ward 7")
    generated = output_render(spec=DOC, request=_request(category, brief=brief), dest_dir=tmp_path, author=AUTHOR)
    assert generated.content_source == AUTHOR and generated.title == DOC["title"]
    if category == "document":
        doc = Document(str(generated.primary_path))
        headings = [p.text for p in doc.paragraphs if p.style.name.startswith(("Heading", "Title"))]
        assert headings[:3] == [DOC["title"], "Patients to watch", "Medication due"]
        text = " ".join(p.text for p in doc.paragraphs)
    else:
        text = " ".join(p.extract_text() for p in PdfReader(str(generated.primary_path)).pages)
    assert "Bed 9: falls risk" in text and "Insulin rounds at 22:00" in text
    assert "scattered data" not in text and "Investment" not in text
    report = output_verify_generated(generated=generated)
    assert report.passed, report.summary()
    assert [c.status for c in report.checks if c.criterion] == ["passed"]  # "It is about ward 7"


def test_a_written_sheet_keeps_its_formulas_and_its_totals_recalculate(tmp_path):
    spec = {
        "kind": "sheet",
        "title": "Stall takings",
        "columns": ["Stall", "Saturday", "Sunday", "Weekend"],
        "rows": [["Cakes", 120, 95.5, "=B4+C4"], ["Plants", 80, 60, "=B5+C5"], ["Books", 20, 35, "=SUM(B6:C6)"]],
        "totals": True,
    }
    brief = DeliverableBrief(counts={"stalls": 3}, totals=True)
    generated = output_render(spec=spec, request=_request("spreadsheet", brief=brief), dest_dir=tmp_path, author=AUTHOR)
    ws = load_workbook(generated.primary_path).worksheets[0]
    assert [c.value for c in ws[3]] == spec["columns"]
    assert ws["D4"].value == "=B4+C4" and ws["D7"].value == "=SUM(D4:D6)"
    assert "recalculated over 3 rows" in recalc.check_totals(generated.primary_path)
    assert recalc.Evaluator(ws).value("D7") == pytest.approx(410.5)
    report = output_verify_generated(generated=generated)
    assert report.passed, report.summary()


@pytest.mark.parametrize("formula", ['=HYPERLINK("http://x")', "=cmd|' /c calc'!A0", "=WEBSERVICE(A1)"])
def test_a_sheet_spec_refuses_formulas_that_reach_out(formula, tmp_path):
    spec = {"kind": "sheet", "title": "T", "columns": ["A", "B"], "rows": [["x", formula]]}
    with pytest.raises(GenerationError, match="only SUM"):
        output_render(spec=spec, request=_request("spreadsheet"), dest_dir=tmp_path, author=AUTHOR)


def test_written_slides_are_the_deck(tmp_path):
    spec = {
        "kind": "slides",
        "title": "Q3 at the allotment society",
        "subtitle": "Members' meeting",
        "slides": [{"title": "Harvest", "bullets": ["Beans up 20 %"]}, {"title": "Water", "bullets": ["New butts"]}],
        "closing": "Tea in the hut",
    }
    generated = output_render(spec=spec, request=_request("presentation"), dest_dir=tmp_path, author=AUTHOR)
    prs = Presentation(str(generated.primary_path))
    titles = [s.shapes.title.text for s in prs.slides]
    assert titles == ["Q3 at the allotment society", "Harvest", "Water", "Thank you"]
    assert output_verify_generated(generated=generated).passed


def test_a_written_logo_mark_is_sanitised_and_used(tmp_path):
    hostile = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" onload="alert(1)">'
        '<script>alert(2)</script><circle cx="32" cy="32" r="30" fill="#c2410c"/>'
        '<a href="javascript:alert(3)"><rect width="5" height="5"/></a>'
        '<path d="M10 40 Q32 10 54 40" stroke="url(http://evil/x)" fill="none"/></svg>'
    )
    spec = {"kind": "logo", "name": "Bean There", "mark_svg": hostile, "colours": ["orange"]}
    brief = DeliverableBrief(genre="logo", names=["Bean There"])
    generated = output_render(spec=spec, request=_request("image", "Logo", brief), dest_dir=tmp_path, author=AUTHOR)
    mark = (tmp_path / "mark.svg").read_text()
    assert "script" not in mark and "onload" not in mark and "javascript" not in mark and "evil" not in mark
    assert 'r="30"' in mark and 'd="M10 40 Q32 10 54 40"' in mark
    logo = ElementTree.parse(tmp_path / "logo.svg")  # noqa: S314 — sanitised above
    assert "Bean There" in [t.text for t in logo.iter() if t.tag.endswith("text")]
    assert generated.primary == "logo.svg" and any("monogram" in n for n in generated.metadata["notes"])
    report = output_verify_generated(generated=generated)
    assert report.passed, report.summary()


def test_svg_with_entities_is_refused():
    with pytest.raises(ValueError, match="DOCTYPE"):
        sanitise_svg('<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>')


def test_written_site_copy_reaches_the_pages(tmp_path):
    spec = {
        "kind": "site",
        "headline": "Crumb & Co — sourdough from Bristol's oldest oven",
        "subheadline": "Family bakers on Gloucester Road since 1962.",
        "features": [{"title": "Morning loaves", "text": "Out at seven."}],
        "steps": [{"title": "Find us", "text": "112 Gloucester Road"}],
        "cta": "Order a cake",
        "booking": True,
    }
    brief = DeliverableBrief(names=["Crumb & Co"], sections=["booking form"])
    request = _request("website", "Website", brief)
    request.entities = request.entities.model_copy(update={"brand": "Crumb & Co"})
    generated = output_render(spec=spec, request=request, dest_dir=tmp_path, author=AUTHOR)
    index = (tmp_path / "index.html").read_text()
    assert "sourdough from Bristol&#x27;s oldest oven" in index and "Morning loaves" in index
    assert "Enterprise-grade" not in index and "+38%" not in index.replace("hero.svg", "")
    contact = (tmp_path / "contact.html").read_text()
    assert 'name="date"' in contact and "This form is a mock" in contact
    report = output_verify_generated(generated=generated)
    assert report.passed, report.summary()


def test_a_spec_for_another_kind_of_output_is_refused(tmp_path):
    with pytest.raises(GenerationError, match="cannot be rendered"):
        output_render(spec=DOC, request=_request("spreadsheet"), dest_dir=tmp_path, author=AUTHOR)


def test_the_card_names_who_wrote_the_content(owner, owner_client, task, tmp_path, deliver):
    generated = output_render(spec=DOC, request=_request("document"), dest_dir=tmp_path / "doc", author=AUTHOR)
    deliver(generated)
    page = owner_client.get(reverse("outputs:library")).content.decode()
    assert f"written by {AUTHOR}" in page
