"""Local runs in the app, beside the simulated cloud jobs: a run survives the app quitting and is watched
again after a restart with its whole loss curve; the demo shows a stand-in run training live; a run started
from the new-job form's local profile is watched to the end. Real processes; killed in teardown."""

from __future__ import annotations

import json
import os
import signal
import sys

import pytest
from textual.widgets import DataTable, Input, Select

from bailian_tui.core import config
from bailian_tui.core.local import recipes, runs
from bailian_tui.core.providers.local import stand_in_script
from bailian_tui.core.records import JobStatus
from bailian_tui.simulator import SimClock
from bailian_tui.simulator.demo import point_at_demo, start_demo
from bailian_tui.tui.app import BailianApp
from tests.conftest import DATASETS
from tests.test_app_demo import wait_for


def kill_runs(folder) -> None:
    for path in folder.glob("*") if folder.is_dir() else []:
        info = runs.RunInfo.read(path)
        if info is not None and info.pid > 1 and not info.adopted:
            try:
                os.killpg(info.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def servers():
    server = start_demo(clock=SimClock(manual=True))
    yield server
    server.stop()


def settings_for(tmp_path, server, local: dict | None = None, demo_local: bool = False):
    settings = config.load(env={"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "BAILIAN_TUI_STATE_DIR": str(tmp_path)})
    point_at_demo(settings, server, local=demo_local)
    if local:
        settings.values["providers"].append(local)
    return settings


def jobs_table_has(app, key: str, status: str):
    def check() -> bool:
        table = app.screen.query("#jobs") and app.screen.query_one("#jobs", DataTable)
        if not table:
            return False
        return any(str(table.get_row_at(i)[1]) == key and status in str(table.get_row_at(i)[2])
                   for i in range(table.row_count))
    return check


async def test_a_local_run_outlives_the_app_and_is_watched_again_with_its_whole_curve(tmp_path, servers):
    runs_dir = tmp_path / "runs"
    profile = {"name": "gpu", "kind": "local", "python": sys.executable, "runs_dir": str(runs_dir)}
    # Started before the app (as a run the app launched last time, or from a shell): held at step 4.
    folder = recipes.create_run(recipes.RunSpec("sft-alpaca", DATASETS / "Alpaca/alpaca_en_demo.json", "alpaca-run",
                                                runs_dir, {"max_steps": 12}))
    hold = tmp_path / "release"
    info = runs.launch(folder.path, [sys.executable, "-u", str(stand_in_script()), "--steps", "12", "--pace", "0",
                                     "--eval-every", "3", "--hold-at", "4", "--hold-file", str(hold)])
    key = "gpu:alpaca-run"
    try:
        settings = settings_for(tmp_path, servers, profile)  # once: a demo start clears the demo's store
        app = BailianApp(settings)
        async with app.run_test(size=(140, 44)) as pilot:
            await app.service()
            await wait_for(jobs_table_has(app, key, "RUNNING"), pilot, timeout=20)  # beside the Bailian and XPULink jobs
            table = app.screen.query_one("#jobs", DataTable)
            where = [str(c.label) for c in table.columns.values()].index("provider")
            assert {str(table.get_row_at(i)[where]) for i in range(table.row_count)} == {"BL", "XPU", "GPU"}
            app.watch_job(key)
            await wait_for(lambda: key in app.scheduler.jobs and app.scheduler.jobs[key].tail.metrics.step == 4, pilot)
        # The app has quit: the run has not.
        assert runs.group_alive(info.pid, info.start_ticks, info.boot_id)

        again = BailianApp(settings)
        async with again.run_test(size=(140, 44)) as pilot:
            await again.service()
            await wait_for(lambda: key in again.scheduler.jobs, pilot)  # the watch list came back
            hold.touch()
            await wait_for(lambda: (w := again.scheduler.jobs[key]).job is not None and w.job.status.finished,
                           pilot, timeout=30)
            watched = again.scheduler.jobs[key]
            assert watched.job.status is JobStatus.SUCCEEDED
            await pilot.press("j", "v")
            await wait_for(lambda: any(p.job_id == key for p in again.screen.query("JobPanel")), pilot)
            panel = next(p for p in again.screen.query("JobPanel") if p.job_id == key)
            status = str(panel.query_one(".panel-status").render())
            assert "SUCCEEDED" in status and str(folder.path / "lora_model") in status
        state = json.loads(folder.trainer_state.read_text())
        assert [p.value for p in watched.tail.metrics.loss] == [h["loss"] for h in state["log_history"] if "loss" in h]
        assert len(watched.tail.metrics.loss) == 12 and len(watched.tail.metrics.eval_loss) == 4
    finally:
        kill_runs(runs_dir)


async def test_demo_shows_a_local_run_training_live_and_the_form_starts_another(tmp_path, servers):
    settings = settings_for(tmp_path, servers, demo_local=True)
    runs_dir = tmp_path / "demo/runs"
    app = BailianApp(settings)
    try:
        async with app.run_test(size=(140, 44)) as pilot:
            await app.service()
            await wait_for(lambda: "gpu:medical-lora" in app.scheduler.jobs, pilot)
            await wait_for(jobs_table_has(app, "gpu:medical-lora", "RUNNING"), pilot, timeout=15)
            await wait_for(jobs_table_has(app, "gpu:alpaca-lora", "SUCCEEDED"), pilot, timeout=15)
            live = app.scheduler.jobs["gpu:medical-lora"]
            await wait_for(lambda: len(live.tail.metrics.loss) >= 2, pilot, timeout=15)  # one step a second
            await pilot.press("j", "v")
            await wait_for(lambda: any(p.job_id == "gpu:medical-lora" for p in app.screen.query("JobPanel")), pilot)
            # What NVML reports on a GPU box (this machine has none): the run's own memory is told apart.
            from bailian_tui.core.local.gpu import GpuStat

            provider = app.fleet.member("gpu").provider
            run_pid = live.job.raw["pid"]
            provider.gpu_source = lambda pids: [GpuStat(0, "NVIDIA A10", 6 << 30, 24 << 30, 87,
                                                        5 << 30 if run_pid in pids else 0)]
            panel = next(p for p in app.screen.query("JobPanel") if p.job_id == "gpu:medical-lora")
            await wait_for(lambda: "GPU0 NVIDIA A10: 87% · 6.0/24.0 GiB (run 5.0)" in
                           str(panel.query_one(".panel-status").render()), pilot, timeout=15)

            # New job → provider "this machine": the local-run form; Alpaca, 4 steps, started and watched.
            await pilot.press("n")
            app.screen.query_one("#job-provider", Select).value = "gpu"
            await wait_for(lambda: type(app.screen).__name__ == "LocalRunScreen"
                           and bool(app.screen.query("#lf-max_steps")), pilot)
            form = app.screen
            form.query_one("#local-recipe", Select).value = "sft-alpaca"
            await pilot.pause()
            form.query_one("#lf-max_steps", Input).value = "4"
            form.query_one("#local-name", Input).value = "from-the-form"
            await pilot.pause()
            await pilot.press("ctrl+s")
            await wait_for(lambda: "gpu:from-the-form" in app.scheduler.jobs, pilot, timeout=15)
            made = app.scheduler.jobs["gpu:from-the-form"]
            await wait_for(lambda: made.job is not None and made.job.status.finished, pilot, timeout=30)
            assert made.job.status is JobStatus.SUCCEEDED and len(made.tail.metrics.loss) == 4
            assert (runs_dir / "from-the-form/train.py").is_file()
        medical = runs.RunInfo.read(runs_dir / "medical-lora")
        assert not runs.group_alive(medical.pid, medical.start_ticks, medical.boot_id)  # ended with the demo
    finally:
        kill_runs(runs_dir)
