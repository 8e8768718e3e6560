"""The whole path on two providers, headless, as a user runs it: one MedQA split converted once, a job on
Bailian and one on XPULink (each checked by its own rules), both watched, both models tried and evaluated
against each other — every command a real process with ``--profile`` and ``--json``."""

from __future__ import annotations

import json

import pytest

from tests.cli_helpers import Simulator, free_port, run
from tests.conftest import DATASETS, TEST_KEY

MEDQA = DATASETS / "MedQA/questions/Mainland/4_options"


@pytest.fixture(scope="module")
def sims():
    openai_port = free_port()
    sim = Simulator(TEST_KEY, "--empty", "--openai-port", str(openai_port), speed=200.0)
    sim.openai_url = f"http://127.0.0.1:{openai_port}/v1"
    yield sim
    sim.stop()


@pytest.fixture
def env(sims, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(f"""
providers:
  - name: bailian
    kind: dashscope
    label: Bailian
    base_url: {sims.base_url}
    key_env: BT_BAILIAN_KEY
  - name: xpulink
    kind: openai
    label: XPULink
    base_url: {sims.openai_url}
    key_env: BT_XPULINK_KEY
    hyperparameters_form: hyperparameters
    extra_hyperparameters: [learning_rate, lora_r, lora_alpha, lora_dropout]
    pricing: {{currency: CNY, per_1k_tokens: {{qwen3-32b: 0.04}}}}
default_profile: bailian
""", encoding="utf-8")
    config.chmod(0o600)
    e = sims.env(tmp_path, BT_BAILIAN_KEY=TEST_KEY, BT_XPULINK_KEY=TEST_KEY)
    e.pop("DASHSCOPE_API_KEY"), e.pop("DASHSCOPE_HTTP_BASE_URL")
    e["BT_CONFIG"] = str(config)
    return e


def cli(env, *args, **kw):
    return run(env, "--config", env["BT_CONFIG"], *args, **kw)


def ok_json(done):
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1]) if done.stdout.strip().startswith("{") else json.loads(done.stdout)


def test_config_show_lists_profiles_with_keys_masked(env):
    shown = ok_json(cli(env, "config", "show", "--json"))
    by_name = {p["profile"].split()[0]: p for p in shown["profiles"]}
    assert set(by_name) == {"bailian", "xpulink"} and "(default)" in by_name["bailian"]["profile"]
    assert by_name["xpulink"]["key"].startswith("sk-…") and "$BT_XPULINK_KEY" in by_name["xpulink"]["key"]
    missing = cli({**env, "BT_XPULINK_KEY": ""}, "config", "show")
    assert "missing: set $BT_XPULINK_KEY" in missing.stdout and TEST_KEY not in missing.stdout + missing.stderr
    nokey = cli({**env, "BT_XPULINK_KEY": ""}, "--profile", "xpulink", "jobs", "list")
    assert nokey.returncode == 2 and "set $BT_XPULINK_KEY" in nokey.stderr
    unknown = cli(env, "--profile", "azure", "jobs", "list")
    assert unknown.returncode == 2 and "no profile named 'azure'" in unknown.stderr


def test_one_split_two_providers_watched_tried_and_evaluated(env, tmp_path):
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    assert cli(env, "convert", MEDQA / "train.jsonl", train).returncode == 0
    assert cli(env, "convert", MEDQA / "test.jsonl", test).returncode == 0

    # XPULink: its own rules — a name the profile does not send is refused before anything is billed.
    refused = cli(env, "--profile", "xpulink", "jobs", "create", "--model", "qwen3-32b", "--train", train,
                  "--set", "lora_rank=8", "--yes")
    assert refused.returncode == 1 and "lora_rank" in refused.stderr
    dry = ok_json(cli(env, "--profile", "xpulink", "--json", "jobs", "create", "--model", "qwen3-32b", "--train",
                      train, "--set", "n_epochs=2", "--set", "lora_r=4", "--dry-run"))
    assert dry["request"]["path"] == "/fine_tuning/jobs" and dry["request"]["body"]["hyperparameters"]["lora_r"] == 4
    xpu = ok_json(cli(env, "--profile", "xpulink", "--json", "jobs", "create", "--model", "qwen3-32b",
                      "--train", train, "--set", "n_epochs=2", "--set", "batch_size=2", "--set", "learning_rate=1e-4",
                      "--set", "lora_r=4", "--set", "lora_alpha=8", "--model-name", "medqa", "--yes"))
    bl = ok_json(cli(env, "--profile", "bailian", "--json", "jobs", "create", "--model", "qwen3-8b", "--train", train,
                     "--set", "n_epochs=1", "--set", "batch_size=8", "--set", "learning_rate=1e-5", "--yes"))
    assert xpu["job_id"].startswith("ftjob-") and bl["job_id"].startswith("ft-")
    assert xpu["training_file"] and xpu["metadata"]["bt_request"].startswith("bt-")

    for profile, job in (("xpulink", xpu), ("bailian", bl)):
        watched = cli(env, "--profile", profile, "--json", "jobs", "watch", job["job_id"], "--timeout", "120",
                      timeout=180)
        assert watched.returncode == 0, watched.stderr
        events = [json.loads(line) for line in watched.stdout.splitlines()]
        finished = [e for e in events if e.get("event") == "finished"]
        assert finished and finished[-1]["status"] == "SUCCEEDED", watched.stdout[-500:]
        assert finished[-1]["loss"] is not None  # the loss curve came through (events or log lines)
    xpu_job = ok_json(cli(env, "--profile", "xpulink", "--json", "jobs", "get", xpu["job_id"]))
    bl_job = ok_json(cli(env, "--profile", "bailian", "--json", "jobs", "get", bl["job_id"]))
    assert xpu_job["status"] == bl_job["status"] == "SUCCEEDED"
    listed = ok_json(cli(env, "--profile", "xpulink", "--json", "jobs", "list"))
    assert [j["job_id"] for j in listed] == [xpu["job_id"]] and listed[0]["dataset"] == str(train.resolve())

    # XPULink serves the tuned model directly; Bailian's must be deployed first.
    reply = ok_json(cli(env, "--profile", "xpulink", "--json", "chat", "--model", xpu_job["finetuned_output"],
                        "hello"))
    assert reply["content"]
    deployed = ok_json(cli(env, "--profile", "bailian", "--json", "deployments", "create",
                           bl_job["finetuned_output"], "--plan", "lora", "--wait", "--yes", timeout=180))
    name = deployed["deployed_model"]
    scores = ok_json(cli(env, "--profile", "bailian", "--json", "eval", test, "--model", name, "--baseline",
                         xpu_job["finetuned_output"], "--baseline-profile", "xpulink", timeout=180))
    models = {s["model"]: s for s in scores["models"]}
    assert set(models) == {name, xpu_job["finetuned_output"]}
    assert all(s["answered"] == 12 for s in models.values())
