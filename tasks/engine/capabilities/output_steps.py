"""Output steps: generate real files, verify them, and file them as assets.

generate_output → verify → deliver hand their facts to each other through the step results
(`generated` and `report` dicts), so a retried or resumed step works from what was recorded,
never from memory. A website made for a task with a workspace is also written into that folder
through the workspace file actions, so it gets diffs, rollback points and the site preview.
"""

from __future__ import annotations

import base64

from providers.contracts import ActionType
from tasks.engine.capabilities.workspace_steps import verify_by_command
from tasks.engine.errors import LeaseLost, StepFailed
from tasks.engine.handlers import StepContext, StepResult, register
from tasks.models import StepExecution

SITE_FOLDER = "site"
# Outputs that place pictures given to them: a video's slides, a site's logo, a PDF's picture.
PLACES_PICTURES = ("video", "website", "pdf", "document", "presentation")


def _earlier_result(ctx: StepContext, action_type: str, key: str) -> dict:
    """`key` from the succeeded step of `action_type` for this step's deliverable in this run."""
    deliverable_id = ctx.plan_step.deliverable_id
    steps = StepExecution.objects.filter(
        run=ctx.run, action_type=action_type, status=StepExecution.Status.SUCCEEDED
    ).order_by("-position")
    for step in steps:
        if (step.spec or {}).get("deliverable_id") == deliverable_id and key in (step.result or {}):
            return step.result[key]
    raise StepFailed(
        f"No {action_type.replace('_', ' ')} result was recorded for “{deliverable_id}” in this run, "
        "so there is nothing to check.",
        error_type="MissingEarlierStep",
        retryable=False,
    )


@register(ActionType.GENERATE_OUTPUT)
def generate_output(ctx: StepContext) -> StepResult:
    from outputs.generators.base import GenerationError, GenerationRequest, GenerationUnavailable
    from outputs.services import output_generate, output_scratch_dir, output_source_images

    task = ctx.run.task
    deliverable_id = ctx.plan_step.deliverable_id or ctx.plan_step.id
    try:
        request = GenerationRequest.from_plan_inputs(
            deliverable_id=deliverable_id,
            inputs=ctx.plan_step.inputs,
            source_prompt=task.raw_prompt,
            tone=task.tone,
        )
        dest = output_scratch_dir(task_id=task.pk, deliverable_id=deliverable_id, attempt=f"{ctx.run.pk}-{ctx.attempt}")
        category = str(request.deliverable.category)
        pictures: list[dict] = []
        if category in PLACES_PICTURES:
            sources = output_scratch_dir(
                task_id=task.pk, deliverable_id=deliverable_id, attempt=f"{ctx.run.pk}-sources"
            )
            if category == "video":
                request.source_images = output_source_images(owner=ctx.run.owner, task=task, dest_dir=sources)
            if task.context.get("imported_assets"):
                # “Use in a new request” on a picture: the new output places it (a video's slide,
                # a site's logo, a PDF's picture), and verification looks for it there.
                from tasks.imports import imported_pictures

                found = imported_pictures(task, dest_dir=sources, raster=category != "website")
                request.source_images += [path for path, _ref in found]
                pictures = [ref for _path, ref in found]
        imported = None
        if task.context.get("imported_assets") and request.copy is None:
            # “Use in a new request”: the new output is written from the asset's own words.
            from tasks.imports import imported_copy

            inputs = output_scratch_dir(task_id=task.pk, deliverable_id=deliverable_id, attempt=f"{ctx.run.pk}-inputs")
            found = imported_copy(task, dest_dir=inputs)
            if found is not None:
                request.copy, imported = found
                request.copy_source = f"the imported “{imported['title']}” v{imported['version']}"
        converted = None
        if request.copy is None:
            # “Make it a PDF”: the new format carries the previous version's own words.
            converted = _previous_in_another_format(task, request, deliverable_id, ctx)
        if ctx.plan_step.inputs.get("content_connection_id"):
            generated, written_by = _model_writes(ctx, request, dest)
        else:
            generated, written_by = output_generate(request=request, dest_dir=dest), {}
        if imported is not None:
            generated.metadata["imported_from"] = imported
        if pictures and category != "video":
            # What must be found in the delivered file comes from the library's record of the
            # import, not from what the generator says it placed.
            generated.expectations["imported_pictures"] = pictures
            generated.metadata["imported_pictures"] = [
                {k: ref[k] for k in ("id", "title", "version", "file")} for ref in pictures
            ]
        if converted is not None:
            generated.metadata["converted_from"] = converted
    except GenerationUnavailable as exc:
        raise StepFailed(str(exc), error_type="CapabilityNotInstalled", retryable=False) from exc
    except GenerationError as exc:
        raise StepFailed(str(exc), error_type="GenerationError", retryable=False) from exc
    data = {"generated": generated.to_dict(), "content_source": generated.content_source, **written_by}
    summary = f"Made {generated.title} ({len(generated.files)} file{'s' if len(generated.files) != 1 else ''})."
    if generated.category == "website" and ctx.run.workspace is not None:
        written = _write_site_into_workspace(ctx, generated)
        data["workspace_files"] = written
        summary += f" Wrote it into the workspace folder “{SITE_FOLDER}/”."
    return StepResult(summary=summary, data=data)


def _model_writes(ctx: StepContext, request, dest):
    """The model of the step's content connection writes the content through its content tool
    (tasks.engine.loop.content); its words are shown as its words. (generated, what to record)."""
    from providers.adapters import client_for
    from providers.adapters.transport import ProviderError
    from tasks.engine.loop.content import StoredReplies, content_kind, content_write
    from tasks.engine.loop.turns import usable_connection

    connection = usable_connection(ctx, str(ctx.plan_step.inputs.get("content_connection_id") or ""))
    # Each reply is a model turn of the run, stored with its row as it arrives; a step run again
    # replays them, in order, and asks only for what was never stored.
    client = StoredReplies(ctx, connection=connection, client=client_for(connection), title=request.deliverable.title)
    try:
        generated, exchange = content_write(
            client=client,
            request=request,
            dest_dir=dest,
            author=connection.planner_label,
            kind=content_kind(ctx.plan_step.inputs),
            follow_ups=list(ctx.run.task.context.get("follow_ups", []))[-5:],
        )
    except ProviderError as exc:  # a busy or unreachable provider may answer a retry; a refusal will not
        raise StepFailed(
            f"{connection.planner_label} did not answer while writing {request.deliverable.title}: {exc.message}",
            error_type="ProviderError",
            retryable=exc.status is None or exc.status >= 429,
        ) from exc
    return generated, {"content_replies": exchange.replies, "content_tokens": exchange.tokens}


def _previous_in_another_format(task, request, deliverable_id: str, ctx: StepContext) -> dict | None:
    """When a follow-up changed this deliverable's format, give the request the text of the version
    it follows (as copy) and return a reference to that version; else None."""
    from outputs.changes import copy_from_asset
    from outputs.models import OutputAsset
    from outputs.services import output_scratch_dir

    previous = OutputAsset.objects.filter(task=task, deliverable_key=deliverable_id, is_latest=True).first()
    if previous is None or previous.category == str(request.deliverable.category):
        return None
    dest = output_scratch_dir(task_id=task.pk, deliverable_id=deliverable_id, attempt=f"{ctx.run.pk}-previous")
    try:
        copy = copy_from_asset(previous, dest)
    except Exception:
        copy = None
    if not copy:
        return None
    request.copy = copy
    request.copy_source = f"the text of “{previous.title}” v{previous.version}"
    return {"id": str(previous.pk), "title": previous.title, "version": previous.version, "category": previous.category}


def _write_site_into_workspace(ctx: StepContext, generated) -> list[str]:
    from workspaces import actions

    written = []
    for f in generated.files:
        path = f"{SITE_FOLDER}/{f.path}"
        content = (generated.root_path / f.path).read_bytes()
        try:
            actions.action_write_file(
                workspace=ctx.run.workspace,
                inputs={"path": path, "content_base64": base64.b64encode(content).decode()},
                run=ctx.run,
                step=ctx.step,
            )
        except LeaseLost:
            raise  # this worker no longer holds the run: it stops, the step is not failed
        except Exception as exc:
            raise StepFailed(
                f"The site was made, but writing {path} into the workspace failed: {exc}",
                error_type=type(exc).__name__,
                retryable=False,
            ) from exc
        written.append(path)
    return written


@register(ActionType.VERIFY)
def verify(ctx: StepContext) -> StepResult:
    """A command check when the step names a command; otherwise the output's own verification."""
    if str(ctx.plan_step.inputs.get("command", "")).strip():
        return verify_by_command(ctx)
    from outputs.generators.base import GeneratedOutput
    from outputs.services import output_verify_generated

    generated = GeneratedOutput.from_dict(_earlier_result(ctx, ActionType.GENERATE_OUTPUT, "generated"))
    report = output_verify_generated(generated=generated)
    if not report.passed:
        raise StepFailed(
            f"Verification of {generated.title} failed: {report.summary()}",
            error_type="VerificationFailed",
            data={"report": report.to_dict()},
        )
    if ctx.run.workspace is not None and generated.category == "website":
        from workspaces import actions

        point = actions.delivery_checkpoint(workspace=ctx.run.workspace, run=ctx.run, step=ctx.step)
        return StepResult(
            summary=f"Verified {generated.title}: {report.summary()}",
            data={"report": report.to_dict(), "delivery_point_id": point.pk},
        )
    return StepResult(summary=f"Verified {generated.title}: {report.summary()}", data={"report": report.to_dict()})


@register(ActionType.DELIVER)
def deliver(ctx: StepContext) -> StepResult:
    from outputs.generators.base import GeneratedOutput
    from outputs.services import AssetRefused, asset_deliver

    generated = GeneratedOutput.from_dict(_earlier_result(ctx, ActionType.GENERATE_OUTPUT, "generated"))
    report = _earlier_result(ctx, ActionType.VERIFY, "report")
    try:
        asset = asset_deliver(
            owner=ctx.run.owner,
            task=ctx.run.task,
            generated=generated,
            report=report,
            run=ctx.run,
            step=ctx.step,
            workspace=ctx.run.workspace,
        )
    except AssetRefused as exc:
        raise StepFailed(str(exc), error_type="AssetRefused", retryable=False) from exc
    return StepResult(
        summary=f"Filed {asset.title} as an asset (version {asset.version}).",
        data={"asset_id": str(asset.pk), "asset_version": asset.version},
    )
