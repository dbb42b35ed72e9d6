"""django-q2 entry points for outputs: thin wrappers that take ids and call a service."""

from __future__ import annotations

from django.conf import settings

from outputs.models import OutputAsset
from outputs.services import asset_verify_stored, output_scratch_sweep

SCRATCH_JOB = "outputs.jobs.clean_output_scratch"
SCRATCH_SCHEDULE_NAME = "command: clean output scratch"
SCRATCH_MAX_AGE_HOURS = 24.0


def verify_stored_asset(asset_id: str) -> dict:
    """Re-hash one asset's stored bytes (for periodic integrity sweeps); returns the report."""
    asset = OutputAsset.objects.filter(pk=asset_id).first()
    if asset is None:
        return {"passed": False, "checks": [], "verified_at": "", "detail": "asset no longer exists"}
    return asset_verify_stored(asset=asset).to_dict()


def clean_output_scratch() -> int:
    """Scheduled hourly (SCRATCH_SCHEDULE_NAME): delete the scratch folders of generations nobody
    delivered once untouched for SCRATCH_MAX_AGE_HOURS (at least twice the job timeout, so never a
    generation still running); returns how many were deleted."""
    hours = max(SCRATCH_MAX_AGE_HOURS, 2 * settings.Q_TIMEOUT / 3600)
    return len(output_scratch_sweep(older_than_seconds=hours * 3600))
