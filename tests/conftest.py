from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path

import pytest

from bailian_tui.core import secrets as key_secrets
from bailian_tui.core.platform import Platform, RetryPolicy
from bailian_tui.simulator import SimClock, SimConfig, SimServer, SimState

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DATASETS = ROOT / "datasets"

# A fresh key per run: if it shows up in any captured log or error text, something leaked it.
TEST_KEY = "sk-test" + secrets.token_hex(12)
key_secrets.remember(TEST_KEY)


async def no_sleep(_seconds: float) -> None:
    return None


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
