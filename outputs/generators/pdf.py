"""PDF generator: a proposal, report or one-pager laid out with reportlab (platypus)."""

from __future__ import annotations

import re
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    Image,
    KeepTogether,
    ListFlowable,
    ListItem,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from outputs.generators.base import RASTER, GeneratedOutput, GenerationRequest, describe_files, looks_like_a_logo
from outputs.generators.brand import Brand, brand_from
from outputs.generators.copywriting import Copy, copy_for, document_kind

ONE_PAGE = re.compile(r"\b(one|1|single)[- ]?pager?\b|\bone[- ]page\b", re.I)


def is_one_pager(request: GenerationRequest) -> bool:
    d = request.deliverable
    text = " ".join([d.title, d.description, " ".join(d.details.values()), " ".join(request.format_hints)])
    return bool(ONE_PAGE.search(text))


def _styles(brand: Brand) -> dict[str, ParagraphStyle]:
    ink = colors.HexColor(brand.dark)
    return {
        "title": ParagraphStyle(
            "title", fontName="Helvetica-Bold", fontSize=26, leading=31, textColor=ink, spaceAfter=6
        ),
        "subtitle": ParagraphStyle(
            "subtitle",
            fontName="Helvetica",
            fontSize=12.5,
            leading=18,
            textColor=colors.HexColor("#4b5563"),
            spaceAfter=14,
        ),
        "h2": ParagraphStyle(
            "h2",
            fontName="Helvetica-Bold",
            fontSize=14,
            leading=18,
            textColor=colors.HexColor(brand.primary),
            spaceBefore=12,
            spaceAfter=5,
        ),
        "body": ParagraphStyle(
            "body",
            fontName="Helvetica",
            fontSize=10.5,
            leading=15,
            textColor=colors.HexColor("#1f2937"),
            alignment=TA_LEFT,
            spaceAfter=5,
        ),
        "small": ParagraphStyle(
            "small", fontName="Helvetica", fontSize=8.5, leading=11, textColor=colors.HexColor("#6b7280")
        ),
        "cell": ParagraphStyle("cell", fontName="Helvetica", fontSize=9.5, leading=12),
    }


def _decorate(brand: Brand, title: str):
    def draw(canvas, doc):
        w, h = A4
        canvas.saveState()
        canvas.setFillColor(colors.HexColor(brand.primary))
        canvas.rect(0, h - 14 * mm, w, 14 * mm, stroke=0, fill=1)
        canvas.setFillColor(colors.HexColor(brand.accent))
        canvas.rect(0, h - 15.2 * mm, w, 1.2 * mm, stroke=0, fill=1)
        canvas.setFillColor(colors.white)
        canvas.setFont("Helvetica-Bold", 11)
        canvas.drawString(18 * mm, h - 9 * mm, brand.name)
        canvas.setFont("Helvetica", 9)
        canvas.drawRightString(w - 18 * mm, h - 9 * mm, title[:80])
        canvas.setFillColor(colors.HexColor("#6b7280"))
        canvas.setFont("Helvetica", 8)
        canvas.drawString(18 * mm, 10 * mm, f"{brand.name} · Confidential")
        canvas.drawRightString(w - 18 * mm, 10 * mm, f"Page {doc.page}")
        canvas.restoreState()

    return draw


def _bullets(items: list[str], style: ParagraphStyle, brand: Brand) -> ListFlowable:
    return ListFlowable(
        [ListItem(Paragraph(escape(b), style), leftIndent=12, value="•") for b in items],
        bulletType="bullet",
        start="•",
        bulletColor=colors.HexColor(brand.accent),
        leftIndent=12,
    )


def _tier_table(copy: Copy, brand: Brand, st) -> Table:
    rows = [["Plan", "Seats", "Per seat / month", "Annual"]]
    for t in copy.tiers:
        rows.append(
            [
                Paragraph(f"<b>{escape(t.name)}</b><br/>{escape(t.summary)}", st["cell"]),
                str(t.seats),
                f"${t.price:,.0f}",
                f"${t.seats * t.price * 12:,.0f}",
            ]
        )
    table = Table(rows, colWidths=[80 * mm, 20 * mm, 35 * mm, 35 * mm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor(brand.primary)),
                ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTSIZE", (0, 0), (-1, -1), 9.5),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor(brand.light)]),
                ("LINEBELOW", (0, -1), (-1, -1), 0.6, colors.HexColor("#d1d5db")),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return table


def _pictures(request: GenerationRequest, room: float = 1.0) -> tuple[list, list, list[str]]:
    """The request's pictures as flowables, at their own pixels (scaled, never resampled): a logo
    sits above the title, other pictures below the subtitle, up to ``room`` × 60 mm high (0: left
    out). Vector files are not placed (Command does not rasterise SVG offline)."""
    from PIL import Image as PILImage

    logos, figures, placed = [], [], []
    for path in (Path(p) for p in request.source_images):
        if not path.is_file() or path.suffix.lower() not in RASTER:
            continue
        is_logo = not logos and looks_like_a_logo(path, request)
        if not is_logo and not room:
            continue
        with PILImage.open(path) as im:
            w, h = im.size
        box_w, box_h = (70 * mm, 18 * mm) if is_logo else (170 * mm, 60 * mm * room)
        scale = min(box_w / w, box_h / h)
        flowable = Image(str(path), width=w * scale, height=h * scale, hAlign="LEFT")
        (logos if is_logo else figures).extend([flowable, Spacer(1, 4 * mm)])
        placed.append(f"{path.name} {'above the title' if is_logo else 'below the subtitle'}")
    return logos, figures, placed


def generate(request: GenerationRequest, dest: Path) -> GeneratedOutput:
    brand = brand_from(request)
    copy = copy_for(request, brand)
    st = _styles(brand)
    one_pager = is_one_pager(request)
    title = request.title
    dest.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "document"
    path = dest / f"{name}.pdf"

    sections = copy.sections
    if one_pager and not any(s.heading.lower() in ("investment", "timeline", "analysis") for s in sections):
        sections = sections[:5]  # written for the genre: short enough for a page as it is
    elif one_pager:
        # A one-pager keeps the summary, the approach and the next step; the rest is for a proposal.
        keep = {s.heading.lower() for s in sections[:1]} | {
            "our approach",
            "key points",
            "scope and deliverables",
            "key findings",
            "recommendations",
            "next steps",
        }
        sections = [s for s in sections if s.heading.lower() in keep][:4]
    headings = [s.heading for s in sections]

    def body() -> list:  # fresh flowables for each layout tried (a built flowable keeps its split state)
        story = []
        for s in sections:
            block = [Paragraph(escape(s.heading), st["h2"])]
            block += [Paragraph(escape(p), st["body"]) for p in s.paragraphs]
            if s.bullets:
                block.append(_bullets(s.bullets, st["body"], brand))
            if s.heading.lower() == "investment" and copy.tiers:
                block += [Spacer(1, 4), _tier_table(copy, brand, st)]
            story.append(KeepTogether(block))
        return [*story, Spacer(1, 10), Paragraph(escape(copy.closing), st["small"])]

    notes = list(copy.notes)
    deco = _decorate(brand, title)
    # A one-pager stays one page: its pictures are made smaller, then left out (and the notes say so).
    for room in (1.0, 0.5, 0.0) if one_pager else (1.0,):
        logos, figures, placed = _pictures(request, room)
        doc = SimpleDocTemplate(
            str(path),
            pagesize=A4,
            leftMargin=18 * mm,
            rightMargin=18 * mm,
            topMargin=24 * mm,
            bottomMargin=18 * mm,
            title=title,
            author=brand.name,
            subject=request.deliverable.description or title,
            creator="Command",
        )
        title_block = [Paragraph(escape(title), st["title"]), Paragraph(escape(copy.subheadline), st["subtitle"])]
        doc.build([*logos, *title_block, *figures, *body()], onFirstPage=deco, onLaterPages=deco)
        if doc.page == 1 or not figures:
            break
    left_out = len([p for p in request.source_images if Path(p).suffix.lower() in RASTER]) - len(placed)
    if left_out > 0:
        notes.append(f"{left_out} picture(s) given to this request were left out to keep it to one page.")
    pages = doc.page
    return GeneratedOutput(
        category="pdf",
        deliverable_id=request.deliverable.id,
        title=title,
        root=str(dest),
        primary=path.name,
        files=describe_files(dest, [path]),
        metadata={
            "notes": notes,
            "pages": pages,
            "kind": "one-pager" if one_pager else document_kind(request),
            "sections": headings,
            **({"placed_pictures": placed} if placed else {}),
        },
        expectations={"pages": 1 if one_pager else pages, "texts": [title, *headings]},
        content_source=request.content_source,
        source_prompt=request.source_prompt,
    )
