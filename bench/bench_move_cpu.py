"""Moves in the record list measured inside the app: per Down, the event-loop thread's CPU, the screen's layout
passes, the frames painted, and the wall time from the key event to the frame that shows the new record —
headless, no Pilot in the loop (the key is posted as Textual's input thread posts it; Pilot.pause paints frames of
its own). bench/bench_feel.py is the number a person feels in tmux; this one explains it, and does not grow with
the machine's load the way tmux wall times do.

    python bench/bench_move_cpu.py --file RECORDS.jsonl [--moves 40] [--size 120x40] [--during-index]

--during-index starts moving as soon as the first record shows (for a big file: while it is indexed). To time
another copy of the app (an export of main laid out as DIR/bailian_tui/{core,tui,simulator,cli,datasets}): run it
from a folder outside any checkout with PYTHONPATH=DIR. It prints the package it measured.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path


async def run(path: Path, moves: int, size: tuple[int, int], during: bool) -> None:
    import bailian_tui
    from textual import events
    from textual.app import App
    from textual.screen import Screen

    from bailian_tui.core import config
    from bailian_tui.core.data import tokens
    from bailian_tui.simulator.demo import point_at_demo, start_demo
    from bailian_tui.tui.app import BailianApp
    from bailian_tui.tui.widgets import conversation
    from bailian_tui.tui.widgets.records import RecordList

    counts = {"layouts": 0, "frames": 0}
    state: dict = {"shown": None, "painted": None}
    refresh_layout, display, show = Screen._refresh_layout, App._display, conversation.ConversationView.show

    def counted_layout(self, *args, **kwargs):
        counts["layouts"] += 1
        return refresh_layout(self, *args, **kwargs)

    def counted_display(self, *args, **kwargs):
        counts["frames"] += 1
        result = display(self, *args, **kwargs)
        if state["shown"] is not None:  # the first frame after the preview changed
            state["painted"], state["shown"] = state["shown"], None
        return result

    def noted_show(self, preview):
        show(self, preview)
        state["shown"] = preview.line

    Screen._refresh_layout, App._display = counted_layout, counted_display
    conversation.ConversationView.show = noted_show
    with tempfile.TemporaryDirectory(prefix="bench-move-") as tmp:
        settings = config.load(env={"XDG_CONFIG_HOME": f"{tmp}/cfg", "BAILIAN_TUI_STATE_DIR": tmp})
        demo = start_demo()
        point_at_demo(settings, demo)
        app = BailianApp(settings, open_path=path)
        try:
            async with app.run_test(size=size) as pilot:
                tokens.encoding()  # a user moves after start-up, with the vocabulary loaded
                await pilot.pause(0.3)
                screen = app.screen
                while not during and not screen.source.done:
                    await pilot.pause(0.05)
                await pilot.pause(0.5)
                indexing = not screen.source.done
                records = screen.query_one(RecordList)
                counts.update(layouts=0, frames=0)
                waits = []
                cpu = time.thread_time()
                for _ in range(moves):
                    target = records.cursor + 2  # the next record's line number (JSONL)
                    sent = time.perf_counter()
                    app.post_message(events.Key("down", None))
                    while state["painted"] != target:
                        await asyncio.sleep(0.0005)
                    waits.append(time.perf_counter() - sent)
                    await asyncio.sleep(0.03)  # about a key repeat's interval
                cpu = time.thread_time() - cpu
        finally:
            demo.stop()
    waits.sort()
    print(f"{Path(bailian_tui.__file__).parent}: {moves} moves{' started while indexing' if indexing else ''}")
    print(f"  CPU per move {cpu / moves * 1000:5.1f} ms · layout passes per move {counts['layouts'] / moves:.2f} · "
          f"frames per move {counts['frames'] / moves:.2f} · key → frame median "
          f"{statistics.median(waits) * 1000:.1f} ms, p95 {waits[int(moves * 0.95) - 1] * 1000:.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", required=True, type=Path, help="a JSONL file of records (MedQA-like)")
    parser.add_argument("--moves", type=int, default=40)
    parser.add_argument("--size", default="120x40")
    parser.add_argument("--during-index", action="store_true")
    args = parser.parse_args()
    cols, rows = (int(n) for n in args.size.split("x"))
    asyncio.run(run(args.file.resolve(), args.moves, (cols, rows), args.during_index))
    return 0


if __name__ == "__main__":
    sys.exit(main())
