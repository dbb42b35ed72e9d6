"""Spelling drift against the domain vocabulary, with every fix recorded and the user's text kept.

Only lower-case words are candidates: a capitalised word in the middle of a sentence, anything in
quotes, file names, URLs and words with digits are names or literals and are never changed. A
word of the English dictionary is never "corrected" either ("explain" is not a typo of
"explainer"): english_words.txt.gz holds the lower-case words of Debian's wamerican and wbritish
lists (SCOWL, size 50; its notice is english_words.COPYRIGHT).
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from providers.contracts import SpellingCorrection
from providers.planner.builtin.vocabulary import DOMAIN_WORDS, ORDINARY_WORDS

_QUOTED = re.compile(r"(\"[^\"]+\"|“[^”]+”|‘[^’]+’|(?<![\w])'[^']+'(?![\w]))")
_WORD = re.compile(r"(?<![\w./@:-])([A-Za-z]{3,})(?![\w./@-]|:/)")
_VOCABULARY = sorted(DOMAIN_WORDS)
_KNOWN = DOMAIN_WORDS | ORDINARY_WORDS
_DICTIONARY = Path(__file__).with_name("english_words.txt.gz")
_MIN_SIMILARITY = 0.75


@dataclass(frozen=True)
class Spelling:
    normalised: str
    corrections: list[SpellingCorrection]


def _protected_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _QUOTED.finditer(text)]


def _is_sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or before[-1] in ".!?\n"


@cache
def english_words() -> frozenset[str]:
    """The dictionary's lower-case words (read once, about 65,000)."""
    with gzip.open(_DICTIONARY, "rt", encoding="ascii") as words:
        return frozenset(words.read().split())


def _known(word: str) -> bool:
    known = _KNOWN
    if word in known or word in english_words():
        return True
    # Plain plurals and verb forms of known words ("icons", "sketches", "designed").
    return any(word.endswith(suffix) and word[: -len(suffix)] in known for suffix in ("s", "es", "ed", "ing"))


def _allowed_edits(word: str) -> int:
    # Short words sit close to many real words: only a swapped pair counts as a typo there.
    return 1 if len(word) <= 6 else 2


def _best_match(word: str) -> tuple[str, float] | None:
    """The closest domain word, if it is a plausible typo (same first letter, one or two edits)."""
    candidates = [w for w in _VOCABULARY if w[0] == word[0] and abs(len(w) - len(word)) <= 2]
    if not candidates:
        return None
    best = process.extractOne(word, candidates, scorer=OSA.distance, score_cutoff=_allowed_edits(word))
    if best is None:
        return None
    corrected, distance = best[0], best[1]
    if len(word) == 4 and sorted(word) != sorted(corrected):
        return None
    if len(word) == 3 and (len(corrected) != 4 or word[-1] != corrected[-1]):
        return None  # "dek" → "deck", but never "for" → "form"
    similarity = fuzz.ratio(word, corrected) / 100
    if similarity < _MIN_SIMILARITY:
        return None
    # Confidence: how much of the word survived, discounted per edit.
    return corrected, max(0.5, min(0.99, similarity - 0.03 * (distance - 1)))


def correct(text: str) -> Spelling:
    """Return the text with domain-word typos fixed, and one SpellingCorrection per fix."""
    protected = _protected_spans(text)
    pieces: list[str] = []
    corrections: list[SpellingCorrection] = []
    seen: set[str] = set()
    cursor = 0
    for match in _WORD.finditer(text):
        start, end = match.span(1)
        word = match.group(1)
        if any(a <= start < b for a, b in protected):
            continue
        if word[0].isupper() and not _is_sentence_start(text, start):
            continue  # a name: "Acme", "Figma"
        if word.isupper() and len(word) > 1:
            continue  # an acronym: "PDF", "B2B"
        lowered = word.lower()
        if _known(lowered):
            continue
        best = _best_match(lowered)
        if best is None:
            continue
        corrected, score = best
        replacement = corrected.capitalize() if word[0].isupper() else corrected
        pieces.append(text[cursor:start])
        pieces.append(replacement)
        cursor = end
        if lowered not in seen:
            seen.add(lowered)
            corrections.append(SpellingCorrection(original=word, corrected=replacement, confidence=round(score, 2)))
    pieces.append(text[cursor:])
    normalised = " ".join("".join(pieces).split())
    return Spelling(normalised=normalised, corrections=corrections)
