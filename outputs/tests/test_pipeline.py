"""The engine's path end to end, on the built-in planner's real plan for the issue's example:
each generate_output step's inputs → generate → verify → deliver, every asset linked and verified."""

from __future__ import annotations

from django.urls import reverse

from outputs.generators import GeneratedOutput, GenerationRequest
from outputs.services import asset_deliver, output_generate, output_scratch_dir, output_verify_generated
from outputs.verification import VerificationReport
from providers.planner.base import PlanningRequest
from providers.planner.builtin.planner import BuiltinPlanner

PROMPT = (
    "Create a premium B2B landing page for 'Northwind Cloud' with a logo, a one-page PDF proposal, "
    "a pitch deck, a pricing spreadsheet and a 10-second intro video"
)


def test_the_example_request_produces_verified_linked_assets(owner, owner_client, run_and_step):
    run, step = run_and_step
    task = run.task
    task.raw_prompt = PROMPT
    task.save(update_fields=["raw_prompt"])
    plan = BuiltinPlanner().plan(PlanningRequest(prompt=PROMPT)).plan
    made = {}
    for plan_step in plan.steps:
        if plan_step.action_type == "generate_output":
            request = GenerationRequest.from_plan_inputs(
                deliverable_id=plan_step.deliverable_id,
                inputs=plan_step.inputs,
                source_prompt=task.raw_prompt,
                options={"width": 320, "height": 180, "fps": 8},  # small frames; the length stays 10 s
            )
            dest = output_scratch_dir(task_id=task.id, deliverable_id=plan_step.deliverable_id)
            # What the engine stores in the step's result between steps is plain JSON.
            made[plan_step.deliverable_id] = {"generated": output_generate(request=request, dest_dir=dest).to_dict()}
        elif plan_step.action_type == "verify":
            generated = GeneratedOutput.from_dict(made[plan_step.deliverable_id]["generated"])
            made[plan_step.deliverable_id]["report"] = output_verify_generated(generated=generated).to_dict()
        elif plan_step.action_type == "deliver":
            entry = made[plan_step.deliverable_id]
            entry["asset"] = asset_deliver(
                owner=owner,
                task=task,
                generated=GeneratedOutput.from_dict(entry["generated"]),
                report=VerificationReport.from_dict(entry["report"]),
                run=run,
                step=step,
            )
    assets = [entry["asset"] for entry in made.values()]
    assert {a.category for a in assets} >= {"website", "pdf", "presentation", "spreadsheet", "video"}
    for asset in assets:
        assert asset.verified and asset.task == task and asset.run == run and asset.source_prompt == PROMPT
        assert owner_client.get(reverse("outputs:download", args=[asset.id])).status_code == 200
        assert owner_client.get(asset.get_absolute_url()).status_code == 200
    video = next(a for a in assets if a.category == "video")
    assert video.metadata["duration"] == 10.0 and video.metadata["frames"] == 80
    pdf = next(a for a in assets if a.category == "pdf")
    assert pdf.metadata["pages"] == 1  # “one-page” was honoured and checked
