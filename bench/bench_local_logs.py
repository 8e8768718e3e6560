"""Watching a local run's log: the incremental reader vs re-reading the whole file at every poll.

    python bench/bench_local_logs.py [--mb 50] [--repeat 5]

Builds a train.log the way a long Unsloth run writes it (tqdm bar redrawn with \\r on stderr, the Trainer's
dicts on stdout, ~1 KB of progress per step), then measures per poll (the scheduler polls a RUNNING job
every 2 s): the baseline re-reads and re-splits the whole file (what a `cat`/`tail`-style watcher does);
ours (core.local.runs.LogLines) reads only the bytes appended since the last poll. Also the one full read a
re-attach costs, and the memory the kept lines take.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bailian_tui.core.local.runs import LogLines, visible  # noqa: E402


def step_block(step: int, total: int) -> str:
    bars = "".join(f"\r {int(100 * step / total):3d}%|{'█' * (20 * step // total):<20}| {step}/{total} "
                   f"[00:{i:02d}<00:00,  1.0{i}it/s]" for i in range(8))
    return bars + f"\r{{'loss': {2.0 - step / total:.4f}, 'grad_norm': 0.53, 'learning_rate': 0.0002, " \
                  f"'epoch': {step / total:.4f}}}\n"


def build(path: Path, mb: int) -> int:
    total, step = 10 ** 7, 0
    with open(path, "w", encoding="utf-8") as handle:
        while handle.tell() < mb * 1024 * 1024:
            step += 1
            handle.write(step_block(step, total))
    return step


def baseline_poll(path: Path) -> int:
    lines = [line for raw in path.read_bytes().split(b"\n") for line in visible(raw.decode("utf-8", "replace"))]
    return len(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "train.log"
        steps = build(log, args.mb)
        print(f"log: {log.stat().st_size / 2 ** 20:.0f} MB, {steps:,} steps")
        reader = LogLines(log)
        t0 = time.perf_counter()
        reader.refresh()
        attach = time.perf_counter() - t0
        tracemalloc.start()  # memory measured on a second reader: tracing slows the timing above
        LogLines(log).refresh()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"re-attach (one full read):      {attach:8.3f} s   {len(reader.lines):,} lines kept, "
              f"peak {peak / 2 ** 20:.0f} MB traced (file {log.stat().st_size / 2 ** 20:.0f} MB)")
        base, ours = [], []
        for i in range(args.repeat):
            with open(log, "a", encoding="utf-8") as handle:  # two more steps, as between two polls
                handle.write(step_block(steps + 2 * i + 1, 10 ** 7) + step_block(steps + 2 * i + 2, 10 ** 7))
            t0 = time.perf_counter()
            reader.refresh()
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            baseline_poll(log)
            base.append(time.perf_counter() - t0)
        b, o = statistics.median(base), statistics.median(ours)
        print(f"poll, baseline (re-read all):   {b * 1000:10.2f} ms median of {args.repeat}")
        print(f"poll, ours (appended bytes):    {o * 1000:10.3f} ms median of {args.repeat}")
        print(f"ratio: {b / o:,.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
