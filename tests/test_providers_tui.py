"""The app on both demo profiles: mixed job list, a job created on XPULink from a form adapted to it, both
watched side by side, the XPULink model served directly (try it), evaluated against a Bailian one."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Select

from bailian_tui.core import config
from bailian_tui.simulator import SimClock
from bailian_tui.simulator.demo import point_at_demo, start_demo
from bailian_tui.tui.app import BailianApp
from tests.test_app_demo import wait_for


@pytest.fixture
def mixed(tmp_path):
    clock = SimClock(manual=True)
    server = start_demo(clock=clock)
    settings = config.load(env={"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "BAILIAN_TUI_STATE_DIR": str(tmp_path)})
    point_at_demo(settings, server)
    yield BailianApp(settings), server, clock
    server.stop()


def column(table: DataTable, name: str) -> int:
    return [str(c.label) for c in table.columns.values()].index(name)


async def test_mixed_list_xpulink_form_and_side_by_side_watch(mixed):
    app, server, clock = mixed
    async with app.run_test(size=(140, 44)) as pilot:
        await app.service()
        table = app.screen.query_one("#jobs", DataTable)
        await wait_for(lambda: table.row_count == 10, pilot)  # 7 Bailian + 3 XPULink
        providers = [str(table.get_row_at(i)[column(table, "provider")]) for i in range(10)]
        ids = [str(table.get_row_at(i)[1]) for i in range(10)]
        assert providers.count("XPU") == 3 and providers.count("BL") == 7
        assert all(i.startswith("xpulink:ftjob-") for i, p in zip(ids, providers) if p == "XPU")

        await pilot.press("n")
        form = app.screen
        form.query_one("#job-provider", Select).value = "xpulink"
        await pilot.pause()
        assert form.query_one("#job-model", Select).value == "qwen3-32b"
        assert not form.query_one("#row-lora_rank").display or form.query_one("#job-params").has_class("hidden")
        assert form.query_one("#oarow-lora_r").display and form.query_one("#oarow-lora_dropout").display
        await wait_for(lambda: len(form._profile_files()) == 2, pilot)
        train = next(f for f in form._profile_files() if "train" in f.name)
        form.query_one("#job-train", Select).value = train.file_id
        form.query_one("#job-preset", Select).value = "< 100"
        await pilot.pause()
        assert form.query_one("#oa-lora_r", Input).value == "4" and form.query_one("#oa-lora_alpha", Input).value == "8"
        form.query_one("#oa-lora_dropout", Input).value = "5"  # a unit slip
        await pilot.pause()
        assert "lora_dropout" in str(form.query_one("#job-problems").render())
        form.query_one("#oa-lora_dropout", Input).value = "0.1"
        await pilot.pause()
        before = len(server.openai.state.jobs)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "XPULink (simulated)" in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("y")
        await wait_for(lambda: len(server.openai.state.jobs) == before + 1, pilot)
        made = list(server.openai.state.jobs.values())[-1]
        assert made.hp == {"n_epochs": 5, "batch_size": 2, "learning_rate": 1e-4, "lora_r": 4, "lora_alpha": 8,
                           "lora_dropout": 0.1}
        assert made.hp_form == "hyperparameters" and made.metadata["bt_request"].startswith("bt-")
        key = f"xpulink:{made.id}"
        await wait_for(lambda: key in app.scheduler.jobs, pilot)

        # Watch a Bailian job beside it: both providers polled, both charts fed.
        running_bl = next(j.job_id for j in server.state.jobs.values() if j.status == "RUNNING")
        app.watch_job(running_bl)
        clock.advance(30)
        await wait_for(lambda: app.scheduler.jobs[key].tail.metrics.loss and
                       app.scheduler.jobs[running_bl].tail.metrics.loss, pilot, timeout=20)
        await pilot.press("j", "v")
        panels = {p.job_id for p in app.screen.query("JobPanel")}
        assert {key, running_bl} <= panels


async def test_deployments_show_xpulink_models_served_directly_and_try_them(mixed):
    app, server, clock = mixed
    async with app.run_test(size=(140, 40)) as pilot:
        await app.service()
        await pilot.press("p")
        table = app.screen.query_one("#deployments", DataTable)
        tuned = next(j.fine_tuned_model for j in server.openai.state.jobs.values() if j.status == "succeeded")
        await wait_for(lambda: tuned in [str(table.get_row_at(i)[0]) for i in range(table.row_count)], pilot)
        rows = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        table.move_cursor(row=rows.index(tuned))
        await pilot.pause()
        assert "served directly" in str(app.screen.query_one("#dep-detail").render())
        await pilot.press("s")  # scale: nothing to scale
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        assert type(app.screen).__name__ == "ChatScreen"
        assert app.screen.query_one("#chat-model", Input).value == tuned
        chat = app.screen.query_one("#chat-input", Input)
        chat.focus()
        chat.value = "hello"
        await pilot.press("enter")
        # answered by the XPULink side, with no deployment
        await wait_for(lambda: any(m == tuned for m, _ in server.openai.state.generations), pilot)
