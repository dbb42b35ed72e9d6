"""`manage.py understand "<request>"`: print what the built-in planner makes of a request, as JSON."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from providers.planner import BuiltinPlanner, PlanningRequest


class Command(BaseCommand):
    help = "Print the understanding snapshot, execution brief and plan for a request, as JSON (built-in planner)."

    def add_arguments(self, parser):
        parser.add_argument("prompt", help="The request, as a user would type it.")
        parser.add_argument("--mode", default="create", choices=["create", "edit", "explain"])
        parser.add_argument("--tone", default="mixed", choices=["friendly", "professional", "mixed"])
        parser.add_argument("--workspace", default=None, help="Pretend a workspace with this name is chosen.")
        parser.add_argument(
            "--answer", action="append", default=[], metavar="QUESTION=ANSWER", help="Answer a clarifying question."
        )

    def handle(self, *args, prompt, mode, tone, workspace, answer, **options):
        answers = dict(item.split("=", 1) for item in answer if "=" in item)
        result = BuiltinPlanner().plan(
            PlanningRequest(prompt=prompt, mode=mode, tone=tone, workspace_name=workspace, answers=answers)
        )
        self.stdout.write(json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False))
