"""“Use in a new request” on a picture: the new site, PDF, Word document or deck places it, and
verification proves it (the site shows a file with the import's bytes; the PDF, DOCX or PPTX holds
a picture with the import's pixels).

Through the real planner, engine, generators (built-in author), verifier (pypdf, python-docx,
python-pptx, Pillow) and storage.
"""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.urls import reverse
from django.utils.html import escape
from pypdf import PdfReader

from outputs.generators import GenerationRequest
from outputs.generators.base import sha256_of
from outputs.models import OutputAsset
from outputs.services import asset_materialise, output_generate, output_verify_generated
from outputs.tests.conftest import make_request
from outputs.tests.test_iteration import _delivered, _imported_request
from outputs.verification.criteria import pixels_sha256

pytestmark = pytest.mark.django_db

PLACED = {
    # category, the request made from the imported logo, what must be true of the delivered file
    "website": "a landing page for Bean There using this logo",
    "pdf": "a one-page PDF brochure for Bean There using this logo",
    "document": "a word document about Bean There using this logo",
    "presentation": "a slide deck about Bean There using this logo",
}
MEDIA = {"document": "word/media/", "presentation": "ppt/media/"}


def _package_pixels(path, folder: str) -> list[str]:
    with zipfile.ZipFile(path) as package:
        return [pixels_sha256(io.BytesIO(package.read(n))) for n in package.namelist() if n.startswith(folder)]


def _criterion(asset: OutputAsset, logo: OutputAsset) -> dict:
    return next(c for c in asset.criteria if c["criterion"] == f"imported-picture-{str(logo.id)[:8]}")


@pytest.fixture
def logo(owner):
    _task, logo = _delivered(owner, "logo for a coffee shop called Bean There")
    assert logo.category == "image" and logo.file_name.endswith(".png"), logo.file_name
    return logo


@pytest.mark.parametrize("category", PLACED)
def test_an_imported_logo_is_placed_in_a_new_site_or_pdf(category, logo, owner, owner_client, tmp_path):
    made = _imported_request(owner_client, owner, logo, PLACED[category])
    assert made.category == category, made.category
    picture = asset_materialise(asset=logo, dest_dir=tmp_path / "logo")
    local = asset_materialise(asset=made, dest_dir=tmp_path / "made")
    if category == "website":
        header = re.search(r'<a class="logo"[^>]*><img src="([^"]+)"', local.read_text(encoding="utf-8"))
        assert header and header.group(1).startswith("assets/imported-"), header
        assert sha256_of(local.parent / header.group(1)) == sha256_of(picture) == logo.sha256
        assert any(f["path"] == header.group(1) for f in made.files), "the copy is one of the site's files"
    elif category == "pdf":
        pixels = [pixels_sha256(i.image) for p in PdfReader(str(local)).pages for i in p.images]
        assert pixels_sha256(picture) in pixels
        assert len(PdfReader(str(local)).pages) == 1, "the picture still fits the one page"
    else:
        assert pixels_sha256(picture) in _package_pixels(local, MEDIA[category])
        assert made.metadata["placed_pictures"][0].startswith(picture.name)
    check = _criterion(made, logo)
    assert check["status"] == "passed", check
    assert made.metadata["imported_pictures"][0]["id"] == str(logo.id)
    page = owner_client.get(made.get_absolute_url()).content.decode()
    assert "Picture from" in page and f'href="{logo.get_absolute_url()}"' in page and "Pictures placed" in page
    card = owner_client.get(reverse("tasks:command_task", args=[made.task_id])).content.decode()
    assert escape(f"It places the imported “{logo.title}” v1") in card


def _placing(category: str, images: list) -> GenerationRequest:
    return make_request(category, source_prompt="a one-page PDF and a site using this logo", source_images=images)


@pytest.mark.parametrize("category", PLACED)
@pytest.mark.parametrize("placed", [True, False], ids=["placed", "left-out"])
def test_verification_finds_the_imported_picture_or_fails(category, placed, generated, tmp_path):
    """The criterion is read from the delivered file: a file made without the picture fails it."""
    picture = generated["image"].root_path / "logo.png"
    ref = {"id": "0123456789", "title": "Logo", "version": 1, "file": "logo.png", "sha256": sha256_of(picture)}
    ref["pixels_sha256"] = pixels_sha256(picture)
    made = output_generate(request=_placing(category, [picture] if placed else []), dest_dir=tmp_path / category)
    made.expectations["imported_pictures"] = [ref]
    report = output_verify_generated(generated=made)
    check = next(c for c in report.checks if c.criterion == "imported-picture-01234567")
    assert check.passed is placed, check
    assert report.passed is placed


def test_a_site_shows_an_imported_picture_that_is_not_a_logo_as_its_main_picture(generated, tmp_path):
    card = generated["image"].root_path / "social-card.png"
    site = output_generate(
        request=make_request("website", source_prompt="a site for Northwind", source_images=[card]),
        dest_dir=tmp_path / "site",
    )
    html = site.primary_path.read_text(encoding="utf-8")
    assert '<img src="assets/logo.svg"' in html and '<img src="assets/imported-social-card.png"' in html
    assert sha256_of(site.root_path / "assets/imported-social-card.png") == sha256_of(card)


def test_a_one_page_pdf_keeps_to_one_page_with_a_large_picture(generated, tmp_path):
    """A picture that would push a one-pager onto a second page is made smaller, not the page count."""
    from PIL import Image

    big = tmp_path / "photo.png"
    Image.new("RGB", (800, 600), "#c2410c").save(big)
    logo = generated["image"].root_path / "logo.png"  # at full size, logo + photo take a second page
    request = make_request(
        "pdf", source_prompt="a one-page PDF brochure, this logo and photo", source_images=[logo, big]
    )
    pdf = output_generate(request=request, dest_dir=tmp_path / "pdf")
    reader = PdfReader(str(pdf.primary_path))
    assert len(reader.pages) == 1 and pdf.metadata["pages"] == 1
    assert pixels_sha256(big) in [pixels_sha256(i.image) for i in reader.pages[0].images]
    assert pdf.metadata["placed_pictures"] == ["logo.png above the title", "photo.png below the subtitle"]


@pytest.mark.parametrize("category", PLACED)
def test_content_a_model_wrote_still_places_the_imported_picture(category, generated, tmp_path):
    """A provider writes the words; the picture the request brought in is still placed and found."""
    from outputs.services import output_render

    spec = {"kind": "site", "headline": "Bean There: coffee on the corner", "cta": "Visit us"}
    if category in ("pdf", "document"):
        spec = {"kind": "document", "title": "Bean There", "sections": [{"heading": "Coffee", "bullets": ["Beans"]}]}
    if category == "presentation":
        spec = {"kind": "slides", "title": "Bean There", "slides": [{"title": "Coffee", "bullets": ["Beans"]}]}
    picture = generated["image"].root_path / "logo.png"
    ref = {"id": "0123456789", "title": "Logo", "version": 1, "file": "logo.png", "sha256": sha256_of(picture)}
    ref["pixels_sha256"] = pixels_sha256(picture)
    made = output_render(spec=spec, request=_placing(category, [picture]), dest_dir=tmp_path / "m", author="Model X")
    made.expectations["imported_pictures"] = [ref]
    report = output_verify_generated(generated=made)
    assert made.content_source == "Model X" and report.passed, report.summary()
    assert any(c.criterion == "imported-picture-01234567" and c.passed for c in report.checks)
