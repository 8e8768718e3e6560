"""Watching 50 running jobs: request rate, status lag, key-press latency, idle CPU; vs 50 `dashscope ft stream`.

    python bench/bench_watch.py [--jobs 50] [--seconds 60]
    python bench/bench_watch.py --none-watched [--jobs 10] [--seconds 60]

--none-watched: nothing is watched; the job list alone (its refresh and the glances at every running job's
newest log lines) — requests/s, and how many rows show progress and loss.

The simulator runs in its own process (so the app's CPU is the app's), all jobs train at once
(one_training_at_a_time off) on long epochs. The app runs headless in this process and watches every job.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KEY = "sk-bench-watch-0000"

SERVER = """
import sys
from bailian_tui.simulator import SimClock, SimConfig, SimServer, SimState
config = SimConfig(one_training_at_a_time=False, pending_seconds=0, epoch_seconds=600)
state = SimState(SimClock(), config, api_key=sys.argv[2])
server = SimServer(state, port=int(sys.argv[1]))
print("ready", flush=True)
server.serve_forever()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SimProcess:
    """The simulator in its own process (so what is measured here spends only its own CPU); ``requests()``
    is how many requests it has served, asked through its admin endpoint — what the server saw."""

    def __enter__(self) -> "SimProcess":
        self.port = free_port()
        self._proc = subprocess.Popen([sys.executable, "-c", SERVER, str(self.port), KEY], stdout=subprocess.PIPE,
                                      text=True, cwd=ROOT)
        self._proc.stdout.readline()
        self.base = f"http://127.0.0.1:{self.port}/api/v1"
        return self

    def requests(self) -> int:
        reply = httpx.post(f"http://127.0.0.1:{self.port}/_sim/clock", json={"advance": 0},
                           headers={"Authorization": f"Bearer {KEY}"})
        return int(reply.json()["output"]["requests"]) - 1  # minus this call itself

    def __exit__(self, *exc) -> None:
        self._proc.terminate()
        self._proc.wait(10)


async def setup_jobs(base: str, n: int, work: Path) -> list[str]:
    from bailian_tui.core.platform import JobRequest, Platform
    from tests.conftest import write_chatml

    async with Platform(api_key=KEY, base_url=base) as platform:
        remote = await platform.upload_file(write_chatml(work / "train.jsonl", 200))
        ids = []
        for _ in range(n):
            job = await platform.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id],
                                                       hyper_parameters={"n_epochs": 3, "batch_size": 8,
                                                                         "logging_steps": 1}))
            ids.append(job.job_id)
        return ids


def member_scheduler(app):
    """The app's one provider's scheduler (the app runs a fleet of schedulers, one per profile; here one)."""
    return app.scheduler.fleet.member().scheduler


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def watch(base: str, ids: list[str], seconds: float, work: Path, count_requests) -> dict:
    from textual import events

    from bailian_tui.core import config
    from bailian_tui.tui.app import BailianApp

    settings = config.load(env={"XDG_CONFIG_HOME": "/nonexistent", "BAILIAN_TUI_STATE_DIR": str(work),
                                "DASHSCOPE_BASE_URL": base, "DASHSCOPE_API_KEY": KEY})
    app = BailianApp(settings)
    seen: dict[str, float] = {}
    result: dict = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await app.service()
        original = app._job_polled

        def spy(update) -> None:
            job = update.watched.job
            if job is not None and job.status.value in ("CANCELING", "CANCELED") and job.job_id not in seen:
                seen[job.job_id] = time.perf_counter()
            original(update)

        member_scheduler(app).on_update = spy
        for job_id in ids:
            app.watch_job(job_id)
        await pilot.press("v")  # the watch view: every panel rendering
        await asyncio.sleep(10)  # let the first round of polls settle
        start_requests, start_cpu, start = count_requests(), cpu_seconds(), time.perf_counter()
        await asyncio.sleep(seconds)
        elapsed = time.perf_counter() - start
        result["requests_per_second"] = (count_requests() - start_requests) / elapsed
        result["cpu_percent"] = (cpu_seconds() - start_cpu) / elapsed * 100
        # Status lag: cancel jobs behind the app's back, time until the app shows it.
        lags = []
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {KEY}"}) as client:
            for job_id in ids[:5]:
                t0 = time.perf_counter()
                await client.post(f"/fine-tunes/{job_id}/cancel")
                while job_id not in seen and time.perf_counter() - t0 < 300:
                    await asyncio.sleep(0.05)
                lags.append(seen.get(job_id, time.perf_counter()) - t0)
        result["lag_s"] = lags
        await pilot.press("escape")
        await pilot.pause(0.5)
        table = app.screen.query_one("#jobs")
        table.focus()
        latencies = []
        for press in range(20):
            key = "down" if press % 2 == 0 else "up"  # stay inside the table, however long it is
            target = table.cursor_row + (1 if key == "down" else -1)
            k0 = time.perf_counter()
            app.post_message(events.Key(key, None))
            while table.cursor_row != target and time.perf_counter() - k0 < 2:
                await asyncio.sleep(0.001)
            await asyncio.sleep(1 / 60)
            latencies.append((time.perf_counter() - k0) * 1000)
            await asyncio.sleep(0.05)
        result["keypress_ms"] = latencies
        result["budget"] = member_scheduler(app).rate
        result["cycle_s"] = len(ids) * 2 / member_scheduler(app).rate
    return result


async def job_list_only(base: str, ids: list[str], seconds: float, work: Path, count_requests) -> dict:
    from bailian_tui.core import config
    from bailian_tui.tui.app import BailianApp

    settings = config.load(env={"XDG_CONFIG_HOME": "/nonexistent", "BAILIAN_TUI_STATE_DIR": str(work),
                                "DASHSCOPE_BASE_URL": base, "DASHSCOPE_API_KEY": KEY})
    app = BailianApp(settings)
    async with app.run_test(size=(160, 40)):
        await app.service()
        await asyncio.sleep(5)
        start_requests, start_cpu, start = count_requests(), cpu_seconds(), time.perf_counter()
        await asyncio.sleep(seconds)
        elapsed = time.perf_counter() - start
        table = app.screen.query_one("#jobs")
        filled = sum(1 for job_id in ids if str(table.get_row(job_id)[4]).strip())
        return {"requests_per_second": (count_requests() - start_requests) / elapsed,
                "cpu_percent": (cpu_seconds() - start_cpu) / elapsed * 100, "rows_with_loss": filled,
                "budget": member_scheduler(app).rate, "glance_interval": member_scheduler(app).glance_interval()}


def cli_streams(base: str, ids: list[str], seconds: float, count_requests) -> dict:
    exe = Path(sys.executable).with_name("dashscope")
    env = {**os.environ, "DASHSCOPE_HTTP_BASE_URL": base, "DASHSCOPE_API_KEY": KEY}
    before, start = count_requests(), time.perf_counter()
    procs = [subprocess.Popen([str(exe), "ft", "stream", job_id], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for job_id in ids]
    deadline = start + seconds
    alive_peak = 0
    while time.perf_counter() < deadline:
        alive_peak = max(alive_peak, sum(p.poll() is None for p in procs))
        time.sleep(0.5)
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        p.wait()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"requests_per_second": (count_requests() - before) / (time.perf_counter() - start),
            "processes_alive_at_peak": alive_peak, "child_cpu_s": children.ru_utime + children.ru_stime}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--none-watched", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bt-watch-"))
    with SimProcess() as sim:
        base, count_requests = sim.base, sim.requests
        ids = asyncio.run(setup_jobs(base, args.jobs, work))
        if args.none_watched:
            listed = asyncio.run(job_list_only(base, ids, args.seconds, work, count_requests))
            print(f"# {os.cpu_count()} cores · Python {sys.version.split()[0]} · {time.strftime('%Y-%m-%d')}")
            print(f"job list open, {args.jobs} running jobs, none watched, {args.seconds:.0f} s:")
            print(f"  requests/s to the server: {listed['requests_per_second']:.2f} (budget {listed['budget']:.1f}); "
                  f"each job glanced every {listed['glance_interval']:.0f} s")
            print(f"  rows showing a loss: {listed['rows_with_loss']} of {args.jobs}; "
                  f"CPU {listed['cpu_percent']:.1f}% of one core")
            return
        ours = asyncio.run(watch(base, ids, args.seconds, work, count_requests))
        theirs = cli_streams(base, ids[5:], min(args.seconds, 30), count_requests)
    keys = ours.pop("keypress_ms")
    print(f"# {os.uname().nodename} · {os.cpu_count()} cores · Python {sys.version.split()[0]} · "
          f"{time.strftime('%Y-%m-%d')}")
    print(f"bailian-tui watching {args.jobs} running jobs for {args.seconds:.0f} s (watch view open):")
    print(f"  requests/s to the server: {ours['requests_per_second']:.2f} (budget {ours['budget']:.1f})")
    print(f"  CPU of the app while idle-watching: {ours['cpu_percent']:.1f}% of one core (≤ 5%)")
    print(f"  status change → seen by the app: median {statistics.median(ours['lag_s']):.1f} s, max "
          f"{max(ours['lag_s']):.1f} s; one full polling round of {args.jobs} jobs = {ours['cycle_s']:.0f} s at the budget")
    print(f"  key press → render: median {statistics.median(keys):.1f} ms, max {max(keys):.1f} ms")
    print(f"{len(ids) - 5} × `dashscope ft stream ID` (official CLI 2.0.2) for {min(args.seconds, 30):.0f} s:")
    print(f"  requests/s: {theirs['requests_per_second']:.2f}; processes still alive at peak: "
          f"{theirs['processes_alive_at_peak']}; CPU spent: {theirs['child_cpu_s']:.1f} s")


if __name__ == "__main__":
    main()
