"""The execution engine: runs a task's plan one step at a time, durably and honestly.

Command's own tables are the source of truth; django-q2 only carries the work (see DESIGN.md,
"Reliability model"). Modules, by concept:

- ``state``: the run state machine; every transition is one fenced, evented write.
- ``events``: workstream events, written first, published after commit.
- ``dispatch``: creating runs, the queue order, claims, leases and heartbeats.
- ``executor``: executing a claimed run step by step (approval gate, retries, verification gate).
- ``handlers``: one handler per action type behind a registry; ``commands`` runs shell commands.
- ``retry``: retry policies with Temporal's fields; ``remediation``: self-healing steps.
- ``recovery``: the reaper that turns expired leases into an honest state.
- ``controls``: operator controls (pause, resume, stop, retry, priority).
"""
