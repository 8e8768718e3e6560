from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import tempfile

# A home of our own, before anything is imported: the DashScope SDK looks for ~/.dashscope/api_key, tools
# write caches under ~ — a test must neither pick up the user's key nor leave anything in their home.
os.environ["HOME"] = tempfile.mkdtemp(prefix="bt-test-home-")
from pathlib import Path

import pytest

from bailian_tui.core import secrets as key_secrets
from bailian_tui.core.platform import Platform, RetryPolicy
from bailian_tui.simulator import SimClock, SimConfig, SimServer, SimState

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "datasets"
DATA = ROOT / "tests" / "data"  # excerpts only the tests need; origin and licence in SOURCES.md
MAINLAND = DATA / "MedQA/questions/Mainland/4_options/test.jsonl"  # 100 records of our own (MIT)

# ----- run-time check that the tests read nothing outside the repository (tests/test_self_contained.py) --
def _allowed_roots() -> tuple[str, ...]:
    import site
    import sysconfig
    import tempfile

    roots = {str(ROOT), tempfile.gettempdir(), sys.prefix, sys.base_prefix, sys.exec_prefix,
             *site.getsitepackages(), *sysconfig.get_paths().values(),
             "/usr", "/lib", "/lib64", "/etc", "/proc", "/dev", "/sys", "/bin", "/run", "/var/tmp"}
    roots.update(entry for entry in sys.path if entry and not entry.startswith(str(ROOT)))
    return tuple(sorted({os.path.realpath(r) for r in roots if r}))


_ALLOWED = _allowed_roots()
OUTSIDE_READS: list[str] = []


def _audit(event: str, args) -> None:
    if event not in ("open", "os.listdir", "os.scandir"):
        return
    target = args[0] if args else None
    if not isinstance(target, (str, bytes, os.PathLike)):
        return
    path = os.path.abspath(os.fsdecode(target))
    if not path.startswith(_ALLOWED) or not any(
            path == root or path.startswith(root.rstrip("/") + "/") for root in _ALLOWED):
        if path not in OUTSIDE_READS and len(OUTSIDE_READS) < 50:
            OUTSIDE_READS.append(path)


sys.addaudithook(_audit)


def pytest_sessionfinish(session, exitstatus):
    import shutil

    shutil.rmtree(os.environ["HOME"], ignore_errors=True)
    if OUTSIDE_READS:
        print("\ntests read outside the repository:\n  " + "\n  ".join(OUTSIDE_READS), file=sys.stderr)
        session.exitstatus = 1


# A fresh key per run: if it shows up in any captured log or error text, something leaked it.
TEST_KEY = "sk-test" + secrets.token_hex(12)
key_secrets.remember(TEST_KEY)


async def no_sleep(_seconds: float) -> None:
    return None


# Workers that run as long as the app does: never waited for.
ENDLESS_WORKERS = frozenset({"scheduler", "log", "_loader"})  # _loader: DirectoryTree's own


async def settle(pilot, *groups: str, timeout: float = 10.0) -> None:
    """Wait for events, not time: pending messages handled, the app's finite workers (or only ``groups``)
    finished, what they posted handled, and scheduled animations done."""
    import asyncio

    app = pilot.app
    await pilot.pause()
    for _ in range(3):  # a finished worker may post a message that starts the next one
        workers = [w for w in app.workers if (w.group in groups if groups else w.group not in ENDLESS_WORKERS)
                   and not w.is_finished]
        if not workers:
            break
        # A worker replaced by a newer exclusive one ends cancelled: that is an end too.
        await asyncio.wait_for(asyncio.gather(*(w.wait() for w in workers), return_exceptions=True), timeout)
        await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


@pytest.fixture(autouse=True)
def _key_never_logged(caplog):
    caplog.set_level(logging.DEBUG)
    yield
    assert TEST_KEY not in caplog.text, "the API key appeared in a log record"


@pytest.fixture
def clock() -> SimClock:
    return SimClock(manual=True)


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig()


@pytest.fixture
def sim(clock, sim_config):
    state = SimState(clock, sim_config, api_key=TEST_KEY)
    with SimServer(state, stream_delay=0.0) as server:
        yield server


@pytest.fixture
async def platform(sim):
    client = Platform(api_key=TEST_KEY, base_url=sim.base_url, timeout=10,
                      retry=RetryPolicy(attempts=10), sleep=no_sleep)
    yield client
    await client.aclose()


def write_chatml(path: Path, n: int = 40, prefix: str = "q") -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(json.dumps({"messages": [
                {"role": "system", "content": "你是一个助手"},
                {"role": "user", "content": f"{prefix}{i}: 这是第{i}个问题"},
                {"role": "assistant", "content": f"这是第{i}个回答"}]}, ensure_ascii=False) + "\n")
    return path


@pytest.fixture
def chatml(tmp_path) -> Path:
    return write_chatml(tmp_path / "train.jsonl")


@pytest.fixture
def manual_demo(tmp_path):
    """The app on a seeded demo simulator whose clock moves only when a test says so: (app, server, clock)."""
    from bailian_tui.core import config
    from bailian_tui.simulator.demo import DEMO_KEY, seed
    from bailian_tui.tui.app import BailianApp
    from bailian_tui.simulator.demo import point_at_demo

    clock = SimClock(manual=True)
    state = SimState(clock, api_key=DEMO_KEY)
    seed(state)
    server = SimServer(state).start()
    settings = config.load(env={"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "BAILIAN_TUI_STATE_DIR": str(tmp_path)})
    point_at_demo(settings, server)
    yield BailianApp(settings), server, clock
    server.stop()


def pytest_addoption(parser):
    # 10 per mode in the suite (12 modes, ~40 s on a busy 2-core machine); the 50 per mode take ~3 min:
    # `pytest tests/test_interrupted_many.py --interrupted-runs 50 -rP` (figures in docs/benchmarks.md).
    parser.addoption("--interrupted-runs", type=int, default=10, metavar="N",
                     help="runs per mode of the repeated interrupted-create test (tests/test_interrupted_many.py)")
