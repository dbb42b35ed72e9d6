"""Thin views for assets: library, open, versions, previews, downloads, stored-bytes check.

Every view is login-only and 404s for anyone but the asset's owner. Files are served only when
they are listed in the asset's record, so a URL path can never reach other storage keys.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from outputs import selectors, services
from outputs.forms import LibraryFilterForm
from outputs.models import OutputAsset

PAGE_SIZE = 24
# Generated files are data, never active content on Command's origin: no scripts, no plugins.
SANDBOX_CSP = (
    "sandbox allow-same-origin; default-src 'none'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self'; font-src 'self'; form-action 'none'; base-uri 'none'; "
    "frame-ancestors 'self'"
)


def _asset_or_404(request, asset_id) -> OutputAsset:
    asset = selectors.asset_get(owner=request.user, asset_id=asset_id)
    if asset is None:
        raise Http404("No such asset.")
    return asset


def _serve(name: str, *, mime: str, filename: str, attachment: bool) -> FileResponse:
    try:
        fh = default_storage.open(name, "rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404("The stored file is missing.") from exc
    response = FileResponse(fh, as_attachment=attachment, filename=filename, content_type=mime)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX_CSP
    response["Cache-Control"] = "private, max-age=0, must-revalidate"
    return response


@login_required
@require_GET
def library(request):
    form = LibraryFilterForm(request.GET or None)
    filters = form.cleaned() if form.is_bound else LibraryFilterForm.defaults()
    assets = selectors.asset_library(owner=request.user, **filters)
    counts = selectors.asset_category_counts(owner=request.user, query=filters["query"])
    page = Paginator(assets, PAGE_SIZE).get_page(request.GET.get("page"))
    category = filters["category"]
    context = {
        "form": form,
        "page": page,
        "filters": filters,
        "counts": counts,
        "total": sum(counts.values()),
        "chips": [(value, label, counts[value]) for value, label in OutputAsset.Category.choices],
        "layout": "list" if category and category not in OutputAsset.MEDIA_CATEGORIES else "grid",
        "sorts": selectors.SORTS,
    }
    # One partial serves the full page and htmx refreshes of the results.
    template = "outputs/partials/library_results.html" if request.htmx else "outputs/library.html"
    return render(request, template, context)


@login_required
@require_GET
def detail(request, asset_id):
    asset = _asset_or_404(request, asset_id)
    versions = selectors.asset_versions(asset=asset)
    return render(request, "outputs/detail.html", {"asset": asset, "versions": versions})


@login_required
@require_GET
def versions(request, asset_id):
    asset = _asset_or_404(request, asset_id)
    return render(
        request, "outputs/partials/versions.html", {"asset": asset, "versions": selectors.asset_versions(asset=asset)}
    )


@login_required
@require_POST
def check_stored(request, asset_id):
    asset = _asset_or_404(request, asset_id)
    report = services.asset_verify_stored(asset=asset)
    return render(request, "outputs/partials/stored_check.html", {"asset": asset, "report": report.to_dict()})


@login_required
@require_GET
def download(request, asset_id):
    """The primary file (or ``?file=`` one listed file) as an attachment with its real type."""
    asset = _asset_or_404(request, asset_id)
    rel = request.GET.get("file")
    if rel:
        entry = asset.file_entry(rel)
        if entry is None:
            raise Http404("That file is not part of this asset.")
        return _serve(
            asset.storage_name(rel), mime=entry["mime_type"], filename=rel.rsplit("/", 1)[-1], attachment=True
        )
    return _serve(asset.file.name, mime=asset.mime_type, filename=asset.file_name, attachment=True)


@login_required
@require_GET
def raw(request, asset_id, rel):
    """One listed file inline (for the players and image views), sandboxed and nosniff."""
    asset = _asset_or_404(request, asset_id)
    entry = asset.file_entry(rel)
    if entry is None:
        raise Http404("That file is not part of this asset.")
    return _serve(asset.storage_name(rel), mime=entry["mime_type"], filename=rel.rsplit("/", 1)[-1], attachment=False)


@login_required
@require_GET
def preview_image(request, asset_id):
    asset = _asset_or_404(request, asset_id)
    if not asset.preview:
        raise Http404("This asset has no preview image.")
    return _serve(asset.preview.name, mime="image/png", filename="preview.png", attachment=False)


@xframe_options_sameorigin
@login_required
@require_GET
def site(request, asset_id, rel="index.html"):
    """A website asset's files for the sandboxed preview frame (same origin only)."""
    asset = _asset_or_404(request, asset_id)
    if asset.category != OutputAsset.Category.WEBSITE:
        raise Http404("Only website assets have a site preview.")
    entry = asset.file_entry(rel)
    if entry is None:
        raise Http404("That page is not part of this site.")
    return _serve(asset.storage_name(rel), mime=entry["mime_type"], filename=rel.rsplit("/", 1)[-1], attachment=False)
