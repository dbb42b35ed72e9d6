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


@register.simple_tag
def workstream_row(event, tone: str = "mixed") -> str:
    """One workstream row as HTML. Rendered by full page loads and pushed over the socket, for
    every row of every page, so it is built here rather than as an included template (an include
    per row was most of a long page's render). Every value is escaped by format_html."""
    from django.utils import timezone
    from django.utils.html import format_html
    from django.utils.safestring import mark_safe

    status = event.status or "info"
    payload = event.payload if isinstance(event.payload, dict) else {}
    out = [
        format_html('<li class="wsr wsr-{}" id="event-{}-{}" data-seq="{}"', status, event.run_id, event.seq, event.seq)
    ]
    if event.step_id:
        out.append(format_html(' data-step="{}"', event.step_id))
    out.append('>\n  <span class="wsr-dot" aria-hidden="true"></span>\n  <div class="wsr-body">\n')
    out.append(format_html('    <p class="wsr-title">{}</p>\n', event.title))
    if event.explanation:
        change = payload.get("change_url")
        link = format_html(' <a class="wsr-link" href="{}">Change what Command remembers</a>', change) if change else ""
        out.append(format_html('    <p class="wsr-explanation">{}{}</p>\n', event.explanation, link))
    if event.file_path or event.command:
        out.append('    <p class="wsr-context">\n')
        if event.file_path:
            out.append(format_html('      <code class="wsr-file">{}</code>\n', event.file_path))
        if event.command:
            out.append(format_html('      <code class="wsr-command">$ {}</code>\n', event.command))
        out.append("    </p>\n")
    text = payload.get("text") or payload.get("output")
    if text:
        cut = " (truncated)" if payload.get("truncated") or payload.get("output_truncated") else ""
        out.append(
            format_html(
                '    <details class="wsr-output"><summary>Raw output{}</summary><pre>{}</pre></details>\n', cut, text
            )
        )
    out.append('  </div>\n  <div class="wsr-meta">\n')
    if status != "info" and event.status:
        out.append(format_html('    <span class="wsr-status">{}</span>\n', status_word(event.status, tone)))
    if event.phase:
        out.append(format_html('    <span class="wsr-phase">{}</span>\n', event.phase))
    created = event.created_at
    shown = clock(timezone.localtime(created) if created and timezone.is_aware(created) else created)
    out.append(format_html('    <time datetime="{}">{}</time>\n', created.isoformat() if created else "", shown))
    out.append("  </div>\n</li>\n")
    return mark_safe("".join(out))  # noqa: S308 - every part above is format_html or a literal
