"""An asset brought into a new request (“Use in a new request”) as the request's real input.

The built-in planner is given what the request turns the asset into (“turn this landing page into
a one-page PDF brochure” plans a PDF brochure, for the page's brand), a model is given the asset's
text, and the generate step writes from the asset's own words (``imported_copy``).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

CONTEXT_CHARS = 4000
_INTO = re.compile(
    r"\b(?:turn|convert|make|change|transform|rework|reformat|rewrite|adapt|repurpose)\b.*?\b(?:into|to|as)\s+(?P<target>.+)",
    re.IGNORECASE | re.DOTALL,
)


def imported_assets(task):
    """The task's imported assets that are still the owner's, in the order they were attached."""
    from outputs.models import OutputAsset

    ids = [ref.get("id") for ref in task.context.get("imported_assets", []) if ref.get("id")]
    found = {str(a.pk): a for a in OutputAsset.objects.filter(owner_id=task.owner_id, pk__in=ids)}
    return [found[i] for i in ids if i in found]


def _text(asset) -> str:
    from outputs.changes import text_of
    from outputs.services import asset_materialise

    with tempfile.TemporaryDirectory(prefix="command-import") as tmp:
        try:
            local = asset_materialise(asset=asset, dest_dir=Path(tmp))
            return text_of(asset.category, local.parent, local.name) or ""
        except Exception:
            return ""


def imported_prompt(task, *, prompt: str | None, for_model: bool) -> str:
    said = task.raw_prompt if prompt is None else prompt
    assets = imported_assets(task)
    if not assets:
        return said
    if for_model:
        parts = [said, "", "The request brings in these assets from the library as its input:"]
        for asset in assets:
            text = _text(asset)
            body = text[:CONTEXT_CHARS] if text else "(no text: a picture or media file)"
            parts.append(f"“{asset.title}” v{asset.version} ({asset.category}):\n{body}")
        return "\n".join(parts)
    m = _INTO.search(said)
    target = m.group("target").strip() if m else said
    brand = next((a.metadata.get("brand") for a in assets if a.metadata.get("brand")), "")
    if brand and brand.lower() not in target.lower() and not brand.startswith("Your "):
        target = f"{target.rstrip('.')} for {brand}"
    elif not brand:
        # No name to carry: the asset's own title says what the new output is about.
        target = f"{target.rstrip('.')} about {assets[0].title}"
    return target


def imported_copy(task, *, dest_dir: Path) -> tuple[dict, dict] | None:
    """Copy for the generators from the first imported asset with text, and the reference to it."""
    from outputs.changes import copy_from_asset

    for n, asset in enumerate(imported_assets(task)):
        try:
            copy = copy_from_asset(asset, Path(dest_dir) / str(n))
        except Exception:
            copy = None
        if copy:
            ref = {"id": str(asset.pk), "title": asset.title, "version": asset.version, "category": asset.category}
            return copy, ref
    return None


def imported_images(task, *, dest_dir: Path) -> list[Path]:
    """Local copies of the primary pictures of the task's imported image assets (for a slideshow)."""
    from outputs.services import asset_materialise

    return [
        asset_materialise(asset=a, dest_dir=Path(dest_dir) / f"imported-{a.pk}")
        for a in imported_assets(task)
        if a.category == "image"
    ]
