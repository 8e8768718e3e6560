"""The app in demo mode reaches the simulator through the real HTTP path."""

from __future__ import annotations

import asyncio

from textual.widgets import DataTable

from core import config
from core.simulator.demo import start_demo
from tui.app import BailianApp
from tui.headless import point_at_demo


async def wait_for(predicate, pilot, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out waiting for the app"
        await pilot.pause(0.05)


async def test_demo_lists_jobs_over_http(tmp_path):
    settings = config.load(env={"XDG_CONFIG_HOME": str(tmp_path), "BAILIAN_TUI_STATE_DIR": str(tmp_path)})
    server = start_demo()
    try:
        point_at_demo(settings, server)
        app = BailianApp(settings)
        async with app.run_test(size=(100, 30)) as pilot:
            table = app.query_one("#jobs", DataTable)
            await wait_for(lambda: table.row_count >= 7, pilot)
            statuses = {str(table.get_row_at(i)[3]) for i in range(table.row_count)}
            assert {"SUCCEEDED", "FAILED", "CANCELED", "RUNNING"} <= statuses
            assert server.state.requests > 0
    finally:
        server.stop()
