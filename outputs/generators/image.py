"""Image generator: brand assets — logo (SVG + PNG), colour palette and a social card (Pillow)."""

from __future__ import annotations

import re
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw

from outputs.generators.base import GeneratedOutput, GenerationRequest, describe_files, option_int
from outputs.generators.brand import Brand, brand_from, font, hex_to_rgb
from outputs.generators.copywriting import copy_for


def _spec_mark(svg: str, *, x: int, y: int, size: int) -> str:
    """A sanitised SVG mark (outputs.content.LogoSpec) nested into a box of the logo."""
    return re.sub(r"^<svg\b", f'<svg x="{x}" y="{y}" width="{size}" height="{size}"', svg.strip(), count=1)


def logo_svg(brand: Brand, *, on_dark: bool = False, mark: str = "") -> str:
    """A monogram mark plus word mark; pure vector, no fonts embedded beyond a system stack."""
    name = escape(brand.name)
    width = 64 + 18 * max(4, len(brand.name)) + 24
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="64" viewBox="0 0 {width} 64"
  role="img" aria-label="{name} logo">
  <title>{name}</title>
  <defs>
    <linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="{brand.primary}"/>
      <stop offset="1" stop-color="{brand.accent}"/>
    </linearGradient>
  </defs>
  {_spec_mark(mark, x=4, y=4, size=56) if mark else _mark_shape(brand)}
  <text x="74" y="42" font-family="Inter, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="28"
    font-weight="700" fill="{"#f5f7fc" if on_dark else brand.dark}">{name}</text>
</svg>
"""


def _mark_shape(brand: Brand) -> str:
    if brand.mark == "monogram":
        return (
            f'<circle cx="32" cy="32" r="28" fill="url(#g)"/>'
            f'<text x="32" y="41" text-anchor="middle" font-family="Georgia, \'Times New Roman\', serif" '
            f'font-size="24" font-weight="700" fill="#ffffff">{escape(brand.initials)}</text>'
        )
    return """<rect x="4" y="4" width="56" height="56" rx="14" fill="url(#g)"/>
  <path d="M18 42 L28 22 L36 36 L46 18" fill="none" stroke="#ffffff" stroke-width="5" stroke-linecap="round"
    stroke-linejoin="round"/>"""


def mark_svg(brand: Brand) -> str:
    if brand.mark == "monogram":
        return f"""<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
  <circle cx="32" cy="32" r="32" fill="{brand.primary}"/>
  <text x="32" y="42" text-anchor="middle" font-family="Georgia, 'Times New Roman', serif" font-size="26"
    font-weight="700" fill="{brand.light}">{escape(brand.initials)}</text>
</svg>
"""
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
  <rect x="0" y="0" width="64" height="64" rx="14" fill="{brand.primary}"/>
  <path d="M14 44 L26 20 L36 36 L50 14" fill="none" stroke="{brand.accent}" stroke-width="6" stroke-linecap="round"
    stroke-linejoin="round"/>
</svg>
"""


def _gradient(size: tuple[int, int], start: str, end: str) -> Image.Image:
    w, h = size
    a, b = hex_to_rgb(start), hex_to_rgb(end)
    base = Image.new("RGB", (w, 1))
    px = base.load()
    for x in range(w):
        t = x / max(1, w - 1)
        px[x, 0] = tuple(int(a[i] + (b[i] - a[i]) * t) for i in range(3))
    return base.resize((w, h))


def draw_mark(draw: ImageDraw.ImageDraw, brand: Brand, box: tuple[int, int, int], *, on_dark: bool) -> None:
    """The logo mark at (x, y, size), drawn with Pillow so PNG and SVG match."""
    x, y, s = box
    if brand.mark == "monogram":
        ring = max(2, int(s * 0.09))  # the accent colour rings the roundel
        draw.ellipse([x, y, x + s, y + s], fill=brand.accent if not on_dark else "#ffffff")
        draw.ellipse([x + ring, y + ring, x + s - ring, y + s - ring], fill=brand.primary if not on_dark else "#ffffff")
        draw.text(
            (x + s / 2, y + s / 2),
            brand.initials,
            font=font(max(8, int(s * 0.42)), bold=True),
            fill="#ffffff" if not on_dark else brand.primary,
            anchor="mm",
        )
        return
    draw.rounded_rectangle([x, y, x + s, y + s], radius=int(s * 0.22), fill=brand.primary if not on_dark else "#ffffff")
    stroke = "#ffffff" if not on_dark else brand.primary
    pts = [
        (x + s * 0.22, y + s * 0.69),
        (x + s * 0.41, y + s * 0.31),
        (x + s * 0.56, y + s * 0.56),
        (x + s * 0.78, y + s * 0.22),
    ]
    draw.line(pts, fill=stroke, width=max(2, int(s * 0.09)), joint="curve")


def render_logo_png(brand: Brand, path: Path, *, height: int = 256) -> tuple[int, int]:
    title_font = font(int(height * 0.42), bold=True)
    text_w = int(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(brand.name, font=title_font))
    width = int(height * 1.25) + text_w + int(height * 0.3)
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    pad = int(height * 0.12)
    draw_mark(d, brand, (pad, pad, height - 2 * pad), on_dark=False)
    d.text((height + int(height * 0.1), height // 2), brand.name, font=title_font, fill=brand.dark, anchor="lm")
    img.save(path, "PNG", optimize=True)
    return img.size


def render_palette_png(brand: Brand, path: Path, *, width: int = 1200, height: int = 400) -> tuple[int, int]:
    img = Image.new("RGB", (width, height), "#ffffff")
    d = ImageDraw.Draw(img)
    swatches = brand.palette()
    sw = width // len(swatches)
    label_h = int(height * 0.28)
    for i, (label, colour) in enumerate(swatches):
        x0 = i * sw
        d.rectangle([x0, 0, x0 + sw, height - label_h], fill=colour)
        d.text((x0 + 20, height - label_h + 18), label, font=font(max(12, height // 16), bold=True), fill="#111827")
        d.text(
            (x0 + 20, height - label_h + 18 + height // 12),
            colour.upper(),
            font=font(max(11, height // 20)),
            fill="#4b5563",
        )
    img.save(path, "PNG", optimize=True)
    return img.size


def render_social_card(
    brand: Brand, headline: str, tagline: str, path: Path, *, width: int = 1200, height: int = 630
) -> tuple[int, int]:
    img = _gradient((width, height), brand.dark, brand.primary)
    d = ImageDraw.Draw(img)
    # Soft accent shapes give depth without clip-art.
    d.ellipse(
        [width * 0.62, -height * 0.35, width * 1.25, height * 0.7], outline=brand.accent, width=max(2, width // 300)
    )
    d.ellipse([width * 0.72, height * 0.45, width * 1.1, height * 1.2], outline=brand.light, width=max(1, width // 600))
    m = int(width * 0.06)
    mark = int(height * 0.12)
    draw_mark(d, brand, (m, m, mark), on_dark=True)
    d.text(
        (m + mark + m // 3, m + mark // 2),
        brand.name,
        font=font(int(mark * 0.5), bold=True),
        fill="#ffffff",
        anchor="lm",
    )
    size = int(height * 0.085)
    words, lines, line = headline.split(), [], ""
    max_w = width * 0.62
    for w in words:
        test = (line + " " + w).strip()
        if d.textlength(test, font=font(size, bold=True)) > max_w and line:
            lines.append(line)
            line = w
        else:
            line = test
    lines.append(line)
    y = int(height * 0.42)
    for ln in lines[:3]:
        d.text((m, y), ln, font=font(size, bold=True), fill="#ffffff")
        y += int(size * 1.25)
    d.text((m, height - m - size // 2), tagline, font=font(int(size * 0.55)), fill=brand.light)
    d.rectangle([0, height - max(4, height // 12), width, height], fill=brand.accent)
    img.save(path, "PNG", optimize=True)
    return img.size


def generate(request: GenerationRequest, dest: Path) -> GeneratedOutput:
    brand = brand_from(request)
    copy = copy_for(request, brand)
    width = option_int(request, "width", 1200, lo=200, hi=2400)
    height = option_int(request, "height", 630, lo=105, hi=1260)
    dest.mkdir(parents=True, exist_ok=True)
    spec_mark = str(request.options.get("mark_svg") or "")  # sanitised by outputs.content
    (dest / "logo.svg").write_text(logo_svg(brand, mark=spec_mark), encoding="utf-8")
    (dest / "mark.svg").write_text(spec_mark or mark_svg(brand), encoding="utf-8")
    logo_size = render_logo_png(brand, dest / "logo.png", height=max(64, min(256, height // 2)))
    palette_size = render_palette_png(brand, dest / "palette.png", width=width, height=max(120, height * 2 // 3))
    card_size = render_social_card(
        brand, copy.headline, copy.tagline, dest / "social-card.png", width=width, height=height
    )
    # A logo asked for is the logo itself; otherwise the social card shows the brand kit best.
    is_logo = request.brief.genre == "logo" or request.deliverable.title.lower() == "logo"
    primary = "logo.png" if is_logo else "social-card.png"
    names = ["social-card.png", "logo.png", "logo.svg", "mark.svg", "palette.png"]
    notes = []
    if spec_mark:
        primary = "logo.svg" if is_logo else primary
        notes.append(
            "logo.svg and mark.svg carry the written mark; logo.png and the social card show a monogram, "
            "because Command does not rasterise a written SVG offline."
        )
    files = describe_files(dest, [dest / n for n in names])
    sizes = {"social-card.png": list(card_size), "logo.png": list(logo_size), "palette.png": list(palette_size)}
    return GeneratedOutput(
        category="image",
        deliverable_id=request.deliverable.id,
        title=request.title,
        root=str(dest),
        primary=primary,
        files=files,
        metadata={
            "dimensions": {"width": card_size[0], "height": card_size[1]},
            "palette": [{"name": n, "hex": c} for n, c in brand.palette()],
            "brand": brand.name,
            "notes": notes,
        },
        expectations={"images": sizes, "svgs": ["logo.svg", "mark.svg"]},
        content_source=request.content_source,
        source_prompt=request.source_prompt,
    )
