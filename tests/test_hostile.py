"""Against a hostile server: nothing injected into the terminal, nothing crashes, nothing hidden, no key leaked.

Visible-marker choice (docs/design.md): control characters are not deleted but shown as Unicode control
pictures (ESC → ␛, BEL → ␇, NUL → ␀), C1 controls and bidi overrides as �, so ``␛]52;c;…`` is visible text.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pty
import select
import socket
import subprocess
import sys

import pytest

from bailian_tui.core.errors import PlatformError
from bailian_tui.core.monitor import KEEP_CHARS, LogTail
from bailian_tui.core.platform import JobRequest, Platform, RetryPolicy
from bailian_tui.core.safetext import LINE_CAP, is_safe
from tests.conftest import ROOT, TEST_KEY, no_sleep
from tests.hostile import HostileServer
from tests.test_app_demo import wait_for


@pytest.fixture
def hostile():
    server = HostileServer(TEST_KEY)
    yield server
    server.stop()


@pytest.fixture
async def client(hostile):
    async with Platform(api_key=TEST_KEY, base_url=hostile.base_url, retry=RetryPolicy(attempts=4),
                        sleep=no_sleep) as platform:
        yield platform


def _strings(value, seen=None):
    """Every string inside a record (dataclass fields, lists, dicts, keys too), but not ``raw``."""
    if isinstance(value, str):
        yield value
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            if f.name != "raw":
                yield from _strings(getattr(value, f.name))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            yield from _strings(v)


async def test_every_field_of_every_record_is_inert(client):
    records = [*(await client.all_files()), *(await client.all_jobs()), await client.get_job("x"),
               await client.job_logs("x"), *(await client.list_checkpoints("x")),
               *(await client.all_deployments()), await client.get_deployment("x"), await client.get_file("f")]
    texts = [t for r in records for t in _strings(r)]
    assert texts and all(is_safe(t) for t in texts), [t for t in texts if not is_safe(t)][:3]
    assert any("␛]52;c;ZXZpbA==␇" in t for t in texts)  # shown, not hidden
    assert any("[/][link=http://x.test]" in t for t in texts)  # markup kept as text, for the UI to show as text


async def test_lists_are_deduplicated_by_id(client):
    assert len(await client.all_jobs()) == 2  # the server listed ft-1 twice


async def test_long_log_lines_are_cut_with_a_marker_and_tails_capped_in_size(client):
    page = await client.job_logs("x")
    long = page.lines[-1]
    assert len(long) < LINE_CAP + 100 and long.endswith("more characters cut]")
    tail = LogTail("x")
    for _ in range(KEEP_CHARS // LINE_CAP * 2):
        tail.absorb([long], None)
    assert tail.chars <= KEEP_CHARS and sum(map(len, tail.lines)) == tail.chars


async def test_error_fields_are_inert_and_scrubbed(hostile, client):
    hostile.mode = "errors"
    with pytest.raises(PlatformError) as err:
        await client.list_jobs()
    text = err.value.human()
    assert is_safe(text) and TEST_KEY not in text
    assert TEST_KEY not in (err.value.request_id or "") and is_safe(err.value.code or "")
    assert "␛]0;pwned␇" in text


async def test_an_endless_has_more_stops_at_a_page_adding_nothing(hostile, client):
    hostile.mode = "endless"
    jobs = await client.all_jobs()
    assert len(jobs) == 2 and hostile.requests == 2
    assert "repeated earlier items" in client.stats.warnings[-1]


async def test_every_page_spends_the_budget(hostile, client):
    hostile.mode = "endless"
    paced = []

    async def pace() -> None:
        paced.append(1)

    await client.all_jobs(pace=pace)
    assert len(paced) == hostile.requests == 2


@pytest.mark.parametrize("shape", ["jobs-object", "output-list", "empty", "truncated", "job-output-list"])
async def test_wrong_shapes_are_platform_errors_with_the_request_id(hostile, client, shape):
    hostile.mode, hostile.shape = "shapes", shape
    with pytest.raises(PlatformError) as err:
        await client.list_jobs()
    assert "unexpected response from DashScope" in err.value.message
    if shape not in ("empty", "truncated"):
        assert err.value.request_id == "req-shapes"


async def test_a_200_carrying_throttling_is_retried(hostile, client):
    hostile.mode, hostile.throttles = "throttle200", 2
    assert len((await client.list_jobs()).items) == 3
    assert client.stats.retries == 2


async def test_connection_refused_fails_fast_with_the_url_and_a_hint():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}/api/v1"
    async with Platform(api_key=TEST_KEY, base_url=url, retry=RetryPolicy(unreachable_attempts=2),
                        sleep=no_sleep) as platform:
        with pytest.raises(PlatformError) as err:
            await platform.list_jobs()
        assert platform.stats.requests == 2
        assert f"cannot reach {url}/fine-tunes" in err.value.human() and "dashscope.base_url" in err.value.human()
        with pytest.raises(PlatformError) as create:  # nothing was sent: no reconciliation, no unknown
            await platform.create_job(JobRequest(model="m", training_file_ids=["f"], job_name="n"))
        assert create.value.not_sent and platform.stats.unknown == 0


# -- the CLI, to a real terminal -----------------------------------------------------------------------


def _run_in_pty(argv, env, timeout=60.0) -> tuple[int, bytes]:
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI, on the pty
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, *argv], env)
    out = b""
    loop_deadline = asyncio.get_event_loop_policy()  # noqa: F841 (keep the import honest)
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out


SERVER_SEQUENCES = [b"\x1b]", b"\x1b[2J", b"\x07", b"\x00", "\u202e".encode(), b"\xc2\x9b"]


@pytest.mark.parametrize("mode,argv", [
    ("records", ["-m", "bailian_tui", "jobs", "list"]),
    ("records", ["-m", "bailian_tui", "jobs", "list", "--json"]),
    ("errors", ["-m", "bailian_tui", "jobs", "list"]),
    ("endless", ["-m", "bailian_tui", "jobs", "list"]),
])
def test_cli_to_a_terminal_shows_no_server_escape(hostile, tmp_path, mode, argv):
    hostile.mode = mode
    env = {**os.environ, "DASHSCOPE_HTTP_BASE_URL": hostile.base_url, "DASHSCOPE_API_KEY": TEST_KEY,
           "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "BAILIAN_TUI_STATE_DIR": str(tmp_path / "state"),
           "TERM": "dumb", "NO_COLOR": "1", "COLUMNS": "200"}
    code, out = _run_in_pty(argv, env)
    assert b"Traceback" not in out, out.decode(errors="replace")[-2000:]
    for sequence in SERVER_SEQUENCES:
        assert sequence not in out, (sequence, out[:500])
    assert b"\x1b" not in out  # a dumb terminal: not one ESC byte, ours or theirs
    assert TEST_KEY.encode() not in out
    assert (code == 0) == (mode != "errors")
    if mode == "records":
        assert "␛".encode() in out  # shown, as a visible marker


def test_cli_watch_to_a_terminal_survives_markup_in_log_lines(hostile, tmp_path):
    env = {**os.environ, "DASHSCOPE_HTTP_BASE_URL": hostile.base_url, "DASHSCOPE_API_KEY": TEST_KEY,
           "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "BAILIAN_TUI_STATE_DIR": str(tmp_path / "state"),
           "TERM": "dumb", "NO_COLOR": "1", "COLUMNS": "200"}
    code, out = _run_in_pty(["-m", "bailian_tui", "jobs", "watch", "ft-1"], env)
    assert b"Traceback" not in out, out.decode(errors="replace")[-2000:]
    for sequence in SERVER_SEQUENCES[:2] + SERVER_SEQUENCES[3:]:
        assert sequence not in out
    assert code == 0


# -- the TUI, every screen ---------------------------------------------------------------------------


def _screen_text(app) -> str:
    return app.export_screenshot()


def _assert_inert(svg: str) -> None:
    for bad in ("\x1b", "&#27;", "&#x1b;", "&#x1B;", "\x07", "\x00", "\u202e"):
        assert bad not in svg, bad


async def test_tui_every_screen_against_a_hostile_server(hostile, tmp_path):
    from textual.widgets import DataTable

    from bailian_tui.core import config
    from bailian_tui.tui.app import BailianApp

    settings = config.load(env={"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "BAILIAN_TUI_STATE_DIR": str(tmp_path),
                                "DASHSCOPE_API_KEY": TEST_KEY, "DASHSCOPE_HTTP_BASE_URL": hostile.base_url})
    app = BailianApp(settings)
    async with app.run_test(size=(160, 50)) as pilot:
        table = app.screen.query_one("#jobs", DataTable)
        await wait_for(lambda: table.row_count == 2, pilot)
        svg = _screen_text(app)
        _assert_inert(svg)
        assert "␛" in svg  # the sequence is visible as text, not executed
        await pilot.press("w", "v")  # watch a job, then the watch view: panel, status, log tail
        await wait_for(lambda: app.scheduler.jobs and all(w.job for w in app.scheduler.jobs.values()), pilot)
        await pilot.pause()
        _assert_inert(_screen_text(app))
        await pilot.press("l")  # the full log
        await pilot.pause(0.3)
        _assert_inert(_screen_text(app))
        await pilot.press("escape", "escape")
        await pilot.press("k")  # checkpoints
        await pilot.pause(0.3)
        _assert_inert(_screen_text(app))
        await pilot.press("escape")
        for key, table_id, rows in (("f", "#files", 3), ("p", "#deployments", 2)):
            await pilot.press(key)
            await wait_for(lambda: app.screen.query_one(table_id, DataTable).row_count == rows, pilot)
            _assert_inert(_screen_text(app))
            assert "␛" in _screen_text(app)
        for key in ("d", "n"):  # datasets, new job: nothing from the server, still nothing injected
            await pilot.press(key)
            await pilot.pause(0.3)
            _assert_inert(_screen_text(app))
        hostile.mode = "errors"  # every call fails with a hostile message: shown in full, nothing crashes
        for key in ("f", "p", "j"):
            await pilot.press(key, "r")
            await pilot.pause(0.3)
            _assert_inert(_screen_text(app))
        assert app.is_running


async def test_a_wrong_key_shows_at_once_on_the_jobs_screen(manual_demo):
    app, _server, _clock = manual_demo
    app.settings.values["dashscope.api_key"] = "sk-wrong-key-0000000000"
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(lambda: "HTTP 401" in app.connection_problem, pilot)
        assert "check DASHSCOPE_API_KEY" in app.connection_problem
        from bailian_tui.tui.widgets.connection import ConnectionBar

        bar = app.screen.query_one(ConnectionBar)
        await wait_for(lambda: "check DASHSCOPE_API_KEY" in str(bar.render()), pilot)
        assert "offline" in str(bar.render())
