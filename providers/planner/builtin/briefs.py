"""A brief per deliverable: the acceptance criteria the built-in planner can read from the request.

Reads only what is written: genre, subject, named things, counts ("4 departments"), periods
("quarterly"), totals, colour and palette words, theme, duration and required sections. Whatever
it cannot read stays empty for a model provider to fill; nothing is guessed.
"""

from __future__ import annotations

import re

from providers.contracts import Deliverable, DeliverableBrief, Entities, OutputCategory
from providers.planner.builtin.detection import Detection

C = OutputCategory

NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
_NUMBER = r"(\d{1,3}|" + "|".join(NUMBERS) + r")"
# Units the detection already reads as a length; not counts of things inside the output.
_UNITS = {"page", "pages", "slide", "slides", "second", "seconds", "minute", "minutes", "hours", "days", "years"}
_COUNT = re.compile(rf"\b{_NUMBER}[- ](?:(?:[a-z]+)[- ])?([a-z]+s)\b")

# Genre words by kind of deliverable, most specific first. (pattern, genre)
_GENRES: dict[str, list[tuple[str, str]]] = {
    "sheet": [
        (r"budgets?", "budget"),
        (r"pricing|price list|price sheet", "pricing"),
        (r"invoices?", "invoice"),
        (r"forecasts?|financial model", "forecast"),
        (r"expenses?", "expense tracker"),
        (r"inventory|stock list", "inventory"),
        (r"trackers?", "tracker"),
    ],
    "doc": [
        (r"onboarding", "onboarding guide"),
        (r"proposals?", "proposal"),
        (r"invoices?", "invoice"),
        (r"reports?", "report"),
        (r"flyers?", "flyer"),
        (r"brochures?", "brochure"),
        (r"one[- ]pagers?", "one-pager"),
        (r"newsletters?", "newsletter"),
        (r"handbooks?|manuals?|(?<![\w-])guides?(?![\w-])", "guide"),
        (r"resumes?|(?<![\w-])cv(?![\w-])|résumé", "résumé"),
        (r"whitepapers?|white papers?", "whitepaper"),
        (r"letters?", "letter"),
        (r"memos?", "memo"),
    ],
    "site": [(r"portfolio", "portfolio site"), (r"landing[ -]?pages?", "landing page")],
    "image": [
        (r"logos?", "logo"),
        (r"posters?", "poster"),
        (r"banners?", "banner"),
        (r"(?:instagram|social(?: media)?|linkedin|facebook) posts?", "social post"),
    ],
    "slides": [(r"pitch ?decks?", "pitch deck")],
    "video": [
        (r"explainer", "explainer video"),
        (r"trailers?", "trailer"),
        (r"intro", "intro video"),
        (r"animations?", "animation"),
        (r"videos?|clips?", "video"),
    ],
    "audio": [(r"jingles?", "jingle"), (r"soundtracks?|music", "soundtrack"), (r"sound effects?", "sound effect")],
}
_KIND = {
    C.SPREADSHEET: "sheet",
    C.DOCUMENT: "doc",
    C.PDF: "doc",
    C.WEBSITE: "site",
    C.IMAGE: "image",
    C.PRESENTATION: "slides",
    C.VIDEO: "video",
    C.AUDIO: "audio",
}
BUSINESSES = (
    "coffee shop", "bakery", "patisserie", "cafe", "café", "restaurant", "pizzeria", "bistro", "pub", "bar",
    "brewery", "florist", "flower shop", "bookshop", "bookstore", "salon", "hair salon", "barber", "barbershop",
    "gym", "yoga studio", "dentist", "dental practice", "clinic", "vet", "plumber", "electrician", "builder",
    "garage", "bike shop", "freight company", "removals company", "cleaning company", "law firm", "accountant",
    "photographer", "wedding photographer", "nursery", "hotel", "b&b", "guest house", "deli", "butcher",
    "farm shop", "tattoo studio", "pet groomer", "dog groomer", "dog grooming", "grooming salon", "tea room",
    "ice cream shop", "food truck", "garden centre", "garden center", "hairdresser",
)  # fmt: skip
_BUSINESS = re.compile(
    r"\b((?:(?:family|local|small|independent|artisan|little|neighbourhood|neighborhood|vegan|italian|"
    r"indian|french|japanese|mexican|organic|craft)\s+)?(?:" + "|".join(re.escape(b) for b in BUSINESSES) + r"))\b"
)
_SAAS = re.compile(r"\b(?:saas|software|platform|app|startup|b2b|api|analytics)\b")
_PERIODS = [
    (r"\bquarterly\b|\b(?:by|per|each|every) quarter\b|\bq1\b", "quarterly"),
    (r"\bmonthly\b|\b(?:by|per|each|every) month\b", "monthly"),
    (r"\bweekly\b|\b(?:by|per|each|every) week\b", "weekly"),
    (r"\bannual\b|\byearly\b|\b(?:by|per|each|every) year\b", "annual"),
]
_TOTALS = re.compile(r"\b(?:sub)?totals?\b|\bsums?\b|\bsummed\b")
_PALETTE = re.compile(
    r"\b(warm|cool|pastel|earthy|vibrant|muted|monochrome)\b(?:[- ](?:colou?rs?|tones?|palette|hues?))"
)
_SECTIONS = (
    "booking form", "contact form", "order form", "signup form", "newsletter signup", "menu", "price list",
    "pricing table", "pricing", "prices", "testimonials", "faq", "gallery", "opening hours", "map", "team section",
    "timeline", "table of contents", "checklist", "glossary", "agenda", "executive summary", "case studies",
)  # fmt: skip
_SECTION = re.compile(
    r"\b(?:with|including|include|includes|has|have|add|plus)\s+(?:an?\s+|the\s+|some\s+)?(?:[a-z]+\s+)?("
    + "|".join(re.escape(s) for s in sorted(_SECTIONS, key=len, reverse=True))
    + r")\b"
)
_WITH_TAIL = re.compile(r"\b(?:with|including|include|includes|plus|add|has)\b(.*)$")
_SECTION_WORDS = re.compile(r"\b(" + "|".join(re.escape(s) for s in sorted(_SECTIONS, key=len, reverse=True)) + r")\b")
_NOT_PLACES = {
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
    "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "spring", "summer",
    "autumn", "winter", "english", "french", "german", "spanish", "word", "excel", "powerpoint", "pdf", "markdown",
    "q1", "q2", "q3", "q4", "the", "a", "an", "my", "our",
}  # fmt: skip
_LOCATION = re.compile(r"\b(?:in|based in|located in|from)\s+([A-Z][a-zA-Z-]+(?:\s+[A-Z][a-zA-Z-]+)?)")
# "about" says what a thing is about more surely than "for" (which often names a client).
_SUBJECT_STRONG = re.compile(r"\b(?:about|covering|explaining|describing|introducing)\s+(.+)$")
_SUBJECT = re.compile(r"\b(?:for|on)\s+(.+)$")
_WHEN = re.compile(
    r"\s+(?:on|this|next|by|at)\s+(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|the \d+\w*|\d[\d:.]*\w*|noon)\b.*$"
)
_SUBJECT_STOP = re.compile(
    r"\s*(?:\b(?:as|in|into|with|using|please|pls|asap|thanks|thank you|by|that|which|so|and|plus)\b|[,.;!?(+&—]).*$"
)
_FILLER = re.compile(r"^(?:my|our|the|a|an|some|this|their|his|her)\s+")
# Words that say nothing about what a deliverable is about.
_EMPTY_SUBJECTS = {
    "me", "us", "you", "it", "this", "that", "them", "now", "today", "tomorrow", "work", "a client", "the client",
    "my business", "our business", "my company", "our company", "the company", "my boss", "the team",
}  # fmt: skip
# Writing whose every sentence depends on its subject (a deck or a video can still show a brand).
_TOO_VAGUE_GENRES = {
    "one-pager",
    "document",
    "text",
    "summary",
    "article",
    "report",
    "guide",
    "flyer",
    "brochure",
    "handout",
    "newsletter",
    "whitepaper",
    "pdf document",
    "word document",
    "markdown document",
}


def deliverable_segments(text: str, deliverables: list[Deliverable]) -> dict[str, str]:
    """Each deliverable's part of the request: from its clause to the next deliverable's clause.

    "Quarterly budget as excel please, 4 departments, with totals" is one deliverable whose part
    is the whole request; in "a landing page + a 3-tier pricing sheet" the tiers belong to the sheet.
    Deliverables named in one clause ("a landing page with a logo") share that clause.
    """
    lowered = text.lower()
    starts: list[int] = []
    cursor, previous = 0, None
    for d in deliverables:
        if previous is not None and d.description == previous:
            at = starts[-1]
        else:
            at = lowered.find(d.description, cursor) if d.description else -1
            at = cursor if at < 0 else at
        starts.append(at)
        cursor, previous = at + 1, d.description
    segments = {}
    for n, d in enumerate(deliverables):
        at = 0 if n == 0 else starts[n]
        later = [s for s in starts[n + 1 :] if s > starts[n]]
        end = later[0] if later else len(lowered)
        segments[d.id] = text[at:end]
    return segments


def read_brief(
    deliverable: Deliverable,
    *,
    segment: str,
    raw: str,
    entities: Entities,
    detection: Detection,
    only_one: bool,
    subject_answer: str = "",
    whole: str = "",
) -> DeliverableBrief:
    """The brief of one deliverable from its part of the (spelling-corrected) request.

    What the request says about the whole job — the name, the kind of business, the place, the
    palette — also applies to a deliverable whose own part does not say it ("website + logo for my
    bakery 'Crumb & Co'"); counts, periods, sections and subjects stay with their own part.
    """
    whole_low = (whole or segment).lower()
    kind = _KIND.get(deliverable.category, "")
    low = segment.lower()
    genre = ""
    for pattern, name in _GENRES.get(kind, []):
        if re.search(rf"(?<![\w-])(?:{pattern})(?![\w-])", low):
            genre = name
            break
    if not genre:
        title = re.sub(r"\s*\(.*$", "", deliverable.title.lower())  # "Presentation (PowerPoint (.pptx))"
        genre = title if title not in {"image", "text"} else ""
    business = location = ""
    if kind == "site":
        m = _BUSINESS.search(low) or (None if _SAAS.search(low) else _BUSINESS.search(whole_low))
        if m:
            business = m.group(1)
            genre = f"{genre} for a local business" if genre else "website for a local business"
        elif _SAAS.search(low) and "portfolio" not in genre:
            business = "SaaS"
            genre = f"{genre} for a SaaS product"
    else:
        m = _BUSINESS.search(low) or _BUSINESS.search(whole_low)
        business = m.group(1) if m else ("SaaS" if _SAAS.search(whole_low) else "")
    raw_segment = _raw_span(raw, segment) if not only_one else raw
    m = _LOCATION.search(raw_segment) or _LOCATION.search(raw)
    if m and m.group(1).split()[0].lower() in _NOT_PLACES:
        m = None
    if m and m.group(1) not in entities.names and not any(m.group(1) in n for n in entities.names):
        location = m.group(1)

    unnamed = low
    for name in entities.names:  # a name is its own criterion, not the subject
        unnamed = re.sub(rf"['\"“‘]?\b{re.escape(name.lower())}\b['\"”’]?", " ", unnamed)
    subject = subject_answer.strip().rstrip(".")[:200] or _subject(unnamed, genre)
    for name in entities.names:  # a name is its own criterion, not the subject
        subject = re.sub(rf"\b{re.escape(name.lower())}\b", " ", subject).strip()
    subject = re.sub(r"\s+", " ", subject)
    if re.match(rf"^{_NUMBER}\s", subject) or subject.lower() in ("saas", "", "about"):
        subject = ""  # "for 6 teams" is a count, not a subject
    subject = _raw_case(raw, subject)
    core = re.sub(r"\s*\b(?:biz|business|shop|company|store|firm|place)\b", "", subject.lower()).strip()
    if business and business != "SaaS" and (not subject or subject in business or core == business):
        subject = business
    names = [n for n in entities.names if n.lower() in low] or list(entities.names[:1])

    counts: dict[str, int] = {}
    for m in _COUNT.finditer(low):
        noun = m.group(2)
        if noun in _UNITS:
            continue
        counts[noun] = int(m.group(1)) if m.group(1).isdigit() else NUMBERS[m.group(1)]
    period = next((name for pattern, name in _PERIODS if re.search(pattern, low)), "")
    totals = bool(_TOTALS.search(low)) and kind in {"sheet", "doc"}
    visual = deliverable.category in (C.IMAGE, C.WEBSITE, C.PRESENTATION, C.VIDEO)
    low = re.sub(r"\bbright(?=[- ](?:colou?rs?|tones?|palette))", "vibrant", low)
    palette_m = _PALETTE.search(low) or (re.search(r"\b(warm|cool|pastel|earthy)\b", low) if visual else None)
    if visual and not palette_m:
        palette_m = _PALETTE.search(re.sub(r"\bbright(?=[- ](?:colou?rs?|tones?|palette))", "vibrant", whole_low))
    theme = (
        (deliverable.details.get("theme") or (detection.themes[0] if len(detection.themes) == 1 else ""))
        if (deliverable.category in (C.WEBSITE, C.PRESENTATION))
        else ""
    )
    length = _length(deliverable.details.get("length", ""))
    duration = pages = slides = None
    if length and deliverable.category in (C.VIDEO, C.AUDIO) and length[1] in ("second", "minute"):
        duration = float(length[0] * (60 if length[1] == "minute" else 1))
    elif length and length[1] == "page" and deliverable.category in (C.PDF,):
        pages = length[0]
    elif length and length[1] == "slide" and deliverable.category == C.PRESENTATION:
        slides = length[0]
    if deliverable.category == C.PDF and genre == "one-pager" and pages is None:
        pages = 1
    sections = list(dict.fromkeys(m.group(1) for m in _SECTION.finditer(low)))
    tail = _WITH_TAIL.search(low)
    if tail:  # "with prices and a booking form": every part named after the "with"
        sections += [w for w in _SECTION_WORDS.findall(tail.group(1)) if w not in sections]
    return DeliverableBrief(
        genre=genre[:60],
        subject=subject[:200],
        business=business[:80],
        location=location[:80],
        audience=(entities.audience or "")[:120] if only_one else "",
        names=names,
        counts=counts,
        period=period,
        totals=totals,
        # "ice cream shop" names a business, not the colour cream
        colours=[c for c in entities.colours if c not in business] if visual else [],
        palette=palette_m.group(1) if palette_m else "",
        theme=theme,
        duration_seconds=duration,
        pages=pages,
        slides=slides,
        sections=sections,
    )


def too_vague(deliverable: Deliverable, brief: DeliverableBrief, *, only_one: bool) -> bool:
    """True when nothing says what a piece of writing is about ("make a one pager")."""
    if not only_one or deliverable.category not in (C.DOCUMENT, C.PDF):
        return False
    if brief.subject or brief.names or brief.business or brief.counts or brief.audience or brief.sections:
        return False
    return (brief.genre or "document") in _TOO_VAGUE_GENRES


def _subject(low: str, genre: str) -> str:
    m = _SUBJECT_STRONG.search(low) or _SUBJECT.search(low)
    if not m:
        return ""
    phrase = _WHEN.sub("", _SUBJECT_STOP.sub("", m.group(1))).strip(" '\"“”‘’")
    phrase = re.sub(r"^(?:(?:for|about|on)\s+)+", "", phrase)  # "for 'Acme' for a new website"
    phrase = _FILLER.sub("", phrase).strip()
    # "onboarding for [name]", "a coffee shop called [name]": the connector stays behind the name
    phrase = re.sub(r"(?:\s+(?:for|about|on|of|with|to|and|by|from|at|called|named))+$", "", phrase)
    phrase = re.sub(r"[\"“”‘]|(?<![a-z])'|'(?![a-z])", "", phrase).strip()  # quotes, not "Sam's"
    if not phrase or phrase in _EMPTY_SUBJECTS or len(phrase) < 3:
        return ""
    return phrase


def _raw_case(raw: str, phrase: str) -> str:
    """The phrase as the user typed it (“Q3 sales”, not “q3 sales”), when it can be found."""
    if not phrase:
        return ""
    m = re.search(re.escape(phrase).replace("\\ ", r"\s+"), raw, re.IGNORECASE)
    return m.group(0) if m else phrase


def _raw_span(raw: str, segment: str) -> str:
    at = raw.lower().find(segment.lower()[:20])
    return raw[at : at + len(segment)] if at >= 0 else raw


def _length(value: str) -> tuple[int, str] | None:
    m = re.search(rf"\b{_NUMBER}\s+(page|slide|minute|second)", value or "")
    if not m:
        return None
    return (int(m.group(1)) if m.group(1).isdigit() else NUMBERS[m.group(1)]), m.group(2)
