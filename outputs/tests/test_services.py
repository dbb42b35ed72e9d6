"""Delivery: verified bytes become assets with lineage and versions; bad deliveries are refused."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from outputs.models import OutputAsset
from outputs.services import (
    AssetRefused,
    asset_attach_to_task,
    asset_deliver,
    asset_materialise,
    asset_verify_stored,
    output_verify,
    output_verify_generated,
)
from outputs.tests.conftest import PROMPT, path_of
from outputs.verification import VerificationReport


def test_delivery_stores_verified_bytes_with_lineage(deliver, generated, task, run_and_step, private_storage):
    run, step = run_and_step
    asset = deliver(generated["pdf"], run=run, step=step)
    asset.refresh_from_db()
    assert asset.owner == task.owner and asset.task == task and asset.run == run and asset.step == step
    assert asset.source_prompt == PROMPT and asset.version == 1 and asset.parent is None and asset.is_latest
    assert asset.mime_type == "application/pdf" and asset.verified
    assert asset.metadata["pages"] == 1 and asset.metadata["preview"]["pages"] == 1
    with default_storage.open(asset.file.name, "rb") as fh:
        assert fh.read() == generated["pdf"].primary_path.read_bytes()
    assert asset.preview and default_storage.exists(asset.preview.name)
    assert str(private_storage) in default_storage.path(asset.file.name)
    assert asset_verify_stored(asset=asset).passed


def test_website_delivery_stores_every_file_and_a_zip(deliver, generated):
    asset = deliver(generated["website"])
    assert asset.mime_type == "application/zip" and asset.file_name.endswith("-site.zip")
    with default_storage.open(asset.file.name, "rb") as fh, zipfile.ZipFile(fh) as zf:
        assert set(zf.namelist()) == {f.path for f in generated["website"].files}
    for f in asset.files:
        assert default_storage.exists(asset.storage_name(f["path"]))


def test_a_failed_report_is_never_delivered(generated, owner, task, copy_of):
    out = copy_of(generated["pdf"])
    out.primary_path.write_bytes(out.primary_path.read_bytes()[:200])
    report = output_verify_generated(generated=out)
    with pytest.raises(AssetRefused, match="did not pass verification"):
        asset_deliver(owner=owner, task=task, generated=out, report=report)
    with pytest.raises(AssetRefused):
        asset_deliver(owner=owner, task=task, generated=out, report={"passed": True, "checks": []})
    assert not OutputAsset.objects.exists()


def test_bytes_changed_after_verification_are_refused(generated, owner, task, copy_of):
    out = copy_of(generated["spreadsheet"])
    report = output_verify_generated(generated=out)
    path_of(out, ".csv").write_text("tampered")
    with pytest.raises(AssetRefused, match="changed or disappeared"):
        asset_deliver(owner=owner, task=task, generated=out, report=report)
    assert not OutputAsset.objects.exists()


def test_another_users_task_is_refused(generated, owner, other_task):
    report = output_verify_generated(generated=generated["image"])
    with pytest.raises(AssetRefused, match="another user"):
        asset_deliver(owner=owner, task=other_task, generated=generated["image"], report=report)


def test_regenerating_makes_a_new_version_with_its_parent(deliver, generated, task):
    first = deliver(generated["presentation"])
    second = deliver(generated["presentation"])
    third = deliver(generated["presentation"])
    first.refresh_from_db()
    second.refresh_from_db()
    assert [first.version, second.version, third.version] == [1, 2, 3]
    assert third.parent == second and second.parent == first
    assert [a.is_latest for a in (first, second, third)] == [False, False, True]
    assert OutputAsset.objects.filter(task=task, is_latest=True).count() == 1


def test_the_same_step_delivered_twice_gives_one_asset(deliver, generated, run_and_step):
    run, step = run_and_step
    a = deliver(generated["image"], run=run, step=step)
    b = deliver(generated["image"], run=run, step=step)
    assert a.pk == b.pk and OutputAsset.objects.count() == 1


def test_stored_bytes_check_catches_tampering(deliver, generated):
    asset = deliver(generated["image"])
    name = asset.storage_name("logo.svg")
    with open(default_storage.path(name), "ab") as fh:
        fh.write(b"<!-- changed -->")
    report = asset_verify_stored(asset=asset)
    assert [c.name for c in report.checks if not c.passed] == ["logo.svg intact"]


def test_stored_bytes_check_reports_a_missing_file(deliver, generated):
    asset = deliver(generated["audio"])
    default_storage.delete(asset.file.name)
    report = asset_verify_stored(asset=asset)
    assert not report.passed and report.checks[0].name == f"{asset.file_name} intact"


def test_import_attaches_a_reference_once_and_refuses_others(deliver, generated, owner, other_user, task, other_task):
    asset = deliver(generated["pdf"])
    asset_attach_to_task(owner=owner, asset=asset, task=task)
    asset_attach_to_task(owner=owner, asset=asset, task=task)
    task.refresh_from_db()
    assert task.context["imported_assets"] == [
        {"id": str(asset.id), "title": asset.title, "category": "pdf", "version": 1, "sha256": asset.sha256}
    ]
    with pytest.raises(AssetRefused):
        asset_attach_to_task(owner=other_user, asset=asset, task=other_task)
    with pytest.raises(AssetRefused):
        asset_attach_to_task(owner=owner, asset=asset, task=other_task)


def test_report_round_trips_for_the_engine(generated):
    report = output_verify(
        category="image", path_or_dir=generated["image"].root_path, expectations=generated["image"].expectations
    )
    again = VerificationReport.from_dict(report.to_dict())
    assert again.passed and again.to_dict() == report.to_dict()


def test_materialise_copies_verified_bytes_and_feeds_a_slideshow(deliver, generated, owner, task, tmp_path):
    from outputs.services import output_generate, output_source_images
    from outputs.tests.conftest import make_request

    site = deliver(generated["website"])
    index = asset_materialise(asset=site, dest_dir=tmp_path / "site")
    assert index == tmp_path / "site" / "index.html" and (tmp_path / "site" / "assets" / "hero.svg").is_file()
    deliver(generated["image"])
    images = output_source_images(owner=owner, task=task, dest_dir=tmp_path / "imgs")
    assert [p.name for p in images] == ["social-card.png"]
    video = output_generate(request=make_request("video", source_images=images), dest_dir=tmp_path / "video")
    assert video.metadata["kind"] == "slideshow"


def test_materialise_refuses_tampered_bytes(deliver, generated, tmp_path):
    asset = deliver(generated["document"])
    with open(default_storage.path(asset.file.name), "ab") as fh:
        fh.write(b"x")
    with pytest.raises(AssetRefused, match="no longer matches"):
        asset_materialise(asset=asset, dest_dir=tmp_path)


def test_request_from_understanding_carries_entities_hints_and_prompt():
    from outputs.generators import GenerationError, GenerationRequest
    from providers.contracts import UnderstandingSnapshot

    understanding = UnderstandingSnapshot(
        raw_prompt="creat a pdf proposal for Acme",
        normalised_prompt="create a PDF proposal for Acme",
        format_hints=[{"text": "pdf", "kind": "format", "value": "pdf"}],
        deliverables=[{"id": "proposal", "category": "pdf", "title": "Acme proposal", "format": "pdf"}],
        entities={"brand": "Acme", "colours": ["red"], "tone": "friendly"},
        planner="built-in (rule-based)",
    )
    request = GenerationRequest.from_understanding(understanding=understanding.model_dump(), deliverable_id="proposal")
    assert request.deliverable.title == "Acme proposal" and request.entities.brand == "Acme"
    assert request.format_hints == ["pdf"] and request.tone == "friendly"
    assert request.source_prompt == "creat a pdf proposal for Acme"
    with pytest.raises(GenerationError):
        GenerationRequest.from_understanding(understanding=understanding, deliverable_id="nope")


def test_delivery_releases_the_scratch_copy_and_a_repeat_still_finds_the_asset(
    owner, task, run_and_step, django_capture_on_commit_callbacks
):
    from outputs.services import output_generate, output_scratch_dir
    from outputs.tests.conftest import make_request

    run, step = run_and_step
    earlier = output_scratch_dir(task_id=task.pk, deliverable_id="d1", attempt=f"{run.pk}-1")  # a failed attempt
    sources = output_scratch_dir(task_id=task.pk, deliverable_id="d1", attempt=f"{run.pk}-sources")
    other = output_scratch_dir(task_id=task.pk, deliverable_id="d2", attempt=f"{run.pk}-1")  # still working
    dest = output_scratch_dir(task_id=task.pk, deliverable_id="d1", attempt=f"{run.pk}-2")
    generated = output_generate(request=make_request("spreadsheet"), dest_dir=dest)
    report = output_verify_generated(generated=generated)
    with django_capture_on_commit_callbacks(execute=True):
        asset = asset_deliver(owner=owner, task=task, generated=generated, report=report, run=run, step=step)
    assert not dest.exists() and not earlier.exists() and not sources.exists(), "scratch outlived the delivery"
    assert other.is_dir(), "another deliverable's folder is not this delivery's to delete"
    assert asset_verify_stored(asset=asset).passed  # the stored bytes are what remains, intact
    again = asset_deliver(owner=owner, task=task, generated=generated, report=report, run=run, step=step)
    assert again.pk == asset.pk and OutputAsset.objects.count() == 1


def test_scratch_release_refuses_folders_outside_the_scratch_area(tmp_path, settings):
    from outputs.services import output_scratch_release

    outside = tmp_path / "workspace"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    assert output_scratch_release(root=outside) is False
    assert (outside / "keep.txt").read_text() == "mine"
    assert output_scratch_release(root=Path(settings.COMMAND_DATA_DIR) / "outputs-scratch") is False


def test_sweeping_deletes_only_scratch_left_untouched_for_long(task, settings):

    from django.core.management import call_command


    stale, fresh = _stale_and_fresh_scratch(task, "xlsx")
    call_command("clean_output_scratch", "--hours", "24")
    assert not stale.parent.exists()
    assert (fresh / "working.xlsx").read_bytes() == b"in progress"


def test_starting_a_run_schedules_the_hourly_scratch_cleaning_once_and_the_job_cleans(owner, settings):
    """The path that schedules the reaper (a run being created) also schedules the scratch
    cleaning, once however many runs start; the scheduled call, made as the worker makes it (its
    func by name, no arguments), deletes stale scratch and keeps a generation's fresh folder."""
    import pydoc

    from django_q.models import Schedule

    from outputs.jobs import SCRATCH_SCHEDULE_NAME
    from tasks.engine.dispatch import REAPER_SCHEDULE_NAME
    from tasks.planning import task_understand
    from tasks.services import task_start_if_ready, task_submit

    for prompt in ("one-page PDF proposal for Crumb & Co", "a logo for Crumb & Co"):
        task = task_submit(owner=owner, prompt=prompt)
        task_understand(task=task)
        assert task_start_if_ready(task=task) is not None
    schedule = Schedule.objects.get(name=SCRATCH_SCHEDULE_NAME)
    assert (schedule.schedule_type, schedule.repeats) == (Schedule.HOURLY, -1)
    assert not schedule.args and not schedule.kwargs
    assert Schedule.objects.filter(name=REAPER_SCHEDULE_NAME).count() == 1

    stale, fresh = _stale_and_fresh_scratch(task, "pdf")
    assert pydoc.locate(schedule.func)() == 1  # as django_q.worker finds and calls it
    assert not stale.parent.exists() and (fresh / "working.pdf").read_bytes() == b"in progress"


def test_an_upload_under_a_fence_that_refuses_stores_nothing(tmp_path):
    """The fence is checked by each upload itself, so a worker woken between two uploads of one
    asset (superseded meanwhile) uploads nothing more."""
    from command_site.write_fence import WriteFence, WriteRefused, write_fence
    from outputs.storage import store_bytes, store_path

    def refuse(what: str) -> None:
        raise WriteRefused(f"superseded: {what}")

    source = tmp_path / "a.png"
    source.write_bytes(b"png")
    with write_fence(WriteFence(check=refuse, run_id=1, attempt=1)):
        with pytest.raises(WriteRefused, match="store assets/fenced/a.png"):
            store_path("assets/fenced/a.png", source)
        with pytest.raises(WriteRefused):
            store_bytes("assets/fenced/b.bin", b"bytes")
    assert not default_storage.exists("assets/fenced/a.png") and not default_storage.exists("assets/fenced/b.bin")
    assert store_bytes("assets/fenced/c.bin", b"ok") == "assets/fenced/c.bin", "no fence open: stored"
    default_storage.delete("assets/fenced/c.bin")


def _stale_and_fresh_scratch(task, suffix: str):
    """A scratch folder untouched for three days (`half.<suffix>`) and a fresh one of `task`
    (`working.<suffix>`): what a sweep must delete and what it must keep."""
    import os
    import time

    from outputs.services import output_scratch_dir

    stale = output_scratch_dir(task_id="old-task", deliverable_id="d1", attempt="9-1")
    (stale / f"half.{suffix}").write_bytes(b"abandoned")
    long_ago = time.time() - 3 * 86400
    for path in (stale / f"half.{suffix}", stale, stale.parent):
        os.utime(path, (long_ago, long_ago))
    fresh = output_scratch_dir(task_id=task.pk, deliverable_id="d1", attempt="1-1")
    (fresh / f"working.{suffix}").write_bytes(b"in progress")
    return stale, fresh
