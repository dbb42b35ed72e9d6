"""Fixtures for outputs tests: real generated files (made once per session, kept small), a
private storage folder per test, and a task/run/step to deliver into."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from outputs.generators import REGISTRY, GenerationRequest
from providers.contracts import Deliverable, Entities

ENTITIES = Entities(brand="Northwind Cloud", audience="finance leaders at mid-market SaaS", colours=["navy", "teal"])
PROMPT = "Create a premium B2B landing page for 'Northwind Cloud' with a logo, a one-page PDF proposal and a deck"
TITLES = {
    "website": "Northwind Cloud landing page",
    "image": "Northwind Cloud brand kit",
    "video": "Northwind Cloud intro video",
    "audio": "Northwind Cloud jingle",
    "pdf": "One-page proposal",
    "document": "Northwind Cloud project brief",
    "presentation": "Northwind Cloud pitch deck",
    "spreadsheet": "Northwind Cloud pricing",
}
SMALL = {"width": 320, "height": 180, "duration": 2, "fps": 12}


def make_request(category: str, **overrides) -> GenerationRequest:
    fields = {
        "deliverable": Deliverable(id=f"d-{category}", category=category, title=TITLES[category]),
        "entities": ENTITIES,
        "tone": "professional",
        "source_prompt": PROMPT,
        "options": dict(SMALL),
    }
    fields.update(overrides)
    return GenerationRequest(**fields)


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """One real GeneratedOutput per category. Treat as read-only: copy before corrupting."""
    root = tmp_path_factory.mktemp("generated")
    return {cat: REGISTRY[cat](make_request(cat), root / cat) for cat in REGISTRY}


@pytest.fixture
def copy_of(tmp_path):
    """A private copy of a generated output's folder (for tests that corrupt files)."""

    def _copy(output):
        from outputs.generators import GeneratedOutput

        dest = tmp_path / f"copy-{output.category}"
        shutil.copytree(output.root, dest)
        data = output.to_dict()
        data["root"] = str(dest)
        return GeneratedOutput.from_dict(data)

    return _copy


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    media = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(media)}},
    }
    settings.COMMAND_DATA_DIR = tmp_path / "data"
    # LibreOffice pictures cost seconds per file; tests that are about them switch them back on.
    settings.COMMAND_OFFICE_PREVIEWS = False
    return media


@pytest.fixture
def task(owner):
    from tasks.models import Task

    return Task.objects.create(owner=owner, title="Northwind launch", raw_prompt=PROMPT)


@pytest.fixture
def other_task(other_user):
    from tasks.models import Task

    return Task.objects.create(owner=other_user, title="Someone else's", raw_prompt="secret plans")


@pytest.fixture
def run_and_step(task):
    from tasks.models import PlanRevision, StepExecution, TaskRun

    revision = PlanRevision.objects.create(task=task, number=1, planner="test")
    run = TaskRun.objects.create(task=task, owner=task.owner, plan_revision=revision, mutates=False)
    step = StepExecution.objects.create(
        run=run,
        step_id="s1",
        position=1,
        action_type="deliver",
        title="Deliver the outputs",
        idempotency_key=f"{run.pk}:s1",
    )
    return run, step


@pytest.fixture
def deliver(owner, task):
    """Verify and deliver a generated output for the owner's task; returns the asset."""
    from outputs.services import asset_deliver, output_verify_generated

    def _deliver(output, *, on_task=None, **kwargs):
        report = output_verify_generated(generated=output)
        assert report.passed, report.summary()
        target = on_task or task
        return asset_deliver(owner=target.owner, task=target, generated=output, report=report, **kwargs)

    return _deliver


def path_of(output, suffix: str) -> Path:
    return next(Path(output.root) / f.path for f in output.files if f.path.endswith(suffix))
