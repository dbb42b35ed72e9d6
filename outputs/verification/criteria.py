"""The deliverable's brief, checked against the delivered file: each acceptance criterion is
passed or failed by reading the file back, or recorded as *not checked* with the reason.

Reads the files with the real libraries (openpyxl, python-docx, python-pptx, pypdf, Pillow,
ffmpeg) and never trusts what the generator said it wrote. A spreadsheet's totals are
recalculated: by LibreOffice when it is installed, and always by evaluating the SUM formulas here.
"""

from __future__ import annotations

import colorsys
import re
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

from outputs.verification import recalc
from outputs.verification.report import VerificationReport
from providers.contracts import Criterion, DeliverableBrief

_STOP = {"a", "an", "the", "of", "for", "and", "to", "in", "on", "our", "my", "with", "about", "new", "your"}
PERIOD_HEADERS = {
    "quarterly": [re.compile(rf"^q{n}\b", re.I) for n in range(1, 5)],
    "monthly": [
        re.compile(rf"^{m}", re.I)
        for m in ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    ],  # fmt: skip
}
WARM = ((0, 70), (330, 360))
# Genres that only name the kind of file: the file's own kind is what is checked.
GENERIC_GENRES = {
    "spreadsheet": ("spreadsheet",),
    "presentation": ("presentation",),
    "document": ("document", "word document", "markdown document"),
    "pdf": ("pdf document", "document"),
    "website": ("website", "web page", "landing page"),
}
FILE_KINDS = {"spreadsheet": (".xlsx", ".csv"), "presentation": (".pptx",), "document": (".docx", ".md"),
              "pdf": (".pdf",), "website": (".html",)}  # fmt: skip
COOL = ((160, 280),)


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _norm(text: str) -> str:
    return " ".join(str(text).replace("\u00a0", " ").split()).lower()


def key_words(phrase: str) -> list[str]:
    """The words of a phrase that must be found: no articles, no short connectors."""
    return [w for w in re.findall(r"[\w&'-]+", phrase.lower()) if w not in _STOP and len(w) > 2]


def mentions(text: str, phrase: str) -> bool:
    words = key_words(phrase) or [phrase.lower()]
    lowered = _norm(text)
    return all(re.search(rf"(?<![\w]){re.escape(w)}", lowered) for w in words)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.headings: list[str] = []
        self.forms: list[dict] = []
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        self._in.append(tag)
        if tag == "form":
            self.forms.append(dict(attrs))

    def handle_endtag(self, tag):
        if tag in self._in:
            while self._in and self._in.pop() != tag:
                pass

    def handle_data(self, data):
        if self._in and self._in[-1] in ("script", "style"):
            return
        self.text.append(data)
        if any(t in ("title", "h1", "h2", "h3") for t in self._in[-2:]):
            self.headings.append(data)


class FileFacts:
    """What one output says, read back from its files once: its text, titles/headings, forms,
    sheet, images — each read lazily and only with the real parsers."""

    def __init__(self, category: str, root: Path, expectations: dict) -> None:
        self.category, self.root, self.expectations = category, root, expectations
        self.text = ""
        self.headings = ""
        self.forms: list[tuple[str, dict, str]] = []
        self.slides: int | None = None
        self.pages: int | None = None
        getattr(self, f"_read_{category}", lambda: None)()

    def _primary(self, suffix: str) -> Path | None:
        name = self.expectations.get("primary")
        if name and name.endswith(suffix):
            return self.root / name
        found = sorted(self.root.glob(f"*{suffix}"))
        return found[0] if found else None

    def _read_website(self) -> None:
        texts, heads = [], []
        for page in sorted(self.root.glob("*.html")):
            parser = _Text()
            parser.feed(page.read_text(encoding="utf-8"))
            texts.append(" ".join(parser.text))
            heads.append(" ".join(parser.headings))
            for form in parser.forms:
                self.forms.append((page.name, form, " ".join(parser.text)))
        self.text, self.headings = " ".join(texts), " ".join(heads)

    def _read_document(self) -> None:
        from docx import Document

        path = self._primary(".docx")
        if path is None:
            md = self._primary(".md")
            text = md.read_text(encoding="utf-8") if md else ""
            self.text = text
            self.headings = " ".join(line.lstrip("# ") for line in text.splitlines() if line.startswith("#"))
            return
        doc = Document(str(path))
        paragraphs = list(doc.paragraphs)
        self.text = (
            " ".join(p.text for p in paragraphs)
            + " "
            + " ".join(c.text for t in doc.tables for r in t.rows for c in r.cells)
        )
        self.headings = " ".join(
            [doc.core_properties.title or ""]
            + [p.text for p in paragraphs if p.style.name.startswith(("Heading", "Title"))]
        )

    def _read_pdf(self) -> None:
        from pypdf import PdfReader

        path = self._primary(".pdf")
        reader = PdfReader(str(path))
        self.pages = len(reader.pages)
        self.text = " ".join(p.extract_text() or "" for p in reader.pages)
        title = (reader.metadata.title if reader.metadata else "") or ""
        self.headings = f"{title} {self.text[:400]}"

    def _read_presentation(self) -> None:
        from pptx import Presentation

        prs = Presentation(str(self._primary(".pptx")))
        self.slides = len(prs.slides)
        texts, titles = [], []
        for slide in prs.slides:
            for shape in slide.shapes:
                if shape.has_text_frame:
                    texts.append(shape.text_frame.text)
            if slide.shapes.title is not None:
                titles.append(slide.shapes.title.text)
        self.text, self.headings = " ".join(texts), " ".join(titles)

    def _read_spreadsheet(self) -> None:
        from openpyxl import load_workbook

        wb = load_workbook(str(self._primary(".xlsx")))
        ws = wb.worksheets[0]
        cells = [str(c.value) for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
        self.text = " ".join(cells)
        self.headings = f"{ws.title} {ws['A1'].value or ''}"

    def _read_image(self) -> None:
        texts = []
        for svg in sorted(self.root.glob("*.svg")):
            tree = ElementTree.parse(svg)  # noqa: S314 — Command wrote this SVG itself
            texts += [t.text or "" for t in tree.iter() if t.tag.endswith("text")]
        self.svg_texts = [_norm(t) for t in texts if t.strip()]
        self.text = " ".join(texts)


def check_brief(*, category: str, root: Path, expectations: dict, report: VerificationReport) -> None:
    """Add one check per criterion of ``expectations["brief"]`` to the report."""
    data = expectations.get("brief")
    if not data:
        return
    brief = DeliverableBrief.model_validate(data)
    facts: dict[str, FileFacts] = {}

    def read() -> FileFacts:
        if "f" not in facts:
            facts["f"] = FileFacts(category, root, expectations)
        return facts["f"]

    for criterion in brief.criteria():
        name = f"Brief: {criterion.text}"
        checker = _CHECKERS.get(criterion.kind)
        verdict = checker(criterion, brief, category, root, expectations, read) if checker else None
        if verdict is None or isinstance(verdict, str) and verdict.startswith("not checked:"):
            why = verdict[len("not checked:") :].strip() if verdict else "Command has no mechanical check for this."
            report.skip(name, why, criterion=criterion.id)
            continue
        report.attempt(name, verdict, criterion=criterion.id)


def check_imported_pictures(*, category: str, root: Path, expectations: dict, report: VerificationReport) -> None:
    """One criterion per imported picture (“Use in a new request”): it is in the delivered file.

    A site passes when one of its pages shows a local file whose bytes hash to the library's record
    of the import; a PDF when one of its pictures decodes to the import's own pixels.
    """
    for ref in expectations.get("imported_pictures") or []:
        name = f"Brief: It places the imported “{ref.get('title', 'picture')}” v{ref.get('version', '?')}"
        criterion = f"imported-picture-{str(ref.get('id', ''))[:8]}"
        if category == "website":
            report.attempt(name, lambda ref=ref: _site_shows(root, ref), criterion=criterion)
        elif category == "pdf" and ref.get("pixels_sha256"):
            report.attempt(name, lambda ref=ref: _pdf_shows(root, expectations, ref), criterion=criterion)
        elif category in _OFFICE_MEDIA and ref.get("pixels_sha256") and _office_file(root, expectations, category):
            report.attempt(name, lambda ref=ref: _office_shows(root, expectations, category, ref), criterion=criterion)
        else:
            report.skip(name, f"Command does not look for pictures inside {_a(category)}.", criterion=criterion)


class _Sources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources += [v for k, v in attrs if k == "src" and v]


def _site_shows(root: Path, ref: dict) -> str:
    from outputs.generators.base import sha256_of

    shown = []
    for page in sorted(root.glob("*.html")):
        parser = _Sources()
        parser.feed(page.read_text(encoding="utf-8"))
        for src in parser.sources:
            target = (root / src.split("#")[0].split("?")[0]).resolve()
            if target.is_relative_to(root.resolve()) and target.is_file():
                if sha256_of(target) == ref["sha256"]:
                    return f"{page.name} shows {src}, byte for byte the imported {ref.get('file', 'picture')}"
                shown.append(src)
    raise ValueError(f"no page shows the imported picture (pages show {sorted(set(shown)) or 'no local pictures'})")


def pixels_sha256(picture) -> str:
    """The hash of a picture's decoded RGBA pixels and size (``picture``: a path, a file object or
    a PIL image).
    A picture placed in a PDF decodes to the same pixels, though its file bytes are re-wrapped."""
    import hashlib

    from PIL import Image

    im = picture if isinstance(picture, Image.Image) else Image.open(picture)
    try:
        rgba = im.convert("RGBA")
        return hashlib.sha256(f"{rgba.size[0]}x{rgba.size[1]}:".encode() + rgba.tobytes()).hexdigest()
    finally:
        if im is not picture:
            im.close()


def _pdf_shows(root: Path, expectations: dict, ref: dict) -> str:
    from pypdf import PdfReader

    name = expectations.get("primary")
    path = root / name if name and name.endswith(".pdf") else sorted(root.glob("*.pdf"))[0]
    seen = 0
    for number, page in enumerate(PdfReader(str(path)).pages, start=1):
        for placed in page.images:
            seen += 1
            if pixels_sha256(placed.image) == ref["pixels_sha256"]:
                w, h = placed.image.size
                return f"page {number} shows a {w}×{h} picture with the imported picture's own pixels"
    raise ValueError(f"none of the PDF's {seen} picture(s) has the imported picture's pixels")


_OFFICE_MEDIA = {"document": (".docx", "word/media/"), "presentation": (".pptx", "ppt/media/")}


def _office_file(root: Path, expectations: dict, category: str) -> Path | None:
    suffix = _OFFICE_MEDIA[category][0]
    name = expectations.get("primary")
    if name and name.endswith(suffix):
        return root / name
    found = sorted(root.glob(f"*{suffix}"))
    return found[0] if found else None


def _office_shows(root: Path, expectations: dict, category: str, ref: dict) -> str:
    """A DOCX or PPTX passes when one of the pictures stored in the file decodes to the import's
    own pixels (read from the package itself, not from what the generator says it placed)."""
    import io
    import zipfile

    path = _office_file(root, expectations, category)
    folder = _OFFICE_MEDIA[category][1]
    seen = 0
    with zipfile.ZipFile(path) as package:
        for member in package.namelist():
            if not member.startswith(folder):
                continue
            seen += 1
            try:
                pixels = pixels_sha256(io.BytesIO(package.read(member)))
            except (OSError, ValueError):
                continue  # a picture Pillow cannot read (a vector file) is not the import
            if pixels == ref["pixels_sha256"]:
                return f"{path.name} holds {member}, with the imported picture's own pixels"
    raise ValueError(f"none of the {seen} picture(s) in {path.name} has the imported picture's pixels")


# Each checker returns None / "not checked: why" when it cannot check, else a callable that
# returns the evidence or raises with what it found instead.


def _genre(c: Criterion, brief, category, root, expectations, read):
    if category == "image" and c.value == "logo":
        return lambda: _is_logo(root, expectations)
    if category in ("image", "video", "audio"):
        return f"not checked: what {_a(category)} shows or sounds like is not judged mechanically offline."
    label = c.value.split(" for a ")[0]
    if category == "website" and brief.business and brief.business != "SaaS":
        label = brief.business  # a local business's site says what the business is
    elif label in GENERIC_GENRES.get(category, ()):
        return lambda: _kind_of_file(category, root, expectations, label)
    elif category == "website":
        return "not checked: a site's genre is not read mechanically offline."

    def check():
        facts = read()
        if brief.genre == "onboarding guide":
            steps = [s for s in ("first day", "first week") if s in _norm(facts.headings)]
            if len(steps) < 2 or "onboarding" not in _norm(facts.text):
                raise ValueError("the headings do not follow an onboarding structure (first day, first week)")
            return "says onboarding; headings cover the first day and first week"
        if not mentions(facts.headings, label):
            raise ValueError(f"its title and headings never say “{label}”")
        return f"title or headings say “{label}”"

    return check


def _subject(c: Criterion, brief, category, root, expectations, read):
    if category in ("image", "video", "audio"):
        return f"not checked: what {_a(category)} is about is not read mechanically offline."

    def check():
        facts = read()
        if not mentions(facts.headings, c.value):
            raise ValueError(f"its title and headings never mention “{c.value}”")
        return f"title or headings mention “{c.value}”; whether the prose fits is not checked"

    return check


def _name(c: Criterion, brief, category, root, expectations, read):
    if category in ("video", "audio"):
        return f"not checked: text inside {_a(category)} is not read mechanically."

    def check():
        facts = read()
        if category == "image":
            if _norm(c.value) not in facts.svg_texts:
                raise ValueError(f"the logo's text is {facts.svg_texts or 'missing'}, not “{c.value}”")
            return f"the logo's text is “{c.value}”"
        if _norm(c.value) not in _norm(facts.text):
            raise ValueError(f"“{c.value}” does not appear")
        return f"“{c.value}” appears"

    return check


def _location(c: Criterion, brief, category, root, expectations, read):
    return (
        _name(c, brief, category, root, expectations, read)
        if category != "image"
        else ("not checked: a logo need not name its town.")
    )


def _count(c: Criterion, brief, category, root, expectations, read):
    from outputs.generators.spreadsheet import ROW_NOUNS

    if category != "spreadsheet":
        return f"not checked: Command counts {c.target} only in spreadsheets."
    if c.target not in (*ROW_NOUNS, "tiers", "plans", "hours"):
        return f"not checked: {c.value} {c.target} is not a number of rows Command can count."

    def check():
        table = recalc.table(_xlsx(root, expectations))
        n = len(table.data_rows)
        if n != int(c.value):
            raise ValueError(f"{n} {c.target} rows, expected {c.value}")
        return f"{n} rows: " + ", ".join(str(r[0]) for r in table.data_rows[:6])

    return check


def _period(c: Criterion, brief, category, root, expectations, read):
    if category != "spreadsheet" or c.value not in (*PERIOD_HEADERS, "weekly"):
        return "not checked: periods are checked in spreadsheet headers only (quarterly, monthly or weekly)."

    def check():
        table = recalc.table(_xlsx(root, expectations))
        headers = [str(h or "") for h in table.headers]
        if c.value == "weekly":
            weeks = [h for h in headers if re.match(r"^(?:week|wk)\s*\d+", h, re.I)]
            if len(weeks) < 4:
                raise ValueError(f"the header row {headers} has {len(weeks)} week columns")
            return f"{len(weeks)} week columns"
        missing = [p.pattern for p in PERIOD_HEADERS[c.value] if not any(p.search(h) for h in headers)]
        if missing:
            raise ValueError(f"the header row {headers} lacks {len(missing)} {c.value} column(s)")
        return f"{c.value} columns: {', '.join(h for h in headers[1:] if h)}"

    return check


def _totals(c: Criterion, brief, category, root, expectations, read):
    if category != "spreadsheet":
        return "not checked: totals are recalculated in spreadsheets only."
    return lambda: recalc.check_totals(_xlsx(root, expectations))


def _colour(c: Criterion, brief, category, root, expectations, read):
    from outputs.generators.brand import hex_to_rgb, parse_colour

    want = parse_colour(c.value)
    if want is None:
        return f"not checked: “{c.value}” is not a colour Command knows."
    rgb = hex_to_rgb(want)
    if colorsys.rgb_to_hls(*(v / 255 for v in rgb))[2] < 0.2:
        return f"not checked: {c.value} has no hue to measure."
    target = _hue(rgb)
    if category == "image" and len(brief.colours) > 1:

        def present():  # several colours asked for: each must be a real share of the picture
            share = hue_share(_image(root, expectations), target)
            if share < 0.05:
                raise ValueError(f"{c.value} ({target:.0f}°) is {share:.0%} of the coloured pixels")
            return f"{c.value} is {share:.0%} of the coloured pixels"

        return present
    if category == "image":

        def check():
            hue = dominant_hue(_image(root, expectations))
            if hue is None or _hue_distance(hue, target) > 30:
                raise ValueError(
                    f"the dominant hue is {hue if hue is None else round(hue)}°, {c.value} is {target:.0f}°"
                )
            return f"dominant hue {hue:.0f}° (≈ {c.value})"

        return check
    if category == "website":
        return lambda: _css_has(root, want)
    return "not checked: colours are checked in images and sites only."


def _palette(c: Criterion, brief, category, root, expectations, read):
    ranges = {"warm": WARM, "cool": COOL}.get(c.value)
    if ranges is None:
        return f"not checked: a “{c.value}” palette has no mechanical test."
    if category not in ("image", "website"):
        return "not checked: palettes are checked in images and sites only."

    def check():
        if category == "image":
            hue = dominant_hue(_image(root, expectations))
        else:
            m = re.search(r"--primary:\s*(#[0-9a-fA-F]{6})", (root / "styles.css").read_text(encoding="utf-8"))
            from outputs.generators.brand import hex_to_rgb

            hue = _hue(hex_to_rgb(m.group(1))) if m else None
        if hue is None or not any(lo <= hue <= hi for lo, hi in ranges):
            raise ValueError(f"the dominant hue is {'none' if hue is None else f'{hue:.0f}°'}, not {c.value}")
        return f"dominant hue {hue:.0f}° is {c.value}"

    return check


def _theme(c: Criterion, brief, category, root, expectations, read):
    if category != "website":
        return "not checked: themes are checked on sites only."

    def check():
        css = (root / "styles.css").read_text(encoding="utf-8")
        dark = "Dark theme" in css
        if dark != (c.value == "dark"):
            raise ValueError(f"the stylesheet is {'dark' if dark else 'light'}")
        return f"{c.value} stylesheet"

    return check


def _duration(c: Criterion, brief, category, root, expectations, read):
    if category not in ("video", "audio"):
        return "not checked: only video and audio have a duration."

    def check():
        from outputs.verification.media import _decoded_seconds

        suffix = ".mp4" if category == "video" else Path(expectations.get("primary") or ".mp3").suffix
        path = root / expectations["primary"] if expectations.get("primary") else next(root.glob(f"*{suffix}"))
        secs = _decoded_seconds(path)
        want = float(c.value)
        if abs(secs - want) > want * 0.1:
            raise ValueError(f"lasts {secs:.2f} s, outside {want:g} s ±10 %")
        return f"lasts {secs:.2f} s"

    return check


def _counted(unit: str, where: str, category_needed: str):
    """A check that the file has exactly the asked number of `unit`s (pages of a PDF, slides of a deck)."""

    def criterion(c: Criterion, brief, category, root, expectations, read):
        if category != category_needed:
            return f"not checked: {unit}s are counted in {where} only."

        def check():
            n = getattr(read(), f"{unit}s")
            if n != int(c.value):
                raise ValueError(f"{n} {unit}s, expected {c.value}")
            return f"{n} {unit}{'s' if n != 1 else ''}"

        return check

    return criterion


_pages = _counted("page", "PDFs", "pdf")
_slides = _counted("slide", "decks", "presentation")


def _section(c: Criterion, brief, category, root, expectations, read):
    if category not in ("website", "document", "pdf", "presentation"):
        return "not checked: sections are checked in sites, documents and decks only."

    def check():
        facts = read()
        if "form" in c.value and category == "website":
            if not facts.forms:
                raise ValueError("no page has a form")
            page, form, text = facts.forms[0]
            action = (form.get("action") or "").strip()
            if action.startswith(("http://", "https://", "mailto:")):
                return f"{page} has a form that posts to {action}"
            if "mock" not in _norm(text):
                raise ValueError(f"the form on {page} posts nowhere ({action or 'no action'}) and does not say so")
            return f"{page} has a form; it posts nowhere yet and the page says it is a mock"
        word = c.value.split()[0]
        if not mentions(facts.headings, word):
            raise ValueError(f"no heading mentions “{word}”")
        return f"a heading mentions “{word}”"

    return check


def _audience(c: Criterion, brief, category, root, expectations, read):
    return f"not checked: whether the writing suits {c.value} needs a reader; Command does not judge it offline."


_CHECKERS = {
    "genre": _genre,
    "subject": _subject,
    "name": _name,
    "location": _location,
    "count": _count,
    "period": _period,
    "totals": _totals,
    "colour": _colour,
    "palette": _palette,
    "theme": _theme,
    "duration": _duration,
    "pages": _pages,
    "slides": _slides,
    "section": _section,
    "audience": _audience,
}


def _xlsx(root: Path, expectations: dict) -> Path:
    name = expectations.get("primary")
    if name and name.endswith(".xlsx"):
        return root / name
    return sorted(root.glob("*.xlsx"))[0]


def _image(root: Path, expectations: dict) -> Path:
    """The picture the user gets first: the primary PNG (the logo for a logo, the card for a
    banner), else the logo's PNG when the primary is vector."""
    primary = expectations.get("primary", "")
    if primary.endswith(".png") and (root / primary).is_file():
        return root / primary
    return root / "logo.png"


def _hue(rgb) -> float:
    h, _l, _s = colorsys.rgb_to_hls(*(v / 255 for v in rgb))
    return h * 360


def _hue_distance(a: float, b: float) -> float:
    d = abs(a - b) % 360
    return min(d, 360 - d)


def dominant_hue(path: Path) -> float | None:
    """The most common hue (10° bins) among the image's opaque, coloured pixels; None if grey."""
    bins = _hue_bins(path)
    if not any(bins):
        return None
    top = max(range(36), key=lambda i: bins[i])
    return top * 10 + 5


def hue_share(path: Path, target: float, *, within: float = 25) -> float:
    """The share of the image's coloured pixels whose hue is within ``within``° of ``target``."""
    bins = _hue_bins(path)
    total = sum(bins)
    near = sum(n for i, n in enumerate(bins) if _hue_distance(i * 10 + 5, target) <= within)
    return near / total if total else 0.0


def _hue_bins(path: Path) -> list[int]:
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGBA")
        im.thumbnail((200, 200))
        bins = [0] * 36
        data = im.tobytes()
        for i in range(0, len(data), 4):
            r, g, b, a = data[i : i + 4]
            if a < 128:
                continue
            h, light, sat = colorsys.rgb_to_hls(r / 255, g / 255, b / 255)
            if sat < 0.25 or light < 0.08 or light > 0.92:
                continue
            bins[int(h * 36) % 36] += 1
    return bins


def _css_has(root: Path, hex_value: str) -> str:
    css = (root / "styles.css").read_text(encoding="utf-8").lower()
    if hex_value.lower() not in css:
        raise ValueError(f"{hex_value} is not in the stylesheet")
    return f"{hex_value} is in the stylesheet"


def _kind_of_file(category: str, root: Path, expectations: dict, label: str) -> str:
    primary = root / (expectations.get("primary") or "")
    if not primary.is_file() or primary.suffix.lower() not in FILE_KINDS[category]:
        raise ValueError(f"the delivered file {primary.name or '(none)'} is not {_a(label)}")
    return f"{primary.name} is {_a(label)} file"


def _is_logo(root: Path, expectations: dict) -> str:
    """A logo as delivered: its primary file is the logo itself (not a banner), the picture has a
    transparent background to sit on any page, and the vector version carries a word mark."""
    from PIL import Image

    primary = expectations.get("primary", "")
    if not primary.startswith("logo."):
        raise ValueError(f"the file delivered first is {primary}, not the logo")
    with Image.open(root / "logo.png") as im:
        rgba = im.convert("RGBA")
        w, h = rgba.size
        corners = [rgba.getpixel(xy)[3] for xy in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1))]
    if any(corners):
        raise ValueError("logo.png has an opaque background")
    svg = ElementTree.parse(root / "logo.svg")  # noqa: S314 — written or sanitised by Command
    if not any((t.text or "").strip() for t in svg.iter() if t.tag.endswith("text")):
        raise ValueError("logo.svg has no word mark")
    return f"{primary} first; logo.png on a transparent background; logo.svg carries a word mark"
