"""Presentation generator: a 16:9 PPTX (python-pptx) with title, content and closing slides."""

from __future__ import annotations

import re
from pathlib import Path

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.shapes import MSO_SHAPE
from pptx.util import Emu, Inches, Pt

from outputs.generators.base import (
    GeneratedOutput,
    GenerationRequest,
    describe_files,
    option_int,
    placeable_pictures,
)
from outputs.generators.brand import Brand, brand_from, hex_to_rgb
from outputs.generators.copywriting import copy_for

TITLE, CONTENT = 0, 1  # the default template's layouts


def _rgb(value: str) -> RGBColor:
    return RGBColor(*hex_to_rgb(value))


def _band(slide, prs, brand: Brand, *, full: bool) -> None:
    """Brand colour behind the slide: a full bleed for title/closing, a thin rule otherwise."""
    height = prs.slide_height if full else Emu(Inches(0.12))
    shape = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, 0, 0, prs.slide_width, height)
    shape.fill.solid()
    shape.fill.fore_color.rgb = _rgb(brand.dark if full else brand.accent)
    shape.line.fill.background()
    # Send to back so placeholders stay on top.
    tree = slide.shapes._spTree
    tree.remove(shape._element)
    tree.insert(2, shape._element)


def _style_title(shape, brand: Brand, *, inverse: bool, size: int) -> None:
    for p in shape.text_frame.paragraphs:
        for r in p.runs:
            r.font.size = Pt(size)
            r.font.bold = True
            r.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF) if inverse else _rgb(brand.dark)


def _place(shape, left: float, top: float, width: float, height: float) -> None:
    """The default template's placeholders are laid out for 4:3; re-seat them on the 16:9 slide."""
    shape.left, shape.top, shape.width, shape.height = Inches(left), Inches(top), Inches(width), Inches(height)


def _place_title_slide(slide) -> None:
    _place(slide.shapes.title, 0.9, 2.3, 11.5, 1.6)
    _place(slide.placeholders[1], 0.9, 4.0, 11.5, 1.2)


def generate(request: GenerationRequest, dest: Path) -> GeneratedOutput:
    brand = brand_from(request)
    copy = copy_for(request, brand)
    title = request.title
    dest.mkdir(parents=True, exist_ok=True)
    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)

    slide_titles: list[str] = []

    s = prs.slides.add_slide(prs.slide_layouts[TITLE])
    _band(s, prs, brand, full=True)
    _place_title_slide(s)
    s.shapes.title.text = title
    _style_title(s.shapes.title, brand, inverse=True, size=44)
    s.placeholders[1].text = f"{brand.name} · {copy.tagline}"
    for p in s.placeholders[1].text_frame.paragraphs:
        for r in p.runs:
            r.font.color.rgb = _rgb(brand.light)
    slide_titles.append(title)
    # Pictures the request brought in (“Use in a new request”): on the title slide, a logo at the
    # top left and the first other picture at the right (the title and subtitle make room for it).
    logo, pictures = placeable_pictures(request)
    placed = []
    if logo is not None:
        s.shapes.add_picture(str(logo), Inches(0.9), Inches(0.6), height=Inches(1.2))
        placed.append(f"{logo.name} at the top left of the title slide")
    if pictures:
        _place(s.shapes.title, 0.9, 2.3, 7.4, 1.6)
        _place(s.placeholders[1], 0.9, 4.0, 7.4, 1.2)
        s.shapes.add_picture(str(pictures[0]), Inches(8.7), Inches(1.9), width=Inches(3.9))
        placed.append(f"{pictures[0].name} at the right of the title slide")

    exact = bool(request.options.get("exact_slides"))  # a spec's slides, as written
    content = [] if exact else [("The opportunity", [copy.subheadline])]
    content += [
        (sec.heading, (sec.paragraphs[:1] + sec.bullets)[:8])
        for sec in copy.sections
        if sec.paragraphs or sec.bullets or exact
    ]
    if copy.features and not exact:
        content.insert(2, ("What you get", [f"{t} — {b}" if b else t for t, b in copy.features[:5]]))
    if copy.metrics and not exact:
        content.insert(3, ("Results customers see", [f"{v}: {label}" for v, label in copy.metrics]))
    # A requested slide count (e.g. “ten-slide deck”) includes the title and closing slides.
    wanted = option_int(request, "slides", min(len(content), 8) + 2, lo=3, hi=40)
    notes = list(copy.notes)
    if wanted - 2 > len(content) and not exact:
        # Asked for more slides than the template writes: the rest are marked placeholders to fill.
        about = request.brief.subject or brand.name
        first_extra = len(content) + 2
        content += [
            (f"[Slide {n}]", [f"[What slide {n} should say about {about}]"]) for n in range(first_extra, wanted)
        ]
        notes.append(
            f"{wanted} slides were asked for; slides {first_extra}–{wanted - 1} are placeholders for you to write."
        )
    content = content[: wanted - 2]
    for heading, bullets in content:
        s = prs.slides.add_slide(prs.slide_layouts[CONTENT])
        _band(s, prs, brand, full=False)
        _place(s.shapes.title, 0.8, 0.45, 11.7, 1.2)
        _place(s.placeholders[1], 0.8, 1.85, 11.7, 5.0)
        s.shapes.title.text = heading
        _style_title(s.shapes.title, brand, inverse=False, size=32)
        body = s.placeholders[1].text_frame
        body.clear()
        for i, b in enumerate(bullets or [""]):
            para = body.paragraphs[0] if i == 0 else body.add_paragraph()
            para.text = b
            para.font.size = Pt(20 if len(bullets) <= 3 else 18)
            para.font.color.rgb = _rgb("#1f2937")
        slide_titles.append(heading)

    s = prs.slides.add_slide(prs.slide_layouts[TITLE])
    _band(s, prs, brand, full=True)
    _place_title_slide(s)
    s.shapes.title.text = "Thank you"
    _style_title(s.shapes.title, brand, inverse=True, size=48)
    s.placeholders[1].text = copy.closing
    for p in s.placeholders[1].text_frame.paragraphs:
        for r in p.runs:
            r.font.color.rgb = _rgb(brand.light)
    slide_titles.append("Thank you")

    stem = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "deck"
    path = dest / f"{stem}.pptx"
    prs.save(path)
    return GeneratedOutput(
        category="presentation",
        deliverable_id=request.deliverable.id,
        title=title,
        root=str(dest),
        primary=path.name,
        files=describe_files(dest, [path]),
        metadata={
            "notes": notes,
            "slides": len(slide_titles),
            "slide_titles": slide_titles,
            **({"placed_pictures": placed} if placed else {}),
        },
        expectations={"slide_titles": slide_titles},
        content_source=request.content_source,
        source_prompt=request.source_prompt,
    )
