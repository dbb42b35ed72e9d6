"""Explanation copy for plan steps in the operator's chosen tone (friendly, professional, mixed).

Every sentence is built only from facts the plan already holds: the deliverable, its format,
the command as typed. Nothing here names a file or result that does not exist yet.
"""

from __future__ import annotations

from providers.contracts import OutputCategory, StepExplanation

C = OutputCategory

CHECKS: dict[OutputCategory, tuple[list[str], str]] = {
    C.WEBSITE: (["html_parses", "local_links_resolve"], "the HTML parses and every local link resolves"),
    C.IMAGE: (["image_decodes"], "the image decodes and has the expected size"),
    C.VIDEO: (["video_decodes"], "the video decodes and has a duration"),
    C.AUDIO: (["audio_decodes"], "the audio decodes and has a duration"),
    C.PDF: (["pdf_opens", "has_pages"], "the PDF opens and has pages"),
    C.DOCUMENT: (["document_opens"], "the document opens and has content"),
    C.PRESENTATION: (["presentation_opens", "has_slides"], "the presentation opens and has slides"),
    C.SPREADSHEET: (["spreadsheet_loads"], "the spreadsheet loads and has data"),
    C.PROJECT_EDIT: (["diff_reviewed"], "the change is shown as a readable diff"),
}

_TEMPLATES = {
    "generate": {
        "friendly": (
            "I'll make the {thing}.",
            "It's what you asked for{context}.",
            "Next I'll check that {check}.",
        ),
        "professional": (
            "Generate the {thing}.",
            "Requested deliverable{context}.",
            "Verification follows: {check}.",
        ),
        "mixed": (
            "Make the {thing}.",
            "You asked for it{context}.",
            "Then check that {check}.",
        ),
    },
    "verify": {
        "friendly": (
            "I'll check that {check}.",
            "I only call something done once a real check has passed.",
            "If the check passes, I'll file the {title} as an asset.",
        ),
        "professional": (
            "Verify the {title}: {check}.",
            "No deliverable is reported complete without a passing check.",
            "On success, the {title} is filed as an asset.",
        ),
        "mixed": (
            "Check that {check}.",
            "Nothing counts as done before a real check passes.",
            "When it passes, file the {title} as an asset.",
        ),
    },
    "deliver": {
        "friendly": (
            "I'll file the {title} in your assets, with a preview and a download.",
            "So you can open it, download it, or build on it later.",
            "You'll see it as a result card on this task.",
        ),
        "professional": (
            "File the {title} as an asset with preview, download and lineage.",
            "Delivered outputs are versioned and traceable to this request.",
            "A result card appears on this task.",
        ),
        "mixed": (
            "File the {title} as an asset with a preview and a download.",
            "So it is versioned and traceable back to this request.",
            "A result card shows up on this task.",
        ),
    },
    "run_command": {
        "friendly": (
            "I'll run `{command}` in your workspace folder.",
            "You asked for this command by name.",
            "Next I'll check that it finished with exit status 0.",
        ),
        "professional": (
            "Run `{command}` in the workspace folder, with a timeout and a scrubbed environment.",
            "The request names this command explicitly.",
            "Verification follows: exit status 0.",
        ),
        "mixed": (
            "Run `{command}` in the workspace folder.",
            "You asked for it by name.",
            "Then check that it exits with status 0.",
        ),
    },
}


def explain(kind: str, tone: str, **facts: str) -> StepExplanation:
    what, why, expect_next = _TEMPLATES[kind].get(tone, _TEMPLATES[kind]["mixed"])
    return StepExplanation(what=what.format(**facts), why=why.format(**facts), expect_next=expect_next.format(**facts))
