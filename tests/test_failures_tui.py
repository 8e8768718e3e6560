"""A failed action on any screen shows its error once and keeps the connection line right — offline only when
the connection is the problem (no answer, a 5xx), never for a refusal or one object's 404 — and the line comes
back when a call works. Faults come from the simulator over loopback HTTP (its fault switches, or a change made
on the server side as another user would make it); nothing in the SDK or the app is patched."""

from __future__ import annotations

import shutil

import pytest
from textual.widgets import DataTable, Input, Select

from bailian_tui.tui.app import BailianApp
from tests.conftest import MAINLAND
from tests.test_app_demo import wait_for
from tests.test_honest_messages import toasts
from tests.test_jobs_tui import row_of


@pytest.fixture
def faulty(manual_demo):
    """The demo app with one try per request: a fault is a failure at once instead of seconds of retries."""
    app, server, clock = manual_demo
    app.settings.values["dashscope.read_retries"] = 1
    app.settings.values["dashscope.reconcile_window"] = 0.3  # an ambiguous create is looked for briefly
    return app, server, clock


def line(app) -> str:
    """The connection line as the user reads it (a dialog leaves it visible on the screen beneath)."""
    screen = next(s for s in reversed(app.screen_stack) if s.query("#connection"))
    return str(screen.query_one("#connection").render())


def shown(app, text: str) -> int:
    """How many toasts on screen carry ``text``."""
    return sum(text in str(toast.render()) for toast in app.screen.query("Toast"))


async def test_jobs_actions_refused_gone_and_offline(faulty):
    app, server, _clock = faulty
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        table = app.screen.query_one("#jobs", DataTable)
        await wait_for(lambda: table.row_count == 7, pilot)

        # Refused: someone cancelled the job on the console meanwhile; our cancel is refused (400).
        table.move_cursor(row=row_of(table, "RUNNING"))
        running = str(table.get_row_at(table.cursor_row)[1])
        server.state.cancel_job(running)
        await pilot.press("x", "y")
        await wait_for(lambda: "can not be canceled" in toasts(app), pilot)
        assert shown(app, "can not be canceled") == 1
        assert app.connection_problem == "" and "offline" not in line(app)

        # Gone: a finished job deleted elsewhere; deleting it here is a 404 for that job, not the connection.
        app.clear_notifications()
        table.move_cursor(row=row_of(table, "FAILED"))
        failed = str(table.get_row_at(table.cursor_row)[1])
        server.state.delete_job(failed)
        await pilot.press("delete", "y")
        await wait_for(lambda: "HTTP 404" in toasts(app), pilot)
        assert shown(app, "HTTP 404") == 1
        assert app.connection_problem == "" and "offline" not in line(app)

        # No answer: the cancel fails visibly and the line says offline; a refresh that works brings it back.
        app.clear_notifications()
        await pilot.press("r")
        await wait_for(lambda: table.row_count == 6, pilot)
        table.move_cursor(row=row_of(table, "QUEUING"))
        server.state.config.drop_rate = 1.0
        await pilot.press("x", "y")
        await wait_for(lambda: "cancel" in toasts(app) and "offline" in line(app), pilot)
        assert shown(app, "failed") == 1
        await pilot.press("r")  # the list refresh meets the same fault: the line says it, no second toast
        await pilot.pause(0.3)
        assert shown(app, "failed") == 1
        server.state.config.drop_rate = 0.0
        await pilot.press("r")
        await wait_for(lambda: app.connection_problem == "", pilot)
        assert "offline" not in line(app)


async def test_a_job_list_refusal_is_said_not_dropped(faulty):
    """A refusal of the list itself (here 429 after the one try) is shown; it is not the connection's fault."""
    app, server, _clock = faulty
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        table = app.screen.query_one("#jobs", DataTable)
        await wait_for(lambda: table.row_count == 7, pilot)
        server.state.config.rate_429 = 1.0
        await pilot.press("r")
        await wait_for(lambda: "HTTP 429" in toasts(app), pilot)
        server.state.config.rate_429 = 0.0
        assert "offline" not in line(app) or "throttled" in app.connection_problem  # never "offline: HTTP 429"
        assert table.row_count == 7  # the rows already shown stay


async def test_files_list_and_delete(faulty):
    app, server, _clock = faulty
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await app.service()
        server.state.config.rate_500 = 1.0
        await pilot.press("f")
        quota = app.screen.query_one("#files-quota")
        await wait_for(lambda: "HTTP 500" in str(quota.render()), pilot)
        assert "offline" in line(app) and shown(app, "HTTP 500") == 0  # said once, on the screen's own line
        server.state.config.rate_500 = 0.0
        await pilot.press("r")
        table = app.screen.query_one("#files", DataTable)
        await wait_for(lambda: table.row_count == 3 and app.connection_problem == "", pilot)
        # A file deleted elsewhere: the delete is refused for that file (the simulator answers 400, as DashScope
        # does for an unknown file id); the list refreshes, the line stays up.
        server.state.delete_file(str(table.get_row_at(0)[2]))
        await pilot.press("delete", "y")
        await wait_for(lambda: "HTTP 400" in toasts(app), pilot)
        await wait_for(lambda: table.row_count == 2, pilot)
        assert shown(app, "HTTP 400") == 1 and "offline" not in line(app)


async def test_deploy_whose_outcome_is_unknown_and_a_gone_deployment(faulty):
    app, server, _clock = faulty
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await app.service()
        await pilot.press("p")
        table = app.screen.query_one("#deployments", DataTable)
        await wait_for(lambda: table.row_count == 1, pilot)
        await pilot.press("D")
        select = app.screen.query_one("#deploy-model", Select)
        await wait_for(lambda: select.value != Select.NULL, pilot)
        app.screen.query_one("#deploy-suffix", Input).value = "v9"
        await pilot.click("#deploy-go")
        # The create is answered by a dropped connection and takes effect only long after the window of looking.
        server.state.config.late_commit, server.state.config.late_commit_answer = 3600.0, "drop"
        server.state.config.late_commits = 1
        await pilot.press("y")
        status = app.screen.query_one("#deploy-status")
        await wait_for(lambda: "it may exist" in str(status.render()), pilot)
        assert shown(app, "it may exist") == 0  # in the form, once
        assert "offline" not in line(app)  # one create's fate, not the connection: the lookups were answered
        await pilot.press("escape")
        await wait_for(lambda: type(app.screen).__name__ == "DeploymentsScreen", pilot)
        # Deleted elsewhere: our delete is refused for that one deployment.
        name = str(table.get_row_at(0)[0])
        with server.state.lock:
            server.state.deployments.pop(name)
        await pilot.press("delete", "y")
        await wait_for(lambda: "HTTP 404" in toasts(app), pilot)
        assert shown(app, "HTTP 404") == 1 and "offline" not in line(app)


async def test_upload_that_fails_says_so_in_the_dialog(faulty, tmp_path):
    _demo_app, server, _clock = faulty
    source = tmp_path / "data" / "train.jsonl"
    source.parent.mkdir()
    shutil.copy(MAINLAND, source)
    app = BailianApp(_demo_app.settings, open_path=source)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await app.service()
        await wait_for(lambda: app.screen.query("#records") and app.screen.converter is not None, pilot)
        await pilot.press("C")
        await pilot.click("#convert-run")
        output = tmp_path / "data_BaiLian" / "train.jsonl"
        await wait_for(lambda: output.exists(), pilot)
        await pilot.press("escape")
        server.state.config.rate_500 = 1.0
        await pilot.press("u")
        await wait_for(lambda: getattr(app.screen, "state", "") in ("confirm", "failed"), pilot)
        if app.screen.state == "confirm":  # a small file: the dialog warns first
            await pilot.press("y")
        await wait_for(lambda: getattr(app.screen, "state", "") == "failed", pilot)
        assert "HTTP 500" in str(app.screen.query_one("#upload-status").render())
        assert "offline" in line(app) and shown(app, "HTTP 500") == 0
        server.state.config.rate_500 = 0.0


async def test_log_and_chat_failures(faulty):
    app, server, _clock = faulty
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        table = app.screen.query_one("#jobs", DataTable)
        await wait_for(lambda: table.row_count == 7, pilot)
        table.move_cursor(row=row_of(table, "SUCCEEDED"))
        server.state.config.rate_500 = 1.0
        await pilot.press("l")
        await wait_for(lambda: "HTTP 500" in toasts(app), pilot)
        assert shown(app, "HTTP 500") == 1 and "offline" in line(app)
        server.state.config.rate_500 = 0.0
        await pilot.press("escape", "p")
        deployments = app.screen.query_one("#deployments", DataTable)
        await wait_for(lambda: deployments.row_count == 1 and app.connection_problem == "", pilot)
        await pilot.press("t")
        app.clear_notifications()
        server.state.config.drop_rate = 1.0
        await pilot.press(*"hi", "enter")
        log = app.screen.query_one("#chat-log")
        await wait_for(lambda: len(log.children) == 2 and "failed" in str(log.children[1].render()), pilot)
        assert "offline" in line(app) and shown(app, "failed") == 0  # inline, in the reply's place
        server.state.config.drop_rate = 0.0
        app.screen.query_one("#chat-input", Input).focus()
        await pilot.press(*"hi", "enter")
        await wait_for(lambda: len(log.children) == 4 and app.connection_problem == "", pilot)
