"""`make bench`: every benchmark, each figure as a ratio against a baseline measured in the same run.

    .venv/bin/python -m bench.run                      # all of them
    .venv/bin/python -m bench.run --only latency,diff  # a selection (make bench ARGS="--only latency")

Benchmarks run one after another, each in its own process, against throw-away places: a private
PostgreSQL cluster and Redis server on loopback ports (chaos.sandbox; each benchmark gets a fresh
database), a temporary COMMAND_DATA_DIR, and for the embedded figures a temporary SQLite file.
Nothing touches the developer's or CI's databases. Prints a table and writes
bench/results/latest.json (see bench/README.md for how to read it).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"

# name → (module args, needs: "pg+redis" | "pg" | "sqlite" | "none")
BENCHES: dict[str, list[tuple[list[str], str]]] = {
    "latency": [(["bench.live", "latency"], "pg+redis"), (["bench.live", "latency"], "sqlite")],
    "submit": [(["bench.pages", "submit"], "pg")],
    "queue": [(["bench.throughput"], "pg"), (["bench.throughput", "redis"], "pg+redis")],
    "snapshots": [([], "none")],
    "pages": [(["bench.pages", "pages"], "pg")],
    "fanout": [(["bench.live", "fanout"], "pg+redis")],
    "memory": [(["bench.live", "memory"], "pg+redis")],
    "diff": [(["bench.diff"], "none")],
    "search": [(["bench.search"], "none")],
    "sandbox": [(["bench.sandbox"], "none")],
    "agent": [(["bench.agent"], "pg")],
}
# Benchmarks whose targets are judged on the median of several runs (the spread is reported).
REPEATS: dict[str, int] = {"latency": 3}
# Seconds a benchmark may take before it is stopped (memory watches 5,000 runs: 15–35 min here).
TIMEOUTS: dict[str, int] = {"memory": 3000}


def _base_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "command_site.settings",
            "COMMAND_ENV_FILE": "",
            "SECRET_KEY": "bench-only-secret-key",
            "COMMAND_SECRET_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "DEBUG": "false",
            "COMMAND_DATA_DIR": str(data_dir),
            "COMMAND_WORKSPACE_ROOTS": str(data_dir / "roots"),
            "COMMAND_SNAPSHOT_DIR": str(data_dir / "snapshots"),
            "COMMAND_STORAGE": "local",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(REPO),
        }
    )
    (data_dir / "roots").mkdir(parents=True, exist_ok=True)
    return env


def _run_snapshots() -> list[dict]:
    done = subprocess.run([sys.executable, "bench/snapshots.py"], cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip()[-800:])
    data = json.loads((RESULTS / "snapshots.json").read_text())
    from bench.harness import figure

    git_inc = data["incremental_seconds"]["git"]
    rows = (
        ("snapshot, cold (5,000 files, 102 MB)", data["cold_seconds"]["command"], data["cold_seconds"]["git"], 1.0),
        ("snapshot, 1 file changed (watcher)", data["incremental_seconds"]["command"], git_inc, 0.5),
        ("snapshot, 1 file changed (no watcher)", data["incremental_stat_scan_seconds"], git_inc, None),
    )
    out = []
    for label, value, base, target in rows:
        out.append(
            figure(
                "snapshots",
                label,
                value * 1000,
                "ms",
                baseline=base * 1000,
                baseline_name="git add -A && git commit",
                target=f"≤ {target}× git" if target else "",
                met=(value / base <= target) if target else None,
                note="median of 3 cold / 5 incremental captures (bench/snapshots.py)" if target == 1.0 else "",
            )
        )
    if not out:
        raise RuntimeError(f"bench/results/snapshots.json has no figures this runner understands: {list(data)}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Command's benchmarks")
    parser.add_argument("--only", default="", help=f"comma-separated: {', '.join(BENCHES)}")
    args = parser.parse_args(argv)
    chosen = [b.strip() for b in args.only.split(",") if b.strip()] or list(BENCHES)
    unknown = [b for b in chosen if b not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHES)}")

    sys.path.insert(0, str(REPO))
    from bench.judging import combine, keep_stale, stamp
    from chaos.sandbox import private_services

    figures: list[dict] = []
    errors: dict[str, str] = {}
    started = time.monotonic()
    print(f"Benchmarks: {', '.join(chosen)} (private PostgreSQL + Redis; this takes a few minutes)", flush=True)
    with private_services(prefix="command-bench-") as (pg, redis, folder):
        for n, name in enumerate(chosen):
            for i, (module, needs) in enumerate(BENCHES[name]):
                label = f"{name}{'' if len(BENCHES[name]) == 1 else f' [{needs}]'}"
                repeats = REPEATS.get(name, 1)
                print(f"  … {label}{f' ×{repeats}' if repeats > 1 else ''}", flush=True)
                t0 = time.monotonic()
                try:
                    if needs == "none" and not module:
                        figures += stamp(_run_snapshots(), _now())
                        continue
                    runs = []
                    for r in range(repeats):
                        data_dir = folder / f"{name}-{i}-{r}"
                        data_dir.mkdir()
                        env = _base_env(data_dir)
                        if needs.startswith("pg"):
                            env["DATABASE_URL"] = pg.create_database(f"bench_{n}_{i}_{r}")
                        elif needs == "sqlite":
                            env["DATABASE_URL"] = f"sqlite:///{data_dir / 'bench.sqlite3'}"
                        if needs == "pg+redis":
                            env["REDIS_URL"] = redis.url
                        out = data_dir / "figures.json"
                        env["BENCH_OUT"] = str(out)
                        done = subprocess.run(
                            [sys.executable, "-m", *module],
                            cwd=REPO,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=TIMEOUTS.get(name, 900),
                        )
                        if done.returncode != 0 or not out.exists():
                            raise RuntimeError((done.stderr or done.stdout).strip()[-1500:])
                        runs.append(json.loads(out.read_text()))
                    figures += stamp(combine(runs), _now())
                except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
                    errors[label] = f"{type(exc).__name__}: {exc}"
                    print(f"    failed: {errors[label][-600:]}", flush=True)
                finally:
                    print(f"    {time.monotonic() - t0:.0f} s", flush=True)

    report = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "platform": platform.platform(),
        },
        "seconds": round(time.monotonic() - started, 1),
        "selection": chosen,
        "figures": figures,
        "errors": errors,
    }
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / "latest.json"
    if set(chosen) != set(BENCHES) and target.exists():
        # A partial run updates its own figures and keeps the others from the last run.
        previous = json.loads(target.read_text())
        # Each kept figure keeps its own time and says it is stale (it was not measured now).
        kept = keep_stale(
            [f for f in previous.get("figures", []) if _bench_of(f) not in chosen],
            previous.get("generated_at", ""),
        )
        report["figures"] = kept + figures
        report["selection"] = [b for b in BENCHES if b in set(previous.get("selection", [])) | set(chosen)]
        report["errors"] = {
            **{k: v for k, v in previous.get("errors", {}).items() if k.split(" ")[0] not in chosen},
            **errors,
        }
    target.write_text(json.dumps(report, indent=2) + "\n")
    print_table(figures, errors)
    print(f"\nWrote {target.relative_to(REPO)} ({report['seconds']:.0f} s, load average {os.getloadavg()[0]:.1f})")
    return 1 if errors else 0


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _bench_of(f: dict) -> str:
    """The `--only` name a figure belongs to (figure benches are named after it, e.g. "pages")."""
    return f["bench"].split("-")[0]


def _fmt(value, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value:,.1f} {unit}" if unit != "runs/s" else f"{value:,.0f} {unit}"


def print_table(figures: list[dict], errors: dict[str, str]) -> None:
    rows = [("figure", "value", "baseline", "ratio", "target", "met")]
    for f in figures:
        rows.append(
            (
                f["name"],
                _fmt(f["value"], f["unit"]),
                "—" if f["baseline"] is None else f"{_fmt(f['baseline'], f['unit'])} ({f['baseline_name']})",
                "—" if f["ratio"] is None else f"{f['ratio']:.2f}×",
                f["target"] or "—",
                {True: "yes", False: "NO", None: "—"}[f["met"]],
            )
        )
    widths = [min(70, max(len(r[i]) for r in rows)) for i in range(len(rows[0]))]
    print()
    for n, row in enumerate(rows):
        print("  ".join(cell[: widths[i]].ljust(widths[i]) for i, cell in enumerate(row)))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    for f in figures:
        if f.get("note"):
            print(f"note ({f['name']}): {f['note']}")
    for label, error in errors.items():
        print(f"FAILED {label}: {error.splitlines()[-1] if error else ''}")


if __name__ == "__main__":
    sys.exit(main())
