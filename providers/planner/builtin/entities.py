"""Named things in a request: the brand, audience, industry, colours and tone it mentions."""

from __future__ import annotations

import re

from providers.contracts import Entities
from providers.planner.builtin.vocabulary import AUDIENCES, COLOURS, INDUSTRIES, TONES

_QUOTED = re.compile(r"\"([^\"]{1,80})\"|“([^”]{1,80})”|‘([^’]{1,80})’|(?<![\w])'([^']{1,80})'(?![\w])")
_CAP = r"[A-Z][\w&.-]*"
# "for Acme Analytics", "called Northwind", "named Bright Bean Co", "my bakery Crumb & Co" —
# capitalised words in a row after a word that introduces a name (a kind of business does too).
_INTRODUCERS = (
    "for|called|named|brand(?:ed)?|company|startup|client|bakery|caf[eé]|shop|restaurant|salon|studio"
    "|business|store|firm|agency|clinic|gym|brewery|bar|pub|hotel|charity|practice"
)
_NAMED = re.compile(rf"\b(?:{_INTRODUCERS})\s+((?:{_CAP})(?:\s+(?:{_CAP}|&))*)")
_HEX = re.compile(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b")
_STOP_NAMES = {"I", "A", "An", "The", "PDF", "B2B", "B2C", "HTML", "CSV", "Word", "Excel", "PowerPoint"}


def _words(text: str, vocabulary: dict[str, str]) -> str | None:
    lowered = text.lower()
    for phrase in sorted(vocabulary, key=len, reverse=True):
        if re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", lowered):
            return vocabulary[phrase]
    return None


def _all_words(text: str, vocabulary: dict[str, str]) -> str | None:
    lowered = text.lower()
    hits: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for phrase in sorted(vocabulary, key=len, reverse=True):
        for m in re.finditer(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", lowered):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            taken.append(m.span())
            if vocabulary[phrase] not in [h for _, h in hits]:
                hits.append((m.start(), vocabulary[phrase]))
    return " ".join(h for _, h in sorted(hits)) or None


def extract(raw: str, normalised: str) -> Entities:
    """Entities from the user's own text (names) and the normalised text (vocabulary words)."""
    names: list[str] = []
    for m in _QUOTED.finditer(raw):
        value = next(g for g in m.groups() if g).strip()
        if value and value not in names:
            names.append(value)
    brand = names[0] if names and names[0][:1].isupper() else None
    for m in _NAMED.finditer(raw):
        candidate = m.group(1).strip(" .&")
        words = [w for w in candidate.split() if w not in _STOP_NAMES]
        if not words:
            continue
        candidate = " ".join(words)
        if candidate not in names:
            names.append(candidate)
        brand = brand or candidate
    # Vocabulary words inside a name ("Acme Analytics") describe the name, not the request.
    unnamed = normalised
    for name in names:
        unnamed = unnamed.replace(name, " ")
    colours = []
    lowered = unnamed.lower()
    for colour in COLOURS:
        if re.search(rf"\b{colour}\b", lowered) and colour not in colours:
            colours.append(colour)
    colours.extend(h for h in _HEX.findall(raw) if h not in colours)
    return Entities(
        brand=brand,
        audience=_all_words(unnamed, AUDIENCES),
        industry=_words(unnamed, INDUSTRIES),
        colours=colours,
        tone=_words(unnamed, TONES),
        names=names,
    )
