"""The replies a model wrote an output's content in used to be kept only in their workstream rows
(`model.content` events, payload["reply"]). They become model turns (purpose "content"), so a
step run again after the upgrade replays them rather than asking again, they count toward their
run's usage, and the audit finds each such output's stored replies. No prices were recorded for
them, so no cost is claimed for them."""

from django.db import migrations


def forwards(apps, schema_editor):
    ModelTurn = apps.get_model("tasks", "ModelTurn")
    StepExecution = apps.get_model("tasks", "StepExecution")
    WorkstreamEvent = apps.get_model("tasks", "WorkstreamEvent")
    numbers: dict[int, int] = {}
    steps: dict[tuple[int, str], object] = {}
    for event in WorkstreamEvent.objects.filter(kind="model.content").order_by("run_id", "seq").iterator():
        payload = event.payload if isinstance(event.payload, dict) else {}
        reply = payload.get("reply")
        if not isinstance(reply, dict):
            continue
        key = (event.run_id, event.step_id)
        if key not in steps:
            steps[key] = StepExecution.objects.filter(run_id=event.run_id, step_id=event.step_id).first()
        step = steps[key]
        if step is None:
            continue
        numbers[step.pk] = number = numbers.get(step.pk, 0) + 1
        if ModelTurn.objects.filter(step=step, purpose="content", number=number).exists():
            continue
        usage = reply.get("usage") or [0, 0]
        turn = ModelTurn.objects.create(
            run_id=event.run_id,
            step=step,
            number=number,
            purpose="content",
            provider=event.title.split(" is writing ")[0][:120],
            reply_text=str(reply.get("text") or ""),
            tool_calls=list(reply.get("calls") or []),
            stop_reason=str(reply.get("stop_reason") or "")[:40],
            input_tokens=max(0, int(usage[0] or 0)),
            output_tokens=max(0, int(usage[1] or 0)),
            requested_at=event.created_at,
        )
        ModelTurn.objects.filter(pk=turn.pk).update(replied_at=event.created_at)


def backwards(apps, schema_editor):
    # The rows keep their replies; only the model turns made from them go.
    apps.get_model("tasks", "ModelTurn").objects.filter(purpose="content").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0006_model_turn_content_replies_and_prices"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
