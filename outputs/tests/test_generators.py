"""Each generator makes real files that verify and preview; the copy's source is recorded."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook
from PIL import Image
from pptx import Presentation
from pypdf import PdfReader

from outputs.generators import BUILT_IN, REGISTRY, GenerationUnavailable
from outputs.generators.audio import mp3_encoder_available
from outputs.previews import build_preview
from outputs.services import output_generate, output_verify_generated
from outputs.tests.conftest import make_request, path_of
from providers.contracts import Deliverable


@pytest.mark.parametrize("category", sorted(REGISTRY))
def test_every_generator_produces_verified_previewable_files(generated, category):
    out = generated[category]
    assert out.files and all((Path(out.root) / f.path).stat().st_size == f.size for f in out.files)
    assert out.content_source in (BUILT_IN, "synthesised in code")
    report = output_verify_generated(generated=out)
    assert report.passed, report.summary()
    preview = build_preview(out)
    assert "preview_error" not in preview.data
    if category in {"image", "pdf", "video", "audio", "website"}:
        with Image.open(__import__("io").BytesIO(preview.image)) as im:
            assert im.width > 0
    else:
        assert preview.image is None and preview.data


def test_website_is_multi_page_with_brand_and_local_assets(generated):
    out = generated["website"]
    names = {f.path for f in out.files}
    assert {"index.html", "contact.html", "styles.css", "assets/logo.svg", "assets/hero.svg"} <= names
    index = (Path(out.root) / "index.html").read_text()
    assert "Northwind Cloud" in index and "finance leaders at mid-market SaaS" in index
    assert '<link rel="stylesheet" href="styles.css">' in index and "<script" not in index
    assert "#1e3a8a" in (Path(out.root) / "styles.css").read_text()  # the requested navy


def test_image_kit_has_logo_svg_png_palette_and_card_at_size(generated):
    out = generated["image"]
    with Image.open(Path(out.root) / "social-card.png") as im:
        assert im.size == (320, 180)
    assert "<svg" in (Path(out.root) / "logo.svg").read_text()
    assert [p["hex"] for p in out.metadata["palette"]][:2] == ["#1e3a8a", "#0f766e"]


def test_video_is_h264_with_the_requested_length(generated):
    out = generated["video"]
    assert out.metadata["codec"] == "h264" and out.metadata["frames"] == 24
    assert out.primary.endswith(".mp4") and [f.path for f in out.files] == [out.primary]  # no temp files listed
    assert out.metadata["audio"] == "synthesised jingle (AAC)"
    checks = {c.name: c for c in output_verify_generated(generated=out).checks}
    assert checks["video soundtrack decodes"].passed and "aac" in checks["video soundtrack decodes"].detail


def test_video_slideshow_uses_the_tasks_images(generated, tmp_path):
    images = [Path(generated["image"].root) / "social-card.png", Path(generated["image"].root) / "palette.png"]
    out = output_generate(request=make_request("video", source_images=images), dest_dir=tmp_path / "v")
    assert out.metadata["kind"] == "slideshow" and out.metadata["sources"] == ["social-card.png", "palette.png"]
    assert output_verify_generated(generated=out).passed


def test_audio_is_a_wav_of_the_stated_length_and_mp3_only_when_encodable(generated):
    out = generated["audio"]
    with wave.open(str(path_of(out, ".wav"))) as w:
        assert abs(w.getnframes() / w.getframerate() - 2.0) < 0.01
    assert any(f.path.endswith(".mp3") for f in out.files) == mp3_encoder_available()


def test_spoken_audio_is_refused_without_a_speech_provider(tmp_path):
    request = make_request("audio", deliverable=Deliverable(id="vo", category="audio", title="Voiceover narration"))
    with pytest.raises(GenerationUnavailable, match="speech"):
        output_generate(request=request, dest_dir=tmp_path)


def test_one_page_pdf_has_one_page_and_the_sections(generated):
    out = generated["pdf"]
    reader = PdfReader(str(out.primary_path))
    assert len(reader.pages) == 1 and out.metadata["kind"] == "one-pager"
    assert "Executive summary" in reader.pages[0].extract_text()


def test_full_proposal_pdf_spans_pages(tmp_path):
    request = make_request("pdf", deliverable=Deliverable(id="p", category="pdf", title="Northwind proposal"))
    out = output_generate(request=request, dest_dir=tmp_path)
    assert out.metadata["pages"] >= 2 and output_verify_generated(generated=out).passed


def test_document_docx_and_markdown_share_headings(generated):
    out = generated["document"]
    doc = Document(str(path_of(out, ".docx")))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert "Executive summary" in headings and "Next steps" in headings
    assert "## Executive summary" in path_of(out, ".md").read_text()


def test_presentation_has_title_content_and_closing_slides(generated):
    prs = Presentation(str(generated["presentation"].primary_path))
    titles = [s.shapes.title.text for s in prs.slides]
    assert titles[0] == "Northwind Cloud pitch deck" and titles[-1] == "Thank you" and len(titles) >= 5


def test_spreadsheet_has_headers_formats_and_real_formulas(generated):
    out = generated["spreadsheet"]
    ws = load_workbook(str(out.primary_path))["Pricing"]
    assert ws["A4"].value == "Plan" and ws["D5"].value == "=B5*C5" and ws["G8"].value == "=SUM(G5:G7)"
    assert "$" in ws["C5"].number_format
    assert path_of(out, ".csv").read_text().startswith("Plan,Seats")


def test_provider_copy_is_used_and_credited(tmp_path):
    copy = {"headline": "Forecasts your board will trust", "bullets": ["Live cash view", "Scenario planning"]}
    out = output_generate(
        request=make_request("website", copy=copy, copy_source="OpenAI-compatible (gpt-test)"), dest_dir=tmp_path
    )
    assert out.content_source == "OpenAI-compatible (gpt-test)"
    index = (tmp_path / "index.html").read_text()
    assert "Forecasts your board will trust" in index and "Live cash view" in index


def test_a_category_without_a_generator_is_refused(tmp_path):
    from outputs.generators import GenerationError

    request = make_request("pdf", deliverable=Deliverable(id="x", category="project_edit", title="Edit the app"))
    with pytest.raises(GenerationError, match="no generator"):
        output_generate(request=request, dest_dir=tmp_path)


def test_generated_output_round_trips_through_json(generated):
    import json

    from outputs.generators import GeneratedOutput

    out = generated["spreadsheet"]
    again = GeneratedOutput.from_dict(json.loads(json.dumps(out.to_dict())))
    assert again == out


def test_plan_step_inputs_become_a_request_with_lengths(tmp_path):
    from outputs.generators import GenerationError, GenerationRequest

    inputs = {
        "category": "video",
        "format": "mp4",
        "title": "Intro video",
        "brief": "a 3-second intro video for Acme",
        "brand": "Acme",
        "colours": ["red"],
        "length": "3 second",
        "tone": "friendly",
    }
    request = GenerationRequest.from_plan_inputs(
        deliverable_id="v1", inputs=inputs, source_prompt="make a 3-second intro"
    )
    assert request.options["duration"] == 3 and request.entities.brand == "Acme" and request.tone == "friendly"
    deck = GenerationRequest.from_plan_inputs(
        deliverable_id="d", inputs={"category": "presentation", "title": "Acme deck", "length": "six slide"}
    )
    out = output_generate(request=deck, dest_dir=tmp_path / "deck")
    assert out.metadata["slides"] == 6 and output_verify_generated(generated=out).passed
    pdf = GenerationRequest.from_plan_inputs(
        deliverable_id="p", inputs={"category": "pdf", "title": "Acme", "length": "one page"}
    )
    assert output_generate(request=pdf, dest_dir=tmp_path / "pdf").metadata["kind"] == "one-pager"
    with pytest.raises(GenerationError, match="what to make"):
        GenerationRequest.from_plan_inputs(deliverable_id="x", inputs={"title": "?"})


def test_a_report_gets_report_sections_not_a_sales_proposal(tmp_path):
    request = make_request("pdf", deliverable=Deliverable(id="r", category="pdf", title="Quarterly analytics report"))
    out = output_generate(request=request, dest_dir=tmp_path)
    assert out.metadata["kind"] == "report" and "Key findings" in out.metadata["sections"]
    assert "Investment" not in out.metadata["sections"] and output_verify_generated(generated=out).passed


def test_a_dark_theme_hint_gives_a_dark_site(tmp_path):
    request = make_request(
        "website",
        deliverable=Deliverable(id="w", category="website", title="Landing page", details={"theme": "dark"}),
    )
    out = output_generate(request=request, dest_dir=tmp_path)
    assert out.metadata["theme"] == "dark" and "Dark theme" in (tmp_path / "styles.css").read_text()
    assert 'fill="#f5f7fc"' in (tmp_path / "assets" / "logo.svg").read_text()
    assert output_verify_generated(generated=out).passed


def test_a_market_word_as_the_audience_reads_as_people():
    from dataclasses import replace

    from outputs.generators.brand import brand_from
    from outputs.generators.copywriting import built_in_copy
    from outputs.tests.conftest import make_request

    request = make_request("website")
    brand = replace(brand_from(request), audience="B2B")
    copy = built_in_copy(request, brand)
    assert "gives B2B teams one trusted view" in copy.subheadline and "gives B2B one" not in copy.subheadline
