"""Fidelity: the official ``openai`` command-line tool works against the simulator's OpenAI-compatible surface.

``openai api files.create / files.list / fine_tuning.jobs.create / retrieve / list / cancel / list_events``
run as real subprocesses configured only by ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``, exactly as a user
points them at XPULink, OpenAI or Azure. What they print is the SDK's own parse of our answers, so a field
the simulator gets wrong fails here. The CLI exists up to openai 2.34 (2.35 removed ``openai.cli``); the
test extra pins it (pyproject.toml, docs/providers.md).

Independent commands of one step run side by side (each CLI start costs ~1 s of imports); the simulator's
clock moves only between steps, so what each step sees is fixed.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openai import OpenAI

from bailian_tui.simulator.openai_server import OpenAISimServer
from bailian_tui.simulator.openai_state import OpenAIState
from tests.conftest import TEST_KEY

WRONG_KEY = "sk-wrong" + "0" * 24
XPULINK_HP = {"n_epochs": 2, "batch_size": 4, "learning_rate": 5e-5, "lora_r": 8, "lora_alpha": 16,
              "lora_dropout": 0.05}


def _openai_cli() -> str:
    import importlib.util

    import openai

    found = shutil.which("openai", path=os.path.dirname(sys.executable))
    if importlib.util.find_spec("openai.cli") is None or not found:
        pytest.fail(f"openai {openai.__version__} has no `openai api` command-line tool beside this Python "
                    "(openai 2.35 removed it): install the test extra, which pins openai<2.35 "
                    "(pip install -e '.[test]')")
    return found


@pytest.fixture
def oa_sim(clock):
    with OpenAISimServer(OpenAIState(clock, api_key=TEST_KEY), stream_delay=0.0) as server:
        yield server


class Cli:
    """Runs ``openai api …`` commands against the simulator; several at once when a step has several."""

    def __init__(self, base_url: str, home: Path) -> None:
        self.exe = _openai_cli()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_"))}
        self.env.update(OPENAI_BASE_URL=base_url, OPENAI_API_KEY=TEST_KEY, HOME=str(home), NO_COLOR="1")

    def many(self, *calls: tuple[str, ...], keys: tuple[str, ...] = ()) -> list[subprocess.CompletedProcess]:
        procs = [(call, subprocess.Popen([self.exe, "api", *call], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         env={**self.env, "OPENAI_API_KEY": key}, text=True))
                 for call, key in zip(calls, keys or [TEST_KEY] * len(calls))]
        done = []
        for call, proc in procs:
            out, err = proc.communicate(timeout=60)
            for secret in (TEST_KEY, WRONG_KEY):
                assert secret not in out + err, f"openai api {call[0]} printed the API key"
            done.append(subprocess.CompletedProcess(call, proc.returncode, out, err))
        return done

    def json(self, *calls: tuple[str, ...]) -> list:
        """Each command's stdout parsed; every command must have exited 0."""
        results = []
        for done in self.many(*calls):
            assert done.returncode == 0, f"openai api {' '.join(done.args)} exited {done.returncode}:\n{done.stderr}"
            results.append(_objects(done.stdout))
        return [r[0] if len(r) == 1 else r for r in results]


def _objects(text: str) -> list:
    """The CLI prints one indented JSON document per object (``files.list`` prints one per file)."""
    decoder, out, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        obj, at = decoder.raw_decode(text, at)
        out.append(obj)
        while at < len(text) and text[at].isspace():
            at += 1
    return out


def _api_error(done: subprocess.CompletedProcess) -> tuple[int, dict]:
    """The CLI reports an API error as ``Error: Error code: NNN - {body}`` (the body as a Python repr)."""
    assert done.returncode != 0 and done.stdout == ""
    found = re.search(r"Error code: (\d{3}) - (\{.*\})\s*$", done.stderr, re.S)
    assert found, done.stderr
    return int(found.group(1)), ast.literal_eval(found.group(2))


def _chat(path: Path, n: int, prefix: str = "q") -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(json.dumps({"messages": [
                {"role": "user", "content": f"{prefix}{i}: 这是第{i}个问题"},
                {"role": "assistant", "content": f"这是第{i}个回答", "weight": 1}]}, ensure_ascii=False) + "\n")
    return path


def _sdk(base_url: str) -> OpenAI:
    """For what the CLI is not the subject of: the SDK in this process, over the same HTTP (no CLI start-up)."""
    return OpenAI(base_url=base_url, api_key=TEST_KEY, max_retries=0)


def _upload_in_process(base_url: str, path: Path) -> str:
    with _sdk(base_url) as client:
        return client.files.create(file=path, purpose="fine-tune").id


def test_cli_files_and_a_job_lifecycle(oa_sim, clock, tmp_path):
    cli = Cli(oa_sim.base_url, tmp_path)
    train = _chat(tmp_path / "train.jsonl", 32)
    valid_id = _upload_in_process(oa_sim.base_url, _chat(tmp_path / "valid.jsonl", 12, prefix="v"))

    (uploaded,) = cli.json(("files.create", "-f", str(train), "-p", "fine-tune"))
    assert uploaded["object"] == "file" and uploaded["id"].startswith("file-")
    assert uploaded["purpose"] == "fine-tune" and uploaded["bytes"] == train.stat().st_size
    assert uploaded["filename"] == "train.jsonl"  # the CLI sends its local path; no directory is kept

    # files.list beside two creates: one with the XPULink hyper-parameters, a suffix and a validation
    # file; one with only the standard n_epochs.
    listed, tuned, plain = cli.json(
        ("files.list",),
        ("fine_tuning.jobs.create", "-m", "qwen3-32b", "-F", uploaded["id"], "-H", json.dumps(XPULINK_HP),
         "-s", "medqa", "-V", valid_id),
        ("fine_tuning.jobs.create", "-m", "qwen3-8b", "-F", uploaded["id"], "-H", '{"n_epochs": 3}'))
    assert sorted(f["id"] for f in listed) == sorted([uploaded["id"], valid_id])
    assert tuned["object"] == "fine_tuning.job" and tuned["id"].startswith("ftjob-")
    assert tuned["status"] == "validating_files" and tuned["fine_tuned_model"] is None
    assert tuned["model"] == "qwen3-32b" and tuned["suffix"] == "medqa"
    assert (tuned["training_file"], tuned["validation_file"]) == (uploaded["id"], valid_id)
    assert {k: tuned["hyperparameters"][k] for k in XPULINK_HP} == XPULINK_HP
    assert plain["hyperparameters"]["n_epochs"] == 3 and plain["validation_file"] is None
    assert plain["suffix"] is None and plain["id"] != tuned["id"]

    clock.advance(8)  # validated, queued, a few steps run
    jobs, events = cli.json(("fine_tuning.jobs.list", "-l", "5"),
                            ("fine_tuning.jobs.list_events", "-i", tuned["id"], "-l", "4"))
    assert jobs["object"] == "list" and jobs["has_more"] is False
    assert {j["id"]: j["status"] for j in jobs["data"]} == {tuned["id"]: "running", plain["id"]: "running"}
    assert [j["created_at"] for j in jobs["data"]] == sorted((j["created_at"] for j in jobs["data"]), reverse=True)
    running = next(j for j in jobs["data"] if j["id"] == tuned["id"])
    assert running["estimated_finish"] >= running["created_at"]
    assert len(events["data"]) == 4 and events["has_more"] is True
    assert all(e["object"] == "fine_tuning.job.event" for e in events["data"])
    steps = [e["data"]["step"] for e in events["data"] if e["type"] == "metrics"]
    assert steps and steps == sorted(steps, reverse=True)  # newest first
    newest = next(e for e in events["data"] if e["type"] == "metrics")
    assert {"train_loss", "train_mean_token_accuracy", "valid_loss"} <= set(newest["data"])  # -V is used

    (cancelled,) = cli.json(("fine_tuning.jobs.cancel", "-i", plain["id"]))
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"] and cancelled["fine_tuned_model"] is None

    clock.advance(120)  # the tuned job finishes; the cancelled one stays cancelled
    done, older = cli.json(("fine_tuning.jobs.retrieve", "-i", tuned["id"]),
                           ("fine_tuning.jobs.list_events", "-i", tuned["id"], "-a", events["data"][-1]["id"],
                            "-l", "100"))
    assert done["status"] == "succeeded" and done["finished_at"] >= done["created_at"]
    assert done["fine_tuned_model"].startswith("ft:qwen3-32b:") and ":medqa:" in done["fine_tuned_model"]
    assert done["trained_tokens"] and len(done["result_files"]) == 1 and done["estimated_finish"] is None
    seen = [e["id"] for e in events["data"]] + [e["id"] for e in older["data"]]
    assert len(set(seen)) == len(seen) and older["has_more"] is False  # --after pages to older events only
    assert [e["created_at"] for e in older["data"]] == sorted((e["created_at"] for e in older["data"]), reverse=True)
    assert older["data"][-1]["message"] == f"Created fine-tuning job: {tuned['id']}"  # the oldest one
    with _sdk(oa_sim.base_url) as client:
        assert client.fine_tuning.jobs.retrieve(plain["id"]).status == "cancelled"


def test_cli_errors_arrive_in_the_openai_shape(oa_sim, tmp_path):
    cli = Cli(oa_sim.base_url, tmp_path)
    file_id = _upload_in_process(oa_sim.base_url, _chat(tmp_path / "t.jsonl", 20))

    wrong, bad_hp = cli.many(
        ("fine_tuning.jobs.list",),
        ("fine_tuning.jobs.create", "-m", "qwen3-32b", "-F", file_id, "-H", '{"n_epochs": 3, "lora_dropout": 5}'),
        keys=(WRONG_KEY, TEST_KEY))

    status, body = _api_error(wrong)
    assert status == 401 and set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == "invalid_api_key" and body["error"]["type"] == "invalid_request_error"
    status, body = _api_error(bad_hp)
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == "hyperparameters.lora_dropout" and "0.9" in body["error"]["message"]
    assert oa_sim.state.jobs == {}  # nothing refused was created
