"""An asset brought into a new request (“Use in a new request”) as the request's real input.

The built-in planner is given what the request turns the asset into (“turn this landing page into
a one-page PDF brochure” plans a PDF brochure, for the page's brand), a model is given the asset's
text, and the generate step writes from the asset's own words (``imported_copy``) and places its
pictures (``imported_pictures``: a video's slides, a site's logo, a PDF's, a document's or a
deck's picture).
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
            if asset.category == "image":
                body += (
                    "\n(Command places this picture, as it is, in a website, PDF, document, slide deck or video"
                    " made for this request.)"
                )
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


def imported_pictures(task, *, dest_dir: Path, raster: bool = False) -> list[tuple[Path, dict]]:
    """Local copies of the primary pictures of the task's imported image assets, each with what
    verification must find of it in the new output: the picture's stored hash (``sha256``, as
    recorded in the library and checked while copying) and, for a raster picture, the hash of
    its pixels (``pixels_sha256``).

    ``raster``: a vector primary (a written logo.svg) is replaced by the asset's raster file of
    the same name (logo.png), for outputs that can only place pixels (PDFs); an asset without one
    is left out.
    """
    from outputs.generators.base import RASTER
    from outputs.services import asset_materialise
    from outputs.verification.criteria import pixels_sha256

    found = []
    for asset in imported_assets(task):
        if asset.category != "image":
            continue
        folder = Path(dest_dir) / f"imported-{asset.pk}"
        primary = asset_materialise(asset=asset, dest_dir=folder)
        picture = primary
        if raster and primary.suffix.lower() not in RASTER:
            siblings = [folder / f["path"] for f in asset.files if Path(f["path"]).suffix.lower() in RASTER]
            same_name = [p for p in siblings if p.stem == primary.stem]
            picture = (same_name or [None])[0]
            if picture is None:
                continue
        rel = picture.relative_to(folder).as_posix()
        stored = next(f["sha256"] for f in asset.files if f["path"] == rel)
        ref = {"id": str(asset.pk), "title": asset.title, "version": asset.version, "file": rel, "sha256": stored}
        if picture.suffix.lower() in RASTER:
            ref["pixels_sha256"] = pixels_sha256(picture)
        found.append((picture, ref))
    return found
