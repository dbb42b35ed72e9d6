"""Content tools: with a provider connected, the model writes an output's content through the typed
content tool of its deliverable, over real HTTP in both wire formats; the generators render it, the
brief's criteria check it, and the card names the model as its author."""

from __future__ import annotations

import io
import zipfile
from html.parser import HTMLParser
from xml.etree import ElementTree

import pytest
from django.core.files.storage import default_storage
from docx import Document
from openpyxl import load_workbook
from pptx import Presentation
from pypdf import PdfReader

from outputs.models import OutputAsset
from providers.planner import BuiltinPlanner, PlanningRequest
from providers.tests.scripted_model import FORMATS, Conversation, call, reply, say
from tasks.engine.dispatch import run_create
from tasks.engine.loop.content import content_authored
from tasks.models import TaskRun
from tasks.tests.engine_support import make_task
from tasks.tests.loop_support import assert_audit_clean, connect, drain
from tasks.tests.loop_support import run_story as _story


def run_story(run):
    """The steps and events, and each failed step's whole message."""
    return [*_story(run), [s.error_message for s in run.steps.exclude(error_message="")]]


S = TaskRun.State
pytestmark = pytest.mark.django_db

BUDGET = "Quarterly budget as excel please, 4 departments, with totals"
DEPARTMENTS = ["Kitchen", "Front of house", "Marketing", "Deliveries"]


@pytest.fixture(params=FORMATS)
def kind(request):
    """Each test runs once per wire format."""
    return request.param


def content_run(owner, model, prompt: str) -> TaskRun:
    """A run of the built-in plan for `prompt`, its outputs' content written by `model`."""
    connection = connect(owner, model)
    result, _ = content_authored(
        BuiltinPlanner().plan(PlanningRequest(prompt=prompt, mode="create")), connection=connection
    )
    return run_create(task=make_task(owner, None, result.plan.steps, prompt=prompt))


def author(owner) -> str:
    from providers.models import ProviderConnection

    return ProviderConnection.objects.get(owner=owner).planner_label


def delivered(run: TaskRun) -> tuple[OutputAsset, bytes]:
    asset = OutputAsset.objects.get(run=run)
    with default_storage.open(asset.file.name, "rb") as fh:
        return asset, fh.read()


def sheet_spec(departments: list[str]) -> dict:
    # Data row n is sheet row n + 3 (the title and column rows come first).
    rows = [
        [name, 1000 * n, 1100 * n, 900 * n, 1200 * n, f"=SUM(B{n + 3}:E{n + 3})"]
        for n, name in enumerate(departments, 1)
    ]
    return {
        "title": "Bakery budget 2027",
        "columns": ["Department", "Q1", "Q2", "Q3", "Q4", "Year"],
        "rows": rows,
        "totals": True,
    }


def test_a_sheet_the_model_writes_is_the_delivered_workbook(scripted_model, owner, kind):
    def script(convo: Conversation):
        assert convo.tool_names == ["write_sheet"], convo.tool_names
        schema = convo.tools[0].parameters
        assert {"columns", "rows", "totals"} <= set(schema["properties"]) and "kind" not in schema["properties"]
        assert "4 departments" in convo.messages[0]["content"], "the brief's criteria reach the model"
        return reply(say("Four departments by quarter."), call("write_sheet", **sheet_spec(DEPARTMENTS)))

    model = scripted_model(kind, script)
    run = drain(content_run(owner, model, BUDGET))
    assert run.state == S.COMPLETED, run_story(run)
    asset, data = delivered(run)
    assert asset.content_source == author(owner)
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    values = [c.value for row in ws.iter_rows() for c in row]
    assert all(name in values for name in DEPARTMENTS) and "=SUM(B4:E4)" in values
    assert model.count == 1
    assert_audit_clean()


def test_an_invalid_spec_goes_back_to_the_model_and_its_correction_is_delivered(scripted_model, owner, kind):
    def script(convo: Conversation):
        if convo.turn == 1:
            bad = sheet_spec(DEPARTMENTS)
            bad["rows"][0][5] = '=WEBSERVICE("http://example.com")'
            return call("write_sheet", **bad)
        told = convo.last_result("write_sheet")
        assert "only SUM, cell references and arithmetic" in told, told
        return reply(say("Fixed the formula."), call("write_sheet", **sheet_spec(DEPARTMENTS)))

    model = scripted_model(kind, script)
    run = drain(content_run(owner, model, BUDGET))
    assert run.state == S.COMPLETED, run_story(run)
    _, data = delivered(run)
    values = [c.value for row in load_workbook(io.BytesIO(data)).worksheets[0].iter_rows() for c in row]
    assert "=SUM(B4:E4)" in values and not any("WEBSERVICE" in str(v) for v in values)
    assert model.count == 2
    step = run.steps.get(action_type="generate_output")
    assert [r["calls"] for r in step.result["content_replies"]] == [["write_sheet"], ["write_sheet"]]


def test_a_criterion_the_models_content_fails_keeps_the_run_from_completing(scripted_model, owner, kind):
    told: list[str] = []

    def three(convo: Conversation):
        if convo.turn > 1:
            told.append(convo.last_result("write_sheet"))
        return call("write_sheet", **sheet_spec(DEPARTMENTS[:3]))

    model = scripted_model(kind, three)
    run = drain(content_run(owner, model, BUDGET))
    assert run.state != S.COMPLETED, run_story(run)
    assert model.count == 3 and all("4 departments" in t for t in told), told
    failed = run.steps.get(action_type="verify")
    assert failed.status == "failed" and "4 departments" in failed.error_message, failed.error_message
    assert not OutputAsset.objects.filter(run=run).exists()


def test_a_failed_criterion_reaches_the_model_and_its_corrected_content_is_delivered(scripted_model, owner, kind):
    def script(convo: Conversation):
        if convo.turn == 1:
            return call("write_sheet", **sheet_spec(DEPARTMENTS[:3]))
        told = convo.last_result("write_sheet")
        assert "fails" in told and "4 departments" in told, told
        return call("write_sheet", **sheet_spec(DEPARTMENTS))

    model = scripted_model(kind, script)
    run = drain(content_run(owner, model, BUDGET))
    assert run.state == S.COMPLETED, run_story(run)
    _, data = delivered(run)
    assert "Deliveries" in [c.value for row in load_workbook(io.BytesIO(data)).worksheets[0].iter_rows() for c in row]


DOC = {
    "title": "Welcome to Ward 7: onboarding for new nurses",
    "sections": [
        {"heading": "Your first day as a new nurse", "paragraphs": ["Arrive at 07:15 for the handover on Ward 7."]},
        {"heading": "Your first week", "paragraphs": ["Shadow a senior nurse on each shift pattern."]},
        {"heading": "Onboarding checklist", "bullets": ["Badge and locker", "Medication round shadowing"]},
    ],
    "closing": "Ask the charge nurse anything.",
}


def test_a_document_the_model_writes_is_the_delivered_docx(scripted_model, owner, owner_client, kind):
    from django.urls import reverse

    model = scripted_model(kind, lambda convo: reply(say("A guide for Ward 7."), call("write_document", **DOC)))
    run = drain(content_run(owner, model, "write a word doc onboarding guide for new nurses"))
    assert run.state == S.COMPLETED, run_story(run)
    asset, data = delivered(run)
    text = "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)
    assert "Arrive at 07:15 for the handover on Ward 7." in text and "Medication round shadowing" in text
    page = owner_client.get(reverse("tasks:command_task", args=[run.task_id])).content.decode()
    assert f"written by {author(owner)}" in page, "the card names the model as the author"
    assert "The model says: “A guide for Ward 7.”" in page, "the model's words are shown as its words"
    card = owner_client.get(reverse("tasks:run_status", args=[run.pk])).content.decode()
    usage = card[card.find("<dt>Model</dt>") : card.find("</dd>", card.find("<dt>Model</dt>"))]
    assert "1 of " in usage and "tokens" in usage, usage
    assert "tool call" not in usage, "a run whose replies only wrote content shows no tool calls it never could make"


def test_a_pdf_the_model_writes_is_the_delivered_pdf(scripted_model, owner, kind):
    spec = {
        "title": "Crumb & Co bakery opening day flyer",
        "sections": [{"heading": "Opening day", "paragraphs": ["Free cinnamon buns from 8am."]}],
    }
    model = scripted_model(kind, lambda convo: call("write_document", **spec))
    run = drain(content_run(owner, model, "a one page PDF flyer for Crumb & Co bakery opening day"))
    assert run.state == S.COMPLETED, run_story(run)
    _, data = delivered(run)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert "Free cinnamon buns from 8am." in text


def test_slides_the_model_writes_are_the_delivered_deck(scripted_model, owner, kind):
    spec = {
        "title": "Crumb & Co bakery: pitch deck",
        "subtitle": "Seed round",
        "slides": [
            {"title": "Sourdough since 1962", "bullets": ["Three ovens"]},
            {"title": "Wholesale to cafés", "bullets": ["40 cafés"]},
            {"title": "The ask", "bullets": ["£250k"]},
        ],
    }
    model = scripted_model(kind, lambda convo: call("write_slides", **spec))
    run = drain(content_run(owner, model, "a 5 slide pitch deck for Crumb & Co bakery"))
    assert run.state == S.COMPLETED, run_story(run)
    _, data = delivered(run)
    deck = Presentation(io.BytesIO(data))
    titles = [s.shapes.title.text for s in deck.slides if s.shapes.title is not None]
    assert titles[0] == "Crumb & Co bakery: pitch deck" and "Wholesale to cafés" in titles and len(deck.slides) == 5


def test_a_logo_the_model_draws_is_the_delivered_logo(scripted_model, owner, kind):
    mark = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><circle cx="32" cy="32" r="30" fill="#c2410c"/>'
        '<path d="M20 40 Q32 16 44 40" fill="#f59e0b"/><script>alert(1)</script></svg>'
    )
    spec = {"name": "Bean There", "mark_svg": mark, "colours": ["#c2410c", "#f59e0b"]}
    model = scripted_model(kind, lambda convo: call("write_logo", **spec))
    run = drain(content_run(owner, model, "logo for a coffee shop called Bean There, warm colours"))
    assert run.state == S.COMPLETED, run_story(run)
    asset, data = delivered(run)
    logo = ElementTree.fromstring(data)  # noqa: S314 — the mark was sanitised before rendering
    assert "Bean There" in [t.text for t in logo.iter() if t.tag.endswith("text")]
    assert "script" not in data.decode() and "M20 40 Q32 16 44 40" in data.decode()


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data.strip())


def test_site_copy_the_model_writes_is_the_delivered_site(scripted_model, owner, kind):
    spec = {
        "headline": "Crumb & Co, the family bakery that bakes Bristol's breakfast",
        "subheadline": "A family bakery on Gloucester Road since 1962.",
        "features": [{"title": "Morning loaves", "text": "Sourdough out of the oven at seven."}],
        "cta": "Order a birthday cake",
    }
    model = scripted_model(kind, lambda convo: call("write_site", **spec))
    run = drain(content_run(owner, model, "website for my family bakery 'Crumb & Co' in Bristol"))
    assert run.state == S.COMPLETED, run_story(run)
    _, data = delivered(run)
    page = _Text()
    page.feed(zipfile.ZipFile(io.BytesIO(data)).read("index.html").decode())
    text = " ".join(page.parts)
    assert "the family bakery that bakes Bristol's breakfast" in text and "Sourdough out of the oven at seven." in text
    assert "Enterprise-grade" not in text


def test_with_a_provider_an_output_request_is_planned_for_the_models_content(scripted_model, owner, owner_client, kind):
    """Through planning: the provider's one-pass plan is not usable here (it replies in prose), the
    built-in plan stands, and its output's content is still the model's, through the content tool."""
    from django.urls import reverse
    from django_q.models import OrmQ

    from tasks import jobs
    from tasks.planning import task_understand
    from tasks.services import task_submit

    def script(convo: Conversation):
        if not convo.tools:
            return say("I would make a guide.")  # not the plan's JSON: Command falls back to its own plan
        return call("write_document", **DOC)

    model = scripted_model(kind, script)
    connect(owner, model)
    task = task_submit(owner=owner, prompt="write a word doc onboarding guide for new nurses", mode="create")
    task_understand(task=task)
    [job] = [q for q in OrmQ.objects.all() if q.task["func"] == "tasks.jobs.understand_with_provider"]
    job.delete()
    jobs.understand_with_provider(*job.task["args"])
    revision = task.plan_revisions.order_by("-number").first()
    make = next(s for s in revision.plan["steps"] if s["action_type"] == "generate_output")
    assert make["inputs"]["content_connection_id"]
    assert make["explanation"]["what"].endswith(f"{author(owner)} writes its content; Command renders it.")
    page = owner_client.get(reverse("tasks:command_task", args=[task.pk])).content.decode()
    assert f"{author(owner)} writes its content; Command renders it." in page, "the plan in the thread says so"
    assert "writes the content of “Make the document” through a typed content tool" in revision.change_note
    run = drain(TaskRun.objects.get(task=task))
    assert run.state == S.COMPLETED, run_story(run)
    _, data = delivered(run)
    assert "Medication round shadowing" in "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)


def test_without_a_provider_the_built_in_author_still_writes(owner):
    run = drain(
        run_create(
            task=make_task(
                owner,
                None,
                BuiltinPlanner().plan(PlanningRequest(prompt=BUDGET, mode="create")).plan.steps,
                prompt=BUDGET,
            )
        )
    )
    assert run.state == S.COMPLETED, run_story(run)
    asset, _ = delivered(run)
    assert asset.content_source == "built-in templates"


def test_a_provider_that_refuses_leaves_the_output_unmade_and_says_so(scripted_model, owner, kind):
    from providers.tests.scripted_model import Raw

    refusal = {"type": "error", "error": {"type": "invalid_request_error", "message": "this key is not allowed"}}
    model = scripted_model(kind, lambda convo: Raw(status=400, body=refusal))
    run = drain(content_run(owner, model, BUDGET))
    assert run.state != S.COMPLETED, run_story(run)
    make = run.steps.get(action_type="generate_output")
    assert make.status == "failed" and "did not answer while writing" in make.error_message, make.error_message
    assert model.count == 1, "a refusal is not retried"
    assert not OutputAsset.objects.filter(run=run).exists()


def test_a_site_the_model_writes_for_a_workspace_lands_in_its_folder(scripted_model, owner, tmp_path, kind):
    from tasks.tests.engine_support import make_workspace

    prompt = "website for my family bakery 'Crumb & Co' in Bristol"
    spec = {"headline": "Crumb & Co, the family bakery on Gloucester Road", "cta": "Order a birthday cake"}
    model = scripted_model(kind, lambda convo: call("write_site", **spec))
    workspace = make_workspace(owner, tmp_path / "ws")
    result, _ = content_authored(
        BuiltinPlanner().plan(PlanningRequest(prompt=prompt, mode="create", workspace_name=workspace.name)),
        connection=connect(owner, model),
    )
    run = drain(run_create(task=make_task(owner, workspace, result.plan.steps, prompt=prompt)))
    assert run.state == S.COMPLETED, run_story(run)
    index = (tmp_path / "ws" / "site" / "index.html").read_text()
    assert "the family bakery on Gloucester Road" in index and "Order a birthday cake" in index


def test_a_worker_killed_after_the_models_reply_never_asks_for_it_again(scripted_model, owner, kind, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from outputs import services
    from tasks import jobs
    from tasks.engine.recovery import run_recover
    from tasks.tests.loop_support import WorkerKilled

    real_render = services.output_render

    def die_once(**kwargs):  # the reply arrived and was stored; the worker dies before rendering it
        monkeypatch.setattr(services, "output_render", real_render)
        raise WorkerKilled

    monkeypatch.setattr(services, "output_render", die_once)
    model = scripted_model(kind, lambda convo: reply(say("Here it is."), call("write_document", **DOC)))
    run = content_run(owner, model, "write a word doc onboarding guide for new nurses")
    with pytest.raises(WorkerKilled):
        jobs.dispatch_next()
    assert model.count == 1
    recovery = run_recover(run_id=run.pk, now=timezone.now() + timedelta(seconds=3600))
    assert recovery.outcome == "resumed", recovery.reason
    run = drain(run)
    assert run.state == S.COMPLETED, run_story(run)
    assert model.count == 1, "the stored reply was replayed, not asked for again"
    _, data = delivered(run)
    assert "Medication round shadowing" in "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)
    assert run.events.filter(kind="model.content").count() == 1
    assert list(run.model_turns.values_list("purpose", "number")) == [("content", 1)], "stored once, replayed"
    assert_audit_clean()


def test_content_replies_are_stored_turns_and_a_spent_token_budget_pauses_the_run(
    scripted_model, owner, owner_client, kind, settings
):
    """Each reply the model writes content in is a model turn of the run, stored with its usage and
    counted toward the budget: the first reply (3,500 tokens, a spec that does not validate) spends
    the 3,000-token budget, so the run pauses before asking for the second; resuming grants as much
    again, and the correction is delivered. The audit traces the output to its stored turns."""
    from django.urls import reverse

    from tasks.engine.controls import run_resume
    from tasks.models import ModelTurn

    settings.COMMAND_LOOP_MAX_TOKENS = 3_000

    def script(convo: Conversation):
        if convo.turn == 1:
            bad = sheet_spec(DEPARTMENTS)
            bad["rows"][0][5] = '=WEBSERVICE("http://example.com")'
            return reply(say("A first go."), call("write_sheet", **bad), usage=(3_000, 500))
        return reply(say("Fixed the formula."), call("write_sheet", **sheet_spec(DEPARTMENTS)), usage=(3_200, 400))

    model = scripted_model(kind, script)
    run = drain(content_run(owner, model, BUDGET))
    assert run.state == S.PAUSED, run_story(run)
    assert run.blocking_reason == "budget reached" and "3,500 of 3,000 tokens" in run.state_reason, run.state_reason
    assert model.count == 1, "the spent budget stopped the second reply before it was asked for"
    make = run.steps.get(action_type="generate_output")
    stored = list(
        ModelTurn.objects.filter(run=run).values_list("purpose", "step", "number", "input_tokens", "output_tokens")
    )
    assert stored == [("content", make.pk, 1, 3_000, 500)]
    card = owner_client.get(reverse("tasks:run_status", args=[run.pk])).content.decode()
    assert "1 of 40 turns" in card and "3,500 of 3,000 tokens" in card, card[card.find("<dl") : card.find("</dl")]
    assert_audit_clean()

    run_resume(run=run)
    run = drain(run)
    assert run.state == S.COMPLETED, run_story(run)
    assert model.count == 2, "the stored first reply was replayed, not asked for again"
    stored = list(ModelTurn.objects.filter(run=run).order_by("number").values_list("number", "input_tokens"))
    assert stored == [(1, 3_000), (2, 3_200)]
    _, data = delivered(run)
    values = [c.value for row in load_workbook(io.BytesIO(data)).worksheets[0].iter_rows() for c in row]
    assert "=SUM(B4:E4)" in values and not any("WEBSERVICE" in str(v) for v in values)
    assert run.events.filter(kind="model.content").count() == 2
    assert_audit_clean()
