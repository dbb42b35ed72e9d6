"""Website generator: a multi-file static marketing site (two pages, stylesheet, SVG assets).

No JavaScript: the site must work inside a sandboxed preview frame and on any static host.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from string import Template

from outputs.generators.base import GeneratedOutput, GenerationRequest, describe_files, looks_like_a_logo
from outputs.generators.brand import Brand, brand_from
from outputs.generators.copywriting import Copy, copy_for
from outputs.generators.image import logo_svg, mark_svg, render_social_card

CSS = Template((Path(__file__).parent / "site_template" / "styles.css").read_text(encoding="utf-8"))
DARK_CSS = (Path(__file__).parent / "site_template" / "dark.css").read_text(encoding="utf-8")


def wants_dark(request: GenerationRequest) -> bool:
    theme = request.deliverable.details.get("theme", "")
    return theme == "dark" or "dark" in request.format_hints


def hero_svg(brand: Brand) -> str:
    bars = "".join(
        f'<rect x="{60 + i * 52}" y="{250 - h}" width="32" height="{h}" rx="6" '
        f'fill="{brand.primary if i % 2 else brand.accent}" opacity="{0.55 + i * 0.06:.2f}"/>'
        for i, h in enumerate([70, 110, 90, 150, 130, 185])
    )
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="480" height="360" viewBox="0 0 480 360"
  role="img" aria-label="Dashboard illustration">
  <rect x="10" y="10" width="460" height="340" rx="22" fill="#ffffff" stroke="#e6e8ee"/>
  <rect x="10" y="10" width="460" height="44" rx="22" fill="{brand.light}"/>
  <circle cx="38" cy="32" r="6" fill="{brand.accent}"/><circle cx="58" cy="32" r="6" fill="{brand.primary}"
    opacity=".5"/>
  {bars}
  <polyline points="60,300 120,280 180,288 240,250 300,262 360,220 420,200" fill="none" stroke="{brand.dark}"
    stroke-width="4" stroke-linecap="round"/>
  <rect x="360" y="80" width="90" height="54" rx="10" fill="{brand.dark}"/>
  <text x="374" y="114" font-family="Helvetica, Arial, sans-serif" font-size="20" font-weight="700"
    fill="#ffffff">+38%</text>
</svg>
"""


def shop_svg(brand: Brand, alt: str) -> str:
    """A calm storefront illustration for a local business (no dashboards for a bakery)."""
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="480" height="360" viewBox="0 0 480 360"
  role="img" aria-label="{escape(alt)}">
  <rect x="10" y="10" width="460" height="340" rx="22" fill="{brand.light}"/>
  <rect x="90" y="120" width="300" height="190" rx="8" fill="#ffffff" stroke="{brand.muted}" stroke-width="3"/>
  <path d="M70 120 L110 70 H370 L410 120 Z" fill="{brand.primary}"/>
  <path d="M70 120 Q90 145 110 120 Q130 145 150 120 Q170 145 190 120 Q210 145 230 120 Q250 145 270 120 Q290 145 310 120
    Q330 145 350 120 Q370 145 390 120 Q400 135 410 120" fill="{brand.accent}"/>
  <rect x="120" y="170" width="110" height="90" rx="6" fill="{brand.light}" stroke="{brand.muted}"/>
  <rect x="260" y="170" width="90" height="140" rx="6" fill="{brand.accent}" opacity=".85"/>
  <circle cx="335" cy="245" r="5" fill="{brand.dark}"/>
</svg>
"""


@dataclass
class Pictures:
    """Pictures given to the site (an imported logo or picture), copied into its assets."""

    logo: str = "assets/logo.svg"
    hero: str = ""
    hero_alt: str = ""
    copied: list[str] = field(default_factory=list)
    placed: list[str] = field(default_factory=list)  # what the user is told: where each went


def place_pictures(request: GenerationRequest, dest: Path) -> Pictures:
    """Copy the request's pictures into ``assets/`` byte for byte: a logo goes in every page's
    header, another picture (the first) is the home page's hero."""
    pictures = Pictures()
    name = brand_from(request).name
    for n, source in enumerate(p for p in request.source_images if Path(p).is_file()):
        source = Path(source)
        stem = re.sub(r"[^a-z0-9]+", "-", source.stem.lower()).strip("-")[:40] or "picture"
        rel = f"assets/imported-{stem}{'-' + str(n) if n else ''}{source.suffix.lower()}"
        shutil.copyfile(source, dest / rel)
        pictures.copied.append(rel)
        if pictures.logo == Pictures.logo and looks_like_a_logo(source, request):
            pictures.logo = rel
            pictures.placed.append(f"{rel} is the logo in every page's header")
        elif not pictures.hero:
            pictures.hero, pictures.hero_alt = rel, f"A picture of {name}"
            pictures.placed.append(f"{rel} is the home page's main picture")
    return pictures


def _size(src: str) -> str:
    """The header logo's width and height attributes (the stylesheet sets its height)."""
    return ' width="220" height="64"' if src == Pictures.logo else ""


def _header(brand: Brand, copy: Copy, current: str, logo: str = "assets/logo.svg") -> str:
    def link(href: str, label: str) -> str:
        here = ' aria-current="page"' if href == current else ""
        return f'<a href="{href}"{here}>{label}</a>'

    labels = ("Product", "How it works", "Customers") if not copy.steps_heading else ("About", "Visit us", "Reviews")
    return f"""<a class="skip" href="#main">Skip to content</a>
<header class="site"><div class="container">
  <a class="logo" href="index.html"><img src="{escape(logo)}" alt="{escape(brand.name)}"{_size(logo)}></a>
  <nav aria-label="Main">{link("index.html#features", labels[0])}{link("index.html#how", labels[1])}
    {link("index.html#customers", labels[2])}<a class="button primary" href="contact.html">{escape(copy.cta)}</a>
  </nav>
</div></header>"""


def _page(brand: Brand, title: str, description: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{escape(title)}</title>
  <meta name="description" content="{escape(description)}">
  <meta property="og:title" content="{escape(title)}">
  <meta property="og:image" content="assets/og-image.png">
  <link rel="icon" href="assets/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="styles.css">
</head>
<body>
{body}
<footer class="site"><div class="container">
  <span>© {escape(brand.name)}. All rights reserved.</span>
  <span><a href="index.html">Home</a> · <a href="contact.html">Contact</a></span>
</div></footer>
</body>
</html>
"""


def index_html(brand: Brand, copy: Copy, pictures: Pictures | None = None) -> str:
    pictures = pictures or Pictures()
    e = escape
    features = "".join(
        f'<article class="card"><div class="icon" aria-hidden="true">{e(t[:1])}</div>'
        f"<h3>{e(t)}</h3><p>{e(b)}</p></article>"
        for t, b in copy.features
    )
    steps = "".join(f'<article class="card"><h3>{e(t)}</h3><p>{e(b)}</p></article>' for t, b in copy.steps)
    metrics = "".join(
        f'<div class="metric"><strong>{e(v)}</strong><span>{e(label)}</span></div>' for v, label in copy.metrics
    )
    proof = f'<section class="proof" aria-label="Results"><div class="container">{metrics}</div></section>\n'
    proof = proof if copy.metrics else ""
    extras = "".join(
        f'<section class="block" id="{e(h.lower().replace(" ", "-"))}"><div class="container">'
        f'<div class="section-head"><h2>{e(h)}</h2><p class="lede">{e(t)}</p></div></div></section>\n'
        for h, t in copy.extra_sections
    )
    hero_alt = copy.hero_alt or f"An illustration of the {brand.name} dashboard"
    hero = f'<img src="assets/hero.svg" alt="{e(hero_alt)}" width="480" height="360">'
    if pictures.hero:
        hero = f'<img src="{e(pictures.hero)}" alt="{e(pictures.hero_alt)}" class="picture">'
    body = f"""{_header(brand, copy, "index.html", pictures.logo)}
<main id="main">
<section class="hero"><div class="container">
  <div>
    <span class="eyebrow">{e(copy.tagline)}</span>
    <h1>{e(copy.headline)}</h1>
    <p class="lede">{e(copy.subheadline)}</p>
    <div class="actions"><a class="button primary" href="contact.html">{e(copy.cta)}</a><a class="button ghost"
      href="#how">See how it works</a></div>
  </div>
  <figure>{hero}</figure>
</div></section>
{proof}<section class="block" id="features"><div class="container">
  <div class="section-head"><h2>{e(copy.features_heading or f"Built for {brand.audience}")}</h2><p class="lede">{
        e(copy.features_lede or "Everything you need to move from reporting to deciding.")
    }</p></div>
  <div class="grid">{features}</div>
</div></section>
<section class="block alt" id="how"><div class="container">
  <div class="section-head"><h2>{e(copy.steps_heading or "How it works")}</h2><p class="lede">{
        e(copy.steps_lede or "Three steps, measured in days rather than quarters.")
    }</p></div>
  <div class="grid steps">{steps}</div>
</div></section>
{extras}<section class="block" id="customers"><div class="container">
  <blockquote>{e(copy.quote)}<footer>— {e(copy.quote_by)}</footer></blockquote>
</div></section>
<section class="block"><div class="container">
  <div class="cta"><div><h2>Ready when you are</h2><p>{e(copy.closing)}</p></div><a class="button primary"
    href="contact.html">{e(copy.cta)}</a></div>
</div></section>
</main>"""
    return _page(brand, f"{brand.name} — {copy.tagline}", copy.subheadline, body)


COMPANY_FIELD = '<label>Company <input name="company" autocomplete="organization"></label>'
BOOKING_FIELDS = """<label>Date <input name="date" type="date" required></label>
    <label>Time <input name="time" type="time" required></label>
    <label>Number of people <input name="people" type="number" min="1" max="20" value="2"></label>"""
# The form posts nowhere yet, and the page says so (a static site has no server to receive it).
MOCK_NOTE = (
    "This form is a mock: it does not send anything yet. Connect it to your email or booking system before publishing."
)


def contact_html(brand: Brand, copy: Copy, pictures: Pictures | None = None) -> str:
    pictures = pictures or Pictures()
    e = escape
    lede = copy.contact_lede or (
        f"Tell us about your team and what you need to decide faster. A specialist from {brand.name} "
        "replies within one business day."
    )
    body = f"""{_header(brand, copy, "contact.html", pictures.logo)}
<main id="main">
<section class="block"><div class="container">
  <div class="section-head"><span class="eyebrow">Contact</span><h1>{e(copy.cta)}</h1>
  <p class="lede">{e(lede)}</p></div>
  <form class="contact{" booking" if copy.booking else ""}" action="#" method="post">
    <label>Name <input name="name" autocomplete="name" required></label>
    <label>Email <input name="email" type="email" autocomplete="email" required></label>
    {BOOKING_FIELDS if copy.booking else COMPANY_FIELD}
    <label>{"Anything we should know?" if copy.booking else "What would you like to achieve?"} <textarea
      name="message" rows="5"></textarea></label>
    <button class="button primary" type="submit">{"Request booking" if copy.booking else "Send"}</button>
  </form>
  <p class="form-note" id="form-mock">{MOCK_NOTE}</p>
</div></section>
</main>"""
    return _page(brand, f"Contact {brand.name}", f"Talk to {brand.name}", body)


def generate(request: GenerationRequest, dest: Path) -> GeneratedOutput:
    brand = brand_from(request)
    copy = copy_for(request, brand)
    dark = wants_dark(request)
    (dest / "assets").mkdir(parents=True, exist_ok=True)
    pictures = place_pictures(request, dest)
    written = {
        "index.html": index_html(brand, copy, pictures),
        "contact.html": contact_html(brand, copy, pictures),
        "styles.css": CSS.substitute(
            primary=brand.primary, accent=brand.accent, dark=brand.dark, light=brand.light, muted=brand.muted
        )
        + (DARK_CSS if dark else ""),
        "assets/logo.svg": logo_svg(brand, on_dark=dark),
        "assets/favicon.svg": mark_svg(brand),
        "assets/hero.svg": shop_svg(brand, copy.hero_alt) if copy.hero_alt else hero_svg(brand),
    }
    for rel, text in written.items():
        (dest / rel).write_text(text, encoding="utf-8")
    # The sharing card doubles as the site's thumbnail in the asset library.
    render_social_card(brand, copy.headline, copy.tagline, dest / "assets" / "og-image.png", width=1200, height=630)
    written["assets/og-image.png"] = None
    files = describe_files(dest, [dest / rel for rel in [*written, *pictures.copied]])
    return GeneratedOutput(
        category="website",
        deliverable_id=request.deliverable.id,
        title=request.title,
        root=str(dest),
        primary="index.html",
        files=files,
        metadata={
            "notes": copy.notes,
            "pages": ["index.html", "contact.html"],
            "theme": "dark" if dark else "light",
            "brand": brand.name,
            "file_count": len(files),
            **({"placed_pictures": pictures.placed} if pictures.placed else {}),
        },
        expectations={"pages": ["index.html", "contact.html"], "texts": {"index.html": [copy.headline, brand.name]}},
        content_source=request.content_source,
        source_prompt=request.source_prompt,
    )
