"""Presentation of workstream rows: the task's tone changes wording, never facts."""

from django import template

register = template.Library()

# Status words per tone. "mixed" uses the professional word with the friendly mark.
STATUS_WORDS = {
    "professional": {
        "success": "Done",
        "danger": "Failed",
        "muted": "Skipped",
        "failed": "Failed",
        "error": "Failed",
        "warning": "Attention",
        "running": "In progress",
        "info": "Note",
    },
    "friendly": {
        "success": "All good",
        "danger": "That didn't work",
        "muted": "Skipped",
        "failed": "That didn't work",
        "error": "That didn't work",
        "warning": "Heads up",
        "running": "Working on it",
        "info": "FYI",
    },
}


@register.filter
def status_word(status: str, tone: str = "mixed") -> str:
    """The short status label a row shows, in the task's tone."""
    words = STATUS_WORDS["friendly" if tone == "friendly" else "professional"]
    return words.get(status or "info", (status or "note").replace("_", " ").capitalize())


@register.filter(expects_localtime=True)
def clock(value) -> str:
    """HH:MM:SS in the display time zone: what `|time:"H:i:s"` gives, at a fraction of its cost
    (every row of every page renders one, so the general date formatter showed up per row)."""
    return value.strftime("%H:%M:%S") if value else ""
