"""An interrupted create is reconciled: kill a real create subprocess during its POST, run it again → exactly one.

The simulator holds the POST (``hold_path``) and says when it arrived (``create_arrived``): the test kills
the client at that moment, then lets the server commit, as a real server would for a request already
received. The second run must find what the first made through the intent it left in the store.

These run the console entry point itself (``python -m bailian_tui``), once per case; the same kills repeated
50 times per mode (job / upload / deployment × SIGKILL / SIGHUP × server commits / loses the request) run
through a zygote that forks the CLI (tests/test_interrupted_many.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

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


def test_killed_deployment_create_then_again_deploys_once(sim, env, clock, tmp_path):
    remote = _upload(sim, write_chatml(tmp_path / "train.jsonl"))

    async def finished_model():
        async with Platform(api_key=TEST_KEY, base_url=sim.base_url, sleep=no_sleep) as p:
            job = await p.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id],
                                                hyper_parameters={"batch_size": 8}))
            clock.advance(600)
            return (await p.get_job(job.job_id)).finetuned_output
    model = asyncio.run(finished_model())
    argv = [sys.executable, "-m", "bailian_tui", "deployments", "create", model, "--yes", "--json"]
    _kill_during_post(sim, argv, env, "/deployments", signal.SIGKILL)
    again = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "already made deployment" in again.stderr
    assert list(sim.state.deployments) == [json.loads(again.stdout)["deployed_model"]]


def _cli(*args, confirm=True):
    return [sys.executable, "-m", "bailian_tui", *map(str, args), *(["--yes"] if confirm else []), "--json"]


@pytest.mark.parametrize("what", ["deployment", "file", "job"])
def test_a_create_whose_outcome_is_unknown_then_again_makes_one(sim, env, clock, tmp_path, what):
    """A gateway answers 504 and the backend commits later than the command looks: the outcome is unknown —
    exit 1, what to check, nothing re-sent. Once it has landed, the same command finds it through the intent
    the first run left: one deployment (file, job), not two."""
    config = tmp_path / "cfg" / "bailian-tui" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("dashscope:\n  reconcile_window: 0.5\n")  # look for it briefly (the default is 60 s)
    if what == "deployment":
        argv, listing, made = _cli("deployments", "create", "qwen3-8b"), "deployments list", sim.state.deployments
    elif what == "file":
        argv = _cli("files", "upload", write_chatml(tmp_path / "t.jsonl"), confirm=False)
        listing, made = "files list", sim.state.files
    else:
        remote = _upload(sim, write_chatml(tmp_path / "t.jsonl"))
        spec = tmp_path / "job.yaml"
        spec.write_text(f"model: qwen3-8b\ntraining_files: [{remote.file_id}]\n"
                        "hyper_parameters: {n_epochs: 1, batch_size: 8}\n")
        argv, listing, made = _cli("jobs", "create", spec), "jobs list", sim.state.jobs
    sim.state.config.late_commit, sim.state.config.late_commits = 30.0, 1
    first = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 1, first.stderr
    assert "Traceback" not in first.stderr
    assert "outcome is unknown" in first.stderr and f"(bailian-tui {listing})" in first.stderr
    assert "the same command run again looks for it first" in first.stderr
    assert json.loads(first.stdout)["outcome"] == "unknown"
    assert len(made) == 0 and sim.late_pending == 1
    clock.advance(30)  # the backend commits what it had received
    again = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"already made {what}" in again.stderr
    out = json.loads(again.stdout)
    ident = out[0]["file_id"] if what == "file" else out.get("deployed_model") or out.get("job_id")
    assert list(made) == [ident]
