"""Screen visits measured inside the app: main-thread CPU and wall time from a key press to the next screen's
first frame, headless (Textual Pilot), on the demo simulators. CPU time of the event-loop thread does not grow
with the machine's load the way tmux wall times do, so it separates "the app got faster" from "the machine got
quieter" (bench/bench_tui.py is the number a person feels; this one explains it).

    python bench/bench_visit_cpu.py [--runs 3] [--size 80x24]

To time another copy of the app (e.g. an export of main laid out as DIR/bailian_tui/{core,tui,simulator,cli}):
run it from a folder outside any checkout with PYTHONPATH=DIR. It prints the package it measured.

A step ends at the new screen's first frame that is shown: one rendered while the app holds its repaints
(Textual's switch_mode does for up to 50 ms) is dropped, so it does not count.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time

STEPS = [("n", "NewJobScreen", "first visit: New job"), ("d", "DatasetsScreen", "first visit: Datasets"),
         ("f", "FilesScreen", "first visit: Files"), ("p", "DeploymentsScreen", "first visit: Deployments"),
         ("j", "JobsScreen", "return: Jobs"), ("n", "NewJobScreen", "return: New job"),
         ("j", "JobsScreen", "return: Jobs again"), ("d", "DatasetsScreen", "return: Datasets"),
         ("f", "FilesScreen", "return: Files"), ("p", "DeploymentsScreen", "return: Deployments"),
         ("j", "JobsScreen", "return: Jobs, third")]


async def one_run(size: tuple[int, int]) -> list[tuple[float, float]]:
    from textual.app import App

    from bailian_tui.core import config
    from bailian_tui.simulator.demo import point_at_demo, start_demo
    from bailian_tui.tui.app import BailianApp

    mark: dict = {}
    display = App._display

    def timed_display(self, screen, renderable) -> None:
        # A frame rendered while the app holds its repaints (switch_mode's `delay_update`) is dropped, not shown:
        # until 2026-11-22 the return lines counted that one, which came before the screen's resume work.
        if (renderable is not None and type(screen).__name__ == mark.get("want") and "done" not in mark
                and not getattr(self, "_batch_count", 0)):
            mark["done"] = (time.thread_time() - mark["cpu"], time.perf_counter() - mark["wall"])
        return display(self, screen, renderable)

    App._display = timed_display
    demo = start_demo(speed=1.0)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-visit-") as state:
            settings = config.load(env={"XDG_CONFIG_HOME": f"{state}/cfg", "BAILIAN_TUI_STATE_DIR": state})
            point_at_demo(settings, demo, local=True)
            app = BailianApp(settings)
            async with app.run_test(size=size) as pilot:
                await app.service()
                await pilot.pause(3.0)  # start-up loading done: the visits alone
                for key, screen, _ in STEPS:
                    mark.clear()
                    mark.update(want=screen, cpu=time.thread_time(), wall=time.perf_counter())
                    await pilot.press(key)
                    for _ in range(500):
                        if "done" in mark:
                            break
                        await asyncio.sleep(0.01)
                    results.append(mark.get("done", (float("nan"), float("nan"))))
                    await pilot.pause(0.5)
    finally:
        App._display = display
        demo.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", default="80x24")
    args = parser.parse_args()
    cols, rows = (int(n) for n in args.size.split("x"))
    runs = [asyncio.run(one_run((cols, rows))) for _ in range(args.runs)]
    import bailian_tui.tui

    print(f"# {os.cpu_count()} cores · Python {sys.version.split()[0]} · {time.strftime('%Y-%m-%d')} · {args.size} · "
          f"load {os.getloadavg()[0]:.1f} · {os.path.dirname(bailian_tui.tui.__file__)}")
    for n, (_, _, label) in enumerate(STEPS):
        cpu = statistics.median(r[n][0] for r in runs) * 1000
        wall = statistics.median(r[n][1] for r in runs) * 1000
        print(f"{label:28s} key → first frame: main-thread CPU {cpu:5.0f} ms   wall {wall:5.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
