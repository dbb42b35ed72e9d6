"""Iteration in the thread, through the real planner, engine, generators, verifier and storage:
a follow-up makes v2 whose parent is v1 and whose card says what changed; what the built-in
planner cannot act on is said and nothing runs; Regenerate makes the next version and says
honestly when it is byte for byte the same; an imported landing page's text reaches the PDF."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils.html import escape
from pypdf import PdfReader

from outputs.changes import text_of
from outputs.models import OutputAsset
from outputs.services import asset_materialise
from tasks import jobs
from tasks.followups import asset_regenerate, task_follow_up
from tasks.models import Task, TaskRun
from tasks.planning import PlanningRefused, task_understand
from tasks.services import task_start_if_ready, task_submit

pytestmark = pytest.mark.django_db


def _drain(run: TaskRun, limit: int = 20) -> TaskRun:
    for _ in range(limit):
        jobs.dispatch_next()
        run.refresh_from_db()
        if run.state not in (TaskRun.State.QUEUED, TaskRun.State.RUNNING, TaskRun.State.VERIFYING):
            break
    return run


def _delivered(owner, prompt: str) -> tuple[Task, OutputAsset]:
    task = task_submit(owner=owner, prompt=prompt)
    task_understand(task=task)
    run = _drain(task_start_if_ready(task=task))
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    return task, OutputAsset.objects.get(run=run)


def test_warmer_colours_on_a_logo_makes_v2_whose_parent_is_v1(owner, owner_client):
    task, v1 = _delivered(owner, "logo for a coffee shop called Bean There")
    outcome = task_follow_up(task=task, text="warmer colours please, and jazzier")
    assert outcome.run is not None and outcome.revision.number == 2
    assert "palette “warm” (from “warmer”)" in outcome.note
    assert "Not applied" in outcome.note and "jazzier" in outcome.note
    run = _drain(outcome.run)
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    v2 = OutputAsset.objects.get(run=run)
    assert (v2.version, v2.parent_id, v2.deliverable_key) == (2, v1.pk, v1.deliverable_key)
    assert v2.is_latest and not OutputAsset.objects.get(pk=v1.pk).is_latest
    assert v2.sha256 != v1.sha256
    changes = v2.metadata["changes"]
    assert changes["kind"] == "picture" and not changes["identical"] and "logo.png" in changes["files_changed"]
    assert any("warm" in c["after"].lower() for c in changes["criteria"]), changes["criteria"]
    page = owner_client.get(reverse("tasks:command_task", args=[task.pk])).content.decode()
    assert "Changed from v1" in page and "a new picture" in page
    # The follow-up sits in the thread above its run, with what was and was not applied.
    assert 'aria-label="Your follow-up"' in page and "Not applied (the built-in planner cannot act on it)" in page
    assert page.count('name="follow_up"') == 1  # under the newest run's results only


def test_a_follow_up_the_built_in_planner_cannot_read_runs_nothing_and_says_so(owner):
    task, _v1 = _delivered(owner, "logo for a coffee shop called Bean There")
    outcome = task_follow_up(task=task, text="make it feel more premium")
    assert outcome.run is None and outcome.revision is None
    assert "could not act on “make it feel more premium”" in outcome.note
    assert task.plan_revisions.count() == 1 and task.runs.count() == 1


def test_make_it_a_pdf_turns_the_landing_page_into_a_pdf_v2_with_a_text_diff(owner):
    task, v1 = _delivered(owner, "website for my family bakery 'Crumb & Co' in Bristol")
    outcome = task_follow_up(task=task, text="make it a PDF")
    assert "format: PDF" in outcome.note
    run = _drain(outcome.run)
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    v2 = OutputAsset.objects.get(run=run)
    assert (v2.category, v2.version, v2.parent_id) == ("pdf", 2, v1.pk)
    changes = v2.metadata["changes"]
    assert changes["kind"] == "text" and changes["format"] == ["website", "pdf"]
    assert changes["added"] > 0 and changes["removed"] > 0 and changes["diff"]


def test_add_a_fourth_tier_changes_the_count_and_the_sheet(owner):
    task, v1 = _delivered(owner, "pricing sheet with 3 tiers for Acme")
    outcome = task_follow_up(task=task, text="add a fourth tier")
    assert "4 tiers" in outcome.note
    run = _drain(outcome.run)
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    v2 = OutputAsset.objects.get(run=run)
    assert v2.parent_id == v1.pk
    assert any(c["name"].endswith("4 tiers") and c["status"] == "passed" for c in v2.criteria), v2.criteria
    assert v2.metadata["changes"]["kind"] == "text" and v2.metadata["changes"]["added"] > 0


def test_a_follow_up_waits_for_the_running_run(owner):
    task = task_submit(owner=owner, prompt="logo for a coffee shop called Bean There")
    task_understand(task=task)
    task_start_if_ready(task=task)
    with pytest.raises(PlanningRefused, match="still going"):
        task_follow_up(task=task, text="warmer colours")


def test_regenerate_makes_the_next_version_and_says_when_nothing_changed(owner, owner_client):
    task, v1 = _delivered(owner, "logo for a coffee shop called Bean There")
    response = owner_client.post(reverse("tasks:regenerate", args=[task.pk, v1.pk]))
    assert response.status_code == 302
    run = _drain(task.runs.order_by("-created_at").first())
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    v2 = OutputAsset.objects.get(run=run)
    assert (v2.version, v2.parent_id) == (2, v1.pk)
    assert "may be identical" in run.plan_revision.change_note
    changes = v2.metadata["changes"]
    # The built-in author is deterministic: the card must say "nothing changed", never claim a change.
    assert changes["identical"] == (v2.sha256 == v1.sha256)
    page = owner_client.get(reverse("tasks:command_task", args=[task.pk])).content.decode()
    if changes["identical"]:
        assert "every file is byte for byte the same as v1" in page


def test_regenerate_refuses_another_users_result(owner, other_client):
    task, v1 = _delivered(owner, "logo for a coffee shop called Bean There")
    assert other_client.post(reverse("tasks:regenerate", args=[task.pk, v1.pk])).status_code == 404
    assert task.runs.count() == 1


def test_use_in_a_new_request_brings_the_landing_pages_text_into_a_pdf(owner, owner_client, tmp_path):
    _task, page = _delivered(owner, "website for my family bakery 'Crumb & Co' in Bristol")
    site = asset_materialise(asset=page, dest_dir=tmp_path / "site")
    site_text = text_of("website", site.parent, site.name)
    response = owner_client.post(
        "/",
        {
            "prompt": "turn this landing page into a one-page PDF brochure",
            "mode": "create",
            "expertise": "new",
            "tone": "mixed",
            "import_asset": str(page.id),
        },
    )
    assert response.status_code == 302
    task = Task.objects.exclude(pk=page.task_id).get(owner=owner)
    run = _drain(task.runs.get())
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    pdf = OutputAsset.objects.get(run=run)
    assert pdf.category == "pdf"
    assert pdf.metadata["imported_from"]["id"] == str(page.id)
    assert "imported" in pdf.content_source and page.title in pdf.content_source
    local = asset_materialise(asset=pdf, dest_dir=tmp_path / "pdf")
    text = " ".join(" ".join(p.extract_text() or "" for p in PdfReader(str(local)).pages).split())
    assert "Crumb & Co" in text and "Your Company" not in text
    # Lines of the page's own text are in the brochure (not a new template's words).
    shared = [line for line in site_text.splitlines() if len(line) > 30 and line in text]
    assert len(shared) >= 2, (site_text, text)
    thread = owner_client.get(reverse("tasks:command_task", args=[task.pk])).content.decode()
    assert "Input: started from" in thread and escape(page.title) in thread


@pytest.mark.parametrize("planned_by", ["provider", "built-in, provider connected since"])
def test_a_providers_plan_gets_the_follow_up_with_the_previous_outputs_text(owner, settings, planned_by):
    from providers.services import provider_connection_create
    from providers.tests.provider_server import ProviderServer, good_result, plan_reply
    from tasks.jobs import understand_with_provider
    from tasks.models import PlanRevision

    task, v1 = _delivered(owner, "website for my family bakery 'Crumb & Co' in Bristol")
    site = asset_materialise(asset=v1, dest_dir=settings.COMMAND_DATA_DIR / "read-v1")
    headline = text_of("website", site.parent, site.name).splitlines()[0]
    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = True
    with ProviderServer() as server:
        connection = provider_connection_create(
            owner=owner, kind="openai_compatible", label="T", base_url=server.url + "/v1", model="gpt-x", api_key="k"
        )
        latest = task.plan_revisions.get()
        if planned_by == "provider":
            latest = PlanRevision.objects.create(  # as if the provider had made the plan
                task=task, number=2, planner=connection.planner_label, understanding=latest.understanding,
                brief=latest.brief, plan=latest.plan,
            )  # fmt: skip
        outcome = task_follow_up(task=task, text="add a section about wedding cakes")
        assert outcome.run is None and "Asked" in outcome.note
        server.script(plan_reply("openai", good_result("website for my family bakery 'Crumb & Co' in Bristol")))
        understand_with_provider(str(task.pk), str(connection.pk), latest.number)
        sent = json.dumps(server.seen[-1].body)
        assert "add a section about wedding cakes" in sent
        assert json.dumps(headline)[1:-1] in sent, "the previous output's own text reaches the model"
        # With a provider connected the model also writes v2's content, through its content tool.
        server.script(_site_written("Crumb & Co, the family bakery in Bristol, now bakes wedding cakes"))
        run = _drain(task.runs.order_by("-created_at").first())
    assert "wedding cakes" in json.dumps(server.seen[-1].body), "the content request carries the follow-up"
    assert run.plan_revision.number == latest.number + 1 and run.state == TaskRun.State.COMPLETED, run.state_reason
    assert OutputAsset.objects.get(run=run).parent_id == v1.pk


def _site_written(headline: str):
    """An OpenAI-format reply whose one tool call writes a site (the content tool's spec)."""
    from providers.tests.provider_server import Reply

    spec = {
        "headline": headline,
        "subheadline": "A family bakery in Bristol.",
        "features": [{"title": "Wedding cakes", "text": "Tiered cakes, baked to order."}],
        "cta": "Order a cake",
    }
    call = {"id": "c1", "type": "function", "function": {"name": "write_site", "arguments": json.dumps(spec)}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return Reply(
        body={
            "id": "x",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": message}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10},
        }
    )


def test_the_changes_partial_never_claims_more_than_the_record():
    from django.template.loader import render_to_string

    def render(**changes):
        base = {"from_version": 1, "identical": False, "files_changed": ["a.pdf"], "format": [], "criteria": []}
        return render_to_string("outputs/partials/version_changes.html", {"changes": {**base, **changes}})

    same_text = render(kind="text", added=0, removed=0, diff=[])
    assert "The text is the same" in same_text and "a.pdf" in same_text and "diff-add" not in same_text
    diffed = render(kind="text", added=1, removed=1, diff=["-Old line", "+New line"])
    assert (
        '<span class="diff-remove">-Old line</span>' in diffed and '<span class="diff-add">+New line</span>' in diffed
    )
    identical = render(kind="picture", identical=True, files_changed=[])
    assert "byte for byte the same as v1" in identical and "a new picture" not in identical


def _imported_request(owner_client, owner, asset, prompt: str) -> OutputAsset:
    form = {"prompt": prompt, "mode": "create", "expertise": "new", "tone": "mixed", "import_asset": str(asset.id)}
    assert owner_client.post("/", form).status_code == 302
    task = Task.objects.filter(owner=owner, raw_prompt=prompt).get()
    run = _drain(task.runs.get(), limit=30)
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    return OutputAsset.objects.get(run=run)


def test_an_imported_sheets_rows_reach_a_word_document(owner, owner_client, tmp_path):
    import docx
    from openpyxl import load_workbook

    _task, sheet = _delivered(owner, "Quarterly budget as excel please, 4 departments, with totals")
    book = load_workbook(str(asset_materialise(asset=sheet, dest_dir=tmp_path / "sheet")))
    labels = [str(c.value) for c in next(iter(book.worksheets)).iter_cols(max_col=1, values_only=False).__next__()]
    labels = [v for v in labels if v and v != "None" and not v.startswith("=")]
    doc_asset = _imported_request(owner_client, owner, sheet, "turn this budget into a word document")
    local = asset_materialise(asset=doc_asset, dest_dir=tmp_path / "doc")
    text = "\n".join(p.text for p in docx.Document(str(local)).paragraphs)
    found = [label for label in labels if label in text]
    assert len(found) >= 4, (labels, text[:1500])
    assert doc_asset.category == "document" and doc_asset.metadata["imported_from"]["id"] == str(sheet.id)


def test_an_imported_pictures_reach_a_slideshow_video(owner, owner_client):
    _task, logo = _delivered(owner, "logo for a coffee shop called Bean There")
    video = _imported_request(owner_client, owner, logo, "make a 2 second video of this")
    assert video.category == "video"
    assert video.metadata["kind"] == "slideshow" and video.metadata["sources"], video.metadata


def test_after_a_regenerate_a_follow_up_still_acts_on_the_whole_plan(owner):
    task = task_submit(owner=owner, prompt="website + logo for my bakery 'Crumb & Co', warm colours")
    task_understand(task=task)
    run = _drain(task_start_if_ready(task=task), limit=30)
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    logo = OutputAsset.objects.get(run=run, category="image")
    regen = _drain(asset_regenerate(task=task, asset=logo).run)
    assert regen.state == TaskRun.State.COMPLETED and regen.plan_revision.plan["steps"][0]["deliverable_id"] == "d2"
    outcome = task_follow_up(task=task, text="cooler colours")
    made = {s["deliverable_id"] for s in outcome.revision.plan["steps"]}
    assert made == {"d1", "d2"}, "the follow-up is on every result, not only the regenerated one"
