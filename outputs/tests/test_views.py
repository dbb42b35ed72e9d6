"""Pages, previews and downloads: correct types and headers, and only ever the owner's assets."""

from __future__ import annotations

import pytest
from django.urls import reverse

from outputs.models import OutputAsset


@pytest.fixture
def assets(deliver, generated):
    return {cat: deliver(out) for cat, out in generated.items()}


def asset_urls(asset: OutputAsset) -> list[str]:
    urls = [
        reverse("outputs:detail", args=[asset.id]),
        reverse("outputs:versions", args=[asset.id]),
        reverse("outputs:download", args=[asset.id]),
        reverse("outputs:raw", args=[asset.id, asset.files[0]["path"]]),
    ]
    if asset.preview:
        urls.append(reverse("outputs:preview", args=[asset.id]))
    if asset.category == "website":
        urls.append(reverse("outputs:site", args=[asset.id, "index.html"]))
    return urls


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_every_asset_url_is_owner_only(assets, owner_client, other_client, anon_client):
    for asset in assets.values():
        for url in asset_urls(asset):
            assert owner_client.get(url).status_code == 200, url
            assert other_client.get(url).status_code == 404, url
            anon = anon_client.get(url)
            assert anon.status_code == 302 and "/accounts/login/" in anon["Location"], url
        check = reverse("outputs:check", args=[asset.id])
        assert other_client.post(check).status_code == 404
        assert anon_client.post(check).status_code == 302


def test_download_is_an_attachment_of_the_right_type(assets, owner_client, generated):
    for cat, asset in assets.items():
        response = owner_client.get(reverse("outputs:download", args=[asset.id]))
        assert response["Content-Type"] == asset.mime_type
        assert (
            response["Content-Disposition"].startswith("attachment;")
            and asset.file_name in response["Content-Disposition"]
        )
        assert response["X-Content-Type-Options"] == "nosniff"
        if cat != "website":
            assert body(response) == generated[cat].primary_path.read_bytes()


def test_a_listed_companion_file_downloads_and_an_unlisted_path_does_not(assets, owner_client):
    asset = assets["spreadsheet"]
    csv_name = next(f["path"] for f in asset.files if f["path"].endswith(".csv"))
    url = reverse("outputs:download", args=[asset.id])
    response = owner_client.get(url, {"file": csv_name})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert body(response).startswith(b"Plan,Seats")
    assert owner_client.get(url, {"file": "../../other/secret.txt"}).status_code == 404
    raw = reverse("outputs:raw", args=[asset.id, "x/../../" + csv_name])
    assert owner_client.get(raw).status_code == 404


def test_site_preview_is_frameable_same_origin_and_sandboxed(assets, owner_client):
    asset = assets["website"]
    response = owner_client.get(reverse("outputs:site", args=[asset.id, "index.html"]))
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response["Content-Type"].startswith("text/html")
    assert "sandbox" in response["Content-Security-Policy"] and "script-src" not in response["Content-Security-Policy"]
    assert b"Northwind Cloud" in body(response)
    css = owner_client.get(reverse("outputs:site", args=[asset.id, "styles.css"]))
    assert css["Content-Type"].startswith("text/css")
    assert owner_client.get(reverse("outputs:site", args=[assets["pdf"].id, "index.html"])).status_code == 404
    # Other pages of Command stay unframeable.
    assert owner_client.get(reverse("outputs:detail", args=[asset.id]))["X-Frame-Options"] == "DENY"


def test_open_view_shows_preview_checks_and_lineage(assets, owner_client, task):
    checks = {
        "website": [b"<iframe", b'sandbox="allow-same-origin"'],
        "video": [b"<video", b"poster="],
        "audio": [b"<audio", b"Waveform of"],
        "pdf": [b"Preview of One-page proposal"],
        "image": [b"Preview of Northwind Cloud brand kit"],
        "document": [b"Executive summary"],
        "presentation": [b"slide-outline", b"Thank you"],
        "spreadsheet": [b"sheet-preview", b"Price per seat (monthly)"],
    }
    for cat, asset in assets.items():
        html = owner_client.get(reverse("outputs:detail", args=[asset.id])).content
        for needle in checks[cat]:
            assert needle in html, (cat, needle)
        assert b"Verified" in html and task.reference.encode() in html and asset.sha256.encode() in html
        assert b"built-in templates" in html or b"synthesised in code" in html
        if cat in {"website", "pdf", "document", "presentation", "spreadsheet"}:
            assert b"illustrative placeholders" in html  # template figures are never passed off as facts


def test_versions_are_browsable(deliver, generated, owner_client):
    v1 = deliver(generated["pdf"])
    v2 = deliver(generated["pdf"])
    html = owner_client.get(reverse("outputs:detail", args=[v1.id])).content.decode()
    assert "An older version" in html and f'href="{v2.get_absolute_url()}"' in html and "v2" in html
    partial = owner_client.get(reverse("outputs:versions", args=[v2.id])).content.decode()
    assert "made after v1" in partial


def test_stored_check_reports_intact_bytes(assets, owner_client):
    response = owner_client.post(reverse("outputs:check", args=[assets["image"].id]))
    assert response.status_code == 200 and b"Stored bytes intact" in response.content


def test_library_counts_filters_search_sort_and_layouts(assets, deliver, generated, owner_client, other_user):
    deliver(generated["pdf"])  # a second version: counted once
    url = reverse("outputs:library")
    html = owner_client.get(url).content.decode()
    assert 'All <span class="count">8</span>' in html
    assert 'data-category="pdf">PDF <span class="count">1</span>' in html
    assert html.count('class="card result-card') == 8 and "asset-grid" in html
    docs = owner_client.get(url, {"category": "spreadsheet"}).content.decode()
    assert docs.count('class="card result-card') == 1 and "asset-list" in docs and "Northwind Cloud pricing" in docs
    media = owner_client.get(url, {"category": "video"}).content.decode()
    assert "asset-grid" in media and "Northwind Cloud intro video" in media
    found = owner_client.get(url, {"q": "pitch"}).content.decode()
    assert found.count('class="card result-card') == 1 and 'All <span class="count">1</span>' in found
    by_prompt = owner_client.get(url, {"q": "landing page for"}).content.decode()  # matches the source prompt
    assert by_prompt.count('class="card result-card') == 8
    titles = owner_client.get(url, {"sort": "title"}).content.decode()
    assert titles.index("Northwind Cloud brand kit") < titles.index("One-page proposal")
    bad = owner_client.get(url, {"category": "nonsense", "sort": "nonsense"})
    assert bad.status_code == 200 and bad.content.decode().count('class="card result-card') == 8


def test_library_htmx_returns_the_results_partial(assets, owner_client):
    response = owner_client.get(reverse("outputs:library"), {"q": "jingle"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="library-results"') and "Northwind Cloud jingle" in html
    assert 'All <span class="count">1</span>' in html  # the chips' counts follow the search
    assert "<html" not in html


def test_library_paginates(deliver, generated, owner, settings):
    from django.test import Client

    from outputs.views import PAGE_SIZE
    from tasks.models import Task

    for i in range(PAGE_SIZE + 1):
        deliver(generated["image"], on_task=Task.objects.create(owner=owner, raw_prompt=f"logo {i}"))
    client = Client()
    client.force_login(owner)
    first = client.get(reverse("outputs:library")).content.decode()
    assert first.count('class="card result-card') == PAGE_SIZE and "Page 1 of 2" in first
    second = client.get(reverse("outputs:library"), {"page": 2}).content.decode()
    assert second.count('class="card result-card') == 1


def test_library_empty_states(owner_client, assets, other_client):
    empty = other_client.get(reverse("outputs:library")).content.decode()
    assert "No assets yet" in empty and "result-card" not in empty and "brand kit" not in empty
    none = owner_client.get(reverse("outputs:library"), {"q": "zebra"}).content.decode()
    assert "Nothing matches “zebra”" in none


def test_library_needs_login(anon_client):
    response = anon_client.get(reverse("outputs:library"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_thread_partials_render_result_cards_and_imports(assets, task, owner):
    from django.template.loader import render_to_string

    from outputs.selectors import asset_list_for_task
    from outputs.services import asset_attach_to_task

    html = render_to_string(
        "outputs/partials/task_results.html", {"assets": asset_list_for_task(owner=owner, task=task)}
    )
    assert html.count('class="card result-card') == 8 and "Use in a new request" in html
    empty = render_to_string("outputs/partials/task_results.html", {"assets": []})
    assert "only after they pass their checks" in empty
    asset_attach_to_task(owner=owner, asset=assets["pdf"], task=task)
    imported = render_to_string("outputs/partials/imported_assets.html", {"imported": task.context["imported_assets"]})
    assert assets["pdf"].get_absolute_url() in imported and "One-page proposal" in imported
