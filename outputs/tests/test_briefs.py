"""Messy requests → the brief the built-in planner reads → the delivered files meet it.

The requests live in providers/tests/golden/briefs.json beside the planner's golden prompts. Per
request: the brief's criteria are what the request said; every generated file is opened with
the real libraries (openpyxl + LibreOffice recalculation, python-docx, python-pptx, pypdf,
Pillow, ffmpeg) and checked here, independently of Command's own verifier; and the verifier's
report marks no criterion failed.
"""

from __future__ import annotations

import colorsys
import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import imageio_ffmpeg
import pytest
from docx import Document
from openpyxl import load_workbook
from PIL import Image
from pptx import Presentation
from pypdf import PdfReader

from outputs.generators import GenerationRequest
from outputs.services import output_generate, output_verify_generated
from outputs.verification import recalc
from providers.contracts import DeliverableBrief
from providers.planner.base import PlanningRequest
from providers.planner.builtin.planner import BuiltinPlanner

CASES = json.loads((Path(__file__).parents[2] / "providers/tests/golden/briefs.json").read_text(encoding="utf-8"))
SMALL = {"width": 320, "height": 180, "fps": 8}
HUES = {"warm": [(0, 70), (330, 360)], "cool": [(160, 280)], "teal": [(150, 200)]}


def _norm(text: str) -> str:
    return " ".join(html.unescape(text).replace("\u00a0", " ").split()).lower()


def test_there_are_at_least_thirty_requests():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c["prompt"][:60] for c in CASES])
def test_the_brief_is_read_and_the_delivered_file_meets_it(case, tmp_path):
    result = BuiltinPlanner().plan(PlanningRequest(prompt=case["prompt"]))
    understanding = result.understanding
    assert sorted(a.id for a in understanding.ambiguities) == sorted(case.get("questions", []))
    assert [str(d.category) for d in understanding.deliverables] == [d["category"] for d in case["deliverables"]]
    for deliverable, want in zip(understanding.deliverables, case["deliverables"], strict=True):
        brief = deliverable.brief.model_dump()
        for key, value in want.get("brief", {}).items():
            assert brief[key] == value, f"{key}: {brief[key]!r} != {value!r}"
    if case.get("questions"):
        assert result.plan.steps == [], "a request too vague to write is asked about, not guessed at"
        return

    makes = [s for s in result.plan.steps if s.action_type == "generate_output"]
    assert len(makes) == len(case["deliverables"])
    for plan_step, want in zip(makes, case["deliverables"], strict=True):
        request = GenerationRequest.from_plan_inputs(
            deliverable_id=plan_step.deliverable_id,
            inputs=plan_step.inputs,
            source_prompt=case["prompt"],
            options=SMALL,
        )
        generated = output_generate(request=request, dest_dir=tmp_path / plan_step.deliverable_id)
        if "title" in want:
            assert generated.title == want["title"]
        report = output_verify_generated(generated=generated)
        assert report.passed, report.summary()
        criteria = [c for c in report.checks if c.criterion]
        assert [c.criterion for c in criteria] == [c.id for c in request.brief.criteria()]
        assert not [c for c in criteria if c.status == "failed"]
        for kind, spec in want.get("file", {}).items():
            CHECKS[kind](Path(generated.root), generated.primary_path, spec)


# Independent read-backs of the delivered files, one per kind of file.


def _xlsx(root: Path, primary: Path, spec: dict) -> None:
    ws = load_workbook(primary).worksheets[0]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    header = next(i for i, r in enumerate(rows) if sum(v not in (None, "") for v in r) >= 3)
    data, total = [], None
    for i in range(header + 1, len(rows)):
        first = rows[i][0]
        if first in (None, ""):
            break
        if str(first).lower().startswith("total"):
            total = i
            break
        data.append(i)
    assert len(data) == spec["rows"], [rows[i][0] for i in data]
    headers = [str(v) for v in rows[header] if v is not None]
    for label in spec.get("headers_include", []):
        assert label in headers, headers
    text = " ".join(str(v) for r in rows for v in r if isinstance(v, str))
    for word in spec.get("excludes", []):
        assert word not in text
    if spec.get("totals"):
        assert total is not None, "no totals row"
        formulas = {c.coordinate: c.value for c in ws[total + 1][1:] if c.value is not None}
        assert formulas and all(str(v).startswith("=SUM(") for v in formulas.values()), formulas
        values = _recalculated(primary, ws.title, list(formulas))
        for ref, got in values.items():
            column = re.match(r"[A-Z]+", ref).group(0)
            expected = sum(values_of(primary, ws.title, [f"{column}{i + 1}" for i in data]).values())
            assert got == pytest.approx(expected), (ref, got, expected)


def _recalculated(path: Path, sheet: str, refs: list[str]) -> dict[str, float]:
    """The cells' values after LibreOffice recalculates the file (Command's own evaluator when
    LibreOffice is not installed)."""
    values = recalc.libreoffice_values(path, sheet, refs)
    if isinstance(values, str):
        return values_of(path, sheet, refs)
    assert all(v is not None for v in values.values()), values
    return values


def values_of(path: Path, sheet: str, refs: list[str]) -> dict[str, float]:
    evaluator = recalc.Evaluator(load_workbook(path)[sheet])
    return {ref: evaluator.value(ref) for ref in refs}


def _docx(root: Path, primary: Path, spec: dict) -> None:
    doc = Document(str(primary))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    for heading in spec.get("headings_include", []):
        assert heading in headings, headings
    text = _norm(" ".join(p.text for p in doc.paragraphs))
    for phrase in spec.get("contains", []):
        assert phrase.lower() in text
    for phrase in spec.get("excludes", []):
        assert phrase.lower() not in text


def _pdf(root: Path, primary: Path, spec: dict) -> None:
    reader = PdfReader(str(primary))
    if "pages" in spec:
        assert len(reader.pages) == spec["pages"]
    text = _norm(" ".join(p.extract_text() or "" for p in reader.pages))
    for phrase in spec.get("contains", []):
        assert phrase.lower() in text, text[:300]
    for phrase in spec.get("excludes", []):
        assert phrase.lower() not in text


def _pptx(root: Path, primary: Path, spec: dict) -> None:
    prs = Presentation(str(primary))
    if "slides" in spec:
        assert len(prs.slides) == spec["slides"]
    text = _norm(" ".join(s.text_frame.text for slide in prs.slides for s in slide.shapes if s.has_text_frame))
    for phrase in spec.get("contains", []):
        assert phrase.lower() in text
    for phrase in spec.get("excludes", []):
        assert phrase.lower() not in text, phrase


def _html(root: Path, primary: Path, spec: dict) -> None:
    pages = {p.name: p.read_text(encoding="utf-8") for p in root.glob("*.html")}
    text = _norm(re.sub(r"<[^>]+>", " ", " ".join(pages.values())))
    for phrase in spec.get("contains", []):
        assert phrase.lower() in text, phrase
    for phrase in spec.get("excludes", []):
        assert phrase.lower() not in text, phrase
    if spec.get("form"):
        assert any("<form" in page for page in pages.values())
    if spec.get("primary_hue"):  # a trade's own colours when none were asked for, not the SaaS navy
        hexa = re.search(r"--primary:\s*#([0-9a-f]{6})", (root / "styles.css").read_text()).group(1)
        h, _l, _s = colorsys.rgb_to_hls(*(int(hexa[i : i + 2], 16) / 255 for i in (0, 2, 4)))
        assert any(lo <= h * 360 <= hi for lo, hi in HUES[spec["primary_hue"]]), h * 360


def _logo(root: Path, primary: Path, spec: dict) -> None:
    assert primary.name == "logo.png"
    svg = ElementTree.parse(root / "logo.svg")  # noqa: S314 — written by the generator under test
    assert spec["svg_text"] in [t.text for t in svg.iter() if t.tag.endswith("text")]
    with Image.open(primary) as im:
        data = im.convert("RGBA").tobytes()
    pixels = [tuple(data[i : i + 4]) for i in range(0, len(data), 4) if data[i + 3] > 128]
    hues = []
    for r, g, b, _a in pixels:
        h, light, sat = colorsys.rgb_to_hls(r / 255, g / 255, b / 255)
        if sat > 0.3 and 0.1 < light < 0.9:
            hues.append(h * 360)
    inside = [h for h in hues if any(lo <= h <= hi for lo, hi in HUES[spec["hue"]])]
    assert hues and len(inside) / len(hues) > 0.6, (len(inside), len(hues))


def _picture(root: Path, primary: Path, spec: dict) -> None:
    """Each colour asked for is a real share (≥ 5 %) of the delivered picture's coloured pixels."""
    assert primary.name == spec["file"]
    with Image.open(primary) as im:
        data = im.convert("RGBA").tobytes()
    hues = []
    for i in range(0, len(data), 4):
        r, g, b, a = data[i : i + 4]
        h, light, sat = colorsys.rgb_to_hls(r / 255, g / 255, b / 255)
        if a > 128 and sat > 0.3 and 0.1 < light < 0.9:
            hues.append(h * 360)
    for name, degrees in spec["hues_present"].items():
        near = [h for h in hues if min(abs(h - degrees), 360 - abs(h - degrees)) <= 25]
        assert len(near) / len(hues) >= 0.05, (name, len(near), len(hues))


def _media(root: Path, primary: Path, spec: dict) -> None:
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    out = subprocess.run(  # noqa: S603
        [ffmpeg, "-v", "error", "-i", str(primary), "-f", "s16le", "-ac", "1", "-ar", "8000", "-"],
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout
    seconds = len(out) / 2 / 8000
    assert abs(seconds - spec["seconds"]) <= spec["seconds"] * 0.1, seconds


CHECKS = {
    "xlsx": _xlsx,
    "docx": _docx,
    "pdf": _pdf,
    "pptx": _pptx,
    "html": _html,
    "logo": _logo,
    "picture": _picture,
    "media": _media,
}


def test_a_brief_the_file_does_not_meet_fails_by_name(tmp_path):
    """The same verifier, on a sheet made for 3 departments but checked against a brief of 4."""
    brief = DeliverableBrief(genre="budget", counts={"departments": 4}, period="quarterly", totals=True)
    plan_inputs = {"category": "spreadsheet", "title": "Budget", "deliverable_brief": brief.model_dump()}
    three = {**plan_inputs, "deliverable_brief": {**brief.model_dump(), "counts": {"departments": 3}}}
    request = GenerationRequest.from_plan_inputs(deliverable_id="d1", inputs=three)
    generated = output_generate(request=request, dest_dir=tmp_path)
    generated.expectations["brief"] = brief.model_dump()
    report = output_verify_generated(generated=generated)
    assert not report.passed
    failed = [c for c in report.checks if c.status == "failed"]
    assert [c.name for c in failed] == ["Brief: 4 departments"]
    assert "3 departments rows, expected 4" in failed[0].detail
    assert "Brief: 4 departments" in report.summary()


def test_totals_typed_in_instead_of_formulas_fail(tmp_path):
    brief = DeliverableBrief(genre="budget", counts={"departments": 2}, totals=True, period="quarterly")
    request = GenerationRequest.from_plan_inputs(
        deliverable_id="d1",
        inputs={"category": "spreadsheet", "title": "Budget", "deliverable_brief": brief.model_dump()},
    )
    generated = output_generate(request=request, dest_dir=tmp_path / "sheet")
    path = generated.primary_path
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    ws["B7"] = 1  # the totals row's first cell, typed in: it no longer adds up the column
    wb.save(path)
    with pytest.raises(ValueError, match="typed-in number"):
        recalc.check_totals(path)


@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice is not installed")
def test_libreoffice_recalculates_what_command_evaluates(tmp_path):
    brief = DeliverableBrief(genre="budget", counts={"departments": 3}, totals=True, period="quarterly")
    request = GenerationRequest.from_plan_inputs(
        deliverable_id="d1",
        inputs={"category": "spreadsheet", "title": "Budget", "deliverable_brief": brief.model_dump()},
    )
    generated = output_generate(request=request, dest_dir=tmp_path / "sheet")
    assert recalc.check_totals(generated.primary_path).endswith("LibreOffice agrees")


def test_a_logo_on_an_opaque_background_is_not_passed_as_a_logo(tmp_path):
    brief = DeliverableBrief(genre="logo", names=["Bean There"], palette="warm")
    request = GenerationRequest.from_plan_inputs(
        deliverable_id="d1", inputs={"category": "image", "title": "Logo", "deliverable_brief": brief.model_dump()}
    )
    generated = output_generate(request=request, dest_dir=tmp_path / "logo")
    with Image.open(generated.root_path / "logo.png") as im:
        flat = Image.new("RGBA", im.size, "white")
        flat.alpha_composite(im.convert("RGBA"))
    flat.save(generated.root_path / "logo.png")
    report = output_verify_generated(generated=generated)
    failed = {c.name: c.detail for c in report.checks if c.status == "failed"}
    assert "opaque background" in failed["Brief: It is a logo"]
