"""The headless CLI as scripts and terminals use it: subprocesses against one simulator per module,
to pipes and to an 80-column pseudo-terminal (docs/cli.md)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.cli_helpers import Simulator, free_port, run, run_pty, screen_lines
from tests.conftest import DATASETS, ROOT

KEY = "sk-cli-test-0000"
MAINLAND = DATASETS / "MedQA/questions/Mainland/4_options"


@pytest.fixture(scope="module")
def sim():
    server = Simulator(KEY, speed=50)
    yield server
    server.stop()


@pytest.fixture
def env(sim, tmp_path):
    return sim.env(tmp_path)


@pytest.fixture(scope="module")
def train_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "train.jsonl"
    done = run({**os.environ, "XDG_CONFIG_HOME": "/nonexistent"}, "convert", MAINLAND / "train.jsonl", out)
    assert done.returncode == 0, done.stderr
    return out


def jobs(env, *args) -> list[dict]:
    done = run(env, "jobs", "list", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# -- one parser, global options anywhere -----------------------------------------------------------------

def test_global_options_before_or_after_the_command(env, tmp_path):
    config = tmp_path / "cfg.yaml"
    config.write_text("validation:\n  max_length: 4096\n")
    before = run(env, "--config", config, "--json", "config", "show")
    after = run(env, "config", "show", "--config", config, "--json")
    assert before.returncode == after.returncode == 0, before.stderr + after.stderr
    assert json.loads(before.stdout) == json.loads(after.stdout)
    assert json.loads(before.stdout)["settings"]["validation.max_length"]["value"] == 4096
    assert run(env, "--profile", "bailian", "capability", "--json").returncode == 0  # the implicit profile
    unknown = run(env, "capability", "--profile", "work")
    assert unknown.returncode == 2 and "no profile named 'work'" in unknown.stderr
    usage = run(env, "jobs", "get")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    missing = run(env, "no/such/dataset")
    assert missing.returncode == 2 and "no such file or directory" in missing.stderr


def test_opening_the_app_parses_as_the_full_parser_does():
    """`bailian-tui [options] [PATH]` skips building every command's parser: same names, same arguments."""
    from bailian_tui.cli.app import COMMANDS, build_parser, commands, parse

    assert COMMANDS == commands(build_parser())
    cases = [([], []), (["--demo"], []), (["--demo"], ["datasets/"]), (["--json", "--config", "c.yaml"], ["x.jsonl"]),
             (["--profile", "xpulink", "--demo", "-q"], ["big.jsonl"])]
    for options, path in cases:
        fast = vars(parse(options + path))
        full = vars(build_parser().parse_args(options + (["open", *path] if path else [])))
        full.pop("func", None)  # without a command the full parser names none: parse() makes it the app
        assert fast.pop("func").__name__ == "_open_app"
        assert fast == full | {"path": path[0] if path else None}, (options, path)
    assert parse(["jobs", "list"]).func.__name__ != "_open_app"  # a command still goes through the full parser


def test_help_has_examples_and_exit_codes(env):
    top = run(env, "--help")
    assert top.returncode == 0 and "exit codes: 0 ok" in top.stdout and "examples:" in top.stdout
    for command in (["jobs", "create"], ["jobs", "watch"], ["files", "upload"], ["deployments", "create"], ["chat"]):
        done = run(env, *command, "--help")
        assert done.returncode == 0 and "examples:" in done.stdout and "--json" in done.stdout, command


def test_no_key_fails_at_once_with_both_ways_on(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
    # A base URL nobody listens on: had the command tried the network (with retries) it would take long.
    env.update(XDG_CONFIG_HOME=str(tmp_path / "cfg"), BAILIAN_TUI_STATE_DIR=str(tmp_path / "state"),
               DASHSCOPE_HTTP_BASE_URL=f"http://127.0.0.1:{free_port()}/api/v1")
    for command in (["jobs", "list"], ["files", "upload", __file__], ["chat", "--model", "m", "hi"],
                    ["deployments", "list", "--json"]):
        started = time.monotonic()
        done = run(env, *command)
        assert done.returncode == 2, (command, done.stderr)
        assert "DASHSCOPE_API_KEY" in done.stderr and "api_key" in done.stderr and "--demo" in done.stderr
        assert "Traceback" not in done.stderr and time.monotonic() - started < 10


def test_demo_works_headless_and_leaves_nothing_running(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "cfg"), BAILIAN_TUI_STATE_DIR=str(tmp_path / "state"))
    first = run(env, "--demo", "jobs", "list", "--json")
    second = run(env, "jobs", "list", "--demo", "--json")
    assert first.returncode == second.returncode == 0, first.stderr
    listed = json.loads(first.stdout)
    # Both runs replay the same seeded demo (ids carry the minute they were made: compare their tails).
    assert len(listed) == 7
    assert {j["job_id"][-4:] for j in listed} == {j["job_id"][-4:] for j in json.loads(second.stdout)}
    # The demo simulator lives in the command's own process: when it exits, nothing is left listening.
    for _attempt in range(2):  # an id made in another minute than this demo's differs: list again then
        job_id = json.loads(run(env, "--demo", "jobs", "list", "--json").stdout)[0]["job_id"]
        child = subprocess.Popen([sys.executable, "-m", "bailian_tui", "--demo", "jobs", "watch", job_id, "--json"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)
        first = json.loads(child.stdout.readline())
        if first["event"] != "error":
            break
        child.wait(20)
        child.stdout.close()
    assert first["job_id"] == job_id
    child.send_signal(signal.SIGTERM)
    assert child.wait(20) == 143
    child.stdout.close()


# -- pipes -----------------------------------------------------------------------------------------------

def test_tables_in_a_pipe_are_tab_separated_with_a_header(env):
    done = run(env, "jobs", "list")
    lines = done.stdout.splitlines()
    assert lines[0].split("\t") == ["job id", "status", "model", "type", "created", "fine-tuned model", "dataset"]
    assert len(lines) == len(jobs(env)) + 1 and all(len(line.split("\t")) == 7 for line in lines)
    assert "\x1b[" not in done.stdout
    succeeded = run(env, "jobs", "list", "--status", "succeeded").stdout.splitlines()
    assert len(succeeded) >= 3 and all(line.split("\t")[1] == "SUCCEEDED" for line in succeeded[1:])


def test_validate_diagnostics_are_one_line_each_in_a_pipe(env, tmp_path):
    bad = tmp_path / "bad.jsonl"
    long_text = "a very long user turn " * 20
    bad.write_text("\n".join([json.dumps({"messages": [{"role": "user", "content": long_text}]}),
                              json.dumps({"messages": [{"role": "bot", "content": long_text}]}), "{oops"]) + "\n")
    done = run({**env, "COLUMNS": "80"}, "validate", bad)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines and all(re.match(rf"^{re.escape(str(bad))}(:\d+)?: (error|warning|info): \S", line) for line in lines)
    assert any(line.startswith(f"{bad}:3: error:") for line in lines)
    assert "invalid" in done.stderr  # the verdict is for people: stderr


def test_broken_pipe_ends_quietly(tmp_path):
    bad = tmp_path / "many.jsonl"
    bad.write_text("{oops\n" * 20000)
    shell = f"{sys.executable} -m bailian_tui validate --all {bad} | head -1; echo \"status ${{PIPESTATUS[0]}}\" >&2"
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path)})
    assert done.stdout.count("\n") == 1 and ":1: error:" in done.stdout
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
    assert re.search(r"status (0|141)\b", done.stderr), done.stderr


def test_watch_into_a_pipe_prints_events_as_they_happen(env, sim, train_file):
    created = run(env, "jobs", "create", "--model", "qwen3-8b", "--train", train_file, "--set", "n_epochs=6",
                  "--set", "batch_size=8", "--set", "logging_steps=1", "--set", "eval_steps=2", "--yes", "--json")
    assert created.returncode == 0, created.stderr
    job_id = json.loads(created.stdout)["job_id"]
    child = subprocess.Popen([sys.executable, "-m", "bailian_tui", "jobs", "watch", job_id, "--json", "--every", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    events = []
    try:
        for line in child.stdout:  # read while the command runs: each event arrives when it happens
            events.append(json.loads(line))
            if events[-1]["event"] == "progress" and child.poll() is None:
                assert events[-1]["step"] >= 1
        assert child.wait(120) == 0, child.stderr.read()
    finally:
        child.kill() if child.poll() is None else None
        child.stdout.close()
        child.stderr.close()
    kinds = [e["event"] for e in events]
    assert "progress" in kinds and "eval" in kinds and kinds[-1] == "finished"
    assert events[-1]["status"] == "SUCCEEDED" and events[-1]["finetuned_output"].endswith(job_id[3:])
    steps = [e["step"] for e in events if e["event"] == "progress"]
    assert steps == sorted(steps) and all(e["job_id"] == job_id for e in events)
    text = run(env, "jobs", "watch", job_id)
    assert text.returncode == 0 and f"{job_id} SUCCEEDED → qwen3-8b-ft-" in text.stdout


def test_watch_exit_codes(env):
    listed = jobs(env)
    failed = next((j["job_id"] for j in listed if j["status"] == "FAILED"), listed)
    done = next(j["job_id"] for j in listed if j["status"] == "SUCCEEDED")
    assert run(env, "jobs", "watch", done).returncode == 0
    assert run(env, "jobs", "watch", done, failed).returncode == 1
    unknown = run(env, "jobs", "watch", "ft-nosuchjob")
    assert unknown.returncode == 2 and "no such job: ft-nosuchjob" in unknown.stderr


# -- writes: dry run, confirmation, the request body -------------------------------------------------------

def test_writes_need_yes_without_a_terminal_and_dry_run_sends_nothing(env):
    files = json.loads(run(env, "files", "list", "--json").stdout)
    target = files[0]["file_id"]
    refused = run(env, "files", "delete", target)
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    dry = run(env, "files", "delete", target, "--dry-run")
    assert dry.returncode == 0 and f"dashscope files delete {target}" in dry.stdout
    assert target in {f["file_id"] for f in json.loads(run(env, "files", "list", "--json").stdout)}
    job = jobs(env)[0]["job_id"]
    for command, official in ((["jobs", "cancel", job], f"dashscope ft cancel {job}"),
                              (["jobs", "delete", job], f"dashscope ft delete {job}"),
                              (["deployments", "scale", "dep-x", "--capacity", "2"],
                               "dashscope deployments scale dep-x -c 2"),
                              (["deployments", "delete", "dep-x"], "dashscope deployments delete dep-x")):
        done = run(env, *command, "--dry-run", "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["dashscope"] == official
    deploy = json.loads(run(env, "deployments", "create", "m-ft", "--capacity", "2", "--dry-run", "--json").stdout)
    assert deploy["request"] == {"method": "POST", "path": "/deployments", "body": {"model_name": "m-ft", "capacity": 2}}
    assert "dashscope deployments create -m m-ft --plan lora" in deploy["dashscope"]


def test_create_from_flags_or_yaml_sends_the_learning_rate_without_float_noise(env, train_file, tmp_path):
    flags = run(env, "jobs", "create", "--model", "qwen3-8b", "--train", train_file, "--set", "learning_rate=1.6e-5",
                "--set", "batch_size=8", "--set", "n_epochs=3", "--dry-run", "--json")
    assert flags.returncode == 0, flags.stderr
    assert '"learning_rate": 1.6e-05' in flags.stdout and "1.6000000000000003e-05" not in flags.stdout
    plan = json.loads(flags.stdout)
    assert plan["request"]["body"]["training_file_ids"] == [f"<upload of {train_file}>"]  # nothing uploaded
    assert plan["cost"]["epochs"] == 3 and plan["cost"]["billed_tokens"] == 3 * plan["cost"]["tokens"]
    assert plan["dashscope"].startswith("dashscope ft create -m qwen3-8b") and "-l 1.6e-05" in plan["dashscope"]
    spec = tmp_path / "job.yaml"
    shutil.copy(ROOT / "examples/job.yaml", spec)
    text = spec.read_text().replace("train.jsonl", str(train_file)).replace("- dev.jsonl", f"- {train_file}")
    spec.write_text(text)
    from_yaml = run(env, "jobs", "create", spec, "--dry-run", "--json")
    assert from_yaml.returncode == 0, from_yaml.stderr
    body = json.loads(from_yaml.stdout)["request"]["body"]
    assert body["hyper_parameters"]["learning_rate"] == 1.6e-05 and '"learning_rate": 1.6e-05' in from_yaml.stdout
    overridden = json.loads(run(env, "jobs", "create", spec, "--set", "n_epochs=2", "--dry-run", "--json").stdout)
    assert overridden["request"]["body"]["hyper_parameters"]["n_epochs"] == 2
    spec.write_text("model: qwen3-8b\ntraining_file: [x]\n")
    bad = run(env, "jobs", "create", spec, "--dry-run")
    assert bad.returncode == 2 and f"{spec}:2: unknown key 'training_file'" in bad.stderr


def test_create_checks_and_uploads_local_files_once(env, train_file, tmp_path):
    small = tmp_path / "dev.jsonl"
    assert run(env, "convert", MAINLAND / "dev.jsonl", small).returncode == 0  # 4 records
    refused = run(env, "jobs", "create", "--model", "qwen3-8b", "--train", small, "--training-type", "cpt",
                  "--set", "batch_size=8", "--set", "learning_rate=0.5", "--yes")
    assert refused.returncode == 1
    assert "training_type: qwen3-8b supports" in refused.stderr and "must be more than batch_size 8" in refused.stderr
    args = ["jobs", "create", "--model", "qwen3-8b", "--train", train_file, "--set", "batch_size=8", "--json"]
    assert run(env, *args).returncode == 2  # no terminal, no --yes: nothing billed
    first = run(env, *args, "--yes")
    second = run(env, *args, "--yes")
    assert first.returncode == second.returncode == 0, first.stderr
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a["training_file_ids"] == b["training_file_ids"]  # the same bytes: uploaded once
    assert "already uploaded as" in second.stderr and "estimated cost:" in first.stderr
    ours = next(j for j in jobs(env) if j["job_id"] == a["job_id"])
    assert ours["dataset"] == str(train_file)


def test_capability_chat_logs_and_checkpoints(env):
    cap = json.loads(run(env, "capability", "--model", "qwen3-8b", "--json").stdout)
    assert cap == [{"model": "qwen3-8b", "training_types": ["sft", "efficient_sft", "dpo_full", "dpo_lora"]}]
    cpt = json.loads(run(env, "capability", "--training-type", "cpt", "--json").stdout)
    assert "qwen3-8b" not in {row["model"] for row in cpt} and "qwen3-32b" in {row["model"] for row in cpt}
    streamed = run(env, "chat", "--model", "qwen3-8b", "--system", "be brief", input="What is angina?")
    assert streamed.returncode == 0 and streamed.stdout.strip()
    replied = json.loads(run(env, "chat", "--model", "qwen3-8b", "hello", "--json").stdout)
    assert replied["content"] and replied["model"] == "qwen3-8b"
    done = next(j for j in jobs(env) if j["status"] == "SUCCEEDED")["job_id"]
    every = run(env, "jobs", "logs", done).stdout.splitlines()
    tail = run(env, "jobs", "logs", done, "--tail", "3").stdout.splitlines()
    assert len(every) > 3 and tail == every[-3:]
    found = run(env, "jobs", "logs", done, "--search", "LOSS").stdout.splitlines()
    assert found and all("loss" in line.lower() for line in found)
    checkpoints = json.loads(run(env, "jobs", "checkpoints", done, "--json").stdout)
    assert checkpoints and all(c["job_id"] == done for c in checkpoints)


# -- an 80-column terminal ---------------------------------------------------------------------------------

def _assert_fits(output: str, ids: list[str]) -> None:
    lines = screen_lines(output)
    assert max(len(line) for line in lines) <= 80, [line for line in lines if len(line) > 80]
    for full in ids:
        assert full in output, full


def test_a_write_asks_on_a_terminal(env):
    files = json.loads(run(env, "files", "list", "--json").stdout)
    target = files[-1]["file_id"]
    code, out = run_pty(env, "files", "delete", target, answer="n")
    assert code == 1 and f"delete file {target}? [y/N]" in out and "nothing was sent" in out
    assert target in {f["file_id"] for f in json.loads(run(env, "files", "list", "--json").stdout)}
    code, out = run_pty(env, "files", "delete", target, answer="y")
    assert code == 0 and f"deleted {target}" in out
    assert target not in {f["file_id"] for f in json.loads(run(env, "files", "list", "--json").stdout)}


def test_real_writes_and_reads(env, train_file):
    uploaded = json.loads(run(env, "files", "upload", train_file, "--json").stdout)[0]
    got = json.loads(run(env, "files", "get", uploaded["file_id"], "--json").stdout)
    assert got["file_id"] == uploaded["file_id"] and got["name"] == "train.jsonl"
    created = json.loads(run(env, "jobs", "create", "--model", "qwen3-8b", "--train", uploaded["file_id"],
                             "--set", "n_epochs=50", "--set", "batch_size=8", "--yes", "--json").stdout)
    job_id = created["job_id"]  # 50 epochs: minutes even on the fast clock
    timed = run(env, "jobs", "watch", job_id, "--timeout", "0.2")
    assert timed.returncode == 1 and f"--timeout 0.2 s reached; still running: {job_id}" in timed.stderr
    cancel = run(env, "jobs", "cancel", job_id, "--yes", "--json")
    assert cancel.returncode == 0, cancel.stderr
    assert run(env, "jobs", "watch", job_id, "--timeout", "60").returncode == 1  # canceled is not success
    assert json.loads(run(env, "jobs", "get", job_id, "--json").stdout)["status"] == "CANCELED"
    assert run(env, "jobs", "delete", job_id, "--yes").returncode == 0
    assert run(env, "jobs", "get", job_id).returncode == 2  # gone: no such job
    deployed = json.loads(run(env, "deployments", "list", "--json").stdout)[0]["deployed_model"]
    one = json.loads(run(env, "deployments", "get", deployed, "--json").stdout)
    assert one["deployed_model"] == deployed
    scaled = run(env, "deployments", "scale", deployed, "--capacity", "2", "--wait", "--yes", "--json")
    assert scaled.returncode == 0, scaled.stderr
    assert json.loads(scaled.stdout)["capacity"] == 2


def test_tables_on_an_80_column_terminal_never_cut_an_id(env):
    listed = jobs(env)
    code, out = run_pty(env, "jobs", "list")
    assert code == 0
    _assert_fits(out, [j["job_id"] for j in listed] + [j["finetuned_output"] for j in listed if j["finetuned_output"]])
    assert "\x1b[" in out  # colour on a terminal (unless --no-color, below)
    files = json.loads(run(env, "files", "list", "--json").stdout)
    code, out = run_pty(env, "files", "list")
    assert code == 0
    _assert_fits(out, [f["file_id"] for f in files])
    deployments = json.loads(run(env, "deployments", "list", "--json").stdout)
    code, out = run_pty(env, "deployments", "list")
    assert code == 0 and deployments
    _assert_fits(out, [d["deployed_model"] for d in deployments])
    done = next(j for j in listed if j["status"] == "SUCCEEDED")["job_id"]
    checkpoints = json.loads(run(env, "jobs", "checkpoints", done, "--json").stdout)
    code, out = run_pty(env, "jobs", "checkpoints", done)
    assert code == 0
    _assert_fits(out, [c["checkpoint"] for c in checkpoints])
    for command in (["capability"], ["config", "show"], ["jobs", "get", done, "--no-color"]):
        code, out = run_pty(env, *command)
        assert code == 0, out
        _assert_fits(out, [done] if command[0] == "jobs" else [])
    assert "\x1b[" not in out  # --no-color


def test_watch_on_an_80_column_terminal_redraws_one_row_per_job(env):
    listed = jobs(env)
    ids = [j["job_id"] for j in listed[:4]]
    code, out = run_pty(env, "jobs", "watch", *ids, "--timeout", "3")
    assert code in (0, 1)
    _assert_fits(out, ids)
    last_frame = out.rsplit("\x1b[J", 1)[-1]
    rows = [line for line in screen_lines(last_frame) if any(i in line for i in ids)]
    assert len(rows) >= len(ids)  # one row per job: the log column is cut with …, never wrapped


# -- the whole path with jq --------------------------------------------------------------------------------

def test_whole_path_script_with_jq(tmp_path):
    jq = shutil.which("jq")
    if jq is None:
        pytest.skip("jq is not installed (apt-get install jq): the whole-path script needs it")
    server = Simulator("sk-whole-path-0000", "--empty", speed=200)
    try:
        env = server.env(tmp_path, BT=f"{sys.executable} -m bailian_tui", TEMPLATE="english")
        done = subprocess.run(["bash", str(ROOT / "examples/whole_path.sh"), MAINLAND / "train.jsonl",
                               MAINLAND / "test.jsonl", tmp_path / "work"],
                              capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    job_id, loss, deployed = done.stdout.split()
    assert job_id.startswith("ft-") and float(loss) > 0 and deployed.endswith(job_id[3:])
    for step in ("convert", "upload", "create", "SUCCEEDED", "loss", "export", "deploy", "chat", "evaluate",
                 "undeploy"):
        assert step in done.stderr, step
    first = json.loads((tmp_path / "work/train.jsonl").read_text().splitlines()[0])
    assert first["messages"][0]["content"].startswith("You are a professional medical assistant")  # English
