"""``bailian-tui local …`` and ``jobs … --profile LOCAL`` as a user runs them: real subprocesses, real runs
(the stand-in trainer), exit codes and messages. Runs the CLI started are killed in teardown."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from bailian_tui.core.local import runs
from tests.cli_helpers import run
from tests.conftest import DATASETS

ALPACA = DATASETS / "Alpaca/alpaca_en_demo.json"


@pytest.fixture
def env(tmp_path):
    (tmp_path / "cfg/bailian-tui").mkdir(parents=True)
    (tmp_path / "cfg/bailian-tui/config.yaml").write_text(
        "providers:\n  - name: bailian\n    kind: dashscope\n"
        f"  - name: gpu\n    kind: local\n    stand_in: true\n    runs_dir: {tmp_path / 'runs'}\n", encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE_", "BAILIAN_TUI_"))}
    environment.update({"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "BAILIAN_TUI_STATE_DIR": str(tmp_path / "state"),
                        "COLUMNS": "200"})
    yield environment
    for info in filter(None, (runs.RunInfo.read(p) for p in (tmp_path / "runs").glob("*"))):
        if info.pid <= 0 or info.adopted:  # killpg(0) would be our own group
            continue
        try:
            os.killpg(info.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_new_run_followed_to_the_end_then_listed(env, tmp_path):
    done = run(env, "local", "new", "sft-alpaca", ALPACA, "--name", "a1", "--set", "max_steps=5")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("a1  ") and str(tmp_path / "runs/a1") in done.stdout
    follow = run(env, "local", "logs", "a1", "-f")
    assert follow.returncode == 0 and "'train_runtime'" in follow.stdout and "a1: SUCCEEDED" in follow.stderr
    listed = json.loads(run(env, "local", "list", "--json").stdout)
    assert [(r["name"], r["status"], r["progress"]) for r in listed] == [("a1", "SUCCEEDED", "100%")]
    jobs = run(env, "jobs", "list", "--profile", "gpu")  # the generic job commands see local runs too
    assert jobs.returncode == 0 and "a1\tSUCCEEDED" in jobs.stdout
    checkpoints = run(env, "jobs", "checkpoints", "a1", "--profile", "gpu")
    assert checkpoints.returncode == 0 and "checkpoint-5" in checkpoints.stdout
    again = run(env, "local", "cancel", "a1", "--yes")
    assert again.returncode == 1 and "a1 is not running (SUCCEEDED)" in again.stderr


def test_jobs_create_on_a_local_profile_takes_a_recipe(env, tmp_path):
    dry = run(env, "jobs", "create", "--profile", "gpu", "--train", DATASETS / "GSM8K/train.jsonl",
              "--training-type", "grpo-gsm8k", "--set", "max_steps=3", "--dry-run")
    assert dry.returncode == 0 and json.loads(dry.stdout)["num_generations"] == 6
    assert not (tmp_path / "runs").exists()
    made = run(env, "jobs", "create", "--profile", "gpu", "--train", DATASETS / "GSM8K/train.jsonl",
               "--training-type", "grpo-gsm8k", "--job-name", "g1", "--set", "max_steps=3", "--yes")
    assert made.returncode == 0 and made.stdout.startswith("g1  "), made.stderr
    assert (tmp_path / "runs/g1/train.py").is_file()


def test_bad_input_says_what_and_exits_2(env, tmp_path):
    bad = run(env, "local", "new", "sft-alpaca", ALPACA, "--set", "lora_r=x", "--set", "foo=1")
    assert bad.returncode == 2 and "--set lora_r: expected a whole number" in bad.stderr and "--set foo" in bad.stderr
    wrong = run(env, "local", "new", "sft-alpaca", DATASETS / "GSM8K/train.jsonl")
    assert wrong.returncode == 2 and "train.jsonl:1" in wrong.stderr and "Traceback" not in wrong.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    missing = run(env, "local", "adopt", tmp_path / "nowhere")
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr
    unknown = run(env, "local", "recipes", "dpo")
    assert unknown.returncode == 2 and "unknown recipe 'dpo'" in unknown.stderr
    no_profile = run({**env, "XDG_CONFIG_HOME": str(tmp_path / "none")}, "local", "list")
    assert no_profile.returncode == 2 and "kind: local" in no_profile.stderr


def test_environment_check_exits_1_and_names_what_is_missing(env):
    checked = run(env, "local", "check", "--recipe", "vl-sft", "--json")
    report = json.loads(checked.stdout)
    assert checked.returncode == 1 and not report["ready"]
    assert {"unsloth", "torch", "PIL"} <= set(report["missing"]) and report["packages"]["transformers"]


def test_adopting_a_finished_output_folder(env, tmp_path):
    import subprocess
    import sys

    from bailian_tui.core.providers.local import stand_in_script

    out = tmp_path / "outputs"
    subprocess.run([sys.executable, str(stand_in_script()), "--steps", "4", "--pace", "0", "--output-dir", str(out)],
                   check=True, capture_output=True, timeout=60)
    adopted = run(env, "local", "adopt", out, "--name", "by-hand", "--json")
    assert adopted.returncode == 0 and json.loads(adopted.stdout)["status"] == "SUCCEEDED"
    logs = run(env, "local", "logs", "by-hand")
    assert logs.stdout.count("'loss'") == 4


def test_demo_shows_a_finished_run_and_a_live_one_and_leaves_nothing_running(env, tmp_path):
    listed = run(env, "--demo", "local", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert set(rows) == {"alpaca-lora", "medical-lora"} and rows["medical-lora"]["status"] == "RUNNING"
    demo_runs = tmp_path / "state/demo/runs"
    deadline = time.monotonic() + 10
    infos = [runs.RunInfo.read(p) for p in demo_runs.iterdir()]
    while any(runs.group_alive(i.pid, i.start_ticks, i.boot_id) for i in infos):
        assert time.monotonic() < deadline, "a demo run outlived the command"
        time.sleep(0.05)
