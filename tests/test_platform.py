"""Every core operation, over loopback HTTP, against the simulator."""

from __future__ import annotations

import pytest

from bailian_tui.core.errors import PlatformError
from bailian_tui.core.platform import JobRequest
from bailian_tui.core.records import DeploymentStatus, JobStatus
from tests.conftest import TEST_KEY, write_chatml

HP = {"n_epochs": 3, "batch_size": 8, "logging_steps": 2, "eval_steps": 4}


async def _job(platform, path, **kwargs):
    remote = await platform.upload_file(path)
    request = JobRequest(model=kwargs.pop("model", "qwen3-8b"), training_file_ids=[remote.file_id],
                         hyper_parameters=kwargs.pop("hp", HP), **kwargs)
    return await platform.create_job(request)


async def test_upload_reports_progress_and_lists_across_pages(platform, tmp_path):
    seen = []
    first = await platform.upload_file(write_chatml(tmp_path / "a.jsonl", 300),
                                       on_progress=lambda sent, total: seen.append((sent, total)))
    assert first.file_id and first.name == "a.jsonl"
    assert seen and seen[-1][0] == seen[-1][1] == (tmp_path / "a.jsonl").stat().st_size
    for i in range(11):
        await platform.upload_file(write_chatml(tmp_path / f"f{i}.jsonl", 3))
    page = await platform.list_files(page_no=2, page_size=5)
    assert (page.total, len(page.items), page.page_no) == (12, 5, 2)
    everything = await platform._pages(lambda n: platform.list_files(n, 5), lambda f: f.file_id, "files")
    assert len({f.file_id for f in everything}) == 12
    got = await platform.get_file(first.file_id)
    assert got.size == (tmp_path / "a.jsonl").stat().st_size and got.purpose == "fine-tune"
    await platform.delete_file(first.file_id)
    with pytest.raises(PlatformError) as err:
        await platform.get_file(first.file_id)
    assert err.value.status == 400 and "not found" in err.value.message.lower()
    assert err.value.request_id


async def test_file_limits_are_refused_in_dashscope_shape(sim, platform, tmp_path):
    sim.state.config.max_file_bytes = 2000
    with pytest.raises(PlatformError) as err:
        await platform.upload_file(write_chatml(tmp_path / "big.jsonl", 100))
    assert err.value.code == "InvalidParameter" and "size limit" in err.value.message
    sim.state.config.max_file_bytes = 10**6
    sim.state.config.max_files = 2
    for i in range(2):
        await platform.upload_file(write_chatml(tmp_path / f"ok{i}.jsonl", 2))
    with pytest.raises(PlatformError, match="number of files"):
        await platform.upload_file(write_chatml(tmp_path / "third.jsonl", 2))
    sim.state.config.max_files = 100
    sim.state.config.max_total_bytes = 1000
    with pytest.raises(PlatformError, match="Total size"):
        await platform.upload_file(write_chatml(tmp_path / "fourth.jsonl", 5))


async def test_job_lifecycle_on_the_simulated_clock(platform, clock, chatml):
    job = await _job(platform, chatml)
    assert job.status is JobStatus.PENDING and job.job_name.startswith("bt-")
    clock.advance(3)
    assert (await platform.get_job(job.job_id)).status is JobStatus.RUNNING
    clock.advance(200)
    done = await platform.get_job(job.job_id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.finetuned_output.startswith("qwen3-8b-ft-")
    logs = await platform.job_logs(job.job_id, 0, 1000)
    assert logs.lines[-1].endswith("##FT_COMPLETE##")
    consumed = [line for line in logs.lines if "Actual number of consumed tokens" in line]
    assert consumed == [f" Actual number of consumed tokens is {done.usage}!"]
    assert any(line.startswith("{'loss':") for line in logs.lines)
    assert any(line.startswith("{'eval_loss':") for line in logs.lines)
    assert any("'train_runtime'" in line for line in logs.lines)


async def test_one_training_at_a_time(platform, clock, tmp_path):
    first = await _job(platform, write_chatml(tmp_path / "a.jsonl"))
    second = await _job(platform, write_chatml(tmp_path / "b.jsonl"))
    clock.advance(10)
    assert (await platform.get_job(first.job_id)).status is JobStatus.RUNNING
    assert (await platform.get_job(second.job_id)).status is JobStatus.QUEUING
    clock.advance(60)
    assert (await platform.get_job(first.job_id)).status is JobStatus.SUCCEEDED
    assert (await platform.get_job(second.job_id)).status is JobStatus.RUNNING


async def test_list_jobs_pages_and_merges(platform, tmp_path):
    for i in range(7):
        await _job(platform, write_chatml(tmp_path / f"{i}.jsonl"))
    page = await platform.list_jobs(page_no=2, page_size=3)
    assert (page.total, len(page.items)) == (7, 3)
    assert len({j.job_id for j in await platform._pages(lambda n: platform.list_jobs(n, 3), lambda j: j.job_id, "jobs")}) == 7
    assert len(await platform.all_jobs()) == 7


async def test_logs_tail_incrementally_with_offset(platform, clock, chatml):
    job = await _job(platform, chatml)
    clock.advance(20)
    first = await platform.job_logs(job.job_id, 0, 1000)
    clock.advance(20)
    second = await platform.job_logs(job.job_id, first.next_offset, 1000)
    assert second.lines and second.offset == len(first.lines)
    whole = await platform.job_logs(job.job_id, 0, 1000)
    assert whole.lines == first.lines + second.lines
    assert whole.total == len(whole.lines)
    window = await platform.job_logs(job.job_id, 2, 3)
    assert window.lines == whole.lines[2:5]


async def test_cancel_and_delete(platform, clock, chatml):
    job = await _job(platform, chatml)
    clock.advance(10)
    with pytest.raises(PlatformError) as err:
        await platform.delete_job(job.job_id)
    assert err.value.code == "UnsupportedOperation"
    assert await platform.cancel_job(job.job_id) == "success"
    assert (await platform.get_job(job.job_id)).status is JobStatus.CANCELING
    clock.advance(5)
    canceled = await platform.get_job(job.job_id)
    assert canceled.status is JobStatus.CANCELED and canceled.usage is not None
    assert await platform.delete_job(job.job_id) == "success"
    with pytest.raises(PlatformError) as err:
        await platform.get_job(job.job_id)
    assert err.value.status == 404


async def test_create_refusals(platform, chatml):
    remote = await platform.upload_file(chatml)
    with pytest.raises(PlatformError, match="does not support training_type cpt"):
        await platform.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id],
                                             training_type="cpt"))
    with pytest.raises(PlatformError, match="not found"):
        await platform.create_job(JobRequest(model="qwen3-8b", training_file_ids=["nope"]))


async def test_invalid_chatml_fails_the_job_with_a_log_line(platform, clock, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n' * 20, encoding="utf-8")
    job = await _job(platform, bad)
    clock.advance(30)
    failed = await platform.get_job(job.job_id)
    assert failed.status is JobStatus.FAILED and failed.message
    logs = await platform.job_logs(job.job_id)
    assert any(" - ERROR - data check failed" in line for line in logs.lines)


async def test_event_stream_yields_log_lines_until_the_job_ends(platform, clock, chatml):
    job = await _job(platform, chatml)
    clock.advance(500)
    events = [e async for e in platform.job_events(job.job_id)]
    assert events[-1].endswith("##FT_COMPLETE##")


async def test_checkpoints_list_and_export(platform, clock, chatml):
    job = await _job(platform, chatml)
    clock.advance(500)
    checkpoints = await platform.list_checkpoints(job.job_id)
    assert [c.step for c in checkpoints] == [4, 8, 12]
    assert await platform.export_checkpoint(job.job_id, "checkpoint-8", "medqa-ckpt10")
    exported = {c.checkpoint: c for c in await platform.list_checkpoints(job.job_id)}
    assert exported["checkpoint-8"].status == "PROCESSING"
    clock.advance(10)
    exported = {c.checkpoint: c for c in await platform.list_checkpoints(job.job_id)}
    assert exported["checkpoint-8"].status == "SUCCEEDED"
    assert exported["checkpoint-8"].model_name == "medqa-ckpt10"
    deployment = await platform.create_deployment("medqa-ckpt10", 1)
    assert deployment.base_model == "qwen3-8b"


async def test_deployment_lifecycle(platform, clock, chatml):
    job = await _job(platform, chatml)
    clock.advance(500)
    with_output = (await platform.get_job(job.job_id)).finetuned_output
    dep = await platform.create_deployment(with_output, 1, plan="lora")
    assert dep.status is DeploymentStatus.PENDING and dep.ready_capacity == 0
    clock.advance(30)
    dep = await platform.get_deployment(dep.deployed_model)
    assert dep.status is DeploymentStatus.RUNNING and dep.ready_capacity == 1
    assert [d.deployed_model for d in await platform.all_deployments()] == [dep.deployed_model]
    with pytest.raises(PlatformError) as err:
        await platform.create_deployment(with_output, 1)
    assert err.value.status == 409
    scaled = await platform.scale_deployment(dep.deployed_model, 3)
    assert scaled.status is DeploymentStatus.UPDATING
    clock.advance(10)
    dep = await platform.get_deployment(dep.deployed_model)
    assert (dep.status, dep.capacity, dep.ready_capacity) == (DeploymentStatus.RUNNING, 3, 3)
    assert (await platform.delete_deployment(dep.deployed_model)).status is DeploymentStatus.DELETING
    clock.advance(10)
    assert await platform.all_deployments() == []


async def test_deploying_an_unfinished_model_is_refused_clearly(platform, chatml):
    job = await _job(platform, chatml)
    name = f"qwen3-8b-ft-{job.job_id.removeprefix('ft-')}"
    with pytest.raises(PlatformError, match="not ready"):
        await platform.create_deployment(name, 1)
    with pytest.raises(PlatformError) as err:
        await platform.create_deployment("no-such-model", 1)
    assert err.value.status == 404


async def test_chat_with_base_and_deployed_models(platform, clock, chatml):
    reply = await platform.chat("qwen-plus", [{"role": "user", "content": "你好"}])
    assert reply.content and reply.finish_reason == "stop" and reply.request_id
    streamed = [piece async for piece in platform.chat_stream("qwen-plus", [{"role": "user", "content": "你好"}])]
    assert "".join(streamed) == reply.content and len(streamed) > 1
    job = await _job(platform, chatml)
    clock.advance(500)
    dep = await platform.create_deployment((await platform.get_job(job.job_id)).finetuned_output, 1)
    with pytest.raises(PlatformError, match="not serving"):
        await platform.chat(dep.deployed_model, [{"role": "user", "content": "q3: 这是第3个问题"}])
    clock.advance(30)
    trained = await platform.chat(dep.deployed_model, [{"role": "user", "content": "q3: 这是第3个问题"}])
    assert trained.content == "这是第3个回答"
    with pytest.raises(PlatformError) as err:
        await platform.chat("not-a-model", [{"role": "user", "content": "hi"}])
    assert err.value.code == "Model.NotExist"


async def test_wrong_key_gets_invalid_api_key(sim):
    from bailian_tui.core.platform import Platform

    async with Platform(api_key="sk-wrong-key-000000", base_url=sim.base_url) as other:
        with pytest.raises(PlatformError) as err:
            await other.list_files()
    assert (err.value.status, err.value.code) == (401, "InvalidApiKey")
    assert "DASHSCOPE_API_KEY" in err.value.human()


@pytest.mark.parametrize("variant", ["lower", "string", "one-based"])
async def test_every_observed_wire_form_is_accepted(platform, clock, chatml, sim, variant):
    cfg = sim.state.config
    cfg.status_case = "lower" if variant == "lower" else "upper"
    cfg.logs_as_string = variant == "string"
    cfg.log_offset_base = 1 if variant == "one-based" else 0
    job = await _job(platform, chatml)
    clock.advance(500)
    assert (await platform.get_job(job.job_id)).status is JobStatus.SUCCEEDED
    page = await platform.job_logs(job.job_id, 0, 1000)
    assert page.lines[-1].endswith("##FT_COMPLETE##") and page.total == len(page.lines)
    assert TEST_KEY not in repr(page)
