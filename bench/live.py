"""Live latency and fan-out: event persisted → rendered row received by a websocket client.

    python -m bench.live latency     # one client, 1,000 events (Redis layer or embedded, by env)
    python -m bench.live fanout      # 200 clients on one run (Redis layer)
    python -m bench.live memory      # daphne's RSS after 5,000 watched runs against after 500

The clock starts when the event is persisted (its transaction committed, just before the publish
that commit triggers) and stops when the client has the row with that event's id; a second figure
starts it before `event_emit` is called, so the INSERT and the commit count too. Events are paced (not a burst), the
way a run produces them. Clients subscribe the way the thread page does: to the run's rows and to
the task switcher, so the socket gets the owner's switcher news too. The baseline is a bare
Channels consumer echoing through the same channel layer (bench.echo), timed the same way from the
same client.

The events are a run's mix (`RUN_MIX`): mostly rows that only add to the workstream (command
output, progress, files written), and about one in three a change of a step or of the run, which
also brings the run's card (status, step list) after the row: the p95 note gives each kind's p95,
and a figure of its own times that card.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import threading
import time

from bench.harness import daphne, emit, figure, make_run, make_user, percentile, rss_kb, session_cookie, setup_django

# One step of a run as the engine writes it, repeated: 3 of 10 events change the step or the run.
RUN_MIX = (
    "step.started",
    "command.started",
    "command.output",
    "command.output",
    "command.output",
    "command.finished",
    "file.written",
    "step.progress",
    "step.succeeded",
    "run.state",
)


class Clients:
    """`n` websocket clients in a background event loop, recording when each row arrives and,
    with `card`, when a run's card arrives (keyed by the newest row the client had then)."""

    def __init__(
        self, url: str, headers: dict, subscribe: dict | None, n: int, pattern: str, card: str | None = None
    ) -> None:
        self.url, self.headers, self.subscribe, self.n = url, headers, subscribe, n
        self.pattern = re.compile(pattern)
        self.card = re.compile(card) if card else None
        self.arrivals: dict[tuple[int, int], float] = {}
        # client → (when each card arrived, the seq it shows every change up to), in order
        self.cards: dict[int, list[tuple[float, int]]] = {}
        self.newest: dict[int, int] = {}
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.sockets = []
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._main, daemon=True)

    def start(self, timeout: float = 120) -> None:
        self.thread.start()
        if not self.ready.wait(timeout):
            raise RuntimeError(f"websocket clients not ready in {timeout}s: {self.errors[:3]}")
        if self.errors:
            raise RuntimeError(f"websocket clients failed: {self.errors[:3]}")

    def send(self, index: int, text: str) -> None:
        asyncio.run_coroutine_threadsafe(self.sockets[index].send(text), self.loop).result(10)

    def stop(self) -> None:
        async def close():
            await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.create_task(self._connect_all())
        self.loop.run_forever()

    async def _connect_one(self, i: int):
        import websockets

        ws = await websockets.connect(self.url, additional_headers=self.headers, open_timeout=60, max_queue=None)
        if self.subscribe is not None:
            await ws.send(json.dumps(self.subscribe))
            await ws.send(json.dumps({"type": "ping"}))
            while "pong" not in await ws.recv():
                pass
        return ws

    async def _connect_all(self) -> None:
        try:
            for start in range(0, self.n, 25):  # in waves, as browsers would arrive
                batch = await asyncio.gather(*(self._connect_one(i) for i in range(start, min(self.n, start + 25))))
                self.sockets += batch
            for i, ws in enumerate(self.sockets):
                self.loop.create_task(self._reader(i, ws))
        except Exception as exc:  # noqa: BLE001 - reported to the main thread
            self.errors.append(f"{type(exc).__name__}: {exc}")
        self.ready.set()

    async def _reader(self, i: int, ws) -> None:
        try:
            async for message in ws:
                now = time.perf_counter()
                text = message if isinstance(message, str) else message.decode()
                for m in self.pattern.finditer(text):
                    seq = int(m.group(1))
                    self.arrivals.setdefault((i, seq), now)
                    self.newest[i] = max(seq, self.newest.get(i, 0))
                found = self.card.search(text) if self.card is not None else None
                if found:
                    self.cards.setdefault(i, []).append((now, int(found.group(1))))
        except Exception:  # noqa: BLE001 - a closed socket ends the reader
            return

    def wait_for(self, keys: set, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not keys <= self.arrivals.keys():
            time.sleep(0.05)


def _emit_paced(run, count: int, pace: float) -> tuple[dict[int, float], dict[int, float], dict[int, str]]:
    """Emit `count` events `pace` apart, of RUN_MIX's kinds in turn. Returns two clocks per seq:
    when the event became persisted (its transaction committed: the issue's start, "event
    persisted → row received"), and just before `event_emit` was called (so also the INSERT and
    the commit); and each seq's kind."""
    from django.db import transaction

    from tasks.engine.events import event_emit

    persisted: dict[int, float] = {}
    called: dict[int, float] = {}
    kinds: dict[int, str] = {}
    for i in range(count):
        t0 = time.perf_counter()
        committed: list[float] = []
        with transaction.atomic():
            # Registered before event_emit's own publish hook, so it runs first at the commit.
            transaction.on_commit(lambda committed=committed: committed.append(time.perf_counter()))
            event = event_emit(
                run=run,
                kind=RUN_MIX[i % len(RUN_MIX)],
                phase="execute",
                status="info",
                title=f"Bench event {i + 1}",
                explanation="A paced event of the live latency benchmark.",
            )
        called[event.seq] = t0
        persisted[event.seq] = committed[0]
        kinds[event.seq] = event.kind
        time.sleep(max(0.0, pace - (time.perf_counter() - t0)))
    return persisted, called, kinds


def _latencies(clients: Clients, sent: dict[int, float], n_clients: int) -> tuple[list[float], int]:
    values, missing = [], 0
    for c in range(n_clients):
        for seq, t0 in sent.items():
            t1 = clients.arrivals.get((c, seq))
            if t1 is None:
                missing += 1
            else:
                values.append((t1 - t0) * 1000)
    return values, missing


def _missing_note(clients: Clients, sent: dict[int, float], n_clients: int) -> str:
    """Who missed rows: one socket that got nothing reads differently from rows lost here and there."""
    short = {c: sum((c, s) not in clients.arrivals for s in sent) for c in range(n_clients)}
    short = {c: n for c, n in short.items() if n}
    if not short:
        return ""
    silent = sum(1 for n in short.values() if n == len(sent))
    return f" ({len(short)} clients short, {silent} of them got none of the rows)"


def _card_latencies(clients: Clients, sent: dict[int, float], kinds: dict[int, str]) -> list[float]:
    """For each change of a step or the run: from its commit to the first card that shows it (its
    `data-seen-seq`, the run's event counter when the card was read, is at least the change's
    seq). One card read after several changes shows them all and times each; a card read before
    a change never times it, whenever it arrives. A change no card showed is not timed (the note
    says how many)."""
    from tasks.engine.events import kind_changes_run

    cards = clients.cards.get(0, [])
    out = []
    for seq, t0 in sent.items():
        if not kind_changes_run(kinds[seq]):
            continue
        shown = next((at for at, seen in cards if seen >= seq), None)
        if shown is not None:
            out.append((shown - t0) * 1000)
    return out


def _command_latency(base: str, cookie: str, owner, *, events: int, n_clients: int, pace: float, proc=None):
    _, run = make_run(owner, title="live latency")
    headers = {"Origin": base, "Cookie": f"sessionid={cookie}"}
    url = base.replace("http", "ws") + "/ws/workstream/"
    # What the thread page sends (command.html has data-switcher): the run's rows and the switcher.
    sub = {"type": "subscribe", "runs": [{"run": run.pk, "after": 0}], "switcher": True}
    rss_before = rss_kb(proc.pid) if proc else 0
    card = rf'id="run-status-{run.pk}"[^>]*data-seen-seq="(\d+)"'  # the card and the seq it shows
    clients = Clients(url, headers, sub, n_clients, rf'id="event-{run.pk}-(\d+)"', card=card)
    clients.start()
    rss_connected = rss_kb(proc.pid) if proc else 0
    sent, called, kinds = _emit_paced(run, events, pace)
    clients.wait_for({(c, s) for c in range(n_clients) for s in sent}, timeout=60)
    rss_after = rss_kb(proc.pid) if proc else 0
    clients.stop()
    values, missing = _latencies(clients, sent, n_clients)
    with_write, _ = _latencies(clients, called, n_clients)
    note = (missing, _missing_note(clients, sent, n_clients))
    return values, note, (rss_before, rss_connected, rss_after), with_write, (clients, sent, kinds)


def _echo_latency(events: int, pace: float) -> list[float]:
    with daphne("bench.echo:application", log="echo.log") as (base, _):
        url = base.replace("http", "ws") + "/ws/echo/"
        clients = Clients(url, {"Origin": base}, None, 1, r"echo (\d+)")
        clients.start()
        sent = {}
        for i in range(1, events + 1):
            t0 = time.perf_counter()
            clients.send(0, f"echo {i}")
            sent[i] = t0
            time.sleep(max(0.0, pace - (time.perf_counter() - t0)))
        clients.wait_for({(0, s) for s in sent}, timeout=30)
        clients.stop()
        values, _ = _latencies(clients, sent, 1)
        return values


def latency(events: int = 1000, pace: float = 0.015) -> list[dict]:
    setup_django()
    from tasks.engine.events import kind_changes_run

    owner = make_user()
    cookie = session_cookie(owner)
    redis = bool(os.environ.get("REDIS_URL"))
    mode = "Redis layer" if redis else "embedded (SQLite, table tail)"
    with daphne(log="latency.log") as (base, _):
        values, (missing, why), _, with_write, (clients, sent, kinds) = _command_latency(
            base, cookie, owner, events=events, n_clients=1, pace=pace
        )
    echo = _echo_latency(events, pace)
    p50, p95, e50, e95 = percentile(values, 50), percentile(values, 95), percentile(echo, 50), percentile(echo, 95)
    by_kind = _p95_by_change(clients, sent, kinds)
    cards = _card_latencies(clients, sent, kinds)
    note = (
        f"{len(values)} of {events} rows received"
        + (f", {missing} missing{why}" if missing else "")
        + f"; p95 {by_kind}"
    )
    if redis:
        target, met = "p95 ≤ 1.5× baseline", (p95 <= 1.5 * e95 and not missing)
    else:
        target, met = "p95 ≤ 250 ms", (p95 <= 250 and not missing)
        note += "; embedded delivery is the consumer's table tail (COMMAND_TAIL_INTERVAL)"
    key = "redis" if redis else "embedded"
    return [
        figure(
            f"latency-{key}",
            f"live latency p50 ({mode})",
            p50,
            "ms",
            baseline=e50,
            baseline_name="bare Channels echo p50, same layer",
        ),
        figure(
            f"latency-{key}",
            f"live latency p95 ({mode})",
            p95,
            "ms",
            baseline=e95,
            baseline_name="bare Channels echo p95, same layer",
            target=target,
            met=met,
            note=note,
        ),
        figure(
            f"latency-{key}",
            f"run card after a step or run change p95 ({mode})",
            percentile(cards, 95) if cards else 0.0,
            "ms",
            baseline=e95,
            baseline_name="bare Channels echo p95, same layer",
            note=f"{len(cards)} of {sum(kind_changes_run(k) for k in kinds.values())} changes timed, "
            f"{len(clients.cards.get(0, []))} cards received (each change to the first card that shows it, "
            "by the card's data-seen-seq); the card (status, steps) is read after the change's row is sent; "
            f"p50 {percentile(cards, 50) if cards else 0:.1f} ms",
        ),
        figure(
            f"latency-{key}",
            f"live latency p95 with the write ({mode})",
            percentile(with_write, 95),
            "ms",
            baseline=e95,
            baseline_name="bare Channels echo p95, same layer",
            note="clock started before event_emit: the INSERT and the commit counted too; "
            f"p50 {percentile(with_write, 50):.1f} ms",
        ),
    ]


def _p95_by_change(clients: Clients, sent: dict[int, float], kinds: dict[int, str]) -> str:
    from tasks.engine.events import kind_changes_run

    parts = []
    for label, changes in (("rows only", False), ("step or run changes", True)):
        subset = {seq: t0 for seq, t0 in sent.items() if kind_changes_run(kinds[seq]) == changes}
        values, _ = _latencies(clients, subset, 1)
        if values:
            parts.append(f"{label} {percentile(values, 95):.1f} ms ({len(values)})")
    return ", ".join(parts)


def fanout(n_clients: int = 200, events: int = 50, pace: float = 0.1) -> list[dict]:
    setup_django()
    owner = make_user()
    cookie = session_cookie(owner)
    with daphne(log="fanout.log") as (base, proc):
        one, _, _, _, _ = _command_latency(base, cookie, owner, events=events, n_clients=1, pace=pace)
        values, (missing, why), (rss0, rss1, rss2), _, _ = _command_latency(
            base, cookie, owner, events=events, n_clients=n_clients, pace=pace, proc=proc
        )
    p95, b95 = percentile(values, 95), percentile(one, 95)
    return [
        figure(
            "fanout",
            f"fan-out delivery p95 ({n_clients} clients, one run)",
            p95,
            "ms",
            baseline=b95,
            baseline_name="same run, 1 client, p95",
            note=f"{len(values)} deliveries, {missing} missing{why}",
            met=None if not missing else False,
        ),
        figure(
            "fanout",
            f"web process memory with {n_clients} clients",
            rss2 / 1024,
            "MB",
            baseline=rss0 / 1024,
            baseline_name="daphne RSS before the clients connected",
            note=f"{(rss1 - rss0) / n_clients:.0f} KB per connection after connecting",
        ),
    ]


async def _open_thread(url: str, headers: dict, run_id: int):
    """A socket subscribed as a thread page opened on one run subscribes (its rows, the switcher)."""
    import websockets

    ws = await websockets.connect(url, additional_headers=headers, open_timeout=60, max_queue=None)
    await ws.send(json.dumps({"type": "subscribe", "runs": [{"run": run_id, "after": 0}], "switcher": True}))
    await ws.send(json.dumps({"type": "ping"}))
    while "pong" not in await ws.recv():
        pass
    return ws


async def _read_until(ws, pattern: re.Pattern, last: int, timeout: float = 30) -> bool:
    """Read until the row with seq `last` arrived (True) or `timeout` passed; then close."""
    try:
        async with asyncio.timeout(timeout):
            async for message in ws:
                text = message if isinstance(message, str) else message.decode()
                if any(int(m.group(1)) >= last for m in pattern.finditer(text)):
                    return True
    except TimeoutError:
        return False
    finally:
        await ws.close()
    return False


def memory(runs: int = 5000, events: int = 10) -> list[dict]:
    """daphne's resident memory after `runs` runs against after `baseline_at` (issue 20: ≤ 1.05×).
    Each run is watched as a person watches one: a thread page's socket opens on it (its rows and
    the switcher), the run's events (RUN_MIX, `events` of them) are written and pushed through
    the Redis layer, the run completes, the socket gets every row, then closes. The baseline is
    the same process after a tenth of the runs (500 of 5,000)."""
    setup_django()
    from django.utils import timezone

    from tasks.engine.events import event_emit

    runs = int(os.environ.get("BENCH_MEMORY_RUNS", runs))  # a quick look: BENCH_MEMORY_RUNS=200
    baseline_at = runs // 10
    from tasks.models import TaskRun

    owner = make_user()
    cookie = session_cookie(owner)
    marks = sorted({baseline_at, runs} | {runs * k // 5 for k in range(1, 5)})
    rss: dict[int, int] = {}
    missed = 0
    loop = asyncio.new_event_loop()
    started = time.perf_counter()
    with daphne(log="memory.log") as (base, proc):
        url, headers = base.replace("http", "ws") + "/ws/workstream/", {"Origin": base, "Cookie": f"sessionid={cookie}"}
        first_rss = rss_kb(proc.pid)
        for i in range(1, runs + 1):
            _, run = make_run(owner, title=f"memory {i}")
            ws = loop.run_until_complete(_open_thread(url, headers, run.pk))
            for n in range(events):
                event = event_emit(
                    run=run,
                    kind=RUN_MIX[n % len(RUN_MIX)],
                    phase="execute",
                    status="info",
                    title=f"Memory event {n + 1}",
                )
            TaskRun.objects.filter(pk=run.pk).update(state=TaskRun.State.COMPLETED, finished_at=timezone.now())
            event = event_emit(run=run, kind="run.state", phase="execute", status="success", title="Run completed")
            pattern = re.compile(rf'id="event-{run.pk}-(\d+)"')
            if not loop.run_until_complete(_read_until(ws, pattern, event.seq)):
                missed += 1
            if i in marks:
                time.sleep(2)  # let the process settle (closed sockets, the switcher's periodic look)
                rss[i] = rss_kb(proc.pid)
                if os.environ.get("BENCH_MEMORY_PROGRESS"):  # a file to follow a long run by
                    with open(os.environ["BENCH_MEMORY_PROGRESS"], "a") as out:
                        out.write(f"{i} runs: {rss[i] / 1024:.1f} MB, {time.perf_counter() - started:.0f} s\n")
    loop.close()
    after, at_base = rss[runs] / 1024, rss[baseline_at] / 1024
    steps = ", ".join(f"{n:,}: {kb / 1024:.1f} MB" for n, kb in sorted(rss.items()))
    return [
        figure(
            "memory",
            f"daphne RSS after {runs:,} watched runs",
            after,
            "MB",
            baseline=at_base,
            baseline_name=f"the same daphne after {baseline_at:,} runs",
            target="≤ 1.05× baseline",
            met=after <= 1.05 * at_base and not missed,
            note=f"{first_rss / 1024:.1f} MB at start; {steps}; {events + 1} events a run, a socket opened and "
            f"closed per run; {missed} runs whose last row did not arrive; {time.perf_counter() - started:.0f} s",
        )
    ]


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "latency"
    emit({"latency": latency, "fanout": fanout, "memory": memory}[which]())
