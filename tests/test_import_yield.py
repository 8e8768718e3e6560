"""Start-up's background imports step aside while the user presses keys (tui/yielding.py).

The speed it buys is measured in bench/ (docs/benchmarks.md, "Fifth round, the tail"); these tests hold the
behaviour: keys pressed in the app keep a thread's imports waiting, other threads never wait, and the waiting
has an end."""

from __future__ import annotations

import asyncio
import threading
import time

from bailian_tui.tui.yielding import ImportYield


def probe_modules(tmp_path, monkeypatch, *names: str) -> None:
    folder = tmp_path / "probes"
    folder.mkdir()
    for name in names:
        (folder / f"{name}.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(folder))


def import_in_thread(gate: ImportYield, name: str, done: dict) -> threading.Thread:
    def load() -> None:
        with gate.applied():
            exec(f"import {name}")  # an import statement, as the loader's modules make them
            done[name] = time.monotonic()

    thread = threading.Thread(target=load)
    thread.start()
    return thread


async def test_keys_pressed_keep_the_start_up_imports_waiting(tmp_path, monkeypatch, manual_demo):
    probe_modules(tmp_path, monkeypatch, "yield_probe_loader", "yield_probe_loop")
    app, _server, _clock = manual_demo
    async with app.run_test() as pilot:
        gate = app.import_yield
        gate.quiet = 1.0
        await pilot.press("down")
        first = gate.active_until
        done: dict[str, float] = {}
        thread = import_in_thread(gate, "yield_probe_loader", done)
        await pilot.press("down")  # a key while it waits: it waits on
        second = gate.active_until
        import yield_probe_loop  # noqa: F401 -- the event loop's own imports never wait
        assert time.monotonic() < second
        await asyncio.get_running_loop().run_in_executor(None, thread.join)
        assert second > first
        assert done["yield_probe_loader"] >= second


def test_the_imports_wait_no_longer_than_most_in_all(tmp_path, monkeypatch):
    probe_modules(tmp_path, monkeypatch, "yield_probe_held_a", "yield_probe_held_b")
    gate = ImportYield(quiet=60.0, most=0.2)
    gate.user_input()  # a key held down for ever
    done: dict[str, float] = {}
    started = time.monotonic()
    import_in_thread(gate, "yield_probe_held_a", done).join()
    import_in_thread(gate, "yield_probe_held_b", done).join()
    assert done["yield_probe_held_a"] - started >= 0.2
    assert gate.waited == 0.2  # the second import did not wait at all
    assert not gate.installed
