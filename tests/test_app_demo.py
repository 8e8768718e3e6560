"""The app in demo mode reaches the simulator through the real HTTP path."""

from __future__ import annotations

import asyncio

import pytest

from textual.widgets import DataTable

from bailian_tui.core import config
from bailian_tui.simulator.demo import start_demo
from bailian_tui.tui.app import BailianApp
from bailian_tui.simulator.demo import point_at_demo


async def wait_for(predicate, pilot, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out waiting for the app"
        await pilot.pause(0.05)


@pytest.fixture
def demo_app(tmp_path):
    """A demo app on a seeded simulator, and the simulator itself."""
    settings = config.load(env={"XDG_CONFIG_HOME": str(tmp_path), "BAILIAN_TUI_STATE_DIR": str(tmp_path)})
    server = start_demo()
    point_at_demo(settings, server)
    yield BailianApp(settings), server
    server.stop()


async def test_demo_lists_jobs_over_http(demo_app):
    app, server = demo_app
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.screen.query_one("#jobs", DataTable)
        await wait_for(lambda: table.row_count >= 7, pilot)
        statuses = {str(table.get_row_at(i)[2]).split()[-1] for i in range(table.row_count)}
        assert {"SUCCEEDED", "FAILED", "CANCELED", "RUNNING"} <= statuses
        assert server.state.requests > 0


async def test_places_files_delete_and_help(demo_app):
    app, server = demo_app
    async with app.run_test(size=(80, 24)) as pilot:
        for key, title in (("d", "Datasets"), ("n", "New job"), ("p", "Deployments"), ("j", "Jobs")):
            await pilot.press(key)
            assert app.screen.TITLE_TEXT == title
        await pilot.press("f")
        table = app.screen.query_one("#files", DataTable)
        await wait_for(lambda: table.row_count == 3, pilot)
        name = str(table.get_row_at(0)[0])
        await pilot.press("delete")
        assert "Delete the remote file" in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("n")  # cancelled: nothing happens
        assert len(server.state.files) == 3
        await pilot.press("delete", "y")
        await wait_for(lambda: table.row_count == 2, pilot)
        assert name not in {f.name for f in server.state.files.values()}
        await pilot.press("question_mark")
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")


async def test_lost_connection_shows_and_recovers(demo_app):
    app, server = demo_app
    async with app.run_test(size=(80, 24)) as pilot:
        await app.service()
        app.current_service.platform.retry.attempts = 1
        server.state.config.drop_rate = 1.0
        await pilot.press("r")
        await wait_for(lambda: app.connection_problem != "", pilot)
        assert "offline" in str(app.screen.query_one("#connection").render())
        server.state.config.drop_rate = 0.0
        await pilot.press("r")
        await wait_for(lambda: app.connection_problem == "", pilot)
