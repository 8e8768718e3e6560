"""App start and big-file browsing: launch to first frame, and opening a 300 MB JSONL in the browser.

    python bench/bench_browser.py [--size-mb 300] [--repeat 5] [--workdir DIR]

Launch: a fresh process per run, from exec to the app's Ready event (first screen composed and painted),
headless, demo mode; medians. The import time of dashscope is measured in the same run for scale.
Opening: in-process, headless at 120×40: time until the first records are on screen, until the whole index
is built, RSS growth, and key-press-to-render latency while indexing runs; a naive approach (parse every
line, then show) measured in the same run for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LAUNCH = """
import sys, time
start = float(sys.argv[1])
from bailian_tui.core import config
from bailian_tui.simulator.demo import start_demo
from bailian_tui.simulator.demo import point_at_demo
from bailian_tui.tui.app import BailianApp
settings = config.load(env={"XDG_CONFIG_HOME": "/nonexistent", "BAILIAN_TUI_STATE_DIR": sys.argv[2]})
server = start_demo()
point_at_demo(settings, server)
class Timed(BailianApp):
    def on_ready(self):
        print(time.time() - start, flush=True)
        self.exit()
Timed(settings).run(headless=True, size=(120, 40))
server.stop()
"""


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def launch_times(repeat: int, work: Path) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.time()
        out = subprocess.run([sys.executable, "-c", LAUNCH, str(start), str(work)], capture_output=True, text=True,
                             cwd=ROOT, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return times


def import_times(repeat: int, module: str) -> list[float]:
    code = f"import time; t=time.perf_counter(); import {module}; print(time.perf_counter()-t)"
    return [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(repeat)]


async def open_big(path: Path, work: Path) -> dict:
    from bailian_tui.core import config
    from bailian_tui.simulator.demo import start_demo
    from bailian_tui.tui.app import BailianApp
    from bailian_tui.simulator.demo import point_at_demo
    from textual import events

    from bailian_tui.tui.widgets.records import RecordList

    settings = config.load(env={"XDG_CONFIG_HOME": "/nonexistent", "BAILIAN_TUI_STATE_DIR": str(work)})
    server = start_demo()
    point_at_demo(settings, server)
    app = BailianApp(settings)
    result: dict = {}
    async with app.run_test(size=(120, 40)) as pilot:
        from bailian_tui.core.data import tokens

        await app.service()
        while not tokens.loaded():  # a user opens a file after start-up, not within its first second
            await asyncio.sleep(0.05)
        await pilot.press("d")
        await pilot.pause(0.2)
        screen = app.screen
        before = rss_mb()
        t0 = time.perf_counter()
        screen.open(path)
        records = screen.query_one("#records", RecordList)
        while not (records.row_count and screen.query_one("#conversation").titles):
            await asyncio.sleep(0.005)
        result["first_records_s"] = time.perf_counter() - t0
        latencies = []
        head = screen.query_one("#conversation")
        while not screen.source.done or len(latencies) < 5:
            # key event posted → the preview of the next record is mounted, plus one frame (1/60 s) to paint it.
            # (Pilot.press itself waits for idle and would time the pilot, not the app.)
            target = records.cursor + 2
            k0 = time.perf_counter()
            app.post_message(events.Key("down", None))
            while not head.text.startswith(f" line {target} "):
                await asyncio.sleep(0.001)
            await asyncio.sleep(1 / 60)
            latencies.append(time.perf_counter() - k0)
            result.setdefault("during_index", 0)
            result["during_index"] += not screen.source.done
            await asyncio.sleep(0.01)
        result["index_s"] = screen.index_seconds
        result["records"] = len(screen.source)
        result["rss_growth_mb"] = rss_mb() - before
        result["keypress_ms"] = [x * 1000 for x in latencies]
    server.stop()
    return result


def naive(path: Path) -> dict:
    before = rss_mb()
    t0 = time.perf_counter()
    with path.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    first = time.perf_counter() - t0
    growth = rss_mb() - before
    del records
    return {"first_records_s": first, "index_s": first, "rss_growth_mb": growth}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bt-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    big = work / "medqa_big.jsonl"
    if not big.exists() or big.stat().st_size < args.size_mb * 2**20:
        from bench.bench_pipeline import make_input

        make_input(big, args.size_mb)
    print(f"# {os.uname().nodename} · {os.cpu_count()} cores · Python {sys.version.split()[0]} · "
          f"{time.strftime('%Y-%m-%d')}")
    launch = launch_times(args.repeat, work)
    print(f"launch to first frame: median {statistics.median(launch):.3f} s (runs: "
          f"{', '.join(f'{x:.2f}' for x in launch)}) — target ≤ 0.8 s")
    for module in ("dashscope", "dashscope.v2", "textual.app"):
        print(f"  import {module}: median {statistics.median(import_times(args.repeat, module)):.3f} s")
    ours = asyncio.run(open_big(big, work))
    keys = ours.pop("keypress_ms")
    ours.setdefault("during_index", 0)
    base = naive(big)
    print(f"open {big.stat().st_size / 2**20:.0f} MB JSONL ({ours['records']:,} records):")
    print(f"  ours : first records {ours['first_records_s']:.3f} s (≤ 0.3) · whole index {ours['index_s']:.2f} s "
          f"(≤ 2) · RSS growth {ours['rss_growth_mb']:.0f} MB (≤ 100)")
    if keys:
        print(f"  key press → render: median {statistics.median(keys):.1f} ms, max {max(keys):.1f} ms over "
              f"{len(keys)} presses, {ours['during_index']} of them while indexing (≤ 100)")
    print(f"  naive: first records {base['first_records_s']:.2f} s · RSS growth {base['rss_growth_mb']:.0f} MB")


if __name__ == "__main__":
    main()
