"""Writes for outputs: generate, verify, deliver (the execution engine's interface) and import.

The engine's handlers call, in order:
    generated = output_generate(request=..., dest_dir=...)        # generate_output step
    report = output_verify_generated(generated=generated)          # verify step
    asset = asset_deliver(owner=..., task=..., generated=generated, report=report, run=..., step=...)
``GeneratedOutput.to_dict()/from_dict()`` and ``VerificationReport.to_dict()/from_dict()`` let
the engine keep both in a step's result between steps.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max

from command_site.write_fence import write_fence_check
from outputs.generators import REGISTRY, GeneratedOutput, GenerationError, GenerationRequest
from outputs.generators.base import sha256_of
from outputs.models import OutputAsset
from outputs.previews import build_preview
from outputs.storage import delete_quietly, hash_stored, store_bytes, store_path, zip_folder
from outputs.verification import VerificationReport, verify_output


class AssetRefused(Exception):
    """Delivery was refused; the message says why in the product's words."""


def output_scratch_dir(*, task_id, deliverable_id: str, attempt: int | str = 1) -> Path:
    """A private folder for one generation attempt, under COMMAND_DATA_DIR (never a workspace)."""
    safe = "".join(ch for ch in str(deliverable_id) if ch.isalnum() or ch in "-_")[:40] or "output"
    path = Path(settings.COMMAND_DATA_DIR) / "outputs-scratch" / str(task_id) / f"{safe}-{attempt}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def output_generate(*, request: GenerationRequest, dest_dir: Path) -> GeneratedOutput:
    """Produce the deliverable's real files in ``dest_dir`` and describe them (sizes, hashes).

    Promises: every file listed exists and was hashed after writing. Refuses (GenerationError,
    or GenerationUnavailable for missing capabilities such as spoken audio) categories without a
    generator, e.g. ``project_edit``, which belongs to the workspace handlers. Does not verify:
    call ``output_verify_generated`` next.
    """
    category = str(request.deliverable.category)
    generator = REGISTRY.get(category)
    if generator is None:
        raise GenerationError(f"Command has no generator for “{category}” outputs.")
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    generated = generator(request, dest)
    if not request.brief.is_empty:
        # Verification checks the file against the brief as asked, not as the generator read it.
        generated.expectations["brief"] = request.brief.model_dump(exclude_defaults=True)
    return generated


def output_render(*, spec, request: GenerationRequest, dest_dir: Path, author: str) -> GeneratedOutput:
    """Render content another author wrote (``spec``: an outputs.content spec or its JSON) with the
    same generator the built-in author uses, for the deliverable of ``request``.

    Promises: the spec is validated (SVG marks sanitised, formulas limited to SUM, references and
    arithmetic) before any file is written; the output names ``author`` as the writer of its
    content; the deliverable's brief is still what verification checks. Refuses (GenerationError)
    a spec that does not validate or that cannot be rendered as this deliverable's category.
    """
    from dataclasses import replace

    from outputs.content import RENDERS_AS, content_spec, generation_fields

    try:
        parsed = content_spec(spec)
    except ValueError as exc:
        raise GenerationError(f"The content written by {author} is not valid: {exc}") from exc
    category = str(request.deliverable.category)
    if category not in RENDERS_AS[parsed.kind]:
        raise GenerationError(f"A {parsed.kind} spec cannot be rendered as a {category} output.")
    fields = generation_fields(parsed)
    deliverable = request.deliverable
    if fields["title"]:
        deliverable = deliverable.model_copy(update={"title": fields["title"][:200]})
    entities = request.entities
    if parsed.kind == "logo":
        entities = entities.model_copy(update={"brand": parsed.name, "colours": parsed.colours or entities.colours})
    rendered = replace(
        request,
        deliverable=deliverable,
        entities=entities,
        copy=fields["copy"],
        copy_source=author,
        options={**request.options, **fields["options"]},
    )
    return output_generate(request=rendered, dest_dir=dest_dir)


def output_verify(*, category: str, path_or_dir: Path, expectations: dict) -> VerificationReport:
    """Open and read back the output's files and check them against ``expectations``.

    Never raises for a bad file: corruption, missing parts or wrong content are failed checks.
    """
    return verify_output(category=category, path_or_dir=Path(path_or_dir), expectations=expectations)


def output_verify_generated(*, generated: GeneratedOutput) -> VerificationReport:
    """Verify a generated output against what its generator said it made, including that every
    file still has the bytes it had when it was generated."""
    report = output_verify(
        category=generated.category,
        path_or_dir=generated.root_path,
        expectations={**generated.expectations, "primary": generated.primary},
    )
    for f in generated.files:
        path = generated.root_path / f.path
        report.attempt(f"{f.path} unchanged since generation", lambda path=path, f=f: _same_bytes(path, f.sha256))
    return report


def _same_bytes(path: Path, sha256: str) -> str:
    if sha256_of(path) != sha256:
        raise ValueError("the file changed after it was generated")
    return "sha256 matches"


def _as_report(report: VerificationReport | dict) -> VerificationReport:
    return report if isinstance(report, VerificationReport) else VerificationReport.from_dict(report or {})


def asset_deliver(
    *,
    owner,
    task,
    generated: GeneratedOutput,
    report: VerificationReport | dict,
    run=None,
    step=None,
    workspace=None,
) -> OutputAsset:
    """File a verified output as an OutputAsset: bytes in storage, preview, lineage, version.

    Promises: the stored bytes are the verified bytes (hashes are re-checked before upload);
    re-delivering the same step with the same bytes returns the existing asset (at-least-once
    delivery never makes a duplicate version); a new delivery of the same deliverable in the
    same task becomes version n+1 with the previous latest as parent.
    Refuses (AssetRefused): a report that did not pass, a task/run/workspace of another user,
    files that changed since generation.
    """
    report = _as_report(report)
    if not report.passed:
        raise AssetRefused(
            f"“{generated.title}” did not pass verification, so it was not delivered: {report.summary()}"
        )
    if task.owner_id != owner.pk:
        raise AssetRefused("That task belongs to another user.")
    if workspace is not None and workspace.owner_id != owner.pk:
        raise AssetRefused("That workspace belongs to another user.")
    if run is not None and run.task_id != task.pk:
        raise AssetRefused("That run belongs to a different task.")
    # A superseded run's worker files nothing (see command_site.write_fence).
    write_fence_check(what=f"file {generated.title} as an asset")
    root = generated.root_path
    if step is not None:
        # A repeated delivery of the same step: its scratch copy was released after the first one.
        existing = OutputAsset.objects.filter(step=step, deliverable_key=generated.deliverable_id).first()
        if existing is not None and not root.exists():
            return existing
    for f in generated.files:
        if not (root / f.path).is_file() or sha256_of(root / f.path) != f.sha256:
            raise AssetRefused(f"{f.path} changed or disappeared after verification; generate it again.")

    primary_sha = generated.primary_file.sha256
    if step is not None:
        existing = OutputAsset.objects.filter(
            step=step, deliverable_key=generated.deliverable_id, sha256__in=[primary_sha, _zip_sha(generated)]
        ).first()
        if existing is not None:
            return existing

    asset_id = uuid.uuid4()
    stored: list[str] = []
    try:
        files = []
        for f in generated.files:
            intended = f"assets/{asset_id}/files/{f.path}"
            name = store_path(intended, root / f.path)
            stored.append(name)
            if name != intended:  # files are served by their recorded path, so a rename would orphan them
                raise AssetRefused(f"Storage saved {f.path} under another name ({name}); delivery was undone.")
            files.append({"path": f.path, "mime_type": f.mime_type, "size": f.size, "sha256": f.sha256})
        if generated.category == "website":
            data = zip_folder(root, [f.path for f in generated.files])
            zip_name = f"{_slug(generated.title)}-site.zip"
            primary_name = store_bytes(f"assets/{asset_id}/{zip_name}", data)
            stored.append(primary_name)
            size, sha, mime = len(data), hashlib.sha256(data).hexdigest(), "application/zip"
        else:
            primary_name = f"assets/{asset_id}/files/{generated.primary}"
            pf = generated.primary_file
            size, sha, mime = pf.size, pf.sha256, pf.mime_type
        preview = build_preview(generated)
        preview_name = ""
        if preview.image:
            preview_name = store_bytes(f"assets/{asset_id}/preview.png", preview.image)
            stored.append(preview_name)
        metadata = {**generated.metadata, "preview": preview.data, "primary": generated.primary}
        prior = OutputAsset.objects.filter(task=task, deliverable_key=generated.deliverable_id, is_latest=True).first()
        changes = _changes_from(prior, generated, files, report) if prior is not None else None

        write_fence_check(what=f"file {generated.title} as an asset")
        with transaction.atomic():
            siblings = OutputAsset.objects.select_for_update().filter(
                task=task, deliverable_key=generated.deliverable_id
            )
            latest = siblings.filter(is_latest=True).first()
            top = siblings.aggregate(top=Max("version"))["top"] or 0
            if latest is not None:
                latest.is_latest = False
                latest.save(update_fields=["is_latest"])
                if changes is not None and prior is not None and latest.pk == prior.pk:
                    metadata["changes"] = changes
            asset = OutputAsset(
                id=asset_id,
                owner=owner,
                category=generated.category,
                title=generated.title[:200],
                deliverable_key=generated.deliverable_id,
                mime_type=mime,
                size=size,
                sha256=sha,
                files=files,
                metadata=metadata,
                verification=report.to_dict(),
                content_source=generated.content_source[:120],
                source_prompt=generated.source_prompt or task.raw_prompt,
                task=task,
                run=run,
                step=step,
                workspace=workspace if workspace is not None else getattr(task, "workspace", None),
                version=top + 1,
                parent=latest,
                is_latest=True,
            )
            asset.file.name = primary_name
            asset.preview.name = preview_name
            asset.save(force_insert=True)
    except IntegrityError as exc:
        delete_quietly(stored)
        raise AssetRefused("Another delivery of this deliverable finished at the same time; try again.") from exc
    except Exception:
        delete_quietly(stored)
        raise
    # The bytes are in storage now; the scratch copy goes once the delivery is committed.
    transaction.on_commit(lambda: output_scratch_release(root=root))
    return asset


def _changes_from(parent: OutputAsset, generated: GeneratedOutput, files: list[dict], report) -> dict:
    """What this delivery changes from the version it follows (outputs.changes); a diff that
    cannot be made is said as such and never stops the delivery."""
    from outputs.changes import version_changes

    try:
        return version_changes(
            parent=parent,
            category=generated.category,
            root=generated.root_path,
            primary=generated.primary,
            files=files,
            checks=report.to_dict().get("checks", []),
        )
    except Exception as exc:
        return {
            "from_version": parent.version,
            "from_id": str(parent.id),
            "error": f"{type(exc).__name__}: {exc}"[:300],
        }


def output_scratch_release(*, root: Path) -> bool:
    """Delete one generation's scratch folder, the folders of its earlier attempts and inputs
    (named ``<deliverable>-<run>-…`` beside it by ``output_scratch_dir``), and the task's folder
    once empty.

    Refuses (returns False) anything that is not a folder inside COMMAND_DATA_DIR/outputs-scratch,
    so it can never delete a workspace or a caller's own folder.
    """
    base = (Path(settings.COMMAND_DATA_DIR) / "outputs-scratch").resolve()
    target = Path(root).resolve()
    if target == base or not target.is_relative_to(base) or not target.is_dir():
        return False
    prefix = target.name.rsplit("-", 1)[0] + "-"
    for sibling in target.parent.iterdir():
        if sibling != target and sibling.is_dir() and sibling.name.startswith(prefix) and target.parent != base:
            shutil.rmtree(sibling, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    parent = target.parent
    if parent != base and parent.is_relative_to(base):
        try:
            parent.rmdir()  # only when empty: other deliverables of the task may still be working
        except OSError:
            pass
    return not target.exists()


def _zip_sha(generated: GeneratedOutput) -> str:
    if generated.category != "website":
        return generated.primary_file.sha256
    return hashlib.sha256(zip_folder(generated.root_path, [f.path for f in generated.files])).hexdigest()


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")[:50] or "output"


def asset_verify_stored(*, asset: OutputAsset) -> VerificationReport:
    """Re-read every stored byte of the asset and compare sizes and sha256 with the record.

    Writes nothing. A missing or altered file is a failed check, never an exception.
    """
    report = VerificationReport()

    def check(name: str, size: int, sha: str) -> str:
        got_size, got_sha = hash_stored(name)
        if got_sha != sha or got_size != size:
            raise ValueError(f"stored bytes differ from the record ({got_size} bytes, sha256 {got_sha[:12]}…)")
        return f"{size} bytes, sha256 {sha[:12]}…"

    report.attempt(f"{asset.file_name} intact", lambda: check(asset.file.name, asset.size, asset.sha256))
    for f in asset.files:
        if asset.storage_name(f["path"]) == asset.file.name:
            continue
        report.attempt(f"{f['path']} intact", lambda f=f: check(asset.storage_name(f["path"]), f["size"], f["sha256"]))
    return report


def asset_import_reference(*, owner, asset: OutputAsset) -> dict:
    """The record a new request keeps of an imported asset. Refuses another user's asset."""
    if asset.owner_id != owner.pk:
        raise AssetRefused("That asset belongs to another user.")
    return {
        "id": str(asset.id),
        "title": asset.title,
        "category": asset.category,
        "version": asset.version,
        "sha256": asset.sha256,
    }


def asset_attach_to_task(*, owner, asset: OutputAsset, task) -> dict:
    """Record the asset as an input of ``task`` (``task.context["imported_assets"]``).

    Refuses another user's asset or task. Attaching the same asset twice keeps one entry.
    """
    if task.owner_id != owner.pk:
        raise AssetRefused("That task belongs to another user.")
    ref = asset_import_reference(owner=owner, asset=asset)
    with transaction.atomic():
        locked = type(task).objects.select_for_update().get(pk=task.pk)
        context = dict(locked.context or {})
        imported = [i for i in context.get("imported_assets", []) if i.get("id") != ref["id"]]
        context["imported_assets"] = [*imported, ref]
        locked.context = context
        locked.save(update_fields=["context"])
    task.context = context
    return ref


def asset_materialise(*, asset: OutputAsset, dest_dir: Path) -> Path:
    """Copy an asset's stored files into a local folder (e.g. to feed another generator).

    Promises: every copied file matches its recorded sha256. Returns the local primary file
    (for a website: its index.html). Refuses (AssetRefused) bytes that no longer match.
    """
    dest = Path(dest_dir)
    for f in asset.files:
        target = (dest / f["path"]).resolve()
        if not target.is_relative_to(dest.resolve()):
            raise AssetRefused(f"{f['path']} would land outside {dest}.")
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with default_storage.open(asset.storage_name(f["path"]), "rb") as src, open(target, "wb") as out:
            for chunk in iter(lambda src=src: src.read(1 << 16), b""):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != f["sha256"]:
            raise AssetRefused(f"The stored copy of {f['path']} no longer matches its record.")
    return dest / asset.metadata.get("primary", asset.files[0]["path"])


def output_source_images(*, owner, task, dest_dir: Path) -> list[Path]:
    """Local copies of the primary images of the task's latest image assets (for a slideshow)."""
    images = OutputAsset.objects.filter(owner=owner, task=task, category="image", is_latest=True).order_by("created_at")
    return [asset_materialise(asset=a, dest_dir=Path(dest_dir) / str(a.id)) for a in images]


def output_scratch_sweep(*, older_than_seconds: float) -> list[Path]:
    """Delete scratch folders of generations nobody delivered (failed or abandoned runs) once
    nothing in them changed for ``older_than_seconds``; returns what was deleted.

    Keep the age well above the job timeout (COMMAND_Q_TIMEOUT): a folder that recent may belong
    to a generation still running.
    """
    import time

    base = Path(settings.COMMAND_DATA_DIR) / "outputs-scratch"
    if not base.is_dir():
        return []
    cutoff = time.time() - older_than_seconds
    deleted = []
    for task_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        newest = max((f.stat().st_mtime for f in task_dir.rglob("*")), default=task_dir.stat().st_mtime)
        if newest < cutoff:
            shutil.rmtree(task_dir, ignore_errors=True)
            deleted.append(task_dir)
    return deleted
