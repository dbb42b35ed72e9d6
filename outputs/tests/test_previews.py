"""Previews of office files: a picture of the first page when LibreOffice can lay it out, and an
outline that says it is an outline (and why) when it cannot."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from PIL import Image

from outputs import libreoffice
from outputs.previews import build_preview


@pytest.mark.skipif(not libreoffice.soffice_path(), reason="LibreOffice is not installed")
@pytest.mark.parametrize("category", ["document", "presentation", "spreadsheet"])
def test_office_files_are_pictured_by_libreoffice(category, generated, settings):
    settings.COMMAND_OFFICE_PREVIEWS = True
    preview = build_preview(generated[category])
    assert preview.image, preview.data
    with Image.open(io.BytesIO(preview.image)) as im:
        assert im.format == "PNG" and 200 <= im.width <= 640
        colours = im.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 8, "a blank page is not a picture of the file"
        # A card shows the picture's top: it must start with what is printed, not the page's margin
        # (a sheet's few rows sit in a corner of an A4 page).
        ink = Image.eval(im.convert("L"), lambda v: 255 if v < 200 else 0).getbbox()
        assert ink is not None and ink[1] < 0.1 * im.height and (ink[2] - ink[0]) > 0.6 * im.width, ink
    assert preview.data["picture"].startswith("First page")
    assert "outline_only" not in preview.data


def test_without_libreoffice_the_preview_says_it_is_an_outline(generated, settings, monkeypatch, deliver, owner_client):
    settings.COMMAND_OFFICE_PREVIEWS = True
    monkeypatch.setattr(libreoffice, "soffice_path", lambda: None)
    preview = build_preview(generated["presentation"])
    assert preview.image is None and preview.data["outline_only"] == "LibreOffice is not installed"
    assert preview.data["outline"], "the outline is still there"
    asset = deliver(generated["presentation"])
    html = owner_client.get(reverse("outputs:detail", args=[asset.id])).content.decode()
    assert "An outline of the file, not a picture of it: LibreOffice is not installed." in html
    assert "slide-outline" in html


@pytest.mark.skipif(not libreoffice.soffice_path(), reason="LibreOffice is not installed")
def test_a_pictured_asset_shows_the_picture_and_its_outline_when_opened(generated, settings, deliver, owner_client):
    settings.COMMAND_OFFICE_PREVIEWS = True
    asset = deliver(generated["document"])
    assert asset.preview
    html = owner_client.get(reverse("outputs:detail", args=[asset.id])).content.decode()
    assert "First page, as LibreOffice lays it out" in html and "doc-excerpt" in html
    assert "not a picture" not in html
