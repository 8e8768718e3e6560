"""Local runs with real processes and real signals: launch detached, watch, quit and re-attach, cancel,
failures, adoption of a run started by hand — all with the stand-in trainer, which writes what the
Hugging Face Trainer writes. Every process group a test starts is killed in teardown."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bailian_tui.core.local import runs
from bailian_tui.core.logparse import Metrics
from bailian_tui.core.monitor import Scheduler
from bailian_tui.core.platform import JobRequest
from bailian_tui.core.providers.base import ProviderError, ProviderInfo
from bailian_tui.core.providers.local import LocalProvider, stand_in_script
from bailian_tui.core.records import JobStatus
from bailian_tui.core.store import Store
from tests.conftest import DATASETS, ROOT

ALPACA = DATASETS / "Alpaca/alpaca_en_demo.json"
TRAINER = stand_in_script()


@pytest.fixture
def groups():
    """Process groups started by a test; whatever is still alive at teardown is killed and reaped."""
    started: list[int] = []
    yield started
    for pgid in started:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pgid in started:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)
            runs._reap(pgid)


@pytest.fixture
def store(tmp_path):
    db = Store(tmp_path / "state.db", endpoint="local")
    yield db
    db.close()


def provider(tmp_path, store, groups, **kwargs) -> LocalProvider:
    info = ProviderInfo(name="gpu", kind="local", label="gpu box", base_url=None, badge="GPU")
    made = LocalProvider(info, python=sys.executable, runs_dir=tmp_path / "runs", store=store, stand_in=True,
                         stand_in_pace=kwargs.pop("pace", 0.0), **kwargs)
    original = made._launch

    async def tracked(run_dir, command, recipe):
        job = await original(run_dir, command, recipe)
        groups.append(job.raw["pid"])
        return job

    made._launch = tracked
    return made


async def until(check, timeout: float = 30.0):
    """Wait for a condition on real processes/files (no event exists for a process we may not parent)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)


async def finished(p: LocalProvider, job_id: str):
    async def check():
        job = await p.get_job(job_id)
        return job if job.status.finished else None
    return await until(check)


def metrics_of(lines: list[str]) -> Metrics:
    metrics = Metrics()
    for line in lines:
        metrics.feed(line)
    return metrics


def launch_trainer(run_dir: Path, groups: list[int], *args: str) -> runs.RunInfo:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps({"recipe": "sft-alpaca", "model": "stand-in",
                                                     "output_name": "lora_model"}))
    info = runs.launch(run_dir, [sys.executable, "-u", str(TRAINER), "--pace", "0", *args])
    groups.append(info.pid)
    return info


async def test_a_run_from_the_form_trains_and_reads_like_a_cloud_job(tmp_path, store, groups):
    p = provider(tmp_path, store, groups)
    request = JobRequest(model="Qwen/Qwen2.5-0.5B-Instruct", training_file_ids=[str(ALPACA)],
                         training_type="sft-alpaca", hyper_parameters={"max_steps": 12, "lora_r": 8},
                         job_name="alpaca-1")
    body = p.request_body(request)
    assert body["recipe"] == "sft-alpaca" and body["lora_r"] == 8 and body["max_steps"] == 12
    job = await p.create_job(request)
    assert job.job_id == "alpaca-1" and job.provider == "gpu" and job.key == "gpu:alpaca-1"
    assert job.status in (JobStatus.RUNNING, JobStatus.SUCCEEDED) and job.training_type == "sft-alpaca"
    done = await finished(p, "alpaca-1")
    assert done.status is JobStatus.SUCCEEDED, done.message
    run_dir = tmp_path / "runs/alpaca-1"
    assert done.finetuned_output == str(run_dir / "lora_model") and (run_dir / "lora_model/adapter_config.json").is_file()
    for name in ("train.py", "config.json", "data.json", "train.log", "trainer_state.json", "run.json", "exit.json"):
        assert (run_dir / name).is_file(), name
    page = await p.job_logs("alpaca-1", 0, 1000)
    metrics = metrics_of(page.lines)
    assert len(metrics.loss) == 12 and metrics.progress == 1.0 and metrics.train_loss is not None
    assert metrics.total_steps == 12 and metrics.step == 12
    assert not any("\r" in line for line in page.lines)
    tail = await p.job_logs("alpaca-1", page.total - 2, 1000)  # incremental reads: only what follows
    assert tail.lines == page.lines[-2:]
    checkpoints = await p.list_checkpoints("alpaca-1")
    assert [c.step for c in checkpoints] == [4, 8, 12] and checkpoints[0].metrics["loss"] > 0
    listed = await p.all_jobs()
    assert [j.job_id for j in listed] == ["alpaca-1"] and store.local_runs("gpu")[0].name == "alpaca-1"


APP = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from bailian_tui.core.platform import JobRequest
    from bailian_tui.core.providers.base import ProviderInfo
    from bailian_tui.core.providers.local import LocalProvider
    from bailian_tui.core.store import Store

    async def main():
        tmp = Path(sys.argv[1])
        store = Store(tmp / "state.db", endpoint="local")
        p = LocalProvider(ProviderInfo("gpu", "local", "gpu box", None), python=sys.executable,
                          runs_dir=tmp / "runs", store=store, stand_in=True, stand_in_pace=0)
        p._train_command = lambda folder: [sys.executable, "-u", sys.argv[2], "--steps", "20", "--pace", "0",
                                          "--eval-every", "5", "--hold-at", "6", "--hold-file", sys.argv[3]]
        job = await p.create_job(JobRequest(model="m", training_file_ids=[sys.argv[4]], training_type="sft-alpaca",
                                            hyper_parameters={"max_steps": 20}, job_name="detached"))
        print(job.raw["pid"], flush=True)
        await p.aclose()
        store.close()

    asyncio.run(main())
""")


async def test_a_run_survives_the_app_quitting_and_is_watched_again_after_a_restart(tmp_path, store, groups):
    """start (in an app process), quit, restart, still watched, finishes, loss curve complete."""
    hold = tmp_path / "release"
    app = subprocess.run([sys.executable, "-c", APP, str(tmp_path), str(TRAINER), str(hold), str(ALPACA)],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert app.returncode == 0, app.stderr
    groups.append(int(app.stdout.split()[0]))  # the app that launched it has exited
    p = provider(tmp_path, store, groups)  # "restart": a new provider over the same store and runs folder
    jobs = await p.all_jobs()
    assert [(j.job_id, j.status) for j in jobs] == [("detached", JobStatus.RUNNING)]
    assert os.getpgid(jobs[0].raw["pid"]) == jobs[0].raw["pid"]  # its own process group and session
    assert os.getsid(jobs[0].raw["pid"]) == jobs[0].raw["pid"]

    updates = []
    scheduler = Scheduler(p, requests_per_second=1000, on_update=updates.append)
    watched = scheduler.watch("detached")

    async def held():
        await scheduler.tick()
        return watched.tail.metrics.step == 6 and watched.job and watched.job.status is JobStatus.RUNNING
    await until(held)
    hold.touch()  # let it finish

    async def done():
        await scheduler.tick()
        return watched.job is not None and watched.job.status.finished
    await until(done)
    assert watched.job.status is JobStatus.SUCCEEDED
    assert any(u.finished_now for u in updates)  # seen ending: the app rings its bell
    metrics = watched.tail.metrics
    state = json.loads((tmp_path / "runs/detached/trainer_state.json").read_text())
    losses = [h["loss"] for h in state["log_history"] if "loss" in h]
    assert [pt.value for pt in metrics.loss] == losses and len(losses) == 20  # the whole curve, none twice
    assert len(metrics.eval_loss) == 4 and metrics.progress == 1.0


async def test_cancel_sends_sigint_to_the_process_group_and_reads_as_canceled(tmp_path, store, groups):
    p = provider(tmp_path, store, groups)
    p._train_command = lambda folder: [sys.executable, "-u", str(TRAINER), "--steps", "50", "--pace", "0",
                                       "--hold-at", "2", "--hold-file", str(tmp_path / "never")]
    await p.create_job(JobRequest(model="m", training_file_ids=[str(ALPACA)], training_type="sft-alpaca",
                                  job_name="stopme"))
    log = tmp_path / "runs/stopme/train.log"

    async def at_hold():
        return log.exists() and "| 2/50 [" in log.read_text()
    await until(at_hold)
    job = await p.get_job("stopme")
    os.killpg(job.raw["pid"], signal.SIGHUP)  # the SSH connection drops: nothing in the run's group minds
    message = await p.cancel_job("stopme")
    assert "SIGINT" in message
    job = await finished(p, "stopme")
    assert job.status is JobStatus.CANCELED
    exit_record = json.loads((tmp_path / "runs/stopme/exit.json").read_text())
    assert exit_record["returncode"] == -signal.SIGINT and exit_record["signals_received"] == ["SIGINT"]
    assert "KeyboardInterrupt" in log.read_text()
    with pytest.raises(ProviderError, match="not running"):
        await p.cancel_job("stopme")


async def test_cancel_escalates_to_sigterm_when_sigint_is_ignored(tmp_path, store, groups):
    p = provider(tmp_path, store, groups, cancel_grace=0.3)
    stubborn = tmp_path / "stubborn.py"
    stubborn.write_text("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nprint('ready', "
                        "flush=True)\nwhile True:\n    time.sleep(1)\n")
    p._train_command = lambda folder: [sys.executable, "-u", str(stubborn)]
    await p.create_job(JobRequest(model="m", training_file_ids=[str(ALPACA)], training_type="sft-alpaca",
                                  job_name="stubborn"))

    async def ready():
        log = tmp_path / "runs/stubborn/train.log"
        return log.exists() and "ready" in log.read_text()
    await until(ready)
    await p.cancel_job("stubborn")
    assert (await p.get_job("stubborn")).status in (JobStatus.CANCELING, JobStatus.CANCELED)
    job = await finished(p, "stubborn")
    assert job.status is JobStatus.CANCELED
    record = json.loads((tmp_path / "runs/stubborn/exit.json").read_text())
    assert record["returncode"] == -signal.SIGTERM and record["signals_received"] == ["SIGINT", "SIGTERM"]
    await p.aclose()


async def test_failures_say_why(tmp_path, store, groups):
    p = provider(tmp_path, store, groups)
    p._train_command = lambda folder: [sys.executable, "-u", str(TRAINER), "--steps", "10", "--pace", "0",
                                       "--fail-at", "4"]
    await p.create_job(JobRequest(model="m", training_file_ids=[str(ALPACA)], training_type="sft-alpaca",
                                  job_name="oom"))
    job = await finished(p, "oom")
    assert job.status is JobStatus.FAILED and "exit code 1" in job.message and "CUDA out of memory" in job.message
    # Killed outright (SIGKILL to the whole group): no exit record is written, and the status says so.
    p._train_command = lambda folder: [sys.executable, "-u", str(TRAINER), "--steps", "10", "--pace", "0",
                                       "--hold-at", "1", "--hold-file", str(tmp_path / "never")]
    job = await p.create_job(JobRequest(model="m", training_file_ids=[str(ALPACA)], training_type="sft-alpaca",
                                        job_name="killed"))
    os.killpg(job.raw["pid"], signal.SIGKILL)
    job = await finished(p, "killed")
    assert job.status is JobStatus.FAILED and "no exit record" in job.message
    with pytest.raises(ProviderError, match="no local run"):
        await p.get_job("nope")
    bad = LocalProvider(ProviderInfo("gpu", "local", "gpu box", None), python=str(tmp_path / "no/python"),
                        runs_dir=tmp_path / "runs", store=store)
    with pytest.raises(ProviderError, match="no such Python"):
        await bad.create_job(JobRequest(model="m", training_file_ids=[str(ALPACA)], training_type="sft-alpaca"))


def test_a_reused_pid_is_not_taken_for_the_run(tmp_path):
    me = os.getpid()
    assert runs.group_alive(me, runs.start_ticks(me), runs.boot_id())
    assert not runs.group_alive(me, runs.start_ticks(me) + 1, runs.boot_id())  # same PID, another process
    assert not runs.group_alive(me, runs.start_ticks(me), "another-boot")


async def test_adopting_a_run_started_by_hand_by_its_log_file(tmp_path, store, groups):
    out = tmp_path / "autodl-tmp/outputs"
    out.mkdir(parents=True)
    log = out / "nohup.out"
    hold = tmp_path / "release"
    with open(log, "wb") as handle:  # `nohup python train.py > nohup.out 2>&1 &`, as the course does it
        by_hand = subprocess.Popen([sys.executable, "-u", str(TRAINER), "--steps", "8", "--pace", "0",
                                    "--output-dir", str(out), "--save-every", "4", "--hold-at", "3",
                                    "--hold-file", str(hold)], stdout=handle, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    groups.append(by_hand.pid)
    p = provider(tmp_path, store, groups)

    async def at_hold():
        return "| 3/8 [" in log.read_text()
    await until(at_hold)
    job = await p.adopt_run(log, "course-run")
    assert job.status is JobStatus.RUNNING and job.raw["pid"] == by_hand.pid and job.raw["adopted"]
    assert (await p.job_logs("course-run", 0)).lines[:1] == [log.read_text().splitlines()[0]]
    hold.touch()
    by_hand.wait(timeout=30)
    job = await finished(p, "course-run")
    assert job.status is JobStatus.SUCCEEDED
    assert len(metrics_of((await p.job_logs("course-run", 0)).lines).loss) == 8
    assert [c.step for c in await p.list_checkpoints("course-run")] == [4, 8]
    assert log.read_bytes().endswith(b"\n") and not (out / "run.json").exists()  # the original is untouched


async def test_adopting_an_output_folder_reads_its_trainer_state(tmp_path, store, groups):
    out = tmp_path / "outputs"
    subprocess.run([sys.executable, str(TRAINER), "--steps", "6", "--pace", "0", "--output-dir", str(out),
                    "--save-every", "3"], check=True, capture_output=True, timeout=60)
    (out / "trainer_state.json").unlink()  # only the checkpoints' states are left, as the Trainer leaves them
    p = provider(tmp_path, store, groups)
    job = await p.adopt_run(out)
    assert job.job_id == "outputs" and job.status is JobStatus.SUCCEEDED
    metrics = metrics_of((await p.job_logs("outputs", 0)).lines)
    assert len(metrics.loss) == 6 and metrics.total_steps == 6 and metrics.step == 6
    with pytest.raises(ProviderError, match="already exists"):
        await p.adopt_run(out)
    with pytest.raises(ProviderError, match="no such file"):
        await p.adopt_run(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ProviderError, match="neither a log file"):
        await p.adopt_run(empty)
    assert not (tmp_path / "runs/empty").exists()


def test_log_lines_are_what_a_terminal_shows(tmp_path, monkeypatch):
    log = tmp_path / "train.log"
    log.write_bytes(b"banner\n\r  0%|   | 0/60 [00:00<?]\r  2%|   | 1/60 [00:01<01:00]\r" + b" " * 10 +
                    b"\r{'loss': 2.1, 'epoch': 0.02}\n\r  3%|   | 2/60 [00:02<")
    reader = runs.LogLines(log)
    assert reader.refresh() == ["banner", "2%|   | 1/60 [00:01<01:00]", "{'loss': 2.1, 'epoch': 0.02}"]
    with open(log, "ab") as handle:
        handle.write(b"00:58]\n")
    assert reader.refresh() == ["3%|   | 2/60 [00:02<00:58]"]
    metrics = metrics_of(reader.lines)
    assert (metrics.step, metrics.total_steps, len(metrics.loss)) == (2, 60, 1)
    monkeypatch.setattr(runs, "BLOCK", 5)  # read in blocks smaller than a line: the same lines
    small = runs.LogLines(log)
    small.refresh()
    assert small.lines == reader.lines and small.position == reader.position
    log.write_bytes(b"relaunched\n")  # truncated by a relaunch: read again from the start
    assert reader.refresh() == ["relaunched"] and reader.lines == ["relaunched"]


def test_store_keeps_local_runs_per_profile(tmp_path, store):
    store.record_local_run("gpu", "a", tmp_path / "a", recipe="sft-alpaca", pid=12, start_ticks=34,
                           started_at="2026-01-01T00:00:00")
    store.record_local_run("gpu", "a", tmp_path / "a", recipe="sft-alpaca", pid=56, start_ticks=78)
    store.record_local_run("other", "b", tmp_path / "b")
    (record,) = store.local_runs("gpu")
    assert (record.name, record.pid, record.start_ticks) == ("a", 56, 78)
    store.forget_local_run("gpu", "a")
    assert store.local_runs("gpu") == [] and [r.name for r in store.local_runs("other")] == ["b"]


async def test_demo_seeds_a_finished_run_and_one_training_live_and_stops_them(tmp_path, store, groups):
    from bailian_tui.core.providers.local import seed_demo, stop_all

    p = provider(tmp_path, store, groups)
    jobs = await seed_demo(p, DATASETS)
    assert [j.job_id for j in jobs] == ["alpaca-lora", "medical-lora"]
    assert (await finished(p, "alpaca-lora")).status is JobStatus.SUCCEEDED
    live = await p.get_job("medical-lora")
    assert live.status is JobStatus.RUNNING and live.training_type == "sft-chatml" and live.validation_file_ids
    stop_all(p)
    gone = await finished(p, "medical-lora")
    assert gone.status is JobStatus.FAILED  # killed outright: the demo's runs never outlive the demo


async def test_the_new_local_run_form_checks_fields_and_starts_a_run(tmp_path, store, groups):
    from textual.app import App
    from textual.widgets import Input, Select, Static

    from bailian_tui.tui.screens.local_run import LocalRunScreen

    p = provider(tmp_path, store, groups)
    created = []

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(LocalRunScreen(p, DATASETS, on_created=created.append))

    app = Host()
    async with app.run_test(size=(140, 50)) as pilot:
        screen = app.screen
        assert isinstance(screen, LocalRunScreen)
        screen.query_one("#local-recipe", Select).value = "sft-alpaca"
        await pilot.pause()
        assert screen.query_one("#local-data", Input).value == str(DATASETS / "Alpaca/alpaca_zh_demo.json")
        assert screen.query_one("#lf-max_steps", Input).value == "60"  # the course's default, beside its note
        screen.query_one("#lf-lora_r", Input).value = "sixteen"
        screen.query_one("#lf-max_steps", Input).value = "6"
        await pilot.pause()
        assert "lora_r: expected a whole number" in str(screen.query_one("#local-problems", Static).render())
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert created == [] and not (tmp_path / "runs").exists()  # nothing written with a bad field
        screen.query_one("#lf-lora_r", Input).value = "8"
        screen.query_one("#local-name", Input).value = "from-form"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert [j.job_id for j in created] == ["from-form"]
    job = await finished(p, "from-form")
    assert job.status is JobStatus.SUCCEEDED and job.hyper_parameters["lora_r"] == 8
    config = json.loads((tmp_path / "runs/from-form/config.json").read_text())
    assert (config["max_steps"], config["lora_r"], config["recipe"]) == (6, 8, "sft-alpaca")


async def test_export_is_a_run_of_its_own_and_several_gpus_go_through_accelerate(tmp_path, store, groups):
    p = provider(tmp_path, store, groups)
    await p.create_job(JobRequest(model="m", training_file_ids=[str(ALPACA)], training_type="sft-alpaca",
                                  hyper_parameters={"max_steps": 3}, job_name="tiny"))
    await finished(p, "tiny")
    p._train_command = lambda folder: [sys.executable, "-u", str(TRAINER), "--steps", "5", "--pace", "0",
                                       "--fail-at", "2"]
    await p.create_job(JobRequest(model="m", training_file_ids=[str(ALPACA)], training_type="sft-alpaca",
                                  job_name="broken"))
    assert (await finished(p, "broken")).status is JobStatus.FAILED
    with pytest.raises(ProviderError, match="no finished adapter"):
        await p.export_model("broken", "gguf_q4_k_m")
    job = await p.export_model("tiny", "gguf_q4_k_m")
    groups.append(job.raw["pid"])
    assert job.job_id == "tiny-export-gguf_q4_k_m"
    assert (await finished(p, job.job_id)).status is JobStatus.SUCCEEDED
    with pytest.raises(ProviderError, match="already started"):
        await p.export_model("tiny", "gguf_q4_k_m")
    with pytest.raises(ProviderError, match="unknown export format"):
        await p.export_model("tiny", "gguf_q2")
    real = LocalProvider(ProviderInfo("gpu", "local", "gpu box", None), python="/envs/unsloth/bin/python",
                         runs_dir=tmp_path / "runs", store=store, gpus=2)
    body = real.request_body(JobRequest(model="m", training_file_ids=[str(ALPACA)], training_type="sft-alpaca"))
    assert body["command"].startswith("/envs/unsloth/bin/python -m accelerate.commands.launch --num_processes=2 ")
    torchrun = LocalProvider(ProviderInfo("gpu", "local", "gpu box", None), python="/envs/unsloth/bin/python",
                             runs_dir=tmp_path / "runs", store=store, gpus=4, launcher="torchrun")
    assert "-m torch.distributed.run --nproc_per_node=4" in torchrun.request_body(
        JobRequest(model="m", training_file_ids=[str(ALPACA)], training_type="grpo-gsm8k"))["command"]


async def test_a_run_gets_no_cloud_keys_and_a_cancelled_adopted_run_reads_canceled(tmp_path, store, groups,
                                                                                    monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-should-not-reach-the-run")
    monkeypatch.setenv("XPULINK_API_KEY", "sk-nor-this")
    monkeypatch.setenv("HF_TOKEN", "hf_kept")
    p = provider(tmp_path, store, groups)
    p._train_command = lambda folder: [sys.executable, "-c", "import os; print(sorted(k for k in os.environ "
                                       "if k.endswith(('_API_KEY', '_TOKEN'))))"]
    await p.create_job(JobRequest(model="m", training_file_ids=[str(ALPACA)], training_type="sft-alpaca",
                                  job_name="env"))
    await finished(p, "env")
    assert (tmp_path / "runs/env/train.log").read_text().strip() == "['HF_TOKEN']"

    out = tmp_path / "by-hand"
    out.mkdir()
    log = out / "train.log"
    with open(log, "wb") as handle:
        by_hand = subprocess.Popen([sys.executable, "-u", str(TRAINER), "--steps", "9", "--pace", "0",
                                    "--output-dir", str(out), "--hold-at", "2", "--hold-file", str(tmp_path / "no")],
                                   stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    groups.append(by_hand.pid)

    async def at_hold():
        return "| 2/9 [" in log.read_text()
    await until(at_hold)
    await p.adopt_run(log, "adopted")
    await p.cancel_job("adopted")
    # Waited off the event loop: the provider's SIGTERM escalation (when SIGINT is ignored, as it is for a
    # run started from a background shell) is a task on this loop.
    await asyncio.to_thread(by_hand.wait, 30)
    assert (await finished(p, "adopted")).status is JobStatus.CANCELED


async def test_an_unwritable_runs_folder_is_a_clear_error(tmp_path, store, groups):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the runs folder should be")
    p = LocalProvider(ProviderInfo("gpu", "local", "gpu box", None), python=sys.executable, runs_dir=blocked,
                      store=store, stand_in=True)
    with pytest.raises(ProviderError, match="cannot write the run folder") as err:
        await p.create_job(JobRequest(model="m", training_file_ids=[str(ALPACA)], training_type="sft-alpaca"))
    assert err.value.status == 400 and "writable" in err.value.human()



HOLDER = """
import os, sys, time
leader = os.fork()
if leader == 0:  # the group's leader: ends at once
    os.setpgid(0, 0)
    os._exit(0)
os.setpgid(leader, leader)
member = os.fork()
if member == 0:  # a member of the leader's group: ends when the test says so
    os.setpgid(0, leader)
    sys.stdin.readline()
    os._exit(0)
os.setpgid(member, leader)
print(leader, member, flush=True)
time.sleep(3600)  # never reaps either
"""


def test_a_group_whose_members_have_all_ended_is_not_alive():
    # A run's group outlives its leader while any member runs; members that have ended but wait to be reaped
    # (zombies: a killed trainer re-parented to a PID 1 that reaps lazily) must not keep it "alive" — quitting
    # the demo waited ~2 s for them. A holder process makes a leader and a member of its group, and reaps neither.
    from bailian_tui.core.local import runs

    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, start_new_session=True)
    try:
        leader, member = (int(n) for n in holder.stdout.readline().split())
        assert runs.group_alive(leader, None, "")  # the member runs
        holder.stdin.write("\n")  # the member ends
        holder.stdin.flush()
        deadline = time.monotonic() + 10
        while Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the member never ended"
            time.sleep(0.01)
        assert not runs.group_alive(leader, None, ""), "a group of ended, unreaped processes counted as running"
    finally:
        holder.kill()
        holder.wait()
