"""The simulator's OpenAI-compatible surface, proven with the official ``openai`` SDK over loopback HTTP.

The SDK is the peer: what it sends and what it parses is what a real XPULink / OpenAI / Azure client
sends and parses. The official ``openai api …`` command-line tool is the other peer (tests/test_openai_cli.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import openai
import pytest
from openai import AsyncOpenAI

from bailian_tui.simulator.openai_contract import OpenAISimConfig
from bailian_tui.simulator.openai_server import OpenAISimServer
from bailian_tui.simulator.openai_state import OpenAIState
from tests.conftest import TEST_KEY

XPULINK_HP = {"n_epochs": 2, "batch_size": 4, "learning_rate": 5e-5, "lora_r": 8, "lora_alpha": 16,
              "lora_dropout": 0.05}


@pytest.fixture
def oa_sim(clock):
    with OpenAISimServer(OpenAIState(clock, api_key=TEST_KEY), stream_delay=0.0) as server:
        yield server


@pytest.fixture
async def client(oa_sim):
    c = AsyncOpenAI(base_url=oa_sim.base_url, api_key=TEST_KEY, max_retries=0)
    yield c
    await c.close()


def openai_chat(path, n=30, prefix="q"):
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(json.dumps({"messages": [
                {"role": "system", "content": "你是一个助手"},
                {"role": "user", "content": f"{prefix}{i}"},
                {"role": "assistant", "content": f"answer {i}", "weight": 1}]}, ensure_ascii=False) + "\n")
    return path


async def test_sdk_upload_create_follow_and_chat(client, clock, tmp_path):
    uploaded = await client.files.create(file=openai_chat(tmp_path / "t.jsonl"), purpose="fine-tune")
    assert uploaded.id.startswith("file-") and uploaded.purpose == "fine-tune" and uploaded.bytes > 0
    job = await client.fine_tuning.jobs.create(model="qwen3-32b", training_file=uploaded.id, suffix="med",
                                               metadata={"k": "v"}, extra_body={"hyperparameters": XPULINK_HP})
    assert job.status == "validating_files" and job.fine_tuned_model is None
    assert job.hyperparameters.n_epochs == 2
    clock.advance(3)
    assert (await client.fine_tuning.jobs.retrieve(job.id)).status == "queued"
    clock.advance(5)
    running = await client.fine_tuning.jobs.retrieve(job.id)
    assert running.status == "running" and running.estimated_finish
    events = await client.fine_tuning.jobs.list_events(job.id, limit=3)
    assert events.data[0].created_at >= events.data[-1].created_at  # newest first
    metrics = [e for e in events.data if e.type == "metrics"]
    assert metrics and {"step", "train_loss", "train_mean_token_accuracy"} <= set(metrics[0].data)
    clock.advance(60)
    done = await client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded" and done.fine_tuned_model.startswith("ft:qwen3-32b:")
    assert done.trained_tokens and len(done.result_files) == 1
    csv = (await client.files.content(done.result_files[0])).text
    assert csv.splitlines()[0].startswith("step,train_loss") and len(csv.splitlines()) > 10
    checkpoints = (await client.fine_tuning.jobs.checkpoints.list(job.id)).data
    assert [c.step_number for c in checkpoints] == [16, 8]  # newest first, one per epoch
    assert checkpoints[1].metrics.train_loss > checkpoints[0].metrics.train_loss
    reply = await client.chat.completions.create(model=done.fine_tuned_model,
                                                 messages=[{"role": "user", "content": "q3"}])
    assert reply.choices[0].message.content == "answer 3"
    stream = await client.chat.completions.create(model=checkpoints[1].fine_tuned_model_checkpoint,
                                                  messages=[{"role": "user", "content": "q4"}], stream=True)
    assert "".join([c.choices[0].delta.content or "" async for c in stream]) == "answer 4"
    listed = await client.fine_tuning.jobs.list(metadata={"k": "v"})
    assert [j.id for j in listed.data] == [job.id]


async def test_sdk_files_retrieve_list_and_delete(client, tmp_path):
    """What the official CLI cannot do (its files.retrieve/delete are broken upstream: docs/providers.md)."""
    first = await client.files.create(file=openai_chat(tmp_path / "a.jsonl"), purpose="fine-tune")
    second = await client.files.create(file=openai_chat(tmp_path / "b.jsonl", n=12), purpose="fine-tune")
    got = await client.files.retrieve(first.id)
    assert (got.id, got.filename, got.bytes, got.purpose) == (first.id, "a.jsonl", first.bytes, "fine-tune")
    assert [f.id for f in (await client.files.list(purpose="fine-tune")).data] == [second.id, first.id]
    deleted = await client.files.delete(first.id)
    assert deleted.id == first.id and deleted.deleted is True
    assert [f.id for f in (await client.files.list()).data] == [second.id]
    with pytest.raises(openai.NotFoundError) as err:
        await client.files.retrieve(first.id)
    assert err.value.body["type"] == "invalid_request_error"


async def test_events_page_to_older_ones_with_after(client, clock, tmp_path):
    uploaded = await client.files.create(file=openai_chat(tmp_path / "t.jsonl"), purpose="fine-tune")
    job = await client.fine_tuning.jobs.create(model="qwen3-8b", training_file=uploaded.id)
    clock.advance(300)
    seen, after = [], None
    while True:
        page = await client.fine_tuning.jobs.list_events(job.id, limit=7, **({"after": after} if after else {}))
        seen += [e.id for e in page.data]
        if not page.has_more:
            break
        after = page.data[-1].id
    whole = await client.fine_tuning.jobs.list_events(job.id, limit=100)
    assert seen == [e.id for e in whole.data] and len(set(seen)) == len(seen)


async def test_wrong_key_is_401_in_the_openai_shape(oa_sim):
    async with AsyncOpenAI(base_url=oa_sim.base_url, api_key="sk-wrong-key", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError) as err:
            await bad.fine_tuning.jobs.list()
    assert err.value.status_code == 401 and err.value.code == "invalid_api_key"
    assert err.value.body["type"] == "invalid_request_error"


@pytest.mark.parametrize("hp, param", [
    ({"lora_dropout": 5}, "hyperparameters.lora_dropout"),
    ({"learning_rate": 5}, "hyperparameters.learning_rate"),
    ({"lora_r": 8.5}, "hyperparameters.lora_r"),
    ({"warmup": 1}, "hyperparameters.warmup"),
])
async def test_xpulink_hyperparameters_are_validated(client, tmp_path, hp, param):
    uploaded = await client.files.create(file=openai_chat(tmp_path / "t.jsonl"), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError) as err:
        await client.fine_tuning.jobs.create(model="qwen3-32b", training_file=uploaded.id,
                                             extra_body={"hyperparameters": hp})
    assert err.value.param == param


async def test_a_standard_only_service_refuses_the_lora_extension(clock, tmp_path):
    state = OpenAIState(clock, OpenAISimConfig(extra_hyperparameters=False), api_key=TEST_KEY)
    with OpenAISimServer(state) as server:
        async with AsyncOpenAI(base_url=server.base_url, api_key=TEST_KEY, max_retries=0) as c:
            uploaded = await c.files.create(file=openai_chat(tmp_path / "t.jsonl"), purpose="fine-tune")
            with pytest.raises(openai.BadRequestError):
                await c.fine_tuning.jobs.create(model="qwen3-32b", training_file=uploaded.id,
                                                extra_body={"hyperparameters": {"lora_r": 8}})
            job = await c.fine_tuning.jobs.create(
                model="qwen3-32b", training_file=uploaded.id,
                method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1}}})
            assert job.method.type == "supervised"


async def test_bad_files_fail_the_job_with_an_openai_error(client, clock, tmp_path):
    small = await client.files.create(file=openai_chat(tmp_path / "s.jsonl", n=5), purpose="fine-tune")
    bad_path = tmp_path / "b.jsonl"
    bad_path.write_text(json.dumps({"messages": [{"role": "user", "content": "x", "weight": 1},
                                                 {"role": "assistant", "content": "y"}]}) + "\n")
    bad = await client.files.create(file=bad_path, purpose="fine-tune")
    few = await client.fine_tuning.jobs.create(model="qwen3-8b", training_file=small.id)
    wrong = await client.fine_tuning.jobs.create(model="qwen3-8b", training_file=bad.id)
    clock.advance(5)
    few, wrong = [await client.fine_tuning.jobs.retrieve(j.id) for j in (few, wrong)]
    assert few.status == "failed" and "at least 10" in few.error.message
    assert wrong.status == "failed" and "weight" in wrong.error.message and wrong.error.param == "training_file"
    with pytest.raises(openai.NotFoundError):
        await client.fine_tuning.jobs.retrieve("ftjob-nope")


async def test_pause_resume_and_cancel(client, clock, tmp_path):
    uploaded = await client.files.create(file=openai_chat(tmp_path / "t.jsonl"), purpose="fine-tune")
    job = await client.fine_tuning.jobs.create(model="qwen3-8b", training_file=uploaded.id)
    clock.advance(6)
    paused = await client.fine_tuning.jobs.pause(job.id)
    assert paused.status == "paused"
    steps = len((await client.fine_tuning.jobs.list_events(job.id, limit=100)).data)
    clock.advance(100)
    assert len((await client.fine_tuning.jobs.list_events(job.id, limit=100)).data) == steps
    assert (await client.fine_tuning.jobs.resume(job.id)).status == "running"
    clock.advance(1)
    assert (await client.fine_tuning.jobs.cancel(job.id)).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        await client.fine_tuning.jobs.cancel(job.id)


def test_sdk_in_a_subprocess_with_the_standard_environment(oa_sim, clock, tmp_path):
    """A separate program configured only by OPENAI_BASE_URL / OPENAI_API_KEY, as the docs tell users."""
    data = openai_chat(tmp_path / "t.jsonl")
    script = textwrap.dedent(f"""
        import json, sys
        from openai import OpenAI
        c = OpenAI(max_retries=0)
        f = c.files.create(file=open({str(data)!r}, "rb"), purpose="fine-tune")
        j = c.fine_tuning.jobs.create(model="qwen3-8b", training_file=f.id, suffix="cli")
        print(json.dumps({{"file": f.id, "job": j.id, "status": j.status,
                           "listed": [x.id for x in c.fine_tuning.jobs.list().data]}}))
    """)
    env = {"OPENAI_BASE_URL": oa_sim.base_url, "OPENAI_API_KEY": TEST_KEY, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["status"] == "validating_files" and out["listed"] == [out["job"]]
    bad = subprocess.run([sys.executable, "-c", script], env={**env, "OPENAI_API_KEY": "sk-nope-nope"},
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "AuthenticationError: Error code: 401" in bad.stderr
