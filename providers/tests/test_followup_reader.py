"""The built-in follow-up reader: what it applies to the plan, and what it names as not applied."""

from __future__ import annotations

from providers.planner import BuiltinPlanner, PlanningRequest
from providers.planner.builtin.followup import read_follow_up


def _plan(prompt: str) -> tuple[dict, dict]:
    result = BuiltinPlanner().plan(PlanningRequest(prompt=prompt))
    return result.plan.model_dump(mode="json"), result.understanding.model_dump(mode="json")


def _make_step(plan: dict) -> dict:
    return next(s for s in plan["steps"] if s["action_type"] == "generate_output")


def test_a_comparative_palette_word_and_named_colours():
    plan, understanding = _plan("logo for a coffee shop called Bean There")
    reading = read_follow_up("cooler, in navy and teal", plan=plan, understanding=understanding)
    brief = _make_step(reading.plan)["inputs"]["deliverable_brief"]
    assert brief["palette"] == "cool" and brief["colours"] == ["navy", "teal"]
    assert reading.not_applied == []
    assert "palette" not in _make_step(plan)["inputs"]["deliverable_brief"], "the old plan is not modified"


def test_counts_set_and_added_and_what_is_not_a_count_is_said_back():
    plan, understanding = _plan("Quarterly budget as excel please, 4 departments, with totals")
    reading = read_follow_up("add a department and add a booking form", plan=plan, understanding=understanding)
    assert _make_step(reading.plan)["inputs"]["deliverable_brief"]["counts"] == {"departments": 5}
    assert reading.applied == ["5 departments"]
    assert reading.not_applied == ["add booking form"]
    again = read_follow_up("7 departments", plan=plan, understanding=understanding)
    assert _make_step(again.plan)["inputs"]["deliverable_brief"]["counts"] == {"departments": 7}


def test_a_format_change_moves_the_make_and_verify_steps_and_the_genre():
    plan, understanding = _plan("website for my family bakery 'Crumb & Co' in Bristol")
    reading = read_follow_up("make it a PDF", plan=plan, understanding=understanding)
    make = _make_step(reading.plan)
    verify = next(s for s in reading.plan["steps"] if s["action_type"] == "verify")
    assert (make["inputs"]["category"], make["inputs"]["format"]) == ("pdf", "pdf")
    assert make["inputs"]["deliverable_brief"]["genre"] == "brochure"
    assert verify["inputs"]["category"] == "pdf" and verify["inputs"]["checks"] == ["pdf_opens", "has_pages"]
    assert "website" not in verify["title"].lower()


def test_nothing_readable_changes_nothing():
    plan, understanding = _plan("logo for a coffee shop called Bean There")
    reading = read_follow_up("make it pop, more premium", plan=plan, understanding=understanding)
    assert not reading.changed and reading.plan == plan
    assert reading.not_applied == ["pop premium"]
