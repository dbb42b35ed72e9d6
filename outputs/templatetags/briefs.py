"""Template filters for deliverable briefs: the criteria a stored brief implies."""

from __future__ import annotations

from django import template

from providers.contracts import Criterion, DeliverableBrief

register = template.Library()


@register.filter
def brief_criteria(brief) -> list[Criterion]:
    """The acceptance criteria of a brief (a DeliverableBrief or its stored dict); none for a
    brief that no longer validates, rather than a broken page."""
    if isinstance(brief, DeliverableBrief):
        return brief.criteria()
    try:
        return DeliverableBrief.model_validate(brief or {}).criteria()
    except ValueError:
        return []
