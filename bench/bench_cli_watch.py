"""`bailian-tui jobs watch` of 50 running jobs into a pipe: request rate, time to the first line, lines.

    python bench/bench_cli_watch.py [--jobs 50] [--seconds 60]

The simulator runs in its own process (all jobs train at once on long epochs); the CLI runs as a user
runs it, `jobs watch ID…` with stdout a pipe, for SECONDS and is then stopped with SIGTERM. The request
count comes from the simulator (its admin endpoint), so it is what the server saw. Baseline in the same
run: the same 50 jobs watched by 50 separate `jobs watch ID` processes (what a script looping over ids does).
Targets (issue #11): ≤ 2 requests/s overall, first line within 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_watch import KEY, SimProcess, setup_jobs  # noqa: E402


def watch_into_pipe(env: dict, ids: list[str], seconds: float, count_requests) -> dict:
    before, start = count_requests(), time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "bailian_tui", "jobs", "watch", *ids, "--every", "10"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    stamps: list[float] = []

    def reader() -> None:
        for _ in child.stdout:
            stamps.append(time.perf_counter() - start)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    time.sleep(seconds)
    child.send_signal(signal.SIGTERM)
    code = child.wait(30)
    elapsed = time.perf_counter() - start
    thread.join(5)
    return {"requests_per_second": (count_requests() - before) / elapsed, "first_line": stamps[0] if stamps else None,
            "lines": len(stamps), "exit": code}


def separate_processes(env: dict, ids: list[str], seconds: float, count_requests) -> dict:
    before, start = count_requests(), time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "bailian_tui", "jobs", "watch", job_id],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
             for job_id in ids]
    time.sleep(seconds)
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(30)
    return {"requests_per_second": (count_requests() - before) / (time.perf_counter() - start)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with SimProcess() as sim, tempfile.TemporaryDirectory() as tmp:
        ids = asyncio.run(setup_jobs(sim.base, args.jobs, Path(tmp)))
        env = {**os.environ, "DASHSCOPE_HTTP_BASE_URL": sim.base, "DASHSCOPE_API_KEY": KEY,
               "XDG_CONFIG_HOME": str(Path(tmp) / "cfg"), "BAILIAN_TUI_STATE_DIR": str(Path(tmp) / "state")}
        runs = [watch_into_pipe(env, ids, args.seconds, sim.requests) for _ in range(args.runs)]
        baseline = separate_processes(env, ids, min(args.seconds, 30), sim.requests)
    rate = statistics.median(r["requests_per_second"] for r in runs)
    first = statistics.median(r["first_line"] for r in runs if r["first_line"] is not None)
    lines = statistics.median(r["lines"] for r in runs)
    print(f"jobs watch of {args.jobs} running jobs into a pipe, {args.seconds:g} s, median of {args.runs} runs:")
    print(f"  requests/s to the server: {rate:.2f} (budget 2.0)")
    print(f"  first line after: {first:.2f} s (target ≤ 2 s)")
    print(f"  lines printed: {lines:.0f}; exit code on SIGTERM: {runs[0]['exit']}")
    print(f"baseline, {args.jobs} separate `jobs watch ID` processes, {min(args.seconds, 30):g} s:")
    print(f"  requests/s: {baseline['requests_per_second']:.2f} "
          f"(×{baseline['requests_per_second'] / max(rate, 1e-9):.1f} ours)")
    ok = rate <= 2.0 + 1e-6 and first <= 2.0
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
