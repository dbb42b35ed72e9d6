"""The budget of a model-driven run (turns, tool calls, tokens, cost) and stuck detection.

Both are checked before each model turn, before anything is spent; the budget is also checked
before each reply a model writes an output's content in (those replies are model turns too, and
count toward it). Reaching a limit pauses the
run with the reason (resuming grants one more budget of the same size); the same call with the
same result three times, or three errors in a row, pauses it too. After a failing check with no
budget left the run ends `failed` with the check's failure as the reason.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.db.models import F, Sum

from tasks.engine.errors import StepFailed, StepPaused
from tasks.engine.loop.observations import call_observed
from tasks.engine.sql import ID, CompiledQuery, fetch_all, fetch_one
from tasks.models import ModelToolCall, ModelTurn, StepExecution, TaskRun, WorkstreamEvent

BUDGET_REACHED = "budget reached"
SAME_RESULT_REPEATS = 3
ERRORS_IN_A_ROW = 3


def _usage_query():
    from django.db.models import Count, IntegerField, OuterRef, Subquery

    calls = (
        ModelToolCall.objects.filter(turn__run=OuterRef("run"))
        .exclude(call_id="")
        .values("turn__run")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        ModelTurn.objects.filter(run_id=ID.value)
        .values("run")
        .annotate(
            turns=Count("id"),
            i=Sum("input_tokens"),
            o=Sum("output_tokens"),
            calls=Subquery(calls, output_field=IntegerField()),
            cost=Sum("cost_usd"),
            priced=Count("cost_usd"),
        )
        .values_list("turns", "i", "o", "calls", "cost", "priced")
    )


def _pauses_query():
    return WorkstreamEvent.objects.filter(
        run_id=ID.value, kind="run.state", payload__loop_pause__in=["budget", "stuck"]
    ).values_list("payload")


# Asked before every model turn: compiled once per process (tasks.engine.sql).
USAGE = CompiledQuery(_usage_query, ID)
PAUSES = CompiledQuery(_pauses_query, ID)


def usage_totals(run: TaskRun) -> dict:
    """Turns, tool calls, tokens and cost spent so far (what the budget counts and the run card
    shows), in one query."""
    return usage_from_row(fetch_one(*USAGE.sql_params(run.pk)))


def usage_from_row(row: tuple | None) -> dict:
    """usage_totals from the row of its query (`USAGE`), read by the caller."""
    if row is None:
        return {"turns": 0, "tool_calls": 0, "tokens": 0, "input_tokens": 0, "output_tokens": 0}
    turns, i, o, calls = row[0], row[1] or 0, row[2] or 0, row[3] or 0
    used = {"turns": turns, "tool_calls": calls, "tokens": i + o, "input_tokens": i, "output_tokens": o}
    _with_stored_cost(used, cost=row[4], priced=row[5] or 0)
    return used


def _with_stored_cost(used: dict, *, cost, priced: int) -> None:
    """The cost of the turns stored with prices (each at the prices of its day), when any was;
    with the number of turns stored without prices, which it does not count."""
    if not priced:
        return
    used["cost_usd"] = round(float(cost or 0), 6)
    if priced < used["turns"]:
        used["unpriced_turns"] = used["turns"] - priced


def usage_for_runs(runs: list[TaskRun]) -> dict[int, dict]:
    """For the run card: each model-driven run's usage against its budget now, in three queries
    for any number of runs (one when none of them has a model turn). A run paused at its budget
    shows the budget it reached; resuming it grants the next one. The cost is what each turn cost
    at the prices stored with it."""
    from django.db.models import Count, Q

    run_ids = [run.pk for run in runs]
    if not run_ids:
        return {}
    at_budget = {run.pk for run in runs if run.state == TaskRun.State.PAUSED and run.blocking_reason == BUDGET_REACHED}

    rows = (
        ModelTurn.objects.filter(run_id__in=run_ids)
        .values("run_id")
        .annotate(
            turns=Count("id"),
            loop_turns=Count("id", filter=Q(purpose=ModelTurn.Purpose.LOOP)),
            i=Sum("input_tokens"),
            o=Sum("output_tokens"),
            cost=Sum("cost_usd"),
            priced=Count("cost_usd"),
        )
    )
    usage = {}
    for r in rows:
        usage[r["run_id"]] = used = {
            "turns": r["turns"],
            # Replies that wrote an output's content ask for no tools: the card leaves tool calls out
            # of a run with no loop turn rather than show "0 of 120".
            "loop_turns": r["loop_turns"],
            "tokens": (r["i"] or 0) + (r["o"] or 0),
            "input_tokens": r["i"] or 0,
            "output_tokens": r["o"] or 0,
            "tool_calls": 0,
        }
        _with_stored_cost(used, cost=r["cost"], priced=r["priced"])
    if not usage:
        return {}
    for run_id, n in (
        ModelToolCall.objects.filter(turn__run_id__in=list(usage))
        .exclude(call_id="")
        .values("turn__run_id")
        .annotate(n=Count("id"))
        .values_list("turn__run_id", "n")
    ):
        usage[run_id]["tool_calls"] = n
    windows = dict(
        WorkstreamEvent.objects.filter(run_id__in=list(usage), kind="run.state", payload__loop_pause="budget")
        .values("run_id")
        .annotate(n=Count("id"))
        .values_list("run_id", "n")
    )
    for run_id, used in usage.items():
        w = 1 + windows.get(run_id, 0) - (1 if run_id in at_budget else 0)
        used["limits"] = {
            "turns": settings.COMMAND_LOOP_MAX_TURNS * w,
            "tool_calls": settings.COMMAND_LOOP_MAX_TOOL_CALLS * w,
            "tokens": settings.COMMAND_LOOP_MAX_TOKENS * w,
        }
        _with_cost_limit(used, used["limits"], windows=w)
    return usage


def budget_for(run: TaskRun, pauses: list[dict] | None = None) -> dict:
    """The limits now: the settings' budget, once more for every budget pause the person resumed."""
    if pauses is None:
        pauses = _loop_pauses(run)
    windows = 1 + sum(1 for p in pauses if p.get("loop_pause") == "budget")
    return {
        "turns": settings.COMMAND_LOOP_MAX_TURNS * windows,
        "tool_calls": settings.COMMAND_LOOP_MAX_TOOL_CALLS * windows,
        "tokens": settings.COMMAND_LOOP_MAX_TOKENS * windows,
    }


def _loop_pauses(run: TaskRun) -> list[dict]:
    """The payloads of the run's loop pauses (budget and stuck), in one query."""
    return pauses_from_rows(fetch_all(*PAUSES.sql_params(run.pk)))


def pauses_from_rows(rows: list[tuple]) -> list[dict]:
    """_loop_pauses from the rows of its query (`PAUSES`), read by the caller."""
    return [json.loads(p) if isinstance(p, str) else p for (p,) in rows]


_WORDS = {"turns": "model turns", "tool_calls": "tool calls", "tokens": "tokens"}


def _last_check_failed(run: TaskRun) -> StepExecution | None:
    last = ModelToolCall.objects.filter(turn__run=run, check_step__isnull=False).order_by("-turn__number").first()
    if last is not None and last.check_step.status == StepExecution.Status.FED_BACK:
        return last.check_step
    return None


def _with_cost_limit(used: dict, limit: dict, windows: int) -> None:
    """Add the cost limit (US$) to `limit` when a cost is known (some turn was stored with prices)
    and COMMAND_LOOP_MAX_COST_USD is set; otherwise no cost is limited."""
    if "cost_usd" in used and settings.COMMAND_LOOP_MAX_COST_USD > 0:
        limit["cost_usd"] = settings.COMMAND_LOOP_MAX_COST_USD * windows


def _spent_words(used: dict, limit: dict, key: str) -> str:
    if key == "cost_usd":
        return f"US${used[key]:,.2f} of US${limit[key]:,.2f} (at the connection's prices when each turn was made)"
    return f"{used[key]:,} of {limit[key]:,} {_WORDS[key]}"


def check_before_turn(
    *, run: TaskRun, number: int, pauses: list[dict], used: dict, recent: list[ModelToolCall]
) -> None:
    """Raise StepPaused (or StepFailed after a failing check) when turn `number` must not be asked for.
    The cost counts at the prices stored with each turn. The caller read the run's loop pauses,
    its usage and its most recent calls (`RECENT_CALLS`) with the turn's other reads."""
    _check_budget(run, pauses, payload={"turn": number}, used=used)
    stuck = _stuck(pauses, recent)
    if stuck:
        raise StepPaused(
            f"{stuck} Command paused the run instead of spending more. Resume to let the model try again, or stop it.",
            blocking_reason="the model seems stuck",
            payload={"loop_pause": "stuck", "turn": number},
        )


def check_before_content_reply(*, run: TaskRun, step_id: str, number: int) -> None:
    """Raise StepPaused when the run's budget is spent, before reply `number` of the model writing
    the content of step `step_id` is asked for (stuck detection is the content tool's own: a few
    replies at most)."""
    _check_budget(run, _loop_pauses(run), payload={"content_step": step_id, "content_reply": number})


def _check_budget(run: TaskRun, pauses: list[dict], *, payload: dict, used: dict | None = None) -> None:
    used, limit = usage_totals(run) if used is None else used, budget_for(run, pauses)
    _with_cost_limit(used, limit, windows=1 + sum(1 for p in pauses if p.get("loop_pause") == "budget"))
    spent = [k for k in ("turns", "tool_calls", "tokens", "cost_usd") if k in limit and used[k] >= limit[k]]
    if spent:
        what = "; ".join(_spent_words(used, limit, k) for k in spent)
        failed_check = _last_check_failed(run)
        if failed_check is not None:
            raise StepFailed(
                f"The check still fails ({failed_check.error_message}) and the run's budget is spent ({what}).",
                error_type="BudgetSpent",
                retryable=False,
            )
        raise StepPaused(
            f"This run's budget is spent ({what}), so Command paused it before asking the model again. "
            "Resume to allow as much again, or stop it (and revert its changes if you like).",
            blocking_reason=BUDGET_REACHED,
            payload={"loop_pause": "budget", **payload, "used": used, "limit": limit},
        )


# The run's most recent calls, newest first, each with its turn's number; asked before every turn
# with the turn's other reads: compiled once (tasks.engine.sql).
RECENT_CALLS = CompiledQuery(
    lambda: (
        ModelToolCall.objects.filter(turn__run_id=ID.value)
        .exclude(call_id="")
        .annotate(turn_number=F("turn__number"))
        .order_by("-turn__number", "-index")[: max(SAME_RESULT_REPEATS, ERRORS_IN_A_ROW)]
    ),
    ID,
)


def _stuck(pauses: list[dict], recent: list[ModelToolCall]) -> str:
    # Only the calls since the last stuck pause count. `recent` is newest first, so those are a
    # prefix of it, and the most recent few of them are all in it.
    since = max((p.get("turn", 0) for p in pauses if p.get("loop_pause") == "stuck"), default=0)
    calls = [call_observed(c) for c in recent if c.turn_number >= since]
    same = calls[:SAME_RESULT_REPEATS]
    if len(same) == SAME_RESULT_REPEATS:
        keys = {(c.name, json.dumps(c.arguments, sort_keys=True), c.observation) for c in same}
        if len(keys) == 1:
            return f"The model made the same call ({same[0].name}) {SAME_RESULT_REPEATS} times with the same result."
    errors = calls[:ERRORS_IN_A_ROW]
    if len(errors) == ERRORS_IN_A_ROW and all(c.is_error for c in errors):
        return f"The model's last {ERRORS_IN_A_ROW} actions all failed."
    return ""
