"""SVG snapshots of the screens that change with two profiles (Bailian + XPULink demo, pinned clock).

Update after a reviewed change: pytest tests/test_provider_snapshots.py --snapshot-update
"""

from __future__ import annotations

from bailian_tui.core import config
from bailian_tui.core.config import Settings
from bailian_tui.simulator import SimClock
from bailian_tui.simulator.demo import point_at_demo, start_demo
from bailian_tui.tui import format as tui_format
from bailian_tui.tui.app import BailianApp
from tests.test_snapshots import START, listed, rows, until

import pytest


@pytest.fixture
def two_profiles(tmp_path, monkeypatch):
    clock = SimClock(start=START, manual=True)
    server = start_demo(clock=clock)
    monkeypatch.setattr(tui_format, "now", lambda: clock.at(clock.t()))
    monkeypatch.setattr(Settings, "where", lambda self: "demo simulator")
    settings = config.load(env={"XDG_CONFIG_HOME": str(tmp_path / "c"), "BAILIAN_TUI_STATE_DIR": str(tmp_path)})
    point_at_demo(settings, server)
    yield BailianApp(settings)
    server.stop()


def test_mixed_job_list(snap_compare, two_profiles):
    # every running job glanced at (its progress and loss in), whatever the machine's speed
    assert snap_compare(two_profiles, terminal_size=(120, 40), run_before=until(lambda app: listed(app, 10)))


def test_new_job_form_on_xpulink(snap_compare, two_profiles):
    async def go(pilot):
        await until(rows("#jobs", 10))(pilot)
        await pilot.press("n")
        form = pilot.app.screen
        form.query_one("#job-provider").value = "xpulink"
        await until(lambda app: len(app.screen._profile_files()) == 2)(pilot)
        form.query_one("#job-preset").value = "100-1000"
        await pilot.pause(0.2)

    assert snap_compare(two_profiles, terminal_size=(120, 40), run_before=go)
