"""An interrupted create is reconciled: kill a real create subprocess during its POST, run it again → exactly one.

The simulator holds the POST (``hold_path``) and says when it arrived (``create_arrived``): the test kills
the client at that moment, then lets the server commit, as a real server would for a request already
received. The second run must find what the first made through the intent it left in the store.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from bailian_tui.core.platform import JobRequest, Platform, RetryPolicy
from tests.conftest import ROOT, TEST_KEY, no_sleep, write_chatml


@pytest.fixture
def env(sim, tmp_path):
    return {**os.environ, "DASHSCOPE_HTTP_BASE_URL": sim.base_url, "DASHSCOPE_API_KEY": TEST_KEY,
            "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "BAILIAN_TUI_STATE_DIR": str(tmp_path / "state")}


def _kill_during_post(sim, argv, env, path, sig) -> None:
    sim.hold_path = path
    sim.create_arrived.clear()
    sim.release.clear()
    child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert sim.create_arrived.wait(60), "the create never reached the server"
        child.send_signal(sig)
        child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode != 0
    sim.hold_path = None
    sim.release.set()  # the server acts on the request it received, the client being gone or not


def _upload(sim, path):
    async def go():
        async with Platform(api_key=TEST_KEY, base_url=sim.base_url, retry=RetryPolicy(), sleep=no_sleep) as p:
            return await p.upload_file(path)
    return asyncio.run(go())


JOBS_CREATE = [sys.executable, "-m", "bailian_tui", "jobs", "create", "--yes", "--json"]  # then the job file (positional)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGHUP])
def test_killed_jobs_create_then_again_bills_one_job(sim, env, tmp_path, sig):
    remote = _upload(sim, write_chatml(tmp_path / "train.jsonl"))
    spec = tmp_path / "job.yaml"
    spec.write_text(f"model: qwen3-8b\ntraining_files: [{remote.file_id}]\n"
                    "hyper_parameters: {n_epochs: 1, batch_size: 8}\n")
    _kill_during_post(sim, [*JOBS_CREATE, spec], env, "/fine-tunes", sig)
    again = subprocess.run([*JOBS_CREATE, spec], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "already made job" in again.stderr
    assert list(sim.state.jobs) == [json.loads(again.stdout)["job_id"]]


def test_killed_upload_then_again_uploads_once(sim, env, tmp_path):
    local = write_chatml(tmp_path / "train.jsonl")
    spec = tmp_path / "job.yaml"
    spec.write_text(f"model: qwen3-8b\ntraining_files: [{local}]\nhyper_parameters: {{n_epochs: 1, batch_size: 8}}\n")
    _kill_during_post(sim, [*JOBS_CREATE, spec], env, "/files", signal.SIGKILL)
    again = subprocess.run([*JOBS_CREATE, spec], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "already made file" in again.stderr
    assert len(sim.state.files) == 1 and len(sim.state.jobs) == 1


DEPLOY = textwrap.dedent("""
    import asyncio, sys
    from bailian_tui.core import config
    from bailian_tui.core.platform import Platform
    from bailian_tui.core.service import Service
    from bailian_tui.core.store import Store

    async def main():
        settings = config.load()
        store = Store(settings.state_dir / "state.db", endpoint=settings.base_url or "default")
        async with Platform.from_settings(settings) as platform:
            created = await Service(platform, store).create_deployment(sys.argv[1], 1)
        print(created.item.deployed_model)
        print(created.message or "", file=sys.stderr)

    asyncio.run(main())
""")


def test_killed_deployment_create_then_again_deploys_once(sim, env, clock, tmp_path):
    remote = _upload(sim, write_chatml(tmp_path / "train.jsonl"))

    async def finished_model():
        async with Platform(api_key=TEST_KEY, base_url=sim.base_url, sleep=no_sleep) as p:
            job = await p.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id],
                                                hyper_parameters={"batch_size": 8}))
            clock.advance(600)
            return (await p.get_job(job.job_id)).finetuned_output
    model = asyncio.run(finished_model())
    argv = [sys.executable, "-c", DEPLOY, model]
    _kill_during_post(sim, argv, env, "/deployments", signal.SIGKILL)
    again = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "already made deployment" in again.stderr
    assert list(sim.state.deployments) == [again.stdout.strip()]
