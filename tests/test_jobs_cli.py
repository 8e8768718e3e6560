"""Headless job commands against a simulator in another process, as a script would use them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from bailian_tui.core import jobform
from bailian_tui.core.platform import JobRequest
from tests.conftest import DATASETS, ROOT

KEY = "sk-jobs-cli-test-0000"


@pytest.fixture
def sim_env(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    child = subprocess.Popen([sys.executable, "-m", "bailian_tui", "sim", "--port", str(port), "--api-key", KEY,
                              "--speed", "20"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    for _ in range(4):
        child.stdout.readline()
    env = {**os.environ, "DASHSCOPE_HTTP_BASE_URL": f"http://127.0.0.1:{port}/api/v1", "DASHSCOPE_API_KEY": KEY,
           "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "BAILIAN_TUI_STATE_DIR": str(tmp_path / "state")}
    yield env
    child.terminate()
    child.wait(10)


def cli(env, *args, timeout=120):
    return subprocess.run([sys.executable, "-m", "bailian_tui", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=timeout)


def test_list_create_watch(sim_env, tmp_path):
    jobs = json.loads(cli(sim_env, "jobs", "list", "--json").stdout)
    assert len(jobs) == 7 and {j["status"] for j in jobs} >= {"RUNNING", "SUCCEEDED", "FAILED"}
    converted = tmp_path / "train.jsonl"
    assert cli(sim_env, "convert", DATASETS / "MedQA/questions/Mainland/4_options/train.jsonl", converted).returncode == 0
    spec = tmp_path / "job.yaml"
    spec.write_text(f"model: qwen3-8b\ntraining_type: sft\ntraining_files: [{converted}]\n"
                    "hyper_parameters: {n_epochs: 1, batch_size: 8, learning_rate: 1e-5}\n")
    refused = cli(sim_env, "jobs", "create", "--config", spec)
    assert refused.returncode == 1 and "pass --yes" in refused.stderr
    done = cli(sim_env, "jobs", "create", "--config", spec, "--yes", "--json")
    assert done.returncode == 0, done.stderr
    job_id = json.loads(done.stdout)["job_id"]
    assert "estimated cost:" in done.stderr
    listed = json.loads(cli(sim_env, "jobs", "list", "--json").stdout)
    ours = next(j for j in listed if j["job_id"] == job_id)
    assert ours["dataset"] == str(converted)
    again = cli(sim_env, "jobs", "create", "--config", spec, "--yes", "--json")
    assert again.returncode == 0
    watched = cli(sim_env, "jobs", "watch", job_id, timeout=300)
    assert watched.returncode == 0 and f"{job_id} SUCCEEDED" in watched.stdout, watched.stdout[-3000:]


def test_create_refuses_what_the_platform_would_fail(sim_env, tmp_path):
    converted = tmp_path / "train.jsonl"
    cli(sim_env, "convert", DATASETS / "MedQA/questions/Mainland/4_options/dev.jsonl", converted)  # 4 records
    spec = tmp_path / "job.yaml"
    spec.write_text(f"model: qwen3-8b\ntraining_type: cpt\ntraining_files: [{converted}]\n"
                    "hyper_parameters: {batch_size: 8, learning_rate: 0.5}\n")
    done = cli(sim_env, "jobs", "create", "--config", spec, "--yes")
    assert done.returncode == 1
    assert "training_type: qwen3-8b supports" in done.stderr
    assert "learning_rate" in done.stderr and "must be more than batch_size 8" in done.stderr


def test_form_checks_and_previews():
    problems = jobform.check("qwen3-8b", "efficient_sft", {"learning_rate": 1e-6, "lora_rank": 64, "batch_size": 4},
                             train_samples=100)
    fields = {p.field for p in problems}
    assert fields == {"learning_rate", "batch_size"}
    assert not jobform.check("qwen3-8b", "sft", {"n_epochs": 3, "batch_size": 16, "learning_rate": 1e-5},
                             train_samples=100)
    assert {p.field for p in jobform.check("qwen3-8b", "sft", {"lora_rank": 8})} == {"lora_rank"}
    assert jobform.split_counts(100, {"split": 0.8}, False) == (80, 20)
    assert jobform.split_counts(10_000, {}, False) == (9000, 1000)
    request = JobRequest(model="qwen3-8b", training_file_ids=["f1"], hyper_parameters={"n_epochs": 3, "eval_steps": 5})
    line = jobform.command_line(request)
    assert line.startswith("dashscope ft create -m qwen3-8b -t f1 --mode sft -e 3")
    assert "eval_steps" in line.splitlines()[1]
    assert json.loads(jobform.body_json(request))["hyper_parameters"] == {"n_epochs": 3, "eval_steps": 5}
    with pytest.raises(ValueError):
        jobform.coerce("n_epochs", "2.5")
    assert jobform.coerce("learning_rate", "1e-4") == 1e-4 and jobform.coerce("freeze_vit", "false") is False


def test_eval_command(sim_env, tmp_path):
    split = tmp_path / "mainland_4opt_test.jsonl"
    cli(sim_env, "convert", DATASETS / "MedQA/questions/Mainland/4_options/test.jsonl", split)
    done = cli(sim_env, "eval", split, "--model", "qwen3-8b", "--baseline", "qwen-plus", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [m["model"] for m in report["models"]] == ["qwen3-8b", "qwen-plus"]
    assert all(m["answered"] == 12 and 0 <= m["ci95"][0] <= m["accuracy"] <= m["ci95"][1] for m in report["models"])
    human = cli(sim_env, "eval", split, "--model", "qwen3-8b")
    assert "accuracy" in human.stdout and "95% CI" in human.stdout
    bad = cli(sim_env, "eval", DATASETS / "MedQA/questions/Mainland/4_options/test.jsonl", "--model", "qwen3-8b")
    assert bad.returncode == 2 and "convert the split first" in bad.stderr


def test_mixed_training_checks():
    base = {"n_epochs": 1, "batch_size": 8}
    assert not jobform.check("qwen3-8b", "sft", {**base, "data_augmentation": False})
    problems = jobform.check("qwen3-8b", "sft", {**base, "data_augmentation": True, "augmentation_types": "mix_v2",
                                                 "augmentation_ratio": "3.0"})
    assert [p.field for p in problems] == ["augmentation_ratio"]
    assert {p.field for p in jobform.check("qwen3-8b", "dpo_full", {"data_augmentation": True})} >= {
        "data_augmentation"}
