"""The one interface every generator speaks: a GenerationRequest in, a GeneratedOutput out.

A GeneratedOutput is plain data (JSON round-trippable with ``to_dict``/``from_dict``) so the
execution engine can store it in a step's result between the generate, verify and deliver steps.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import asdict, dataclass, field
from pathlib import Path

from providers.contracts import Deliverable, DeliverableBrief, Entities

BUILT_IN = "built-in templates"

# Titles that only say what kind of file a deliverable is: the output gets a title about its subject.
GENERIC_TITLES = {
    "document", "pdf document", "word document", "markdown document", "text", "video", "audio", "image",
    "pitch deck", "presentation", "spreadsheet", "website", "web page", "landing page", "web app", "logo",
    "report", "guide", "proposal", "one-pager", "summary", "brochure", "handout", "article", "newsletter",
    "social post", "dashboard", "invoice", "letter", "memo", "whitepaper", "contract", "portfolio site", "résumé",
}  # fmt: skip


class GenerationError(Exception):
    """A generator could not produce its output; the message is shown to the user as is."""


class GenerationUnavailable(GenerationError):
    """The request needs a capability this installation does not have (e.g. spoken audio)."""


@dataclass
class GenerationRequest:
    deliverable: Deliverable
    entities: Entities = field(default_factory=Entities)
    tone: str = "mixed"
    format_hints: list[str] = field(default_factory=list)
    source_prompt: str = ""
    # Text written by a model provider: {"headline", "tagline", "paragraphs", "bullets",
    # "sections": [{"heading", "paragraphs", "bullets"}]}. Absent: the built-in templates write it.
    copy: dict | None = None
    copy_source: str = ""  # the provider's name when ``copy`` is given
    # Other files of the task a generator may use (e.g. a video slideshow of image assets).
    source_images: list[Path] = field(default_factory=list)
    # Size/length overrides (tests keep media small): width, height, duration, fps.
    options: dict = field(default_factory=dict)

    @property
    def content_source(self) -> str:
        return (self.copy_source or "model provider") if self.copy else BUILT_IN

    @property
    def brief(self) -> DeliverableBrief:
        return self.deliverable.brief

    @property
    def title(self) -> str:
        """The output's title: the deliverable's own words, unless they only name the kind of
        file ("Document", "Video", "Pitch deck"); then a title about what the brief says it is."""
        title = self.deliverable.title.strip()
        if title.lower() not in GENERIC_TITLES:
            return title
        brief = self.brief
        label = (brief.genre.split(" for a ")[0] or title).strip()
        if label.lower().endswith(" document") or label.lower() == "spreadsheet" and not brief.period:
            label = title  # "PDF document" says only the format
        elif label.lower() == "spreadsheet":
            label = "plan"
        if brief.period and brief.genre in {
            "budget",
            "forecast",
            "report",
            "tracker",
            "expense tracker",
            "spreadsheet",
        }:
            label = f"{brief.period} {label}"
        label = label[:1].upper() + label[1:]
        name = brief.names[0] if brief.names else (self.entities.brand or "")
        joiner = " about "
        if brief.genre in {"onboarding guide", "guide", "budget", "pricing", "forecast", "tracker"}:
            joiner = " for "
        own_subject = brief.subject and brief.subject != brief.business  # "family bakery" is the name's trade
        if name:
            named = f"{name} {label[:1].lower() + label[1:]}"
            return (f"{named}{joiner}{brief.subject}" if own_subject else named)[:200]
        if brief.subject:
            if brief.business and brief.subject == brief.business:
                joiner = " for a "
            return f"{label}{joiner}{brief.subject}"[:200]
        if brief.counts:
            noun, n = next(iter(brief.counts.items()))
            return f"{label} for {n} {noun}"[:200]
        return label[:200]

    @classmethod
    def from_plan_inputs(
        cls,
        *,
        deliverable_id: str,
        inputs: dict,
        source_prompt: str = "",
        tone: str = "mixed",
        copy: dict | None = None,
        copy_source: str = "",
        source_images: list[Path] | None = None,
        options: dict | None = None,
    ) -> GenerationRequest:
        """The request described by a plan's generate_output step inputs (category, title,
        format, brief, brand, audience, industry, tone, theme, colours, length, and the
        deliverable's acceptance criteria as ``deliverable_brief``).

        A length such as “10 second” becomes the video/audio duration, “8 slide” the deck's
        slide count. Refuses (GenerationError) inputs without a category or title.
        """
        category, title = str(inputs.get("category") or ""), str(inputs.get("title") or "").strip()
        if not category or not title:
            raise GenerationError("This step does not say what to make (category and title are required).")
        details = {k: str(inputs[k]) for k in ("length", "theme") if inputs.get(k)}
        try:
            brief = DeliverableBrief.model_validate(inputs.get("deliverable_brief") or {})
        except ValueError as exc:
            raise GenerationError(f"This step's brief is not valid: {exc}") from exc
        deliverable = Deliverable(
            id=deliverable_id,
            category=category,
            title=title[:200],
            format=str(inputs.get("format") or "")[:20],
            description=str(inputs.get("brief") or ""),
            details=details,
            brief=brief,
        )
        colours = inputs.get("colours") or []
        entities = Entities(
            brand=inputs.get("brand") or None,
            audience=inputs.get("audience") or None,
            industry=inputs.get("industry") or None,
            tone=inputs.get("tone") or None,
            colours=[str(c) for c in (colours if isinstance(colours, list) else [colours])],
        )
        merged = dict(options or {})
        length = parse_length(details.get("length", ""))
        if length:
            n, unit = length
            if unit in ("second", "minute"):
                merged.setdefault("duration", n * (60 if unit == "minute" else 1))
            elif unit == "slide":
                merged.setdefault("slides", n)
        return cls(
            deliverable=deliverable,
            entities=entities,
            tone=str(inputs.get("tone") or tone),
            format_hints=[v for v in (inputs.get("format"), inputs.get("theme")) if v],
            source_prompt=source_prompt,
            copy=copy,
            copy_source=copy_source,
            source_images=list(source_images or []),
            options=merged,
        )

    @classmethod
    def from_understanding(
        cls,
        *,
        understanding,
        deliverable_id: str,
        tone: str = "mixed",
        copy: dict | None = None,
        copy_source: str = "",
        source_images: list[Path] | None = None,
        options: dict | None = None,
    ) -> GenerationRequest:
        """The request for one deliverable of an UnderstandingSnapshot (model or its JSON dict).

        Refuses (GenerationError) a deliverable id the understanding does not contain.
        """
        from providers.contracts import UnderstandingSnapshot

        if isinstance(understanding, dict):
            understanding = UnderstandingSnapshot.model_validate(understanding)
        deliverable = next((d for d in understanding.deliverables if d.id == deliverable_id), None)
        if deliverable is None:
            raise GenerationError(f"The understanding has no deliverable “{deliverable_id}”.")
        return cls(
            deliverable=deliverable,
            entities=understanding.entities,
            tone=understanding.entities.tone or tone,
            format_hints=[h.value for h in understanding.format_hints],
            source_prompt=understanding.raw_prompt,
            copy=copy,
            copy_source=copy_source,
            source_images=list(source_images or []),
            options=dict(options or {}),
        )


NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}


def parse_length(value: str) -> tuple[int, str] | None:
    """“10 second”, “ten-slide”, “one page”, “2 minutes” → (number, singular unit); else None."""
    import re

    m = re.search(
        r"\b(\d{1,3}|" + "|".join(NUMBER_WORDS) + r")[- ]?(page|slide|minute|second)s?\b", (value or "").lower()
    )
    if not m:
        return None
    raw = m.group(1)
    return (int(raw) if raw.isdigit() else NUMBER_WORDS[raw]), m.group(2)


@dataclass
class OutputFile:
    path: str  # relative to GeneratedOutput.root, POSIX separators
    mime_type: str
    size: int
    sha256: str


@dataclass
class GeneratedOutput:
    category: str
    deliverable_id: str
    title: str
    root: str  # the folder holding every file of this output
    primary: str  # relative path of the file a download gives by default
    files: list[OutputFile]
    metadata: dict
    expectations: dict  # what verification must find (headings, pages, sizes, formulas …)
    content_source: str
    source_prompt: str = ""

    @property
    def root_path(self) -> Path:
        return Path(self.root)

    @property
    def primary_path(self) -> Path:
        return Path(self.root) / self.primary

    @property
    def primary_file(self) -> OutputFile:
        return next(f for f in self.files if f.path == self.primary)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GeneratedOutput:
        data = dict(data)
        data["files"] = [OutputFile(**f) for f in data["files"]]
        return cls(**data)


EXTRA_TYPES = {
    ".md": "text/markdown",
    ".svg": "image/svg+xml",
    ".csv": "text/csv",
    ".mp4": "video/mp4",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".zip": "application/zip",
    ".css": "text/css",
    ".html": "text/html",
    ".json": "application/json",
}


RASTER = (".png", ".jpg", ".jpeg", ".gif", ".webp")


def looks_like_a_logo(path: Path, request: GenerationRequest) -> bool:
    """A picture given to a generator is placed as the logo when it is named one (logo.png,
    mark.svg) or the request asks to use a logo."""
    said = f"{request.source_prompt} {request.deliverable.description}".lower()
    return Path(path).stem.lower().startswith(("logo", "mark")) or "logo" in said


def placeable_pictures(request: GenerationRequest) -> tuple[Path | None, list[Path]]:
    """(the logo, the other pictures) among the request's raster pictures, in order: the first one
    that looks like a logo (looks_like_a_logo) is the logo. Vector files are left out (Command does
    not rasterise SVG offline)."""
    logo, others = None, []
    for path in (Path(p) for p in request.source_images):
        if not path.is_file() or path.suffix.lower() not in RASTER:
            continue
        if logo is None and looks_like_a_logo(path, request):
            logo = path
        else:
            others.append(path)
    return logo, others


def mime_for(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return EXTRA_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe_files(root: Path, paths: list[Path]) -> list[OutputFile]:
    """Record what was really written: each file's size and hash are read back from disk."""
    out = []
    for p in paths:
        rel = p.relative_to(root).as_posix()
        out.append(OutputFile(path=rel, mime_type=mime_for(rel), size=p.stat().st_size, sha256=sha256_of(p)))
    return out


def option_int(request: GenerationRequest, name: str, default: int, *, lo: int, hi: int) -> int:
    raw = request.options.get(name, request.deliverable.details.get(name, default))
    try:
        value = int(float(raw))
    except (TypeError, ValueError):
        value = default
    return max(lo, min(hi, value))
