"""Document generator: a DOCX (python-docx) with a Markdown twin of the same content."""

from __future__ import annotations

import re
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Inches, Pt, RGBColor

from outputs.generators.base import GeneratedOutput, GenerationRequest, describe_files, placeable_pictures
from outputs.generators.brand import brand_from, hex_to_rgb
from outputs.generators.copywriting import copy_for


def generate(request: GenerationRequest, dest: Path) -> GeneratedOutput:
    brand = brand_from(request)
    copy = copy_for(request, brand)
    title = request.title
    dest.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "document"
    wants_md_only = request.deliverable.format.lower() in {"md", "markdown"}

    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(11)
    for level in (1, 2):
        doc.styles[f"Heading {level}"].font.color.rgb = RGBColor(*hex_to_rgb(brand.primary))
    doc.core_properties.title = title
    doc.core_properties.author = brand.name
    # Pictures the request brought in (“Use in a new request”): a logo above the title, the others
    # below the introduction, at most the text's width.
    logo, pictures = placeable_pictures(request)
    placed = []
    if logo is not None:
        doc.add_picture(str(logo), height=Inches(0.9))
        placed.append(f"{logo.name} above the title")
    t = doc.add_heading(title, level=0)
    t.alignment = WD_ALIGN_PARAGRAPH.LEFT
    intro = doc.add_paragraph(copy.subheadline)
    intro.runs[0].italic = True
    for picture in pictures:
        doc.add_picture(str(picture), width=Inches(6))
        placed.append(f"{picture.name} below the introduction")
    md = [f"# {title}", "", f"_{copy.subheadline}_", ""]
    headings = []
    for s in copy.sections:
        doc.add_heading(s.heading, level=1)
        md += [f"## {s.heading}", ""]
        headings.append(s.heading)
        for p in s.paragraphs:
            doc.add_paragraph(p)
            md += [p, ""]
        for b in s.bullets:
            doc.add_paragraph(b, style="List Bullet")
            md.append(f"- {b}")
        if s.bullets:
            md.append("")
        if s.heading.lower() == "investment" and copy.tiers:
            table = doc.add_table(rows=1, cols=4)
            table.style = "Light Grid Accent 1"
            for cell, label in zip(table.rows[0].cells, ["Plan", "Seats", "Per seat / month", "Annual"], strict=True):
                cell.text = label
            md += ["| Plan | Seats | Per seat / month | Annual |", "|---|---:|---:|---:|"]
            for tier in copy.tiers:
                row = table.add_row().cells
                values = [tier.name, str(tier.seats), f"${tier.price:,.0f}", f"${tier.seats * tier.price * 12:,.0f}"]
                for cell, v in zip(row, values, strict=True):
                    cell.text = v
                md.append("| " + " | ".join(values) + " |")
            md.append("")
    doc.add_paragraph(copy.closing)
    md += [copy.closing, ""]

    md_path = dest / f"{stem}.md"
    md_path.write_text("\n".join(md), encoding="utf-8")
    paths = [md_path]
    primary = md_path.name
    if not wants_md_only:
        docx_path = dest / f"{stem}.docx"
        doc.save(docx_path)
        paths.insert(0, docx_path)
        primary = docx_path.name
    return GeneratedOutput(
        category="document",
        deliverable_id=request.deliverable.id,
        title=title,
        root=str(dest),
        primary=primary,
        files=describe_files(dest, paths),
        metadata={
            "notes": copy.notes,
            "sections": headings,
            "formats": [p.suffix.lstrip(".") for p in paths],
            **({"placed_pictures": placed} if placed and not wants_md_only else {}),
        },
        expectations={"headings": [title, *headings]},
        content_source=request.content_source,
        source_prompt=request.source_prompt,
    )
