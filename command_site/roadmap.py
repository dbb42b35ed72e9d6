"""The product's phases and which capabilities are live in this build.

`live` is True only for what this build really does; the roadmap page never promises more.
"""

PHASES = [
    {
        "number": 1,
        "name": "Operator foundation",
        "summary": "Understand a messy request, show a plan, do the work for real, and show every step.",
        "capabilities": [
            {"name": "Requests stored exactly as typed, with hints and checked uploads", "live": True},
            {"name": "Accounts: email and password, optional GitHub, Google and OpenID Connect", "live": True},
            {"name": "Health endpoint covering database, realtime layer, worker and storage", "live": True},
            {"name": "Understanding snapshot and plan from the built-in planner", "live": True},
            {"name": "Model providers (OpenAI-compatible, Anthropic) with encrypted keys", "live": True},
            {"name": "Live workstream over websockets with replay, polled when no socket is open", "live": True},
            {"name": "Operator workspace: thread, plan with live step status, diff panel", "live": True},
            {"name": "Workspaces, readable diffs and rollback points", "live": True},
            {"name": "Verified outputs: sites, images, PDFs, documents, slides, sheets, audio, video", "live": True},
        ],
    },
    {
        "number": 2,
        "name": "Reliable multi-task execution",
        "summary": "A durable queue, background runs, per-workspace locks, retries, recovery and memory.",
        "capabilities": [
            {"name": "Durable run queue with priorities and honest blocking reasons", "live": True},
            {"name": "Leases, heartbeats and recovery of runs whose worker died", "live": True},
            {"name": "A worker that stops cleanly: runs under way go back to the queue between steps", "live": True},
            {"name": "Retry policies and self-healing, each step explained", "live": True},
            {"name": "Approvals with remembered preferences", "live": True},
            {"name": "Task switcher for several runs at once", "live": True},
        ],
    },
    {
        "number": 3,
        "name": "Measured and audited",
        "summary": "Benchmarks against baselines, fault injection, and a truthfulness audit of the database.",
        "capabilities": [
            {"name": "make bench with ratios against same-run baselines", "live": True},
            {"name": "Fault-injection suite", "live": True},
            {"name": "manage.py audit", "live": True},
            {"name": "Queue throughput over 100 runs/s (124–178 on 2 cores; see bench/README.md)", "live": True},
            {"name": "Live rows within 1.2× of a bare Channels echo (p95; see bench/README.md)", "live": True},
        ],
    },
]
