"""The dataset browser, driven as a user drives it, in demo mode (the simulator over loopback)."""

from __future__ import annotations

import json
import shutil

import pytest
from textual.widgets import DataTable, Select

from bailian_tui.core import config
from bailian_tui.simulator.demo import start_demo
from tests.conftest import DATASETS, MAINLAND
from tests.test_app_demo import wait_for
from bailian_tui.tui.app import BailianApp
from bailian_tui.simulator.demo import point_at_demo
from bailian_tui.tui.widgets.conversation import ConversationView, RawView
from bailian_tui.tui.widgets.records import RecordList


@pytest.fixture
def demo(tmp_path):
    server = start_demo()
    yield server
    server.stop()


def make_app(tmp_path, demo, path):
    settings = config.load(env={"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "BAILIAN_TUI_STATE_DIR": str(tmp_path / "st")})
    point_at_demo(settings, demo)
    return BailianApp(settings, open_path=path)


def conversation_text(app) -> str:
    """The conversation pane's lines as painted (also those scrolled out of view)."""
    return app.screen.query_one("#conversation", ConversationView).text


async def test_open_preview_switch_template_jump_and_search(tmp_path, demo):
    source = tmp_path / "medqa" / "test.jsonl"
    source.parent.mkdir()
    shutil.copy(DATASETS / "MedQA/questions/US/4_options/test.jsonl", source)
    app = make_app(tmp_path, demo, source)
    async with app.run_test(size=(120, 40)) as pilot:
        records = app.screen.query_one("#records", RecordList)
        await wait_for(lambda: records.row_count == 40 and "line 1 · ok" in conversation_text(app), pilot)
        assert "medqa → sft" in str(app.screen.query_one("#file-info").render())
        assert "答案是 " in conversation_text(app)
        app.screen.query_one("#template", Select).value = "en"
        await wait_for(lambda: "The answer is " in conversation_text(app), pilot)
        await pilot.press("g")
        await pilot.press(*"17", "enter")
        assert records.current == 16
        question = json.loads(source.read_text().splitlines()[30])["question"][:30]
        await pilot.press("slash", *question, "enter")
        await wait_for(lambda: records.current == 30, pilot)
        await pilot.press("down")
        assert records.current == 31


async def test_findings_filter_and_convert_report_jump(tmp_path, demo):
    source = tmp_path / "bad.jsonl"
    lines = MAINLAND.read_text(encoding="utf-8").splitlines()[:30]
    lines[4] = lines[4].replace('"answer_idx": "', '"answer_idx": "Z')
    lines[9] = "{not json"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    app = make_app(tmp_path, demo, source)
    async with app.run_test(size=(120, 40)) as pilot:
        records = app.screen.query_one("#records", RecordList)
        await wait_for(lambda: records.row_count == 30 and app.screen.converter is not None, pilot)
        await pilot.press("exclamation_mark")
        await wait_for(lambda: records.rows == [4, 9], pilot)
        assert "will not train" in conversation_text(app)
        await pilot.press("exclamation_mark")
        assert records.rows is None and records.row_count == 30
        await pilot.press("C")
        await pilot.click("#convert-run")
        table = app.screen.query_one("#convert-findings", DataTable)
        await wait_for(lambda: table.row_count >= 2, pilot)
        assert "nothing was written" in str(app.screen.query_one("#convert-summary").render())
        assert not (tmp_path / "bad_BaiLian").exists() or not list((tmp_path / "bad_BaiLian").iterdir())
        table.move_cursor(row=1)
        await pilot.press("enter")
        await wait_for(lambda: type(app.screen).__name__ == "DatasetsScreen", pilot)
        assert records.current == 9


async def test_stats_histogram(tmp_path, demo):
    app = make_app(tmp_path, demo, DATASETS / "GSM8K/train.jsonl")
    async with app.run_test(size=(120, 40)) as pilot:
        records = app.screen.query_one("#records", RecordList)
        await wait_for(lambda: records.row_count == 30 and app.screen.converter is not None, pilot)
        await pilot.press("h")
        histogram = app.screen.query_one("#histogram")
        await wait_for(lambda: "30 samples" in str(histogram.render()), pilot)
        assert "█" in str(histogram.render())


async def test_convert_then_upload_dedupes_and_copies(tmp_path, demo):
    source = tmp_path / "data" / "train.jsonl"
    source.parent.mkdir()
    shutil.copy(DATASETS / "MedQA/questions/Mainland/4_options/train.jsonl", source)
    app = make_app(tmp_path, demo, source)
    async with app.run_test(size=(120, 40)) as pilot:
        records = app.screen.query_one("#records", RecordList)
        await wait_for(lambda: records.row_count == 20 and app.screen.converter is not None, pilot)
        await pilot.press("C")
        await pilot.click("#convert-run")
        output = tmp_path / "data_BaiLian" / "train.jsonl"
        await wait_for(lambda: output.exists(), pilot)
        await pilot.press("escape")
        files_before = len(demo.state.files)
        await pilot.press("u")
        await wait_for(lambda: type(app.screen).__name__ == "ChooseScreen", pilot)  # two demo profiles
        await pilot.press("enter")  # the first: Bailian
        await wait_for(lambda: getattr(app.screen, "state", "") == "confirm", pilot)  # 20 samples < 1000: warning
        await pilot.press("y")
        # The demo already holds these exact bytes? No: the demo's copy has another layout. A new file_id.
        await wait_for(lambda: getattr(app.screen, "state", "") == "done", pilot)
        assert len(demo.state.files) == files_before + 1
        file_id = app.screen.file_id
        # The same converted file to the second profile: its own file id, on the XPULink side.
        xpulink_before = len(demo.openai.state.files)
        await pilot.press("escape", "u")
        await wait_for(lambda: type(app.screen).__name__ == "ChooseScreen", pilot)
        await pilot.press("down", "enter")
        await wait_for(lambda: getattr(app.screen, "state", "") == "confirm", pilot)
        await pilot.press("y")
        await wait_for(lambda: getattr(app.screen, "state", "") == "done", pilot)
        assert app.screen.file_id.startswith("xpulink:file-") and len(demo.openai.state.files) == xpulink_before + 1
        await pilot.press("C")
        await pilot.press("escape")
        await pilot.press("u", "enter")
        await wait_for(lambda: getattr(app.screen, "state", "") == "confirm", pilot)
        await pilot.press("y")
        await wait_for(lambda: getattr(app.screen, "state", "") == "existing", pilot)
        assert file_id in str(app.screen.query_one("#upload-status").render())
        await pilot.press("enter")
        assert app.screen.state == "done" and app.screen.file_id == file_id
        assert len(demo.state.files) == files_before + 1


async def test_invalid_file_upload_is_blocked(tmp_path, demo):
    bad = tmp_path / "chatml.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "q"}]}\n', encoding="utf-8")
    app = make_app(tmp_path, demo, bad)
    async with app.run_test(size=(120, 40)) as pilot:
        records = app.screen.query_one("#records", RecordList)
        await wait_for(lambda: records.row_count == 1 and app.screen.converter is not None, pilot)
        files_before = len(demo.state.files)
        await pilot.press("u", "enter")  # the first of the two demo profiles
        await wait_for(lambda: getattr(app.screen, "state", "") == "blocked", pilot)
        assert "Upload blocked" in str(app.screen.query_one("#upload-status").render())
        assert len(demo.state.files) == files_before


async def test_tree_describes_files_and_opens_them(tmp_path, demo):
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(DATASETS / "GSM8K/train.jsonl", folder / "gsm.jsonl")
    app = make_app(tmp_path, demo, folder)
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.screen.query_one("#tree")
        await wait_for(lambda: tree.root.children, pilot)
        tree.focus()
        await pilot.press("down")
        peek = app.screen.query_one("#peek")
        await wait_for(lambda: "30 records" in str(peek.render()), pilot)
        assert "gsm8k → sft" in str(peek.render())
        await pilot.press("enter")
        records = app.screen.query_one("#records", RecordList)
        await wait_for(lambda: records.row_count == 30, pilot)
        assert "gsm.jsonl" in str(app.screen.query_one("#file-info").render())


EVIL = "e\x1b]52;c;aGk=\x07\x1b[2J.jsonl"  # OSC 52 (writes the clipboard) + clear screen, in a file name
EVIL_SHOWN = "e␛]52;c;aGk=␇␛[2J"


def _inert(svg: str) -> str:
    for bad in ("\x1b", "&#27;", "&#x1b;", "&#x1B;", "\x07"):
        assert bad not in svg, repr(bad)
    return svg


async def test_local_file_names_show_as_they_are_never_as_markup_or_escapes(tmp_path, demo):
    from tests.conftest import write_chatml

    folder = tmp_path / "data"
    folder.mkdir()
    write_chatml(folder / "train[v2].jsonl", 20)
    write_chatml(folder / EVIL, 5, prefix="e")
    app = make_app(tmp_path, demo, folder)
    async with app.run_test(size=(130, 40)) as pilot:
        tree = app.screen.query_one("#tree")
        await wait_for(lambda: len(tree.root.children) == 2, pilot)
        svg = _inert(app.export_screenshot())
        assert "train[v2]" in svg and EVIL_SHOWN in svg  # the tree's labels
        peek, info = app.screen.query_one("#peek"), app.screen.query_one("#file-info")
        records = app.screen.query_one("#records", RecordList)
        tree.focus()
        await pilot.press("down")  # the hostile name sorts first
        await wait_for(lambda: "5 records" in str(peek.render()), pilot)
        assert str(peek.render()).startswith(EVIL_SHOWN)
        await pilot.press("enter")
        await wait_for(lambda: records.row_count == 5 and app.screen.converter is not None, pilot)
        assert str(info.render()).startswith(EVIL_SHOWN)
        assert EVIL_SHOWN in _inert(app.export_screenshot())
        await pilot.press("C")
        await pilot.pause()
        assert EVIL_SHOWN in _inert(app.export_screenshot())  # the convert screen's title
        await pilot.press("escape")
        tree.focus()
        await pilot.press("down")
        await wait_for(lambda: "20 records" in str(peek.render()), pilot)
        assert str(peek.render()).startswith("train[v2].jsonl")
        await pilot.press("enter")
        await wait_for(lambda: records.row_count == 20 and app.screen.converter is not None, pilot)
        assert str(info.render()).startswith("train[v2].jsonl ·")
        await pilot.press("C")
        await pilot.pause()
        assert "Convert train[v2].jsonl" in str(app.screen.query_one("#convert-title").render())
        await pilot.click("#convert-run")
        output = tmp_path / "data_BaiLian" / "train[v2].jsonl"
        await wait_for(lambda: output.exists() and "wrote" in str(app.screen.query_one("#convert-summary").render()),
                       pilot)
        assert str(output) in str(app.screen.query_one("#convert-summary").render())
        await pilot.press("escape")
        await pilot.press("u")
        if app.screen.query("#choose-list"):  # several profiles: the file goes to the one picked
            assert str(app.screen.query("Static").first().render()) == "Upload train[v2].jsonl to"
            await pilot.press("enter")
        await wait_for(lambda: getattr(app.screen, "state", "") == "confirm", pilot)
        assert str(app.screen.query_one("#upload-title").render()) == f"Upload {output}"
        await pilot.press("y")
        await wait_for(lambda: getattr(app.screen, "state", "") == "done", pilot)
        file_id = app.screen.file_id
        assert f"uploaded as {file_id}" in str(app.screen.query_one("#upload-status").render())


async def test_moving_in_the_record_list_shows_each_record_without_laying_out_the_screen(tmp_path, demo):
    """Each move shows the next record in both panes; none of them lays the screen out again (the panes paint
    their own lines: a layout pass per move was most of a move's cost in a real terminal)."""
    lines = MAINLAND.read_text(encoding="utf-8").splitlines()
    app = make_app(tmp_path, demo, MAINLAND)
    async with app.run_test(size=(120, 40)) as pilot:
        records = app.screen.query_one("#records", RecordList)
        raw = app.screen.query_one("#raw", RawView)
        await wait_for(lambda: records.row_count == len(lines) and "line 1 · ok" in conversation_text(app), pilot)
        tree = app.screen.query_one("#tree")
        await wait_for(lambda: bool(tree.root.children), pilot)  # the folder tree
        await pilot.pause()  # and the layout it asked for
        layouts: list = []
        app.screen.screen_layout_refresh_signal.subscribe(app.screen, layouts.append)
        for n in range(2, 7):
            await pilot.press("down")
            question = json.loads(lines[n - 1])["question"]
            await wait_for(lambda: conversation_text(app).lstrip().startswith(f"line {n} · ok"), pilot)
            assert question[:12] in conversation_text(app).replace("\n", "")
            assert question[:8] in raw.text.replace("\n", "")
        await pilot.press("pagedown", "pagedown", "up")
        await wait_for(lambda: conversation_text(app).lstrip().startswith(f"line {records.current + 1} · ok"), pilot)
        assert records.current > 6
        await pilot.press("home")
        await wait_for(lambda: conversation_text(app).lstrip().startswith("line 1 · ok"), pilot)
        assert layouts == []


async def test_indexing_progress_waits_for_the_next_move_while_keys_are_pressed(tmp_path, demo):
    """While the user moves in the list, the index's progress is shown with the next move's frame (not in a frame
    of its own that a key could wait behind); once the keys stop it shows at once."""
    path = tmp_path / "medqa.jsonl"
    shutil.copy(MAINLAND, path)
    app = make_app(tmp_path, demo, path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen, info = app.screen, app.screen.query_one("#file-info")
        await wait_for(lambda: "100 records" in str(info.render()), pilot)  # indexed
        app.import_yield.quiet = 60.0  # the user keeps pressing keys
        await pilot.press("down")
        screen.indexing_progress(screen.source, 50, 100)  # as the index worker reports it
        await pilot.pause()
        assert "indexing 50%" not in str(info.render())
        await pilot.press("down")
        await pilot.pause()
        assert "indexing 50%" in str(info.render())
        assert "line 3 ·" in conversation_text(app)  # in the same frame as the record the move shows
        app.import_yield.quiet = 0.0  # the keys stopped
        screen.indexing_progress(screen.source, 60, 100)
        await pilot.pause()
        assert "indexing 60%" in str(info.render())
