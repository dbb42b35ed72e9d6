"""The brief part of the contracts: criteria derived from a brief, and briefs reaching the plan."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from providers.contracts import DeliverableBrief, PlannerResult


def test_a_brief_lists_every_criterion_it_implies():
    brief = DeliverableBrief(
        genre="budget", names=["Crumb & Co"], counts={"departments": 4}, period="quarterly", totals=True,
        palette="warm", duration_seconds=10, sections=["booking form"], audience="new nurses",
    )  # fmt: skip
    assert [c.text for c in brief.criteria()] == [
        "It is a budget",
        "It names “Crumb & Co”",
        "4 departments",
        "Broken down quarterly",
        "A totals row whose formulas compute",
        "A warm palette",
        "Lasts 10 s (±10 %)",
        "Includes a booking form",
        "Written for new nurses",
    ]
    assert len({c.id for c in brief.criteria()}) == len(brief.criteria())
    assert DeliverableBrief().criteria() == [] and DeliverableBrief().is_empty


def test_a_brief_refuses_impossible_values():
    with pytest.raises(ValidationError):
        DeliverableBrief(duration_seconds=-1)
    with pytest.raises(ValidationError):
        DeliverableBrief(pages=0)


def _reply(step_inputs: dict) -> dict:
    """A plan as a model provider might write it: a brief in the understanding, none in the step."""
    return {
        "understanding": {
            "raw_prompt": "logo for Bean There, warm colours",
            "normalised_prompt": "logo for Bean There, warm colours",
            "planner": "model",
            "deliverables": [
                {
                    "id": "d1",
                    "category": "image",
                    "title": "Logo",
                    "brief": {"names": ["Bean There"], "palette": "warm"},
                }
            ],
        },
        "brief": {"goal": "A logo"},
        "plan": {
            "steps": [
                {
                    "id": "make",
                    "title": "Make the logo",
                    "action_type": "generate_output",
                    "deliverable_id": "d1",
                    "inputs": step_inputs,
                    "explanation": {"what": "w", "why": "y", "expect_next": "e"},
                }
            ]
        },
    }


def test_a_models_plan_carries_the_understandings_brief_to_its_step():
    result = PlannerResult.model_validate(_reply({"category": "image", "title": "Logo"}))
    assert result.plan.steps[0].inputs["deliverable_brief"] == {"names": ["Bean There"], "palette": "warm"}


def test_a_brief_the_step_already_carries_is_kept():
    own = {"names": ["Bean There"], "palette": "cool"}
    result = PlannerResult.model_validate(_reply({"category": "image", "title": "Logo", "deliverable_brief": own}))
    assert result.plan.steps[0].inputs["deliverable_brief"] == own
