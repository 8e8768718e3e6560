"""SVG snapshot of the new-local-run form (GRPO recipe: every field with the course's default beside it).

Update after a reviewed change: pytest tests/test_local_snapshots.py --snapshot-update
"""

from __future__ import annotations

from textual.app import App
from textual.widgets import Select

from bailian_tui.core.providers.base import ProviderInfo
from bailian_tui.core.providers.local import LocalProvider
from bailian_tui.tui.screens.local_run import LocalRunScreen


class FormHost(App):
    """The form alone, on a profile with fixed paths (a snapshot must not show this machine's)."""

    def on_mount(self) -> None:
        provider = LocalProvider(ProviderInfo("gpu", "local", "gpu box (local GPU)", None, badge="GPU"),
                                 python="/root/miniconda3/envs/unsloth/bin/python", runs_dir="/root/autodl-tmp/runs")
        self.push_screen(LocalRunScreen(provider))


def test_local_run_form(snap_compare):
    async def go(pilot):
        pilot.app.screen.query_one("#local-recipe", Select).value = "grpo-gsm8k"
        await pilot.pause()
        await pilot.pause(0.2)

    assert snap_compare(FormHost(), terminal_size=(120, 40), run_before=go)
