"""How long an ambiguous create is looked for before it is found, per late-commit delay (simulated time).

Runs the simulator's ``late_commit`` fault (a create answered 504 now, committed N s later) with the facade's
default back-off; the client's sleeps advance the simulator's clock, so the figures are exact and fast.
Prints, per delay: creates, billed jobs, seconds of looking until found (median, max), requests per create.

    python bench/bench_reconcile.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

from bailian_tui.core.errors import OutcomeUnknown
from bailian_tui.core.platform import JobRequest, Platform, RetryPolicy
from bailian_tui.simulator import SimClock, SimConfig, SimServer, SimState

KEY = "sk-bench-reconcile-0000"


async def run(delay: float, answer: str, runs: int) -> dict:
    clock = SimClock(manual=True)
    with SimServer(SimState(clock, SimConfig(), api_key=KEY), stream_delay=0.0) as sim:
        waited: list[float] = []
        current = [0.0]

        async def advance(seconds: float) -> None:
            current[0] += seconds
            clock.advance(seconds)

        async with Platform(api_key=KEY, base_url=sim.base_url, retry=RetryPolicy(), sleep=advance) as p:
            data = Path(tempfile.mkdtemp()) / "train.jsonl"
            data.write_text('{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}\n')
            remote = await p.upload_file(data)
            sim.state.config.late_commit, sim.state.config.late_commit_answer = delay, answer
            before, unknown = p.stats.requests, 0
            for _ in range(runs):
                current[0] = 0.0
                try:
                    await p.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id]))
                    waited.append(current[0])
                except OutcomeUnknown:
                    unknown += 1
            clock.advance(delay + 1)
            await p.list_jobs()
            return {"delay": delay, "answer": answer, "creates": runs, "billed": len(sim.state.jobs),
                    "unknown": unknown, "found_after_median": statistics.median(waited) if waited else None,
                    "found_after_max": max(waited) if waited else None,
                    "requests_per_create": (p.stats.requests - before - 1) / runs}


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    for delay in (1.5, 3.0, 10.0, 30.0, 59.0, 90.0):
        for answer in ("504", "drop"):
            print(asyncio.run(run(delay, answer, runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
