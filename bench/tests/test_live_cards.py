"""The run-card figure times each change to the first card that shows it, by the card's own
data-seen-seq: never to a card read before the change, whenever that card arrives."""

from __future__ import annotations

from types import SimpleNamespace

from bench.live import _card_latencies


def test_each_change_is_timed_to_the_first_card_that_shows_it():
    # Changes committed at 0, 10, 20 s (seq 4 only adds a row).
    sent = {1: 0.0, 2: 10.0, 3: 20.0, 4: 30.0}
    kinds = {1: "step.started", 2: "step.succeeded", 3: "run.state", 4: "command.output"}
    # A card read at seq 1 that arrives late (15 s), one read after changes 2 and 3 (25 s).
    clients = SimpleNamespace(cards={0: [(15.0, 1), (25.0, 3)]})
    # Change 2 is not credited to the late card read before it; the second card shows 2 and 3.
    assert _card_latencies(clients, sent, kinds) == [15000.0, 15000.0, 5000.0]


def test_a_change_no_card_showed_is_not_timed():
    clients = SimpleNamespace(cards={0: [(1.0, 1)]})
    assert _card_latencies(clients, {1: 0.0, 2: 5.0}, {1: "run.state", 2: "run.state"}) == [1000.0]
