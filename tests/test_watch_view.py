"""The watch view with six jobs at 80×24: a compact list, Tab/arrows move, actions act on the current job."""

from __future__ import annotations

from textual.widgets import DataTable

from bailian_tui.tui.widgets.job_panel import JobPanel
from tests.test_app_demo import wait_for


async def test_six_watched_jobs_at_80x24(manual_demo):
    app, server, _ = manual_demo
    async with app.run_test(size=(80, 24)) as pilot:
        await app.service()
        table = app.screen.query_one("#jobs", DataTable)
        await wait_for(lambda: table.row_count == 7, pilot)
        ids = sorted(server.state.jobs, key=lambda i: server.state.jobs[i].status != "RUNNING")[:6]
        for job_id in ids:
            app.watch_job(job_id)
        await pilot.press("v")
        screen = app.screen
        listing = screen.query_one("#watch-list", DataTable)
        await wait_for(lambda: listing.display and listing.row_count == 6, pilot)
        await wait_for(lambda: all(screen.current_job() is not None for _ in [0]), pilot)
        shown = [p for p in screen.query(JobPanel) if p.display]
        assert len(shown) == 1 and shown[0].job_id == screen.current  # one panel: the current job's
        order = list(screen.order)
        await pilot.press("tab")
        assert screen.current == order[1] and listing.cursor_row == 1
        await pilot.press("down", "down")
        assert screen.current == order[3]
        await pilot.press("shift+tab", "up")
        assert screen.current == order[1]
        shown = [p for p in screen.query(JobPanel) if p.display]
        assert [p.job_id for p in shown] == [order[1]] and shown[0].has_class("-current")
        # Actions act on the current job, never on the first one.
        active = next(i for i, job_id in enumerate(order) if i > 0 and not server.state.jobs[job_id].status
                      in ("SUCCEEDED", "FAILED", "CANCELED"))
        while screen.current != order[active]:
            await pilot.press("tab")
        await wait_for(lambda: screen.current_job() is not None, pilot)
        await pilot.press("x")
        question = str(app.screen.query_one("#confirm-question").render())
        assert order[active] in question and order[0] not in question
        await pilot.press("n")
        await pilot.press("w")  # unwatch the current job
        await wait_for(lambda: listing.row_count == 5 and order[active] not in screen.order, pilot)
        assert order[active] not in app.scheduler.jobs


async def test_wide_view_shows_every_panel(manual_demo):
    app, server, _ = manual_demo
    async with app.run_test(size=(120, 40)) as pilot:
        await app.service()
        for job_id in list(server.state.jobs)[:3]:
            app.watch_job(job_id)
        await pilot.press("v")
        screen = app.screen
        await wait_for(lambda: len(screen.query(JobPanel)) == 3, pilot)
        assert not screen.query_one("#watch-list").display
        assert all(p.display for p in screen.query(JobPanel))
        await pilot.press("right")
        current = [p for p in screen.query(JobPanel) if p.has_class("-current")]
        assert [p.job_id for p in current] == [screen.order[1]]
