"""The OpenAI-compatible provider against the simulator: the same guarantees as the DashScope facade."""

from __future__ import annotations

import pytest

from bailian_tui.core.errors import OutcomeUnknown, PlatformError
from bailian_tui.core.monitor import LogTail
from bailian_tui.core.platform import JobRequest, RetryPolicy
from bailian_tui.core.providers.base import Provider, ProviderInfo, safe_text
from bailian_tui.core.providers.openai_compat import OpenAIProvider
from bailian_tui.core.records import JobStatus
from bailian_tui.simulator.openai_server import OpenAISimServer
from bailian_tui.simulator.openai_state import OpenAIState
from tests.conftest import TEST_KEY, no_sleep
from tests.test_openai_sim import XPULINK_HP, openai_chat

INFO = ProviderInfo(name="xpulink", kind="openai", label="XPULink", base_url=None, key_env="XPULINK_API_KEY")


@pytest.fixture
def oa_sim(clock):
    with OpenAISimServer(OpenAIState(clock, api_key=TEST_KEY), stream_delay=0.0) as server:
        yield server


def make(server, key=TEST_KEY, attempts=10, **kwargs) -> OpenAIProvider:
    return OpenAIProvider(INFO, api_key=key, base_url=server.base_url, timeout=10,
                          retry=RetryPolicy(attempts=attempts), sleep=no_sleep, **kwargs)


@pytest.fixture
async def provider(oa_sim):
    p = make(oa_sim, hyperparameters_form="hyperparameters",
             extra_hyperparameters=("learning_rate", "lora_r", "lora_alpha", "lora_dropout"))
    yield p
    await p.aclose()


def request(file_id, **kw) -> JobRequest:
    return JobRequest(model="qwen3-32b", training_file_ids=[file_id], training_type="supervised",
                      hyper_parameters=dict(XPULINK_HP), model_name="med", **kw)


async def test_it_implements_the_protocol_and_tags_records(provider, tmp_path):
    assert isinstance(provider, Provider)
    remote = await provider.upload_file(openai_chat(tmp_path / "t.jsonl"))
    job = await provider.create_job(request(remote.file_id))
    assert remote.provider == job.provider == "xpulink" and job.key == f"xpulink:{job.job_id}"
    assert job.status is JobStatus.PENDING and job.hyper_parameters["lora_r"] == 8
    assert job.job_name.startswith("bt-")  # our metadata tag, read back


async def test_the_older_form_and_the_method_form_reach_the_wire(oa_sim, provider, tmp_path):
    remote = await provider.upload_file(openai_chat(tmp_path / "t.jsonl"))
    body = provider.request_body(request(remote.file_id, job_name="bt-x"))
    assert body["hyperparameters"]["lora_alpha"] == 16 and body["suffix"] == "med"
    assert body["metadata"] == {"bt_request": "bt-x"}
    standard = make(oa_sim)
    body = standard.request_body(JobRequest(model="qwen3-8b", training_file_ids=["f"], training_type="dpo",
                                            hyper_parameters={"beta": 0.1}))
    assert body["method"] == {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}}
    with pytest.raises(PlatformError, match="one training file"):
        standard.request_body(JobRequest(model="qwen3-8b", training_file_ids=["a", "b"], training_type="supervised"))
    await standard.aclose()


async def test_events_become_log_lines_and_loss_curves(oa_sim, provider, clock, tmp_path):
    train = await provider.upload_file(openai_chat(tmp_path / "t.jsonl"))
    val = await provider.upload_file(openai_chat(tmp_path / "v.jsonl", n=12, prefix="v"))
    job = await provider.create_job(JobRequest(model="qwen3-32b", training_file_ids=[train.file_id],
                                               validation_file_ids=[val.file_id], training_type="supervised",
                                               hyper_parameters=dict(XPULINK_HP)))
    tail = LogTail(job.job_id)
    clock.advance(8)
    first = await tail.fetch(provider)
    clock.advance(3)
    second = await tail.fetch(provider)
    clock.advance(60)
    third = await tail.fetch(provider)
    assert first and second and third
    lines = first + second + third
    assert lines[0].endswith(f"Created fine-tuning job: {job.job_id}")
    m = tail.metrics
    steps = [p.step for p in m.loss]
    assert steps == sorted(steps) == list(range(1, 17)) and m.total_steps == 16
    assert len(m.eval_loss) == 16 and m.eval_accuracy
    assert m.loss[0].value > m.loss[-1].value
    assert m.progress == 1.0
    # followed incrementally: a fourth fetch asks one page and gets nothing new
    before = provider.stats.requests
    assert await tail.fetch(provider) == [] and provider.stats.requests - before == 1


async def test_checkpoints_with_metrics_and_chat_on_each(provider, clock, tmp_path):
    remote = await provider.upload_file(openai_chat(tmp_path / "t.jsonl"))
    job = await provider.create_job(request(remote.file_id))
    clock.advance(120)
    job = await provider.get_job(job.job_id)
    assert job.status is JobStatus.SUCCEEDED and provider.servable_model(job) == job.finetuned_output
    checkpoints = await provider.list_checkpoints(job.job_id)
    assert [c.step for c in checkpoints] == [8, 16] and checkpoints[0].metrics["train_loss"] > 0
    for model in [job.finetuned_output] + [c.model_name for c in checkpoints]:
        reply = await provider.chat(model, [{"role": "user", "content": "q2"}])
        assert reply.content == "answer 2"
    streamed = [t async for t in provider.chat_stream(checkpoints[0].model_name, [{"role": "user", "content": "q5"}])]
    assert "".join(streamed) == "answer 5"
    results = job.raw["result_files"]
    assert b"train_loss" in await provider.file_content(results[0])
    with pytest.raises(PlatformError, match="served directly"):
        await provider.create_deployment(job.finetuned_output)


async def test_dropped_connection_during_create_leaves_exactly_one_job(oa_sim, provider, tmp_path):
    remote = await provider.upload_file(openai_chat(tmp_path / "t.jsonl"))
    oa_sim.state.config.drop_after_write = 1  # the job is made, then the connection dies unanswered
    job = await provider.create_job(request(remote.file_id))
    assert list(oa_sim.state.jobs) == [job.job_id] and provider.stats.reconciled == 1


async def test_many_drops_never_a_duplicate(oa_sim, provider, tmp_path):
    remote = await provider.upload_file(openai_chat(tmp_path / "t.jsonl"))
    oa_sim.state.config.drop_after_write = 1
    oa_sim.state.config.drop_rate = 0.3
    made, unknown = set(), 0
    for _ in range(6):
        try:
            made.add((await provider.create_job(request(remote.file_id))).job_id)
        except OutcomeUnknown:
            unknown += 1  # dropped before the server acted: nothing to find, and nothing re-sent
    oa_sim.state.config.drop_rate = 0.0
    assert set(oa_sim.state.jobs) == made and len(made) + unknown == 6


async def test_a_service_that_drops_metadata_is_reconciled_by_what_it_keeps(oa_sim, tmp_path):
    p = make(oa_sim, metadata=False)
    remote = await p.upload_file(openai_chat(tmp_path / "t.jsonl"))
    await p.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id],
                                  training_type="supervised", model_name="same"))
    oa_sim.state.config.drop_after_write = 1
    job = await p.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id],
                                        training_type="supervised", model_name="same"))
    assert len(oa_sim.state.jobs) == 2 and p.stats.reconciled == 1 and job.job_id in oa_sim.state.jobs
    await p.aclose()


async def test_500_on_create_is_never_resent_and_ends_unknown(oa_sim, tmp_path):
    p = make(oa_sim, attempts=1)
    remote = await p.upload_file(openai_chat(tmp_path / "t.jsonl"))
    oa_sim.state.config.rate_500 = 1.0
    before = oa_sim.state.requests
    with pytest.raises(OutcomeUnknown) as err:
        await p.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id], training_type="supervised"))
    assert "bt_request=bt-" in err.value.human() and p.stats.unknown == 1
    oa_sim.state.config.rate_500 = 0.0
    assert oa_sim.state.jobs == {}
    # one POST (the SDK's own retries are off, ours never re-send it), then only lists looking for the job
    assert oa_sim.state.requests - before == p.stats.requests - 2  # the upload took two before
    assert p.stats.retries == 0
    await p.aclose()


async def test_a_refused_connection_is_retried_as_nothing_was_sent(tmp_path):
    from tests.cli_helpers import free_port

    p = OpenAIProvider(INFO, api_key=TEST_KEY, base_url=f"http://127.0.0.1:{free_port()}/v1", timeout=5,
                       retry=RetryPolicy(attempts=5), sleep=no_sleep)
    with pytest.raises(PlatformError) as err:
        await p.create_job(JobRequest(model="qwen3-8b", training_file_ids=["file-x"], training_type="supervised"))
    assert err.value.not_sent and "cannot reach" in err.value.human() and p.stats.unknown == 0
    assert p.stats.requests == 3  # RetryPolicy.unreachable_attempts, not the 5 attempts a 5xx would get
    with pytest.raises(PlatformError) as read:  # a read fails as fast (the same rule as DashScope's)
        await p.list_jobs()
    assert read.value.not_sent and p.stats.requests == 6
    await p.aclose()


async def test_dropped_connection_during_upload_leaves_one_file(oa_sim, provider, tmp_path):
    oa_sim.state.config.drop_after_write = 1
    remote = await provider.upload_file(openai_chat(tmp_path / "t.jsonl"))
    assert list(oa_sim.state.files) == [remote.file_id]


async def test_reads_survive_a_429_storm_and_5xx(oa_sim, provider, tmp_path):
    await provider.upload_file(openai_chat(tmp_path / "t.jsonl"))
    oa_sim.state.config.rate_429 = 0.3
    oa_sim.state.config.rate_500 = 0.15
    for _ in range(15):
        assert len((await provider.list_files()).items) == 1
    assert provider.stats.retries > 3


async def test_wrong_key_names_the_profiles_variable_and_never_the_key(oa_sim):
    secret = "sk-xpulink-wrong-" + "9" * 20
    from bailian_tui.core import secrets

    secrets.remember(secret)
    p = make(oa_sim, key=secret)
    with pytest.raises(PlatformError) as err:
        await p.list_jobs()
    await p.aclose()
    text = err.value.human()
    assert err.value.status == 401 and "$XPULINK_API_KEY" in text and secret not in text
    assert "DASHSCOPE" not in text


async def test_paging_walks_cursors(oa_sim, provider, tmp_path):
    remote = await provider.upload_file(openai_chat(tmp_path / "t.jsonl"))
    made = [(await provider.create_job(request(remote.file_id))).job_id for _ in range(5)]
    pages = [await provider.list_jobs(n, 2) for n in (1, 2, 3)]
    assert [j.job_id for pg in pages for j in pg.items] == made[::-1]
    assert [pg.has_more for pg in pages] == [True, True, False]
    assert [j.job_id for j in await provider.all_jobs()] == made[::-1]
    fresh = make(oa_sim)
    assert [j.job_id for j in (await fresh.list_jobs(3, 2)).items] == made[:1]  # earlier pages walked once
    await fresh.aclose()


def test_server_text_is_made_safe_to_show():
    from bailian_tui.core.safetext import is_safe

    assert is_safe(safe_text("ok\x1b[2J\x07 done\r\nnext")) and "␛[2J" in safe_text("ok\x1b[2J")
    assert len(safe_text("x" * 5000, 100)) < 200


async def test_hostile_event_messages_and_errors_are_inert(oa_sim, provider, clock, tmp_path):
    from bailian_tui.core.safetext import is_safe

    remote = await provider.upload_file(openai_chat(tmp_path / "t.jsonl"))
    job = await provider.create_job(request(remote.file_id, job_name="bt-\x1b]52;c;ZXZpbA==\x07"))
    oa_sim.state.jobs[job.job_id].events[0].message = "evil \x1b[2J\x1b]0;title\x07 text"
    page = await provider.job_logs(job.job_id)
    assert all(is_safe(line) for line in page.lines) and "␛[2J" in page.lines[0]
    listed = await provider.get_job(job.job_id)
    assert is_safe(listed.job_name) and is_safe(str(listed.raw))


async def test_pause_and_resume_where_offered(oa_sim, provider, clock, tmp_path):
    remote = await provider.upload_file(openai_chat(tmp_path / "t.jsonl"))
    job = await provider.create_job(request(remote.file_id))
    clock.advance(6)
    assert (await provider.pause_job(job.job_id)).status is JobStatus.PAUSED
    assert (await provider.resume_job(job.job_id)).status is JobStatus.RUNNING
    no_pause = make(oa_sim, pause=False)
    with pytest.raises(PlatformError, match="does not offer pausing"):
        await no_pause.pause_job(job.job_id)
    await no_pause.aclose()
