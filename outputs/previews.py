"""Previews: a small PNG where the category has a picture, and structured text where it does
not (opening paragraphs, slide outline, first rows). Built from the local files before upload."""

from __future__ import annotations

import csv
import io
import tempfile
import wave
from dataclasses import dataclass, field
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageChops, ImageDraw

from outputs.generators import GeneratedOutput

PREVIEW_WIDTH = 640


@dataclass
class Preview:
    image: bytes | None = None  # PNG
    data: dict = field(default_factory=dict)


def _png(img: Image.Image) -> bytes:
    img = img.convert("RGB") if img.mode not in ("RGB", "RGBA") else img
    if img.width > PREVIEW_WIDTH:
        img = img.resize((PREVIEW_WIDTH, max(1, round(img.height * PREVIEW_WIDTH / img.width))), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def image_preview(path: Path) -> Preview:
    with Image.open(path) as im:
        im.load()
        return Preview(_png(im.copy()), {"dimensions": list(im.size)})


def pdf_preview(path: Path, *, trim: bool = False) -> Preview:
    """The first page as a picture. With `trim`, cut to what is printed on it (plus a margin): a
    sheet's few rows in a corner of an A4 page would otherwise be a blank thumbnail."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        page = pdf[0]
        scale = PREVIEW_WIDTH / page.get_width() * (2 if trim else 1)
        image = page.render(scale=scale).to_pil()
        return Preview(_png(_printed_part(image) if trim else image), {"pages": len(pdf)})
    finally:
        pdf.close()


def _printed_part(image: Image.Image, margin: int = 24) -> Image.Image:
    rgb = image.convert("RGB")
    box = ImageChops.difference(rgb, Image.new("RGB", rgb.size, "white")).getbbox()
    if box is None:
        return image  # a blank page stays a blank page: nothing is made up
    left, top, right, bottom = box
    right, bottom = min(rgb.width, right + margin), min(rgb.height, bottom + margin)
    return rgb.crop((max(0, left - margin), max(0, top - margin), right, bottom))


def video_poster(path: Path) -> Preview:
    """A frame a third of the way in: past the fade-in, so the poster shows the content."""
    frames, _secs = imageio_ffmpeg.count_frames_and_secs(str(path))
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    target = max(0, frames // 3)
    frame = None
    for i, raw in enumerate(reader):
        frame = raw
        if i >= target:
            break
    reader.close()
    if frame is None:
        raise ValueError("the video has no frames")
    img = Image.fromarray(np.frombuffer(frame, dtype=np.uint8).reshape(h, w, 3))
    return Preview(_png(img), {"poster_frame": target})


def waveform(path: Path, *, colour: str = "#4f46e5", size: tuple[int, int] = (PREVIEW_WIDTH, 120)) -> Preview:
    with wave.open(str(path), "rb") as w:
        rate, channels, n = w.getframerate(), w.getnchannels(), w.getnframes()
        samples = np.frombuffer(w.readframes(n), dtype="<i2").reshape(-1, channels).mean(axis=1)
    width, height = size
    img = Image.new("RGBA", size, (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    buckets = np.array_split(np.abs(samples), width // 3) if len(samples) else []
    mid = height // 2
    for i, b in enumerate(buckets):
        peak = float(b.max()) / 32768 if len(b) else 0.0
        half = max(1, int(peak * (height / 2 - 4)))
        x = i * 3
        d.rounded_rectangle([x, mid - half, x + 1, mid + half], radius=1, fill=colour)
    return Preview(_png(img), {"duration": round(n / rate, 2)})


def docx_paragraphs(path: Path, limit: int = 6) -> Preview:
    from docx import Document

    doc = Document(str(path))
    paras = [
        {"text": p.text, "heading": p.style.name.startswith(("Heading", "Title"))}
        for p in doc.paragraphs
        if p.text.strip()
    ]
    return Preview(None, {"paragraphs": paras[:limit]})


def pptx_outline(path: Path) -> Preview:
    from pptx import Presentation

    prs = Presentation(str(path))
    return Preview(
        None, {"outline": [s.shapes.title.text if s.shapes.title is not None else "(untitled)" for s in prs.slides]}
    )


def table_rows(path: Path, limit: int = 8) -> Preview:
    """First rows as a table. The CSV twin carries computed values; the XLSX keeps formulas."""
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [row for _, row in zip(range(limit + 1), csv.reader(fh), strict=False)]
        return Preview(None, {"rows": rows, "rows_source": "csv"})
    from openpyxl import load_workbook

    wb = load_workbook(str(path), read_only=True)
    ws = wb.worksheets[0]
    rows = [["" if v is None else str(v) for v in row] for row in ws.iter_rows(max_row=limit + 4, values_only=True)]
    wb.close()
    return Preview(None, {"rows": [r for r in rows if any(r)][: limit + 1], "rows_source": "xlsx"})


def office_picture(path: Path, outline: Preview) -> Preview:
    """The outline plus a picture of the file's first page as LibreOffice lays it out; where that
    cannot be made, the outline alone, saying it is an outline and why there is no picture."""
    from django.conf import settings

    from outputs.libreoffice import convert

    if not getattr(settings, "COMMAND_OFFICE_PREVIEWS", True):
        reason = "picture previews are switched off (COMMAND_OFFICE_PREVIEWS)"
    else:
        with tempfile.TemporaryDirectory(prefix="command-preview-") as tmp:
            pdf = convert(path, to="pdf", workdir=Path(tmp))
            if not isinstance(pdf, str):
                picture = pdf_preview(pdf, trim=True)
                return Preview(
                    picture.image, {**outline.data, "picture": "First page, as LibreOffice lays it out (margins cut)"}
                )
            reason = pdf
    return Preview(None, {**outline.data, "outline_only": reason})


def build_preview(generated: GeneratedOutput) -> Preview:
    """The preview for a generated output, or an empty one with the reason when it cannot be made."""
    root, primary = generated.root_path, generated.primary_path
    names = [f.path for f in generated.files]
    try:
        match generated.category:
            case "image":
                return image_preview(primary)
            case "pdf":
                return pdf_preview(primary)
            case "video":
                return video_poster(primary)
            case "audio":
                wav = next((root / n for n in names if n.endswith(".wav")), None)
                return waveform(wav) if wav else Preview(None, {"duration": generated.metadata.get("duration")})
            case "document":
                docx = next((root / n for n in names if n.endswith(".docx")), None)
                if docx:
                    return office_picture(docx, docx_paragraphs(docx))
                text = primary.read_text(encoding="utf-8").splitlines()
                return Preview(
                    None,
                    {
                        "paragraphs": [
                            {"text": t.lstrip("# "), "heading": t.startswith("#")} for t in text if t.strip()
                        ][:6]
                    },
                )
            case "presentation":
                return office_picture(primary, pptx_outline(primary))
            case "spreadsheet":
                csv_name = next((n for n in names if n.endswith(".csv")), None)
                rows = table_rows(root / csv_name if csv_name else primary)
                return office_picture(primary, rows) if primary.suffix == ".xlsx" else rows
            case "website":
                pages = [n for n in names if n.endswith(".html")]
                thumb = next((root / n for n in names if n.endswith("og-image.png")), None)
                if thumb is None:
                    return Preview(None, {"pages": pages})
                return Preview(image_preview(thumb).image, {"pages": pages})
    except Exception as exc:  # noqa: BLE001 — a preview is a convenience; its failure is reported, not fatal
        return Preview(None, {"preview_error": f"No preview could be made: {type(exc).__name__}: {exc}"[:300]})
    return Preview()
