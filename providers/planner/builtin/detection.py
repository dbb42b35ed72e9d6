"""Deliverables and format hints: what the request asks Command to produce, and in which form.

Works clause by clause ("a landing page + a pdf proposal" is two clauses) so that a format word
attaches to the thing next to it, and so that several deliverables in one ask stay separate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from providers.contracts import FormatHint, OutputCategory

C = OutputCategory

# (pattern, category, title, kind). Kind "doc" is a document-like noun whose category follows its
# format (a "pdf proposal" is a PDF; a "proposal as a Word doc" is a document).
_NOUNS: list[tuple[str, OutputCategory, str, str]] = [
    (r"landing[ -]?pages?", C.WEBSITE, "Landing page", "site"),
    (r"home ?pages?|web ?pages?", C.WEBSITE, "Web page", "site"),
    (r"portfolio(?: site| website)?", C.WEBSITE, "Portfolio site", "site"),
    (r"web ?sites?|(?<![\w-])sites?(?![\w-])|microsite", C.WEBSITE, "Website", "site"),
    (r"dashboards?", C.WEBSITE, "Dashboard", "site"),
    (r"web ?apps?|(?<![\w-])apps?(?![\w-])", C.WEBSITE, "Web app", "site"),
    (r"pitch ?decks?", C.PRESENTATION, "Pitch deck", "slides"),
    (
        r"slide ?decks?|slideshows?|presentations?|(?<![\w-])slides?(?![\w-])|(?<![\w-])decks?(?![\w-])|keynote",
        C.PRESENTATION,
        "Presentation",
        "slides",
    ),
    (
        r"financial model|spreadsheets?|workbooks?|budgets?|forecasts?|trackers?|excel sheets?|"
        r"(?<![\w-])sheets?(?![\w-])",
        C.SPREADSHEET,
        "Spreadsheet",
        "sheet",
    ),
    # An invoice is a document unless the words around it make it a sheet ("an Excel invoice").
    (
        r"(?:(?<=excel )|(?<=xlsx )|(?<=spreadsheet ))invoices?|invoices?(?=\s+(?:spreadsheets?|sheets?|workbooks?|"
        r"in excel|as (?:an? )?(?:excel|xlsx|spreadsheet)))",
        C.SPREADSHEET,
        "Invoice",
        "sheet",
    ),
    (r"logos?", C.IMAGE, "Logo", "image"),
    (r"(?:instagram|social(?: media)?|linkedin|facebook) posts?", C.IMAGE, "Social post", "image"),
    (
        r"hero images?|banners?|posters?|illustrations?|icons?|thumbnails?|infographics?|wallpapers?|mockups?|avatars?",
        C.IMAGE,
        "Image",
        "image",
    ),
    (r"images?|pictures?|photos?|graphics?", C.IMAGE, "Image", "image"),
    (
        r"explainer videos?|videos?|animations?|trailers?|(?<![\w-])clips?(?![\w-])|reels?|commercials?",
        C.VIDEO,
        "Video",
        "video",
    ),
    (
        r"podcast(?: episode)?s?|voice-?overs?|narrations?|jingles?|soundtracks?|audio(?: clips?| files?)?|"
        r"sound effects?|music",
        C.AUDIO,
        "Audio",
        "audio",
    ),
    (r"proposals?", C.DOCUMENT, "Proposal", "doc"),
    # "one page" ending a clause is the noun ("make a one pager" is spelt "one page" by then).
    (r"one[- ]pagers?|(?<=a )one[- ]page(?=\s*$|\s+(?:about|on|for|covering)\b)", C.DOCUMENT, "One-pager", "doc"),
    (r"white ?papers?", C.DOCUMENT, "Whitepaper", "doc"),
    (r"brochures?|flyers?", C.DOCUMENT, "Brochure", "doc"),
    (r"invoices?", C.DOCUMENT, "Invoice", "doc"),
    (r"handouts?|worksheets?|one-sheets?", C.DOCUMENT, "Handout", "doc"),
    (r"resumes?|(?<![\w-])cv(?![\w-])", C.DOCUMENT, "Résumé", "doc"),
    (r"reports?", C.DOCUMENT, "Report", "doc"),
    (r"cover letters?|letters?", C.DOCUMENT, "Letter", "doc"),
    (r"memos?", C.DOCUMENT, "Memo", "doc"),
    (r"blog posts?|articles?|essays?", C.DOCUMENT, "Article", "doc"),
    (r"(?:short )?stor(?:y|ies)|poems?|scripts?|listings?|speech(?:es)?", C.DOCUMENT, "Text", "doc"),
    (r"newsletters?", C.DOCUMENT, "Newsletter", "doc"),
    (r"contracts?|agreements?", C.DOCUMENT, "Contract", "doc"),
    (r"handbooks?|manuals?|(?<![\w-])guides?(?![\w-])|e-?books?", C.DOCUMENT, "Guide", "doc"),
    (r"summary|summaries|briefs?|outlines?|meeting notes", C.DOCUMENT, "Summary", "doc"),
    (r"documents?|(?<![\w.-])docs?(?![\w-])", C.DOCUMENT, "Document", "doc"),
]
_NOUN_RES = [(re.compile(rf"(?<![\w-])(?:{p})(?![\w-])"), cat, title, kind) for p, cat, title, kind in _NOUNS]

# Documents that are conventionally a PDF when no format is named.
_PDF_BY_DEFAULT = {"Brochure", "Handout", "Invoice", "One-pager", "Whitepaper", "Résumé"}

# (pattern, format value, the category a bare mention stands for)
_FORMATS: list[tuple[str, str, OutputCategory]] = [
    (r"pdfs?", "pdf", C.PDF),
    (r"\.?docx|word (?:doc|document|file)s?|ms word|(?<=in )word|(?<=as a )word", "docx", C.DOCUMENT),
    (r"markdown|\.md(?![\w])", "md", C.DOCUMENT),
    (r"\.?pptx|power ?points?", "pptx", C.PRESENTATION),
    (r"\.?xlsx|excel(?: files?)?", "xlsx", C.SPREADSHEET),
    (r"\.?csv", "csv", C.SPREADSHEET),
    (r"\.?png", "png", C.IMAGE),
    (r"\.?jpe?g", "jpg", C.IMAGE),
    (r"\.?svg", "svg", C.IMAGE),
    (r"\.?webp", "webp", C.IMAGE),
    (r"\.?mp4", "mp4", C.VIDEO),
    (r"\.?gif", "gif", C.VIDEO),
    (r"\.?mp3", "mp3", C.AUDIO),
    (r"\.?wav", "wav", C.AUDIO),
    (r"\.?html", "html", C.WEBSITE),
]
# Not inside a file name: "index.html" names a file, it does not ask for HTML.
_FORMAT_RES = [(re.compile(rf"(?<![\w.-])(?:{p})(?![\w-])"), value, cat) for p, value, cat in _FORMATS]

COMPATIBLE = {
    "doc": {"pdf", "docx", "md"},
    "slides": {"pptx", "pdf"},
    "sheet": {"xlsx", "csv"},
    "image": {"png", "jpg", "svg", "webp"},
    "video": {"mp4", "gif"},
    "audio": {"mp3", "wav"},
    "site": {"html"},
}
_DEFAULT_FORMAT = {"site": "html", "slides": "pptx", "sheet": "xlsx", "image": "png", "video": "mp4", "audio": "mp3"}
FORMAT_NAMES = {
    "pdf": "PDF",
    "docx": "Word (.docx)",
    "md": "Markdown (.md)",
    "pptx": "PowerPoint (.pptx)",
    "xlsx": "Excel (.xlsx)",
    "csv": "CSV",
    "png": "PNG",
    "jpg": "JPEG",
    "svg": "SVG",
    "webp": "WebP",
    "mp4": "MP4",
    "gif": "GIF",
    "mp3": "MP3",
    "wav": "WAV",
    "html": "HTML",
}

_CLAUSE_SPLIT = re.compile(
    r"\s*(?:\+|&|;|,|\n|\bas well as\b|\band also\b|\band then\b|\band\b|\bplus\b|\balso\b|\bthen\b)\s*"
)
_THEME = re.compile(r"\b(dark|light)(?:[- ](?:theme|mode|background|colou?r scheme))\b")
_LENGTH = re.compile(r"\b(one|two|three|four|five|six|seven|eight|nine|ten|\d{1,2})[- ](page|slide|minute|second)s?\b")
# "…, pdf pls": a format on its own with nothing but politeness around it.
_FILLER_ONLY = re.compile(r"^\s*(?:(?:as|in|a|an|the|pls|plz|please|thanks|thx|asap|too|format|file|version|ok)\s*)*$")
_ONLY_LENGTH = re.compile(
    r"^\s*(?:one|two|three|four|five|six|seven|eight|nine|ten|\d{1,2})[- ]"
    r"(?:page|slide|minute|second)s?\s*(?:long)?\s*$"
)
_TOPIC = re.compile(
    r"\b(?:about|on|of|for|from|with|describing|explaining|summari[sz]ing|based on|covering|using|into|in|inside|to)\b"
)
_ATTACH_BACK = re.compile(r"\b(?:as|in|into|to|export(?:ed)?(?: as| to)?|save(?:d)? as)\s+(?:an?\s+)?$")


@dataclass
class FoundDeliverable:
    category: OutputCategory
    title: str
    kind: str
    noun: str
    formats: list[str] = field(default_factory=list)
    format_texts: list[str] = field(default_factory=list)
    clause: str = ""

    @property
    def format(self) -> str:
        if self.formats:
            return self.formats[0]
        if self.kind == "doc":
            return "pdf" if self.title in _PDF_BY_DEFAULT else "docx"
        return _DEFAULT_FORMAT.get(self.kind, "")

    @property
    def final_category(self) -> OutputCategory:
        if self.kind == "doc":
            return C.PDF if self.format == "pdf" else C.DOCUMENT
        return self.category

    @property
    def conflicting(self) -> bool:
        return len(set(self.formats)) > 1


@dataclass
class Detection:
    deliverables: list[FoundDeliverable]
    format_hints: list[FormatHint]
    themes: list[str]
    lengths: list[str]


def _find_nouns(clause: str) -> list[tuple[int, int, OutputCategory, str, str]]:
    taken: list[tuple[int, int]] = []
    found = []
    for regex, category, title, kind in _NOUN_RES:
        for m in regex.finditer(clause):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            taken.append(m.span())
            found.append((m.start(), m.end(), category, title, kind))
    return sorted(found)


def _find_formats(clause: str) -> list[tuple[int, int, str, OutputCategory]]:
    found = []
    for regex, value, category in _FORMAT_RES:
        for m in regex.finditer(clause):
            found.append((m.start(), m.end(), value, category))
    return sorted(found)


def detect(text: str) -> Detection:
    """Find deliverables and hints in already spelling-corrected text."""
    lowered = text.lower()
    deliverables: list[FoundDeliverable] = []
    hints: list[FormatHint] = []
    for clause in (c for c in _CLAUSE_SPLIT.split(lowered) if c and c.strip()):
        if deliverables and _ONLY_LENGTH.match(clause):
            # "a pitch deck for Solar Sprout, 6 slides": the length belongs to the deck before it.
            deliverables[-1].clause = f"{deliverables[-1].clause}, {clause.strip()}"
            continue
        nouns = _find_nouns(clause)
        formats = _find_formats(clause)
        clause_items: list[FoundDeliverable] = []
        previous_end = None
        for start, end, category, title, kind in nouns:
            if previous_end is not None and _is_topic(clause[previous_end:start]):
                continue  # "a deck about our website": the website is the topic, not a deliverable
            if any(d.kind == kind for d in clause_items):
                previous_end = end
                continue  # "a pitch deck presentation" is one presentation
            clause_items.append(
                FoundDeliverable(category=category, title=title, kind=kind, noun=clause[start:end], clause=clause)
            )
            previous_end = end
        for start, end, value, category in formats:
            text_hint = clause[start:end]
            hints.append(FormatHint(text=text_hint, kind="format", value=value))
            targets = [d for d in clause_items if value in COMPATIBLE.get(d.kind, set())]
            if not targets and not clause_items and deliverables:
                # "a report as a pdf" split oddly, or "a proposal in pdf and docx": the format belongs
                # to the deliverable just before (and two formats for it become a question).
                last = deliverables[-1]
                alone = _FILLER_ONLY.match(clause[:start] + " " + clause[end:])
                if value in COMPATIBLE.get(last.kind, set()) and (
                    _ATTACH_BACK.search(clause[:start]) or last.formats or alone
                ):
                    targets = [last]
            if targets:
                for target in targets:
                    if value not in target.formats:
                        target.formats.append(value)
                        target.format_texts.append(text_hint)
            elif not clause_items:
                kind = {C.PDF: "doc", C.DOCUMENT: "doc"}.get(category, _kind_for(category))
                title = {"pdf": "PDF document", "docx": "Word document", "md": "Markdown document"}.get(
                    value, f"{FORMAT_NAMES[value]} file"
                )
                bare = FoundDeliverable(category=category, title=title, kind=kind, noun=text_hint, clause=clause)
                bare.formats.append(value)
                bare.format_texts.append(text_hint)
                clause_items.append(bare)
        deliverables.extend(clause_items)
    themes = []
    for m in _THEME.finditer(lowered):
        hints.append(FormatHint(text=m.group(0), kind="theme", value=m.group(1)))
        if m.group(1) not in themes:
            themes.append(m.group(1))
    lengths = []
    for m in _LENGTH.finditer(lowered):
        hints.append(FormatHint(text=m.group(0), kind="length", value=f"{m.group(1)} {m.group(2)}"))
        lengths.append(f"{m.group(1)} {m.group(2)}")
    return Detection(deliverables=deliverables, format_hints=hints, themes=themes, lengths=lengths)


def _is_topic(between: str) -> bool:
    """Whether the words between two nouns make the second the first one's topic.

    The nearest connector decides: "a deck about our website" (topic) but "a landing page for
    Acme with a logo" (the logo is one more thing to make).
    """
    connectors = _TOPIC.findall(between)
    return bool(connectors) and connectors[-1] != "with"


def _kind_for(category: OutputCategory) -> str:
    return {
        C.WEBSITE: "site",
        C.PRESENTATION: "slides",
        C.SPREADSHEET: "sheet",
        C.IMAGE: "image",
        C.VIDEO: "video",
        C.AUDIO: "audio",
    }.get(category, "doc")
