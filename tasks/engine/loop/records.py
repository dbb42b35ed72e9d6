"""Storing a model's reply (ModelTurn): one place for a loop turn and a content-writing reply.

The caller looks the reply up first (a stored reply is never asked for again), checks the budget,
calls the provider, then stores the reply here inside its own fenced transaction (ctx.heartbeat()
first), with the usage the provider reported and the prices it was counted at: the cost of a
past reply is what it cost then, whatever the connection's prices are now.
"""

from __future__ import annotations

from decimal import Decimal

from tasks.models import ModelTurn

_MILLION = Decimal(1_000_000)


def reply_cost(connection, input_tokens: int, output_tokens: int) -> tuple[Decimal | None, ...]:
    """(input price, output price, cost in US$) at the connection's prices now; all None without prices."""
    if connection is None or not connection.priced:
        return None, None, None
    price_in, price_out = Decimal(connection.input_price_per_mtok), Decimal(connection.output_price_per_mtok)
    return price_in, price_out, (input_tokens * price_in + output_tokens * price_out) / _MILLION


def turn_row(
    *,
    run,
    step,
    number: int,
    connection,
    reply,
    sent: list[dict],
    system: str,
    requested_at,
    purpose: str = ModelTurn.Purpose.LOOP,
) -> ModelTurn:
    """`reply` (a providers.adapters.turns.TurnReply) as an unsaved ModelTurn, with its usage and
    the prices it is counted at; the caller inserts it inside its own fenced transaction."""
    input_tokens = max(0, int(reply.usage.input_tokens or 0))
    output_tokens = max(0, int(reply.usage.output_tokens or 0))
    price_in, price_out, cost = reply_cost(connection, input_tokens, output_tokens)
    return ModelTurn(
        run=run,
        number=number,
        purpose=purpose,
        step=step,
        provider=connection.planner_label[:120],
        model=connection.model[:120],
        system=system,
        sent=sent,
        reply_text=reply.text or "",
        tool_calls=[
            {"id": c.id, "name": c.name, "arguments": c.arguments, "arguments_error": c.arguments_error}
            for c in reply.tool_calls
        ],
        stop_reason=(reply.stop_reason or "")[:40],
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        input_price_per_mtok=price_in,
        output_price_per_mtok=price_out,
        cost_usd=cost,
        requested_at=requested_at,
    )


def turn_store(**fields) -> ModelTurn:
    """Store a reply as a ModelTurn (turn_row, saved). Inside the caller's fenced transaction."""
    turn = turn_row(**fields)
    turn.save(force_insert=True)
    return turn
