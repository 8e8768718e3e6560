"""Fidelity: the official `dashscope` CLI and the 1.x Python API work against the simulator unchanged."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY, write_chatml


def _dashscope_cli() -> str:
    beside = Path(sys.executable).with_name("dashscope")
    found = str(beside) if beside.exists() else shutil.which("dashscope")
    if not found:
        pytest.fail("the dashscope console script is not installed (pip install -e '.[test]')")
    return found


@pytest.fixture
def cli(sim, tmp_path):
    sim.state.config.pending_seconds = 0  # the CLI polls every 30 s: a job must be RUNNING at once
    sim.state.config.deploy_seconds = 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
    env.update(DASHSCOPE_HTTP_BASE_URL=sim.base_url, DASHSCOPE_API_KEY=TEST_KEY, COLUMNS="200",
               HOME=str(tmp_path), NO_COLOR="1")
    exe = _dashscope_cli()

    def run(*args: str, ok: bool = True) -> str:
        done = subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=60)
        output = done.stdout + done.stderr
        assert TEST_KEY not in output
        if ok:
            assert done.returncode == 0, f"dashscope {' '.join(args)} exited {done.returncode}:\n{output}"
        return output

    return run


def test_cli_files(cli, sim, tmp_path):
    path = write_chatml(tmp_path / "train.jsonl")
    out = cli("files", "upload", "-f", str(path), "-d", "medqa train")
    (file_id,) = list(sim.state.files)
    assert file_id in out
    assert sim.state.files[file_id].description == "medqa train"
    assert file_id in cli("files", "list", "-p", "1", "-s", "5")
    assert "train.jsonl" in cli("files", "get", file_id)
    cli("files", "delete", file_id)
    assert sim.state.files == {}


def test_cli_fine_tunes(cli, sim, clock, tmp_path):
    path = write_chatml(tmp_path / "train.jsonl")
    cli("files", "upload", "-f", str(path))
    (file_id,) = list(sim.state.files)
    out = cli("ft", "create", "-t", file_id, "-m", "qwen3-8b", "--mode", "sft", "-e", "3", "-b", "8", "-l", "1e-5")
    (job_id,) = list(sim.state.jobs)
    assert job_id in out and "RUNNING" in out
    job = sim.state.jobs[job_id]
    assert job.hyper_parameters == {"n_epochs": 3, "batch_size": 8, "learning_rate": 1e-05}
    assert "RUNNING" in cli("ft", "get", job_id)
    assert job_id in cli("ft", "list", "-s", "5")
    cli("ft", "cancel", job_id)
    clock.advance(10)
    assert "canceled" in cli("ft", "get", job_id).lower()
    cli("ft", "delete", job_id)
    assert sim.state.jobs == {}


def test_cli_deployments(cli, sim, clock, tmp_path):
    path = write_chatml(tmp_path / "train.jsonl")
    cli("files", "upload", "-f", str(path))
    (file_id,) = list(sim.state.files)
    cli("ft", "create", "-t", file_id, "-m", "qwen3-8b", "-b", "8")
    clock.advance(300)
    (job_id,) = list(sim.state.jobs)
    model = sim.state.jobs[job_id].finetuned_output
    out = cli("deployments", "create", "-m", model, "--plan", "lora", "-s", "v1", "-c", "1")
    deployed = f"{model}-v1"
    assert deployed in out and deployed in sim.state.deployments
    assert "RUNNING" in cli("deployments", "get", deployed)
    cli("deployments", "list")  # 2.0.2 prints "no deployed model" whatever it gets (reference §5.3)
    out = cli("deployments", "scale", deployed, "-c", "2")
    assert "UPDATING" in out
    clock.advance(30)
    assert sim.state.deployment(deployed).capacity == 2
    cli("deployments", "delete", deployed)
    clock.advance(30)
    assert sim.state.all_deployments() == []


def test_cli_reports_a_bad_key_with_its_exit_code(cli, sim):
    sim.state.api_key = "sk-another-key-0000"
    out = cli("files", "list", ok=False)
    assert "InvalidApiKey" in out or "401" in out


def test_one_x_python_api(sim, clock, tmp_path, monkeypatch):
    """dashscope.Files / FineTunes / Deployments (1.x), configured the way their docs say."""
    import dashscope

    monkeypatch.setattr(dashscope, "base_http_api_url", sim.base_url)
    monkeypatch.setattr(dashscope, "api_key", TEST_KEY)
    path = write_chatml(tmp_path / "train.jsonl")
    upload = dashscope.Files.upload(file_path=str(path), purpose="fine_tune", description="d")
    assert upload.status_code == 200
    file_id = upload.output["uploaded_files"][0]["file_id"]
    listed = dashscope.Files.list(page=1, page_size=10)
    assert listed.status_code == 200 and listed.output["files"][0]["file_id"] == file_id
    assert dashscope.Files.get(file_id).output["name"] == "train.jsonl"

    created = dashscope.FineTunes.call(model="qwen3-8b", training_file_ids=[file_id],
                                       hyper_parameters={"n_epochs": 3, "batch_size": 8})
    assert created.status_code == 200
    job_id = created.output["job_id"]
    clock.advance(300)
    got = dashscope.FineTunes.get(job_id)
    assert got.output["status"] == "SUCCEEDED"
    jobs = dashscope.FineTunes.list(page_no=1, page_size=10)
    assert jobs.output["jobs"][0]["job_id"] == job_id
    logs = dashscope.FineTunes.logs(job_id, offset=0, line=1000)
    assert logs.output["logs"][-1].endswith("##FT_COMPLETE##")
    events = list(dashscope.FineTunes.stream_events(job_id))
    assert events and events[-1].output.endswith("##FT_COMPLETE##")

    model = got.output["finetuned_output"]
    deployed = dashscope.Deployments.call(model=model, capacity=1, plan="lora")
    assert deployed.status_code == 200
    name = deployed.output["deployed_model"]
    clock.advance(60)
    assert dashscope.Deployments.get(name).output["status"] == "RUNNING"
    assert dashscope.Deployments.list().output["deployments"][0]["deployed_model"] == name
    assert dashscope.Deployments.scale(name, capacity=2).status_code == 200
    assert dashscope.Deployments.delete(name).status_code == 200
    assert dashscope.FineTunes.delete(job_id).status_code == 200
    assert dashscope.Files.delete(file_id).status_code == 200
