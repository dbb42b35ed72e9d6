"""Presentation of workstream rows: the task's tone changes wording, never facts."""

import html
import re

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

register = template.Library()

# Colour and cursor codes in a command's output: stripped, never shown as garbage.
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")

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


@register.simple_tag
def workstream_row(event, tone: str = "mixed") -> str:
    """One workstream row as HTML. Rendered by full page loads and pushed over the socket, for
    every row of every page, so it is built here rather than as an included template (an include
    per row was most of a long page's render). Every value goes through `e` (html.escape with
    quotes: the same five characters Django's escape replaces)."""
    status = event.status or "info"
    payload = event.payload if isinstance(event.payload, dict) else {}
    step = f' data-step="{e(event.step_id)}"' if event.step_id else ""
    execution = payload.get("command_execution_id")
    terminal = f"terminal-{event.run_id}-{execution}" if isinstance(execution, int) else ""
    if terminal and event.kind == "command.output":
        # Shown inside its command's row (static/js/command.js moves the text into the pane); a row
        # of its own only where that row is not on the page.
        step += f' data-terminal-for="{e(terminal)}"'
    out = [
        f'<li class="wsr wsr-{e(status)}" id="event-{e(event.run_id)}-{e(event.seq)}"'
        f' data-seq="{e(event.seq)}"{step}>\n'
        '  <span class="wsr-dot" aria-hidden="true"></span>\n  <div class="wsr-body">\n'
        f'    <p class="wsr-title">{e(event.title)}</p>\n'
    ]
    changes = payload.get("changes") if event.kind == "plan.revised" else None
    if changes and isinstance(changes, list):  # a plan revision: what changed, one line each, before why
        items = "".join(f"<li>{e(c)}</li>" for c in changes)
        out.append(f'    <ul class="wsr-changes" aria-label="What changed">{items}</ul>\n')
    if event.explanation:
        change = payload.get("change_url")
        link = f' <a class="wsr-link" href="{e(change)}">Change what Command remembers</a>' if change else ""
        # The model's streamed words: one row per reply whose text grows (revised_words_oob).
        words = f' id="{e(words_id(event))}"' if event.kind == "model.text" else ""
        out.append(f'    <p class="wsr-explanation"{words}>{e(event.explanation)}{link}</p>\n')
    if payload.get("diff_url"):
        out.append(
            f'    <p class="wsr-context"><a class="wsr-link" href="{e(payload["diff_url"])}">See the diff</a></p>\n'
        )
    if event.file_path or event.command:
        out.append('    <p class="wsr-context">\n')
        if event.file_path:
            out.append(f'      <code class="wsr-file">{e(event.file_path)}</code>\n')
        if event.command:
            out.append(f'      <code class="wsr-command">$ {e(event.command)}</code>\n')
        out.append("    </p>\n")
    if terminal and event.kind == "command.started":
        log = e(reverse("tasks:command_output", args=[event.run_id, execution]))
        out.append(
            '    <details class="wsr-terminal" open><summary>Output</summary>'
            f'<pre id="{e(terminal)}" class="wsr-terminal-text" data-terminal tabindex="0"></pre>'
            f'<a class="wsr-link" href="{log}" download>Download the full log</a></details>\n'
        )
    text = payload.get("text") or payload.get("output")
    if text and event.kind == "command.output":
        text = ANSI.sub("", text)
    if text:
        cut = " (truncated)" if payload.get("truncated") or payload.get("output_truncated") else ""
        out.append(
            f'    <details class="wsr-output"><summary>Raw output{cut}</summary><pre>{e(text)}</pre></details>\n'
        )
    out.append('  </div>\n  <div class="wsr-meta">\n')
    if status != "info":
        out.append(f'    <span class="wsr-status">{e(status_word(status, tone))}</span>\n')
    if event.phase:
        out.append(f'    <span class="wsr-phase">{e(event.phase)}</span>\n')
    created = event.created_at
    if created is not None:
        local = timezone.localtime(created) if timezone.is_aware(created) else created
        out.append(f'    <time datetime="{e(created.isoformat())}">{clock(local)}</time>\n')
    else:
        out.append('    <time datetime=""></time>\n')
    out.append("  </div>\n</li>\n")
    return mark_safe("".join(out))  # noqa: S308 - every value above went through e()


def words_id(event) -> str:
    """The id of a streamed-words row's text, which its revisions replace."""
    return f"words-{event.run_id}-{event.seq}"


def revised_words_oob(event) -> str:
    """The new text of a streamed-words row already on the page, as an out-of-band swap."""
    return mark_safe(  # noqa: S308 - every value went through e()
        f'<p class="wsr-explanation" id="{e(words_id(event))}" hx-swap-oob="true">{e(event.explanation)}</p>'
    )


def e(value) -> str:
    return html.escape(str(value), quote=True)
