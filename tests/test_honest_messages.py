"""Small honesty fixes: a search that wraps says so, a jump to a non-number says what is accepted, a saved log
goes to a known folder under its full path and never replaces a file without asking."""

from __future__ import annotations

import json
import shutil

from textual.widgets import DataTable, Input, Log

from tests.conftest import DATASETS
from tests.test_app_demo import wait_for
from tests.test_browser import demo, make_app  # noqa: F401  (the demo fixture)
from tests.test_jobs_tui import row_of
from bailian_tui.tui.widgets.records import RecordList


def toasts(app) -> str:
    """The notifications a person sees now."""
    return "\n".join(str(toast.render()) for toast in app.screen.query("Toast"))


async def test_record_search_says_when_it_wraps_and_jump_says_what_it_accepts(tmp_path, demo):  # noqa: F811
    source = tmp_path / "test.jsonl"
    shutil.copy(DATASETS / "MedQA/questions/US/4_options/test.jsonl", source)
    lines = source.read_text(encoding="utf-8").splitlines()
    app = make_app(tmp_path, demo, source)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        records = app.screen.query_one("#records", RecordList)
        await wait_for(lambda: records.row_count == 40 and app.screen.converter is not None, pilot)
        await pilot.press("g", *"abc", "enter")
        await wait_for(lambda: "not a record number" in toasts(app), pilot)
        assert "1 to 40" in toasts(app) and records.current == 0
        app.clear_notifications()
        question = json.loads(lines[30])["question"][:30]
        await pilot.press("slash", *question, "enter")
        await wait_for(lambda: records.current == 30, pilot)
        assert "wrapped" not in toasts(app)
        await pilot.press("right_square_bracket")  # the only match: the next one is itself, from the top
        await wait_for(lambda: "search wrapped to the top" in toasts(app), pilot)
        assert records.current == 30
        app.clear_notifications()
        await pilot.press("end", "right_square_bracket")  # from the last record, the search starts at the top
        await wait_for(lambda: "search wrapped to the top" in toasts(app), pilot)
        assert records.current == 30


async def test_log_search_wraps_out_loud_and_save_never_replaces_silently(manual_demo, tmp_path, monkeypatch):
    app, server, clock = manual_demo
    started_in = tmp_path / "started-here"
    started_in.mkdir()
    monkeypatch.chdir(started_in)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        table = app.screen.query_one("#jobs", DataTable)
        await wait_for(lambda: table.row_count == 7, pilot)
        table.move_cursor(row=row_of(table, "SUCCEEDED"))
        job_id = str(table.get_row_at(table.cursor_row)[1])
        await pilot.press("l")
        log = app.screen.query_one("#log", Log)
        await wait_for(lambda: log.line_count > 10, pilot)
        hits = [i for i, line in enumerate(log.lines) if "##FT_COMPLETE##" in line]
        assert len(hits) == 1
        await pilot.press("slash", *"##FT_COMPLETE##", "enter")
        await wait_for(lambda: f"match at line {hits[0] + 1:,}" in str(app.screen.query_one("#log-info").render()),
                       pilot)
        assert "wrapped" not in str(app.screen.query_one("#log-info").render())
        await pilot.press("right_square_bracket")
        await wait_for(lambda: "search wrapped to the top" in toasts(app), pilot)
        assert "search wrapped to the top" in str(app.screen.query_one("#log-info").render())

        # Save: the default is a full path in the state folder, not wherever the app was started.
        app.clear_notifications()
        await pilot.press("s")
        box = app.screen.query_one("#prompt-input", Input)
        expected = app.settings.state_dir / "logs" / f"{job_id}.log"
        assert box.value == str(expected)
        await pilot.press("enter")
        await wait_for(lambda: expected.exists(), pilot)
        assert expected.read_text(encoding="utf-8").splitlines() == list(log.lines)
        await wait_for(lambda: str(expected) in toasts(app), pilot)
        assert not list(started_in.iterdir()) and not list(expected.parent.glob(".*.part"))

        # Saving again asks before replacing; "no" leaves the file as it was.
        expected.write_text("mine\n", encoding="utf-8")
        await pilot.press("s", "enter")
        await wait_for(lambda: "Replace it?" in str(app.screen.query_one("#confirm-question").render()), pilot)
        await pilot.press("n")
        await wait_for(lambda: "the file is unchanged" in toasts(app), pilot)
        assert expected.read_text(encoding="utf-8") == "mine\n"

        # A bare name lands in the same folder; "yes" replaces.
        await pilot.press("s")
        box = app.screen.query_one("#prompt-input", Input)
        box.value = "renamed.log"
        await pilot.press("enter")
        await wait_for(lambda: (expected.parent / "renamed.log").exists(), pilot)
        await pilot.press("s")
        app.screen.query_one("#prompt-input", Input).value = "renamed.log"
        await pilot.press("enter", "y")
        await wait_for(lambda: app.screen.query("#log"), pilot)
        assert (expected.parent / "renamed.log").read_text(encoding="utf-8").splitlines() == list(log.lines)
