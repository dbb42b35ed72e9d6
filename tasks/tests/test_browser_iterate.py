"""Iteration in real Chromium, against daphne and a real worker: a follow-up under a logo's results
makes v2 whose lineage names v1 and whose card says what changed; "Use in a new request" on a
landing page + "turn this landing page into a one-page PDF brochure" makes a PDF written from the
page's own text, with the page shown as the request's input."""

from __future__ import annotations

import io

from pypdf import PdfReader

from outputs.models import OutputAsset
from tasks.models import Task, TaskRun
from tasks.tests import browser
from tasks.tests.browser import browser_marks, screenshot, serious_violations, signed_in_page, wait_for

pytestmark = browser_marks
stack = browser.stack
chromium = browser.chromium
audited = browser.audited


def _request(page, prompt: str) -> Task:
    page.fill("textarea[name=prompt]", prompt)
    page.click("text=Send to Command")
    page.wait_for_url("**/command/*/")
    return Task.objects.filter(raw_prompt=prompt).latest("created_at")


def _finished(task: Task, runs: int = 1) -> TaskRun:
    wait_for(
        lambda: task.runs.filter(finished_at__isnull=False).count() >= runs, timeout=90, message="the run to finish"
    )
    run = task.runs.order_by("-created_at").first()
    assert run.state == TaskRun.State.COMPLETED, run.state_reason
    return run


def test_follow_up_makes_v2_and_an_imported_page_becomes_the_pdfs_text(stack, chromium, owner):
    page = signed_in_page(chromium, stack, owner)
    page.set_default_timeout(30_000)

    # A logo, then "warmer colours" typed under its result.
    page.goto(stack.url + "/")
    task = _request(page, "logo for a coffee shop called Bean There")
    run = _finished(task)
    v1 = OutputAsset.objects.get(run=run)
    page.wait_for_selector(f"#run-{run.pk} #asset-{v1.pk}")
    page.fill(f"#run-{run.pk} input[name=follow_up]", "warmer colours")
    page.click(f"#run-{run.pk} button:has-text('Send follow-up')")
    page.wait_for_selector("#messages :text('palette “warm”')")
    follow = _finished(task, runs=2)
    assert follow.pk != run.pk and follow.plan_revision.number == 2
    v2 = OutputAsset.objects.get(run=follow)
    assert (v2.version, v2.parent_id, v2.deliverable_key) == (2, v1.pk, v1.deliverable_key)
    assert v2.sha256 != v1.sha256
    # The settled card shows v2 and what changed from v1; the follow-up box moved under it.
    card = page.locator(f"#asset-{v2.pk}")
    card.wait_for(timeout=30_000)
    assert "v2" in card.locator(".badge.accent").inner_text()
    assert "Changed from v1" in card.inner_text() and "a new picture" in card.inner_text()
    assert page.locator("input[name=follow_up]").count() == 1
    assert page.locator(f"#run-{follow.pk} input[name=follow_up]").count() == 1
    page.reload()  # the thread as it loads: the follow-up box, Regenerate and the changes are accessible
    page.wait_for_selector(f"#asset-{v2.pk}")
    assert serious_violations(page) == []
    screenshot(page, "iterate-thread-v2")
    # The lineage on the asset's page names v1.
    card.locator("h3 a").click()
    page.wait_for_url(f"**/assets/{v2.pk}/")
    lineage = page.locator("dl.lineage")
    parent = lineage.locator("dt:has-text('Parent version') + dd a")
    assert parent.inner_text() == "v1" and parent.get_attribute("href").endswith(f"/assets/{v1.pk}/")
    assert "Changed from v1" in page.inner_text("#main")
    screenshot(page, "iterate-v2-versions")

    # A landing page, then "Use in a new request" on its card.
    page.goto(stack.url + "/")
    site_task = _request(page, "website for my family bakery 'Crumb & Co' in Bristol")
    site_run = _finished(site_task)
    site = OutputAsset.objects.get(run=site_run)
    page.wait_for_selector(f"#asset-{site.pk}")
    page.click(f"#asset-{site.pk} a:has-text('Use in a new request')")
    page.wait_for_url(f"**/?import={site.pk}")
    assert page.get_attribute("input[name=import_asset]", "value") == str(site.pk)
    pdf_task = _request(page, "turn this landing page into a one-page PDF brochure")
    pdf_run = _finished(pdf_task)
    pdf = OutputAsset.objects.get(run=pdf_run)
    assert pdf.category == "pdf" and pdf.metadata["imported_from"]["id"] == str(site.pk)
    # The thread shows the page as the request's input, and the card who wrote the content.
    page.wait_for_selector(f"#asset-{pdf.pk}")
    assert "Input: started from" in page.inner_text(".bubble-user") and site.title in page.inner_text(".bubble-user")
    assert "taken from the imported" in page.inner_text(f"#asset-{pdf.pk}")
    page.click(f"#asset-{pdf.pk} h3 a")
    page.wait_for_url(f"**/assets/{pdf.pk}/")
    made_from = page.locator("dl.lineage dt:has-text('Written from') + dd a")
    assert made_from.get_attribute("href").endswith(f"/assets/{site.pk}/")
    screenshot(page, "iterate-imported-pdf")

    # The PDF's words are the page's words: both read back through the server as the person gets them.
    site_html = page.request.get(stack.url + f"/assets/{site.pk}/site/index.html").text()
    from outputs.changes import html_blocks

    site_lines = [t for tag, t in html_blocks(site_html) if tag in {"h2", "p", "li"} and len(t) > 30]
    pdf_bytes = page.request.get(stack.url + f"/assets/{pdf.pk}/download/").body()
    text = " ".join(" ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf_bytes)).pages).split())
    assert "Crumb & Co" in text and "Your Company" not in text
    shared = [line for line in site_lines if line in text]
    assert len(shared) >= 2, (site_lines, text[:800])
    page.close()
