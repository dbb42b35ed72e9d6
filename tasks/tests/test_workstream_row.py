"""The workstream row every page and push renders: what it shows, and that every value is escaped."""

from __future__ import annotations

from datetime import UTC, datetime

from django.template import Context, Template
from django.test import override_settings

from tasks.models import WorkstreamEvent
from tasks.templatetags.workstream import workstream_row


def _event(**fields) -> WorkstreamEvent:
    base = {
        "run_id": 7,
        "seq": 12,
        "kind": "command.finished",
        "status": "success",
        "phase": "execute",
        "title": "`npm test` exited with code 0",
        "created_at": datetime(2026, 11, 21, 9, 5, 7, tzinfo=UTC),
    }
    return WorkstreamEvent(**{**base, **fields})


def test_a_row_shows_its_facts_in_the_tasks_tone():
    html = workstream_row(_event(command="npm test", file_path="src/app.js", step_id="s2"), "friendly")
    assert 'id="event-7-12" data-seq="12" data-step="s2"' in html
    assert 'class="wsr wsr-success"' in html
    assert '<code class="wsr-command">$ npm test</code>' in html and '<code class="wsr-file">src/app.js</code>' in html
    assert '<span class="wsr-status">All good</span>' in html
    assert '<time datetime="2026-11-21T09:05:07+00:00">' in html
    assert "wsr-output" not in html and "wsr-explanation" not in html


@override_settings(TIME_ZONE="Europe/Berlin")
def test_the_clock_is_in_the_display_time_zone_and_info_rows_have_no_status_word():
    html = workstream_row(_event(status="", phase=""))
    assert ">10:05:07</time>" in html
    assert "wsr-status" not in html and "wsr-phase" not in html and 'class="wsr wsr-info"' in html


def test_every_value_is_escaped():
    html = workstream_row(
        _event(
            title="<script>alert(1)</script>",
            explanation="a & b",
            command="echo '<x>'",
            payload={"output": "</pre><b>", "output_truncated": True, "change_url": '/m/?a=1&b="2"'},
        )
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "a &amp; b" in html and "echo &#x27;&lt;x&gt;&#x27;" in html
    assert "<pre>&lt;/pre&gt;&lt;b&gt;</pre>" in html and "Raw output (truncated)" in html
    assert 'href="/m/?a=1&amp;b=&quot;2&quot;"' in html


def test_templates_use_the_tag_with_the_tone_in_context():
    out = Template("{% load workstream %}{% workstream_row event tone %}").render(
        Context({"event": _event(status="danger"), "tone": "professional"})
    )
    assert '<span class="wsr-status">Failed</span>' in out


def test_a_command_row_has_a_terminal_pane_and_its_output_rows_point_at_it():
    started = workstream_row(
        _event(kind="command.started", title="Running `make`", payload={"command_execution_id": 5})
    )
    assert '<pre id="terminal-7-5" class="wsr-terminal-text" data-terminal tabindex="0"></pre>' in started
    output = workstream_row(
        _event(
            kind="command.output",
            seq=13,
            title="Command output",
            payload={"command_execution_id": 5, "text": "\x1b[31mred\x1b[0m\n"},
        )
    )
    assert 'data-terminal-for="terminal-7-5"' in output and "<pre>red\n</pre>" in output
    other = workstream_row(_event(kind="note", payload={"command_execution_id": 5}))
    assert "terminal" not in other


def test_the_row_of_a_step_that_edited_a_file_links_to_its_diff(owner, tmp_path):
    from providers.contracts import ActionType
    from tasks import jobs
    from tasks.engine.dispatch import run_create
    from tasks.tests.engine_support import make_task, make_workspace, step
    from workspaces.models import FileChange

    ws = make_workspace(owner, tmp_path / "ws")
    plan = [step("w", ActionType.WRITE_FILE, "Write the page", path="index.html", content="<h1>Acme</h1>\n")]
    run = run_create(task=make_task(owner, ws, plan))
    jobs.dispatch_next()
    change = FileChange.objects.get(run=run, path="index.html")
    row = run.events.get(kind="step.succeeded", step_id="w")
    html = workstream_row(row, "mixed")
    assert f'<a class="wsr-link" href="/workspaces/{ws.pk}/changes/{change.pk}/">See the diff</a>' in html
