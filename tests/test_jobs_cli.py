"""Job request checks, and the eval command against a simulator in another process.

The jobs commands themselves (list, create, watch…) are exercised in tests/test_cli.py."""

from __future__ import annotations

import json
import os

import pytest

from bailian_tui.core import jobform
from bailian_tui.core.platform import JobRequest
from tests.cli_helpers import Simulator, run
from tests.conftest import DATASETS

KEY = "sk-jobs-cli-test-0000"


@pytest.fixture(scope="module")
def sim():
    server = Simulator(KEY, speed=20)
    yield server
    server.stop()


@pytest.fixture
def sim_env(sim, tmp_path):
    return sim.env(tmp_path)


def cli(env, *args, timeout=120):
    return run(env, *args, timeout=timeout)


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


def test_pause_and_resume_a_running_xpulink_job(clock, tmp_path):
    """`jobs pause` / `jobs resume` on a running job of an OpenAI-compatible profile, as a user runs them (a real
    process, to a pipe), against the simulator whose clock the test moves: the job is paused on the service and
    then running again, each command says so in words and in --json, and exits 0. A second pause of a paused
    job is refused with the service's reason (a 400: exit 2, docs/cli.md). Without --yes in a pipe nothing is sent (exit 2)."""
    from openai import OpenAI

    from bailian_tui.simulator.openai_server import OpenAISimServer
    from bailian_tui.simulator.openai_state import OpenAIState
    from tests.conftest import TEST_KEY
    from tests.test_openai_sim import openai_chat

    with OpenAISimServer(OpenAIState(clock, api_key=TEST_KEY), stream_delay=0.0) as server:
        client = OpenAI(base_url=server.base_url, api_key=TEST_KEY, max_retries=0)
        uploaded = client.files.create(file=openai_chat(tmp_path / "t.jsonl"), purpose="fine-tune")
        job_id = client.fine_tuning.jobs.create(model="qwen3-32b", training_file=uploaded.id).id
        clock.advance(6)

        def status() -> str:  # as the service reports it (it moves its jobs on when asked)
            return client.fine_tuning.jobs.retrieve(job_id).status

        assert status() == "running"
        config = tmp_path / "config.yaml"
        config.write_text(f"providers:\n  - name: xpulink\n    kind: openai\n    label: XPULink\n"
                          f"    base_url: {server.base_url}\n    key_env: BT_XPULINK_KEY\ndefault_profile: xpulink\n",
                          encoding="utf-8")
        config.chmod(0o600)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE_", "BAILIAN_TUI_", "OPENAI_"))}
        env.update(BT_XPULINK_KEY=TEST_KEY, XDG_CONFIG_HOME=str(tmp_path / "cfg"),
                   BAILIAN_TUI_STATE_DIR=str(tmp_path / "state"), COLUMNS="200")

        def bt(*args):
            done = run(env, "--config", config, "--profile", "xpulink", *args, timeout=60)
            assert TEST_KEY not in done.stdout + done.stderr
            return done

        unconfirmed = bt("jobs", "pause", job_id)
        assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
        assert status() == "running"

        paused = bt("jobs", "pause", job_id, "--yes")
        assert paused.returncode == 0, paused.stderr
        assert paused.stdout.strip() == f"{job_id} PAUSED"
        assert status() == "paused"

        again = bt("jobs", "pause", job_id, "--yes")
        assert again.returncode == 2 and "Only running jobs can be paused" in again.stderr and not again.stdout
        assert status() == "paused"

        resumed = bt("--json", "jobs", "resume", job_id, "--yes")
        assert resumed.returncode == 0, resumed.stderr
        shown = json.loads(resumed.stdout)
        assert shown["job_id"] == job_id and shown["status"] == "RUNNING"
        assert status() == "running"

        paused = bt("--json", "jobs", "pause", job_id, "--yes")
        assert paused.returncode == 0 and json.loads(paused.stdout)["status"] == "PAUSED"
        assert status() == "paused"
        resumed = bt("jobs", "resume", job_id, "--yes")
        assert resumed.returncode == 0 and resumed.stdout.strip() == f"{job_id} RUNNING"
        assert status() == "running"
        client.close()
