"""Returning to a screen: it comes back at once, as it was left, and then shows what changed meanwhile.

The speed itself is measured in bench/ (docs/benchmarks.md, "Fifth round: returns"); these tests hold the
behaviour that made it fast to what a user must see: no cell left stale by the table's partial repaints, the
cursor and the scroll where the user left them, every change made while away shown after the return."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from bailian_tui.tui.screens.jobs import COLUMNS
from bailian_tui.tui.widgets.tables import Table
from tests.conftest import settle
from tests.test_app_demo import wait_for
from tests.test_issue12_as_a_user import screen_text
from tests.test_jobs_tui import status_at


class OneTable(App):
    def compose(self) -> ComposeResult:
        yield Table(id="t", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(Table)
        self.keys = table.add_columns("job", "elapsed", "status")
        for i in range(30):
            table.add_row(f"job-{i:02d}", "0m01s", "RUNNING", key=f"job-{i:02d}")


def row_text(app, job: str) -> str:
    return next(line for line in screen_text(app).splitlines() if job in line)


async def test_cells_changed_in_place_are_all_shown_and_a_wider_one_widens_its_column():
    app = OneTable()
    async with app.run_test(size=(50, 12)) as pilot:
        table = app.query_one(Table)
        await wait_for(lambda: table.virtual_size.height >= 31, pilot)  # sized on its idle after add_row
        table.move_cursor(row=20)
        await pilot.pause()
        where = (table.cursor_row, table.scroll_y)
        assert where[1] > 0 and "job-20" in screen_text(app)  # scrolled: rows 0–9 are off screen
        job, elapsed, status = app.keys
        for i in range(30):  # every row, shown or not: fits the column, changed in place
            table.update_cell(f"job-{i:02d}", elapsed, f"0m{i + 2:02d}s", update_width=True)
        await pilot.pause()
        shown = [line for line in screen_text(app).splitlines() if "job-" in line]
        assert len(shown) >= 8 and not any("0m01s" in line for line in shown)
        assert all(f"0m{int(line.split('job-')[1][:2]) + 2:02d}s" in line for line in shown)
        table.update_cell("job-20", status, "SUCCEEDED", update_width=True)  # wider than the column was
        await pilot.pause()
        assert "SUCCEEDED" in row_text(app, "job-20") and "RUNNING" in row_text(app, "job-19")
        table.move_cursor(row=0)  # rows scrolled into view show their new cells too, not cached old ones
        await pilot.pause()
        assert "0m07s" in row_text(app, "job-05") and "0m02s" in row_text(app, "job-00")
        table.move_cursor(row=where[0])
        await pilot.pause()
        for i in range(30):  # and back to the first value: nothing cached from before is shown again
            table.update_cell(f"job-{i:02d}", elapsed, "0m01s", update_width=True)
        await pilot.pause()
        assert all("0m01s" in line for line in screen_text(app).splitlines() if "job-" in line)
        assert table.get_row("job-20") == ["job-20", "0m01s", "SUCCEEDED"]


async def test_back_on_the_job_list_what_changed_while_away_shows_and_the_cursor_stays(manual_demo, monkeypatch):
    """Away on Files (a place) and in the log view (a pushed screen): jobs move on and a new one is listed
    while the list is not shown. Back on it, the new job and every new status are there, the job under the
    cursor is still under it, on the same line of the screen. (The list's own 5 s refresh is turned off so
    that only the return can have shown them.)"""
    from bailian_tui.tui.screens.jobs import JobsScreen

    monkeypatch.setattr(JobsScreen, "REFRESH_SECONDS", 3600.0)
    app, server, clock = manual_demo
    files = list(server.state.files)

    def create() -> str:
        return server.state.create_job({"model": "qwen3-8b", "training_file_ids": files[:1], "training_type": "sft",
                                        "hyper_parameters": {"n_epochs": 1, "batch_size": 8}}).job_id

    for _ in range(12):
        create()
        clock.advance(1)
    async with app.run_test(size=(120, 16)) as pilot:
        jobs = app.screen
        table = jobs.query_one("#jobs", DataTable)
        await wait_for(lambda: table.row_count == 19 and table.virtual_size.height >= 19, pilot)
        table.move_cursor(row=10)
        await pilot.pause()
        table.scroll_to(y=6, animate=False, immediate=True)
        await pilot.pause()
        job_id = str(table.get_row_at(10)[1])
        line = table.cursor_row - table.scroll_y

        for away, back in (("f", "j"), ("l", "escape")):
            await pilot.press(away)
            await wait_for(lambda: app.screen is not jobs and app.screen.is_mounted, pilot)
            create()  # listed first: the cursor's job moves one row down
            clock.advance(900)  # statuses move on
            jobs.action_refresh()  # the list refreshes while away (its timer does so every 5 s)
            await settle(pilot, "jobs")
            rows = table.row_count
            await pilot.press(back)
            await wait_for(lambda: app.screen is jobs and table.row_count == rows + 1, pilot)
            await pilot.pause()
            assert str(table.get_row_at(table.cursor_row)[1]) == job_id
            assert table.cursor_row - table.scroll_y == line
            for index in range(table.row_count):
                shown_id = str(table.get_row_at(index)[1])
                assert status_at(table, index) == server.state.jobs[shown_id].status, shown_id
            text = screen_text(app)
            assert job_id in text and str(table.get_row_at(0)[1]) not in text  # row 0 is above the view
    assert COLUMNS[1] == "job id"


def bare_screen():
    """A BaseScreen with one line of text (the app's own places need its settings and services)."""
    from textual.widgets import Static

    from bailian_tui.tui.screens.base import BaseScreen

    class Bare(BaseScreen):
        def compose(self) -> ComposeResult:
            yield Static("bare")

    return Bare()


class TwoScreens(App):
    """An app whose first screen is shown; the test builds more."""

    def on_mount(self) -> None:
        self.push_screen(bare_screen())


async def test_a_screen_built_and_never_shown_gives_the_collector_back():
    # A place's screen pauses garbage collection from its construction to its first frame (a full collection
    # inside a first visit cost 30–65 ms). One built and never shown must not leave the app without one.
    import gc

    from bailian_tui.tui.screens.base import BaseScreen

    app = TwoScreens()
    async with app.run_test() as pilot:
        await pilot.pause()
        await app.push_screen(bare_screen())  # shown: released after its first frame
        await wait_for(gc.isenabled, pilot)
        bare_screen()  # built, never pushed: only the backstop can release it
        assert not gc.isenabled()
        await wait_for(gc.isenabled, pilot, timeout=BaseScreen.GC_HOLD_LIMIT + 10)
    assert gc.isenabled()
