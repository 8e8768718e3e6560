"""SVG snapshots of every screen at 80×24, 120×40 and 60×20, on a demo with a pinned clock; the job list
and the watch view also as a 16-colour terminal and a NO_COLOR one show them.

Update after a reviewed change: pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from rich.color import Color as RichColor, ColorSystem
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.filter import LineFilter

from bailian_tui.core import config
from bailian_tui.core.config import Settings
from bailian_tui.simulator import SimClock, SimServer, SimState
from bailian_tui.simulator.demo import DEMO_KEY, seed
from tests.conftest import DATASETS, settle
from bailian_tui.tui import format as tui_format
from bailian_tui.tui.app import BailianApp
from bailian_tui.simulator.demo import point_at_demo

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40"),
         pytest.param((60, 20), id="60x20")]
COLOURS = [pytest.param("16", id="16colours"), pytest.param("none", id="NO_COLOR")]


class SixteenColours(LineFilter):
    """What a 16-colour terminal (TERM=xterm) shows: every colour snapped to the standard palette, the same
    downgrade Rich applies when it writes to such a terminal (the SVG export itself is always truecolor)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [Segment(text, style + Style(color=_snap(style.color), bgcolor=_snap(style.bgcolor))
                        if style else style, control) for text, style, control in segments]


def _snap(colour):
    if colour is None or colour.is_default:
        return colour
    return RichColor.from_triplet(colour.downgrade(ColorSystem.STANDARD).get_truecolor())
START = datetime(2026, 3, 2, 9, 30, 0)


@pytest.fixture
def pinned_demo(tmp_path, monkeypatch):
    clock = SimClock(start=START, manual=True)
    state = SimState(clock, api_key=DEMO_KEY)
    seed(state)
    server = SimServer(state).start()
    monkeypatch.setattr(tui_format, "now", lambda: clock.at(clock.t()))
    monkeypatch.setattr(Settings, "where",
                        lambda self: "demo simulator · http://127.0.0.1:8765/api/v1 · key sk-…demo")

    def build(path=None, colours: str = "full") -> BailianApp:
        settings = config.load(env={"XDG_CONFIG_HOME": str(tmp_path / "c"), "BAILIAN_TUI_STATE_DIR": str(tmp_path)})
        point_at_demo(settings, server)
        if colours == "none":
            monkeypatch.setenv("NO_COLOR", "1")  # read (and removed) by the App when it is built
        if colours == "16":
            return Sixteen(settings, open_path=path)
        return BailianApp(settings, open_path=path)

    yield build
    server.stop()


class Sixteen(BailianApp):
    def get_line_filters(self):
        return [*super().get_line_filters(), SixteenColours()]


def until(predicate, timeout: float = 10.0):
    async def run_before(pilot) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate(pilot.app):
            assert loop.time() < deadline, "the screen never got ready"
            await pilot.pause(0.05)
        await settle(pilot)  # the workers' results drawn: no fixed wait

    return run_before


def rows(selector: str, n: int):
    """At least ``n`` rows, and the table has sized its columns for them (a DataTable does that on its next
    idle, after ``add_row``: a screenshot taken in between shows every column cut to its header's width)."""
    def ready(app) -> bool:
        if not app.screen.query(selector):
            return False
        table = app.screen.query_one(selector)
        return table.row_count >= n and all(fitted(table, column) for column in table.ordered_columns)
    return ready


def fitted(table, column) -> bool:
    from rich.cells import cell_len

    if not column.auto_width:
        return True
    widest = max((cell_len(c) if isinstance(c, str) else getattr(c, "cell_len", 0)
                  for c in table.get_column(column.key)), default=0)
    return column.content_width >= widest


def listed(app, count: int = 7) -> bool:
    """The job list is in, and every running job has been glanced at up to its newest lines."""
    import time

    if not rows("#jobs", count)(app) or app.scheduler is None:
        return False
    running = sum(1 for row in app.screen.rows if row.job.status.value == "RUNNING")
    glances = [g for g in app.scheduler.glances.values() if g.active]
    return len(glances) == running and all(g.glances and g.due > time.monotonic() for g in glances)


@pytest.mark.parametrize("size", SIZES)
def test_jobs(snap_compare, pinned_demo, size):
    assert snap_compare(pinned_demo(), terminal_size=size, run_before=until(listed))


@pytest.mark.parametrize("colours", COLOURS)
def test_jobs_colours(snap_compare, pinned_demo, colours):
    assert snap_compare(pinned_demo(colours=colours), terminal_size=(100, 24), run_before=until(listed))


@pytest.mark.parametrize("size", SIZES)
def test_files(snap_compare, pinned_demo, size):
    async def go(pilot):
        await pilot.press("f")
        await until(rows("#files", 3))(pilot)

    assert snap_compare(pinned_demo(), terminal_size=size, run_before=go)


def record_shown(app) -> bool:
    return bool(app.screen.query("#records")) and app.screen.query_one("#records").row_count == 12 \
        and bool(app.screen.query_one("#conversation").titles)


@pytest.mark.parametrize("size", SIZES)
def test_datasets_with_a_file_open(snap_compare, pinned_demo, size):
    path = DATASETS / "MedQA/questions/Mainland/4_options/test.jsonl"
    assert snap_compare(pinned_demo(path), terminal_size=size, run_before=until(record_shown))


@pytest.mark.parametrize("colours", COLOURS)
def test_datasets_colours(snap_compare, pinned_demo, colours):
    """The record's preview (JSON, the bordered messages by role) with 16 colours and with NO_COLOR."""
    path = DATASETS / "MedQA/questions/Mainland/4_options/test.jsonl"
    assert snap_compare(pinned_demo(path, colours=colours), terminal_size=(100, 30), run_before=until(record_shown))


@pytest.mark.parametrize("size", SIZES)
def test_placeholders_and_help(snap_compare, pinned_demo, size):
    async def go(pilot):
        await until(listed)(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(pinned_demo(), terminal_size=size, run_before=go)


@pytest.mark.parametrize("size", SIZES)
def test_new_job_form(snap_compare, pinned_demo, size):
    async def go(pilot):
        await pilot.press("n")
        await until(lambda app: app.screen.TITLE_TEXT == "New job" and len(app.screen.files) == 3)(pilot)

    assert snap_compare(pinned_demo(), terminal_size=size, run_before=go)


def watch_jobs(pilot):
    async def go(pilot):
        await until(rows("#jobs", 7))(pilot)
        await pilot.press("down", "down", "w", "down", "w", "down", "w", "v")
        # Panels off screen are drawn when scrolled into view: wait for the ones a person sees.
        await until(lambda app: len(app.screen.query(".job-panel")) == 3 and all(
            watched.job is not None for watched in app.scheduler.jobs.values()) and all(
            "waiting for the first poll" not in str(p.query_one(".panel-status").render())
            for p in app.screen.query(".job-panel") if p.display))(pilot)
        await pilot.press("tab")
        pilot.app.clear_notifications()  # toasts leave on a wall-clock timer: keep them out of the picture
        await until(lambda app: app.screen.drawn)(pilot)

    return go(pilot)


@pytest.mark.parametrize("size", SIZES)
def test_watch_view(snap_compare, pinned_demo, size):
    assert snap_compare(pinned_demo(), terminal_size=size, run_before=watch_jobs)


@pytest.mark.parametrize("colours", COLOURS)
def test_watch_view_colours(snap_compare, pinned_demo, colours):
    assert snap_compare(pinned_demo(colours=colours), terminal_size=(80, 24), run_before=watch_jobs)


@pytest.mark.parametrize("size", SIZES)
def test_deployments(snap_compare, pinned_demo, size):
    async def go(pilot):
        await pilot.press("p")
        await until(rows("#deployments", 1))(pilot)

    assert snap_compare(pinned_demo(), terminal_size=size, run_before=go)
