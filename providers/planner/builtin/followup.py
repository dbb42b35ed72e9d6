"""A follow-up on delivered results ("warmer colours", "make it a PDF", "add a fourth tier"), read
by the built-in planner against the plan that made them.

Only what the rules can read is applied, to the deliverables the plan already makes: a palette
word or named colours, a change of file format, and a count ("a fourth tier", "5 departments",
"one more slide"). Every other word is named back as not applied, never silently dropped.
"""

from __future__ import annotations

import copy as _copy
import re
from dataclasses import dataclass, field

from providers.contracts import PALETTE_WORDS, OutputCategory
from providers.planner.builtin.copy import CHECKS

_COMPARATIVES = {"warmer": "warm", "cooler": "cool", "brighter": "vibrant", "softer": "pastel", "calmer": "muted"}
_PALETTE = re.compile(r"\b(" + "|".join([*PALETTE_WORDS, *_COMPARATIVES]) + r")\b")
_COLOUR_NAMES = (
    "navy|blue|indigo|violet|purple|teal|cyan|green|emerald|lime|yellow|gold|orange|amber|red|crimson|pink|"
    "magenta|black|charcoal|grey|gray|slate|brown|sky|mint|coral"
)
_COLOUR = re.compile(r"\b(" + _COLOUR_NAMES + r")\b|#[0-9a-f]{6}\b|#[0-9a-f]{3}\b")
# A format change: the words that name a kind of file, and what the plan makes of each.
_FORMATS = [
    (r"\bpdf\b", OutputCategory.PDF, "pdf"),
    (r"\b(?:word(?: doc(?:ument)?)?|docx)\b", OutputCategory.DOCUMENT, "docx"),
    (r"\b(?:excel|xlsx|spreadsheet|sheet)\b", OutputCategory.SPREADSHEET, "xlsx"),
    (r"\b(?:slides?|slide deck|deck|pptx|powerpoint|presentation)\b", OutputCategory.PRESENTATION, "pptx"),
    (r"\b(?:website|web ?page|landing page|html)\b", OutputCategory.WEBSITE, "html"),
    (r"\b(?:png|image|picture)\b", OutputCategory.IMAGE, "png"),
]
_FORMAT_CHANGE = re.compile(r"\b(?:make it|as an?|into an?|turn it into an?|convert(?: it)? to an?|in|to)\s+(.{1,30})")
_LABELS = {
    OutputCategory.PDF: "PDF",
    OutputCategory.DOCUMENT: "Word document",
    OutputCategory.SPREADSHEET: "spreadsheet",
    OutputCategory.PRESENTATION: "presentation",
    OutputCategory.WEBSITE: "website",
    OutputCategory.IMAGE: "image",
    OutputCategory.VIDEO: "video",
    OutputCategory.AUDIO: "audio",
}
# A genre that only names the old kind of file, and what the same content is as the new kind.
_FILE_GENRES = ("landing page", "website", "web page", "document", "spreadsheet", "presentation", "pitch deck")
_GENRE_AS = {
    OutputCategory.PDF: "brochure",
    OutputCategory.DOCUMENT: "brochure",
    OutputCategory.PRESENTATION: "presentation",
    OutputCategory.WEBSITE: "landing page",
    OutputCategory.SPREADSHEET: "spreadsheet",
}
_ORDINALS = {"second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9,
             "tenth": 10}  # fmt: skip
_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_ADD = re.compile(r"\badd (?:(?:an?|another|one more) )?(?:(?P<ord>" + "|".join(_ORDINALS) + r") )?(?P<noun>[a-z]+)")
_SET = re.compile(r"\b(?P<n>\d{1,3}|" + "|".join(_NUMBERS) + r") (?P<noun>[a-z]+s)\b")
_FILLER = frozenset(
    [
        "a",
        "an",
        "the",
        "it",
        "its",
        "them",
        "this",
        "that",
        "please",
        "make",
        "use",
        "more",
        "less",
        "with",
        "and",
        "to",
        "in",
        "into",
        "as",
        "of",
        "for",
        "now",
        "too",
        "also",
        "bit",
        "little",
        "lot",
        "much",
        "some",
        "same",
        "colours",
        "colors",
        "colour",
        "color",
        "palette",
        "tones",
        "hues",
        "version",
    ]
)


@dataclass
class FollowUpReading:
    plan: dict
    understanding: dict
    applied: list[str] = field(default_factory=list)
    not_applied: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.applied)


def _plural(noun: str) -> str:
    return noun if noun.endswith("s") else noun + "s"


def _count_of(brief: dict, noun: str) -> int:
    if noun in ("slides", "pages"):
        return brief.get(noun[:-1] + "s") or 0
    return brief.get("counts", {}).get(noun, 0)


def read_follow_up(text: str, *, plan: dict, understanding: dict) -> FollowUpReading:
    """The plan and understanding with the follow-up applied to every deliverable it can change."""
    low = " ".join(text.lower().split())
    used: list[tuple[int, int]] = []
    plan, understanding = _copy.deepcopy(plan), _copy.deepcopy(understanding)
    reading = FollowUpReading(plan=plan, understanding=understanding)
    briefs: dict[str, dict] = {}
    # Only made outputs change; a project edit's steps are the workspace's, not this reader's.
    outputs = [d for d in understanding.get("deliverables", []) if d.get("category") != "project_edit"]
    for d in outputs:
        briefs[d["id"]] = d.setdefault("brief", {})

    palette_m = _PALETTE.search(low)
    if palette_m:
        word = palette_m.group(1)
        palette = _COMPARATIVES.get(word, word)
        used.append(palette_m.span())
        for brief in briefs.values():
            brief["palette"], brief["colours"] = palette, []
        reading.applied.append(f"palette “{palette}” (from “{word}”)")
    colours = list(_COLOUR.finditer(low))
    if colours:
        names = [m.group(0) for m in colours]
        used += [m.span() for m in colours]
        for brief in briefs.values():
            brief["colours"] = names
        reading.applied.append("colours " + ", ".join(f"“{n}”" for n in names))

    fmt_m = _FORMAT_CHANGE.search(low)
    target = None
    if fmt_m:
        for pattern, category, fmt in _FORMATS:
            inner = re.search(pattern, fmt_m.group(1))
            if inner:
                target = (category, fmt)
                used.append((fmt_m.start(), fmt_m.start(1) + inner.end()))
                break
    retitled: dict[str, tuple[str, str]] = {}
    if target is not None:
        category, fmt = target
        changed = [d for d in outputs if d.get("category") != category]
        for d in changed:
            retitled[d["id"]] = (str(d.get("category", "")), _LABELS[category])
            d["category"], d["format"] = str(category), fmt
            brief = d.setdefault("brief", {})
            if any(w in brief.get("genre", "") for w in _FILE_GENRES) or not brief.get("genre"):
                # "a landing page" is what the old file was; the new one is the same content as this kind.
                brief["genre"] = _GENRE_AS.get(category, "")
        if changed:
            reading.applied.append(f"format: {category.value.upper() if fmt == 'pdf' else fmt.upper()}")

    counts: dict[str, int] = {}
    for m in _ADD.finditer(low):
        noun = _plural(m.group("noun"))
        have = max((_count_of(b, noun) for b in briefs.values()), default=0)
        if m.group("ord"):
            counts[noun] = _ORDINALS[m.group("ord")]
        elif have:
            counts[noun] = have + 1
        else:
            continue  # "add a booking form": not a count this reader can change; said back below
        used.append(m.span())
    for m in _SET.finditer(low):
        n = m.group("n")
        counts[m.group("noun")] = int(n) if n.isdigit() else _NUMBERS[n]
        used.append(m.span())
    for noun, n in counts.items():
        for brief in briefs.values():
            if noun == "slides":
                brief["slides"] = n
            elif noun == "pages":
                brief["pages"] = n
            else:
                brief.setdefault("counts", {})[noun] = n
        reading.applied.append(f"{n} {noun}")

    by_id = {d["id"]: d for d in outputs}
    for step in plan.get("steps", []):
        d = by_id.get(step.get("deliverable_id") or "")
        if d is None:
            continue
        inputs = step.setdefault("inputs", {})
        if d["id"] in retitled:
            was, now = retitled[d["id"]]
            for word in {was, _LABELS.get(OutputCategory(was), was), "landing page", "web page", "site"}:
                step["title"] = re.sub(rf"\b{re.escape(word)}\b", now, step.get("title", ""), flags=re.IGNORECASE)
        if step.get("action_type") == "generate_output":
            inputs["category"], inputs["format"] = d["category"], d.get("format", "")
            inputs["deliverable_brief"] = {k: v for k, v in d["brief"].items() if v not in ("", [], {}, None, False)}
            if palette_m or colours:
                inputs["colours"] = d["brief"].get("colours", [])
        elif step.get("action_type") == "verify" and "command" not in inputs:
            inputs["category"] = d["category"]
            inputs["checks"] = CHECKS[OutputCategory(d["category"])][0]

    # Whatever was not read is said back in the person's words.
    rest = low
    for start, end in sorted(used, reverse=True):
        rest = rest[:start] + " " + rest[end:]
    words = [w for w in re.findall(r"[a-z0-9'#-]+", rest) if w not in _FILLER]
    if words:
        reading.not_applied.append(" ".join(words))
    return reading
