"""No API key and no --demo: the app says at once, in full, what is missing and the two ways on."""

from __future__ import annotations

import asyncio

import pytest

from bailian_tui.core import config
from bailian_tui.core.errors import PlatformError
from bailian_tui.tui.app import BailianApp

NOWHERE = "/nonexistent-bt-config"  # no config file there: the text names the path it looked at


@pytest.fixture
def keyless(tmp_path, monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", NOWHERE)
    settings = config.load(env={"XDG_CONFIG_HOME": NOWHERE, "BAILIAN_TUI_STATE_DIR": str(tmp_path)})
    assert settings.api_key is None
    return lambda: BailianApp(settings)


def screen_text(app) -> str:
    return "\n".join(str(w.render()) for w in app.screen.query("Static"))


async def test_says_at_once_what_is_missing_and_the_two_ways_on(keyless):
    app = keyless()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert type(app.screen).__name__ == "NoKeyScreen"  # the first thing shown, no waiting
        text = screen_text(app)
        for needed in ("No API key", "DASHSCOPE_API_KEY=sk-", f"{NOWHERE}/bailian-tui/config.yaml", "api_key:",
                       "bailian-tui --demo", "q quit"):
            assert needed in text, needed
        # Nothing tries the network: asking for the service fails at once, with the same advice.
        started = asyncio.get_running_loop().time()
        with pytest.raises(PlatformError, match="DASHSCOPE_API_KEY.*--demo"):
            await app.service()
        assert asyncio.get_running_loop().time() - started < 0.5
        await pilot.press("enter")  # continue without a key: the datasets still work
        await pilot.pause()
        assert type(app.screen).__name__ != "NoKeyScreen"
        await pilot.press("d")
        await pilot.pause()
        assert type(app.screen).__name__ == "DatasetsScreen"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_no_key_snapshot(snap_compare, keyless, size):
    async def shown(pilot):
        await pilot.pause()
        assert type(pilot.app.screen).__name__ == "NoKeyScreen"

    assert snap_compare(keyless(), terminal_size=size, run_before=shown)
