"""Brand identity shared by every generator: name, palette and fonts from the understanding."""

from __future__ import annotations

import colorsys
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from outputs.generators.base import GenerationRequest

NAMED_COLOURS = {
    "navy": "#1e3a8a",
    "blue": "#2563eb",
    "indigo": "#4f46e5",
    "violet": "#7c3aed",
    "purple": "#7e22ce",
    "teal": "#0f766e",
    "cyan": "#0891b2",
    "green": "#15803d",
    "emerald": "#059669",
    "lime": "#65a30d",
    "yellow": "#ca8a04",
    "gold": "#b7860b",
    "orange": "#ea580c",
    "amber": "#d97706",
    "red": "#dc2626",
    "crimson": "#be123c",
    "pink": "#db2777",
    "magenta": "#c026d3",
    "black": "#111827",
    "charcoal": "#1f2937",
    "grey": "#4b5563",
    "gray": "#4b5563",
    "slate": "#334155",
    "white": "#f8fafc",
    "brown": "#92400e",
    "sky": "#0284c7",
    "mint": "#10b981",
    "coral": "#f97316",
}
# No name was given: the placeholder says so instead of passing for a real company's name.
PLACEHOLDER_NAME = "[Your company]"
DEFAULT_PRIMARY = "#1e3a8a"
DEFAULT_ACCENT = "#14b8a6"
# Palette words from a brief: (primary, accent) pairs whose hues are what the word says.
PALETTES = {
    "warm": ("#c2410c", "#d97706"),
    "cool": ("#1d4ed8", "#0e7490"),
    "pastel": ("#f472b6", "#93c5fd"),
    "earthy": ("#7c4a1e", "#6b8e23"),
    "vibrant": ("#db2777", "#f59e0b"),
    "muted": ("#57534e", "#78716c"),
    "monochrome": ("#171717", "#525252"),
}


def parse_colour(value: str) -> str | None:
    value = (value or "").strip().lower()
    if re.fullmatch(r"#?[0-9a-f]{6}", value):
        return "#" + value.lstrip("#")
    if re.fullmatch(r"#?[0-9a-f]{3}", value):
        v = value.lstrip("#")
        return "#" + "".join(c * 2 for c in v)
    for word in re.findall(r"[a-z]+", value):
        if word in NAMED_COLOURS:
            return NAMED_COLOURS[word]
    return None


def hex_to_rgb(value: str) -> tuple[int, int, int]:
    v = value.lstrip("#")
    return int(v[0:2], 16), int(v[2:4], 16), int(v[4:6], 16)


def rgb_to_hex(rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(max(0, min(255, int(c))) for c in rgb))


def shade(value: str, lightness: float) -> str:
    """The same hue at a chosen lightness (0..1): how the palette's tints and shades are made."""
    r, g, b = (c / 255 for c in hex_to_rgb(value))
    h, _l, s = colorsys.rgb_to_hls(r, g, b)
    r2, g2, b2 = colorsys.hls_to_rgb(h, lightness, s)
    return rgb_to_hex((r2 * 255, g2 * 255, b2 * 255))


@dataclass(frozen=True)
class Brand:
    name: str
    audience: str
    industry: str
    product: str
    primary: str
    accent: str
    dark: str
    light: str
    muted: str
    # "chart" (the analytics mark) or "monogram" (initials in a roundel, for everyone else).
    mark: str = "chart"

    @property
    def initials(self) -> str:
        words = re.findall(r"[A-Za-z0-9]+", self.name)
        if not words:
            return "C"
        return (words[0][0] + (words[1][0] if len(words) > 1 else "")).upper()

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "brand"

    def palette(self) -> list[tuple[str, str]]:
        return [
            ("Primary", self.primary),
            ("Accent", self.accent),
            ("Ink", self.dark),
            ("Mist", self.light),
            ("Slate", self.muted),
        ]


# When no colour was asked for, a local business gets colours of its trade, not the SaaS navy.
TRADE_PALETTES = {"bakery": "warm", "coffee shop": "earthy", "restaurant": "warm", "florist": "pastel",
                  "salon": "pastel", "plumber": "cool"}  # fmt: skip


def _palette_for(business: str) -> str:
    if not business or business == "SaaS":
        return ""
    from outputs.generators.genre_copy import business_kind

    return TRADE_PALETTES.get(business_kind(business), "warm")


def brand_from(request: GenerationRequest) -> Brand:
    e = request.entities
    brief = request.brief
    colours = [c for c in (parse_colour(x) for x in [*brief.colours, *e.colours]) if c]
    palette = PALETTES.get(brief.palette or _palette_for(brief.business), (DEFAULT_PRIMARY, DEFAULT_ACCENT))
    primary = colours[0] if colours else palette[0]
    accent = colours[1] if len(colours) > 1 else palette[1]
    if accent == primary:
        accent = palette[1] if palette[1] != primary else DEFAULT_ACCENT
    name = (e.brand or e.product or (brief.names[0] if brief.names else "")).strip() or PLACEHOLDER_NAME
    analytics = not brief.business or brief.business == "SaaS"
    mark = "chart" if analytics and brief.genre != "logo" else "monogram"
    return Brand(
        name=name,
        audience=(e.audience or "").strip() or "operations and finance leaders",
        industry=(e.industry or "").strip(),
        product=(e.product or "").strip() or name,
        primary=primary,
        accent=accent,
        dark=shade(primary, 0.12),
        light=shade(primary, 0.96),
        muted=shade(primary, 0.42),
        mark=mark,
    )


_FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu")]


@lru_cache(maxsize=64)
def font(size: int, *, bold: bool = False) -> ImageFont.ImageFont:
    """A TrueType font at ``size`` px: DejaVu when installed, else Pillow's bundled font."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in _FONT_DIRS:
        candidate = folder / name
        if candidate.exists():
            return ImageFont.truetype(str(candidate), size)
    return ImageFont.load_default(size=size)
