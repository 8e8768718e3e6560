"""The Jobs screen, the watch view and the log view, driven by the simulator's clock."""

from __future__ import annotations

from textual.widgets import DataTable, Log

from tests.test_app_demo import wait_for
from bailian_tui.tui.screens.jobs import COLUMNS
from bailian_tui.tui.widgets.job_panel import JobPanel

STATUS = COLUMNS.index("status")


def status_at(table: DataTable, row: int) -> str:
    return str(table.get_row_at(row)[STATUS]).split()[-1]  # "✗ FAILED" → "FAILED"


def row_of(table: DataTable, status: str) -> int:
    for index in range(table.row_count):
        if status_at(table, index) == status:
            return index
    raise AssertionError(f"no {status} row")


async def test_watch_a_running_job_to_the_end(manual_demo):
    app, server, clock = manual_demo
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#jobs", DataTable)
        await wait_for(lambda: table.row_count == 7, pilot)
        table.move_cursor(row=row_of(table, "RUNNING"))
        job_id = str(table.get_row_at(table.cursor_row)[1])
        await pilot.press("w")
        assert job_id in app.scheduler.jobs and app.current_service.store.watched() == [job_id]
        await pilot.press("v")
        await wait_for(lambda: bool(app.screen.query(JobPanel)), pilot)
        panel = app.screen.query_one(JobPanel)
        await wait_for(lambda: "RUNNING" in str(panel.query_one(".panel-status").render()), pilot)
        clock.advance(600)
        app.scheduler.poll_soon(job_id)
        await wait_for(lambda: "SUCCEEDED" in str(panel.query_one(".panel-status").render()), pilot)
        assert "→ qwen3-8b-ft-" in str(panel.query_one(".panel-status").render())
        assert "•" in str(panel.query_one(".panel-chart").render())
        assert "##FT_COMPLETE##" in str(panel.query_one(".panel-log").render())
        await pilot.press("l")
        log = app.screen.query_one("#log", Log)
        await wait_for(lambda: log.line_count > 10, pilot)
        assert any("##FT_COMPLETE##" in line for line in log.lines)


async def test_cancel_from_the_job_list(manual_demo):
    app, server, clock = manual_demo
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#jobs", DataTable)
        await wait_for(lambda: table.row_count == 7, pilot)
        table.move_cursor(row=row_of(table, "QUEUING"))
        job_id = str(table.get_row_at(table.cursor_row)[1])
        await pilot.press("x")
        assert "Cancel job" in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("y")
        await wait_for(lambda: server.state.jobs[job_id].status in ("CANCELING", "CANCELED"), pilot)
        clock.advance(10)
        await pilot.press("r")
        await wait_for(lambda: status_at(table, table.get_row_index(job_id)) == "CANCELED", pilot)


async def test_log_view_follows_new_lines(manual_demo):
    app, server, clock = manual_demo
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one("#jobs", DataTable)
        await wait_for(lambda: table.row_count == 7, pilot)
        table.move_cursor(row=row_of(table, "RUNNING"))
        job_id = str(table.get_row_at(table.cursor_row)[1])
        await pilot.press("w", "l")
        log = app.screen.query_one("#log", Log)
        await wait_for(lambda: log.line_count > 3, pilot)
        before = log.line_count
        clock.advance(30)
        app.scheduler.poll_soon(job_id)
        await wait_for(lambda: log.line_count > before, pilot)
        assert log.lines == server.state.visible_log(server.state.jobs[job_id])[: log.line_count]


async def test_a_refresh_updates_rows_in_place_and_keeps_the_cursor_on_its_job(manual_demo):
    """Jobs change, new ones arrive on top, the order changes: the job under the cursor stays under it, on the
    same line of the screen (the view does not jump back to the top), its cells updated."""
    app, server, clock = manual_demo
    files = list(server.state.files)

    def create(n_epochs: int) -> str:
        return server.state.create_job({"model": "qwen3-8b", "training_file_ids": files[:1], "training_type": "sft",
                                        "hyper_parameters": {"n_epochs": n_epochs, "batch_size": 8}}).job_id

    for i in range(20):
        create(1 + i % 3)
        clock.advance(1)
    async with app.run_test(size=(120, 16)) as pilot:
        table = app.screen.query_one("#jobs", DataTable)
        # the rows are in and the table has sized itself for them (it does so on its next idle): scrolling
        # before that is clamped to the old, shorter height
        await wait_for(lambda: table.row_count == 27 and table.virtual_size.height >= 27, pilot)
        table.move_cursor(row=15)
        await pilot.pause()  # the table scrolls its cursor into view, after a refresh when rows are unmeasured
        table.scroll_to(y=12, animate=False, immediate=True)
        await pilot.pause()
        assert table.scroll_y == 12
        job_id = str(table.get_row_at(15)[1])
        before = status_at(table, 15)
        create(2)  # a new job, listed first (newest first)
        clock.advance(900)  # statuses move on
        await pilot.press("r")
        await wait_for(lambda: table.row_count == 28, pilot)
        assert str(table.get_row_at(table.cursor_row)[1]) == job_id and table.cursor_row == 16
        assert table.cursor_row - table.scroll_y == 15 - 12  # the same line of the screen
        assert status_at(table, 16) == server.state.jobs[job_id].status != before
        await pilot.press("o")  # sorted by status: the cursor follows its job
        assert str(table.get_row_at(table.cursor_row)[1]) == job_id
        await pilot.press("r")
        await wait_for(lambda: app.screen.query_one("#jobs", DataTable).row_count == 28, pilot)
        assert str(table.get_row_at(table.cursor_row)[1]) == job_id

async def test_the_job_list_shows_progress_and_loss_of_running_jobs_nobody_watches(manual_demo):
    app, server, clock = manual_demo
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one("#jobs", DataTable)
        await wait_for(lambda: table.row_count == 7, pilot)
        assert not app.scheduler.jobs  # nothing is watched
        running = [server.state.jobs[str(table.get_row_at(i)[1])].job_id for i in range(table.row_count)
                   if status_at(table, i) == "RUNNING"]
        assert running
        progress, loss = COLUMNS.index("progress"), COLUMNS.index("loss")
        for job_id in running:
            await wait_for(lambda: str(table.get_row(job_id)[loss]).strip() != "", pilot)
            step = str(table.get_row(job_id)[progress])
            assert "/" in step and step.split("/")[0].isdigit()
            newest = [line for line in server.state.visible_log(server.state.jobs[job_id]) if "'loss'" in line][-1]
            assert f"{float(newest.split(chr(39) + 'loss' + chr(39) + ': ')[1].split(',')[0]):.4f}" == \
                str(table.get_row(job_id)[loss])
