"""Search: the model's `search` tool (`workspaces.services.search.file_search_in`, with the engine it
picks by default) over a generated 20,000-file git repository, against `git grep` on the same tree.

Both sides start a process (ours starts ripgrep, or git) and read the whole answer; ours also
checks the pattern, the path, each reported file again, and shapes the result. Queries: a word
in 40 files, a regular expression, and a word in no file (the whole tree is read). Medians of 9
runs each, interleaved, after one warm-up each; the note gives the spread (min–max).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import REPO, emit, figure, median

FILES = 20_000
FOLDERS = 200
RUNS = 9
TARGET = 1.5
QUERIES = [
    ("a word in 40 files", "zebrafinch", False),
    ("a regular expression", r"def handle_[0-9]+_zebra", True),
    ("a word in no file", "quetzalcoatl", False),
]


def make_tree(root: Path) -> None:
    rng = random.Random(11)
    words = [f"w{i}" for i in range(3000)]
    marked = set(rng.sample(range(FILES), 40))
    for n in range(FILES):
        folder = root / f"pkg{n % FOLDERS:03d}" / f"mod{(n // FOLDERS) % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        lines = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(30)]
        if n in marked:
            lines[rng.randrange(30)] += " zebrafinch"
            lines.append(f"def handle_{n}_zebra(): pass")
        (folder / f"file{n}.py").write_text("\n".join(lines) + "\n")
    (root / ".gitignore").write_text("*.pyc\nbuild/\n")
    # No background gc after the commit: it would still be writing into .git at clean-up.
    git = ["git", "-C", str(root), "-c", "user.email=b@example.com", "-c", "user.name=bench", "-c", "gc.auto=0"]
    git += ["-c", "maintenance.auto=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "tree"], check=True)


def git_grep(root: Path, query: str, regex: bool) -> int:
    argv = ["git", "grep", "--untracked", "-n", "-I", "--no-color", "-P" if regex else "-F", "-e", query]
    done = subprocess.run(argv, cwd=root, capture_output=True, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stderr.decode()[-300:])
    return done.stdout.count(b"\n")


def main() -> list[dict]:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "command_site.settings")
    import django

    django.setup()
    from workspaces.services.search import file_search_in, search_engine_default

    out = []
    with tempfile.TemporaryDirectory(prefix="command-bench-search-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp) / "tree"
        root.mkdir()
        t0 = time.perf_counter()
        make_tree(root)
        built = time.perf_counter() - t0
        engine = search_engine_default(str(root))
        for label, query, regex in QUERIES:
            ours, base = [], []
            expected = git_grep(root, query, regex)  # warm-up (and the answer to compare with)
            result = file_search_in(root=str(root), query=query, regex=regex, limit=1000)
            if len(result.matches) != expected:
                raise RuntimeError(f"{label}: search found {len(result.matches)} lines, git grep {expected}")
            for _ in range(RUNS):
                t = time.perf_counter()
                file_search_in(root=str(root), query=query, regex=regex, limit=1000)
                ours.append(time.perf_counter() - t)
                t = time.perf_counter()
                git_grep(root, query, regex)
                base.append(time.perf_counter() - t)
            value, baseline = median(ours) * 1000, median(base) * 1000
            out.append(
                figure(
                    "search",
                    f"search, {label} ({FILES:,}-file git tree)",
                    value,
                    "ms",
                    baseline=baseline,
                    baseline_name="git grep, same tree",
                    target=f"≤ {TARGET}× git grep",
                    met=value / baseline <= TARGET,
                    note=(
                        f"engine {engine}; {expected} matching lines; median of {RUNS}, spread "
                        f"{min(ours) * 1000:.0f}–{max(ours) * 1000:.0f} ms (git grep "
                        f"{min(base) * 1000:.0f}–{max(base) * 1000:.0f} ms); tree built in {built:.0f} s"
                    ),
                    extra={
                        "runs_ms": [round(x * 1000, 2) for x in ours],
                        "baseline_runs_ms": [round(x * 1000, 2) for x in base],
                    },
                )
            )
        # Reported: the fallbacks a machine without ripgrep uses (git grep engine; Python outside git).
        for fallback, runs in (("git", 3), ("python", 3)):
            if fallback == engine:
                continue
            label, query, regex = QUERIES[0]
            times, base = [], []
            for _ in range(runs):
                t = time.perf_counter()
                file_search_in(root=str(root), query=query, regex=regex, limit=1000, engine=fallback)
                times.append(time.perf_counter() - t)
                t = time.perf_counter()
                git_grep(root, query, regex)
                base.append(time.perf_counter() - t)
            out.append(
                figure(
                    "search",
                    f"search, {label}, {fallback} engine (reported)",
                    median(times) * 1000,
                    "ms",
                    baseline=median(base) * 1000,
                    baseline_name="git grep, same tree",
                    note=f"median of {runs}: what a machine without ripgrep gets"
                    + (" (outside a git repository)" if fallback == "python" else ""),
                )
            )
    return out


if __name__ == "__main__":
    emit(main())
