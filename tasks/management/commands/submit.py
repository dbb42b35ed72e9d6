"""`manage.py submit "request" [--workspace PATH] [--user EMAIL] [--wait]`: request, plan, queue.

Creates the task exactly as typed, has the built-in planner read it, queues a run of the plan,
and with --wait follows the workstream in the terminal (from the database, like the web UI).
"""

from __future__ import annotations

import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from tasks.models import Task, TaskRun

STOPPING_STATES = set(TaskRun.TERMINAL_STATES) | {TaskRun.State.WAITING_APPROVAL, TaskRun.State.PAUSED}


class Command(BaseCommand):
    help = "Submit a request as a user: understand it, plan it, queue a run (optionally wait and follow it)."

    def add_arguments(self, parser):
        parser.add_argument("prompt", help="The request, exactly as a person would type it.")
        parser.add_argument("--workspace", default=None, help="A folder to work in (registered if new).")
        parser.add_argument("--user", default=None, help="Email of the user who asks (default: the only user).")
        parser.add_argument("--priority", type=int, default=0)
        parser.add_argument("--wait", action="store_true", help="Follow the workstream until the run stops.")
        parser.add_argument(
            "--here", action="store_true", help="Execute in this process instead of waiting for a worker."
        )
        parser.add_argument("--timeout", type=float, default=1800, help="Seconds to follow before giving up.")

    def handle(self, *args, prompt, workspace, user, priority, wait, here, timeout, **options):
        from tasks.engine.dispatch import run_create
        from tasks.services import task_submit

        owner = self._user(user)
        ws = self._workspace(owner, workspace) if workspace else None
        task = task_submit(owner=owner, prompt=prompt, workspace=ws)
        self.stdout.write(f"{task.reference} stored: “{task.title}”")
        try:
            from tasks.planning import task_understand
        except ImportError:
            raise CommandError(
                "This build has no planner (tasks.planning.task_understand is missing), so the request "
                "was stored but cannot be planned or run."
            ) from None
        revision = task_understand(task=task)
        task.refresh_from_db()
        self.stdout.write(f"Understood by {revision.planner}: {len(revision.plan.get('steps', []))} step(s) planned.")
        if task.status == Task.Status.NEEDS_CLARIFICATION:
            for question in revision.understanding.get("ambiguities", []):
                self.stdout.write(f"  ? {question['question']}")
            raise CommandError("Command needs your answers before it can start; answer them on the task page.")
        if task.status == Task.Status.NEEDS_PROVIDER:
            reason = revision.understanding.get("needs_provider_reason") or "This request needs a model provider."
            raise CommandError(f"{reason} Connect one on the Providers page, then plan again.")
        try:
            run = run_create(task=task, plan_revision=revision, priority=priority)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{run.reference} queued.")
        if here:
            from tasks.jobs import run_execute

            run_execute(run.pk)
            self._follow(run, timeout=1)
        elif wait:
            self._follow(run, timeout=timeout)

    def _user(self, email: str | None):
        users = get_user_model().objects.all()
        if email:
            user = users.filter(email__iexact=email).first()
            if user is None:
                raise CommandError(f"There is no user with the email {email}.")
            return user
        if users.count() == 1:
            return users.get()
        raise CommandError("Say which user is asking with --user EMAIL.")

    def _workspace(self, owner, path: str):
        from workspaces.models import Workspace

        real = str(Path(path).expanduser().resolve())
        existing = Workspace.objects.filter(owner=owner, path=real).first()
        if existing:
            return existing
        try:
            from workspaces.services import workspace_register
        except ImportError:
            raise CommandError("This build cannot register workspaces yet; add the folder in the web UI.") from None
        try:
            return workspace_register(owner=owner, path=real)
        except Exception as exc:  # the workspaces app words its refusals for people
            raise CommandError(str(exc)) from None

    def _follow(self, run: TaskRun, *, timeout: float) -> None:
        seen = 0
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while True:
            for event in run.events.filter(seq__gt=seen).order_by("seq"):
                seen = event.seq
                quiet_since = time.monotonic()
                line = f"#{event.seq:<3} {event.title}"
                if event.explanation:
                    line += f"\n      {event.explanation}"
                self.stdout.write(line)
            run.refresh_from_db()
            if run.state in STOPPING_STATES:
                self.stdout.write(f"{run.reference}: {run.get_state_display().lower()}. {run.state_reason}".strip())
                if run.state in (TaskRun.State.FAILED, TaskRun.State.RECOVERABLE):
                    raise CommandError(f"{run.reference} did not complete.")
                return
            if time.monotonic() > deadline:
                raise CommandError(f"Stopped following after {int(timeout)} s; {run.reference} is still {run.state}.")
            if run.state == TaskRun.State.QUEUED and time.monotonic() - quiet_since > 15:
                self.stdout.write(
                    f"{run.reference} is still queued ({run.blocking_reason or 'no worker has taken it yet'}). "
                    "Is a worker running? Start one with `make worker`."
                )
                quiet_since = time.monotonic()
            time.sleep(0.5)
