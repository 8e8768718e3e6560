"""Fault injection: reads survive throttling storms and 5xx; an ambiguous create never bills twice."""

from __future__ import annotations

import pytest

from bailian_tui.core.errors import OutcomeUnknown, PlatformError
from bailian_tui.core.platform import JobRequest, Platform, RetryPolicy
from tests.conftest import TEST_KEY, no_sleep, write_chatml


async def test_reads_survive_a_429_storm(sim, platform, tmp_path):
    await platform.upload_file(write_chatml(tmp_path / "a.jsonl"))
    sim.state.config.rate_429 = 0.5
    for _ in range(20):
        assert len((await platform.list_files()).items) == 1
    assert platform.stats.retries > 5


async def test_reads_survive_500s_and_dropped_connections(sim, platform, tmp_path):
    await platform.upload_file(write_chatml(tmp_path / "a.jsonl"))
    sim.state.config.rate_500 = 0.3
    sim.state.config.drop_rate = 0.2
    for _ in range(20):
        assert (await platform.list_files()).total == 1
    assert platform.stats.retries > 3


async def test_retry_after_is_honoured(sim):
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    sim.state.config.rate_429 = 1.0
    async with Platform(api_key=TEST_KEY, base_url=sim.base_url, retry=RetryPolicy(attempts=3),
                        sleep=record) as platform:
        with pytest.raises(PlatformError) as err:
            await platform.list_jobs()
    assert err.value.status == 429 and err.value.code == "Throttling"
    assert len(delays) == 2 and delays[1] > delays[0]


async def test_dropped_connection_during_create_leaves_exactly_one_job(sim, platform, chatml):
    remote = await platform.upload_file(chatml)
    sim.state.config.drop_after_write = 1  # the job is created, then the connection dies unanswered
    job = await platform.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id]))
    assert len(sim.state.jobs) == 1 and job.job_id in sim.state.jobs
    assert platform.stats.reconciled == 1


async def test_500_on_create_is_never_resent_and_ends_unknown(sim, platform, chatml):
    """A 5xx may hide a commit: the facade looks for the job over the window, then says it does not know."""
    remote = await platform.upload_file(chatml)
    sim.state.config.rate_500 = 1.0
    with pytest.raises(OutcomeUnknown) as err:
        await platform.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id]))
    assert "look in Jobs for the job named 'bt-" in err.value.human()
    assert platform.stats.unknown == 1
    sim.state.config.rate_500 = 0.0
    assert sim.state.jobs == {}


async def test_many_drops_still_one_job(sim, platform, chatml):
    remote = await platform.upload_file(chatml)
    sim.state.config.drop_after_write = 1
    sim.state.config.drop_rate = 0.3
    made, unknown = set(), 0
    for _ in range(6):
        try:
            made.add((await platform.create_job(JobRequest(model="qwen3-8b",
                                                           training_file_ids=[remote.file_id]))).job_id)
        except OutcomeUnknown:
            unknown += 1  # dropped before the server acted: nothing to find, and nothing re-sent
    sim.state.config.drop_rate = 0.0
    assert set(sim.state.jobs) == made and len(made) + unknown == 6


async def test_dropped_connection_during_deploy_leaves_one_deployment(sim, platform, clock, chatml):
    remote = await platform.upload_file(chatml)
    job = await platform.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id],
                                               hyper_parameters={"batch_size": 8}))
    clock.advance(300)
    model = (await platform.get_job(job.job_id)).finetuned_output
    sim.state.config.drop_after_write = 1
    deployment = await platform.create_deployment(model, 1)
    assert list(sim.state.deployments) == [deployment.deployed_model]


async def test_dropped_connection_during_upload_leaves_one_file(sim, platform, chatml):
    sim.state.config.drop_after_write = 1
    remote = await platform.upload_file(chatml)
    assert list(sim.state.files) == [remote.file_id]


async def test_sdk_transport_retries_are_off(sim, platform, chatml):
    """The SDK would retry a POST on 500 by itself; the facade must be the only one deciding."""
    remote = await platform.upload_file(chatml)
    before = sim.state.requests
    sim.state.config.rate_500 = 1.0
    async with Platform(api_key=TEST_KEY, base_url=sim.base_url, retry=RetryPolicy(attempts=1),
                        sleep=no_sleep) as single:
        with pytest.raises(PlatformError):
            await single.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id]))
    # one POST, then only lists to look for what it may have created: never a second POST
    assert sim.state.requests - before == single.stats.requests
    assert sim.state.jobs == {}


async def test_reconciled_upload_is_never_an_older_namesake(sim, platform, chatml, tmp_path):
    """An identical name and size uploaded earlier must not be mistaken for what a dropped attempt made."""
    older = await platform.upload_file(chatml)
    sim.state.config.drop_after_write = 1
    sim.state.config.rate_500 = 0.0
    newer = await platform.upload_file(chatml)
    assert newer.file_id != older.file_id and len(sim.state.files) == 2
