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
            {"name": "Outputs: sites, images, PDFs, documents, slides, sheets, audio, video", "live": True},
            {
                "name": "A brief per deliverable: each criterion read from the request is checked "
                "in the delivered file, or shown as not checked",
                "live": True,
            },
            {"name": "Offline content written for the genre and subject asked for", "live": True},
            {"name": "Pictures of DOCX, PPTX and XLSX pages as previews (LibreOffice headless)", "live": True},
            {"name": "Follow-ups in the thread, Regenerate, and assets brought into a new request", "live": True},
        ],
    },
    {
        "number": 2,
        "name": "Reliable multi-task execution",
        "summary": "A durable queue, background runs, per-workspace locks, retries, recovery and memory.",
        "capabilities": [
            {"name": "Durable run queue with priorities and honest blocking reasons", "live": True},
            {"name": "Leases, heartbeats and recovery of runs whose worker died", "live": True},
            {"name": "Writes to files, snapshots and outputs fenced by the lease when they happen", "live": True},
            {"name": "A command killed before its worker's lease expires, even if the worker is frozen", "live": True},
            {"name": "A run interrupted mid-edit put back from its rollback point and resumed", "live": True},
            {"name": "A worker that stops cleanly, and restarts after a crash with the web still up", "live": True},
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
            {"name": "Fault-injection suite whose every verdict is an assertion", "live": True},
            {"name": "manage.py audit", "live": True},
            {"name": "Queue throughput at least half of procrastinate's on the same PostgreSQL", "live": False},
            {"name": "Live rows within 1.5× of a bare Channels echo (p95, median of three runs)", "live": True},
            {"name": "Thread page of a task with 1,000 runs within 1.2× of one run", "live": True},
            {
                "name": "Record page of a task with 1,000 runs within 1.2× of one run (1.42–1.58× on a quiet "
                "machine: its timeline still reads every run)",
                "live": False,
            },
            {"name": "daphne memory after 5,000 runs within 1.05× of after 500", "live": True},
        ],
    },
    {
        "number": 4,
        "name": "Models that do the work, safely",
        "summary": "The model reads, edits, runs and iterates inside the engine; every command runs in a sandbox.",
        "capabilities": [
            {"name": "Every command and check in a bubblewrap sandbox (62 escape vectors, 0 escapes)", "live": True},
            {"name": "A shell policy that reads each part of a command; network as its own approval", "live": True},
            {"name": "Folders owned by one account; exact socket origins; masked provider errors", "live": True},
            {
                "name": "Model tool calls in both wire formats (OpenAI-compatible, Anthropic), streamed",
                "live": True,
            },
            {
                "name": "Model-driven runs: the model reads, searches, edits and runs commands, sees every "
                "result, and only a passing check completes the run (turns stored before their tool calls, "
                "turn/tool-call/token budget, stuck detection, approvals that show the exact diff)",
                "live": True,
            },
            {
                "name": "A cost budget at each connection's prices; a plan revision when a turn changes the "
                "work; a run that continues after its worker died mid-command",
                "live": True,
            },
            {"name": "Model-written content for outputs through typed content tools", "live": True},
            {
                "name": "Engine overhead of a model-driven run ≤ 25 ms per tool step (median of six on a quiet "
                "machine: +19.9 ms)",
                "live": True,
            },
        ],
    },
]
