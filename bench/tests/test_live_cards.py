"""The run-card figure counts every card once, and never credits a card to a change it preceded."""

from __future__ import annotations

from types import SimpleNamespace

from bench.live import _card_latencies


def test_each_change_gets_the_first_card_after_its_row_and_cards_are_not_shared():
    # Changes 1, 2, 3 committed at 0, 10, 20 s; their rows arrive 1 s later.
    sent = {1: 0.0, 2: 10.0, 3: 20.0, 4: 30.0}
    kinds = {1: "step.started", 2: "step.succeeded", 3: "run.state", 4: "command.output"}
    arrivals = {(0, 1): 1.0, (0, 2): 11.0, (0, 3): 21.0, (0, 4): 31.0}
    # A card before row 1 (not for it), one card after rows 2 and 3 arrived together, one late.
    clients = SimpleNamespace(arrivals=arrivals, cards={0: [0.5, 22.0, 40.0]})
    # Change 1: the first card after its row is at 22 s (the one at 0.5 s came before its row);
    # change 2 has to wait for the next one (40 s); change 3 has none left, so it is not timed.
    assert _card_latencies(clients, sent, kinds) == [22000.0, 30000.0]
