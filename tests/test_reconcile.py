"""Creates that cannot bill twice: late commits, timeouts and interrupted creates give exactly one of each.

The simulator's ``late_commit`` fault answers a create with a 504 (or drops it) and commits it N simulated
seconds later; the client's back-off sleeps advance the same simulated clock, so 50 runs take a second.
"""

from __future__ import annotations

import asyncio

import pytest

from bailian_tui.core.errors import OutcomeUnknown
from bailian_tui.core.platform import JobRequest, Platform, RetryPolicy
from bailian_tui.core.service import Service
from bailian_tui.core.store import Store
from tests.conftest import TEST_KEY, write_chatml

RUNS = 50


def compressed(sim, clock, **retry) -> Platform:
    """A client whose back-off sleeps move the simulator's clock instead of waiting."""

    async def advance(seconds: float) -> None:
        clock.advance(seconds)

    return Platform(api_key=TEST_KEY, base_url=sim.base_url, timeout=10,
                    retry=RetryPolicy(attempts=4, **retry), sleep=advance)


@pytest.mark.parametrize("delay", [1.5, 3.0])
@pytest.mark.parametrize("answer", ["504", "drop"])
async def test_late_commit_jobs_exactly_one_each(sim, clock, chatml, delay, answer):
    async with compressed(sim, clock) as platform:
        remote = await platform.upload_file(chatml)
        sim.state.config.late_commit, sim.state.config.late_commit_answer = delay, answer
        made = [await platform.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id]))
                for _ in range(RUNS)]
        clock.advance(delay + 1)
        await platform.list_jobs()  # let any straggler commit land before counting
    assert len({j.job_id for j in made}) == RUNS
    assert len(sim.state.jobs) == RUNS and sim.late_pending == 0
    assert platform.stats.reconciled == RUNS and platform.stats.unknown == 0


@pytest.mark.parametrize("answer", ["504", "drop"])
async def test_late_commit_uploads_exactly_one_each(sim, clock, tmp_path, answer):
    async with compressed(sim, clock) as platform:
        sim.state.config.late_commit, sim.state.config.late_commit_answer = 3.0, answer
        files = [write_chatml(tmp_path / f"u{i}.jsonl", 2, prefix=f"u{i}") for i in range(RUNS)]
        made = [await platform.upload_file(f) for f in files]
    assert len({f.file_id for f in made}) == RUNS == len(sim.state.files)
    assert platform.stats.unknown == 0


async def test_late_commit_deployments_exactly_one_each(sim, clock, chatml):
    sim.state.config.max_deployments = RUNS + 1
    async with compressed(sim, clock) as platform:
        remote = await platform.upload_file(chatml)
        job = await platform.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id],
                                                   hyper_parameters={"batch_size": 8}))
        clock.advance(600)
        model = (await platform.get_job(job.job_id)).finetuned_output
        sim.state.config.late_commit = 3.0
        made = [await platform.create_deployment(model, 1, suffix=f"d{i}") for i in range(RUNS)]
    assert len({d.deployed_model for d in made}) == RUNS == len(sim.state.deployments)


async def test_a_commit_later_than_the_window_is_unknown_never_resent(sim, clock, chatml):
    async with compressed(sim, clock, reconcile_window=5.0) as platform:
        remote = await platform.upload_file(chatml)
        sim.state.config.late_commit = 30.0
        posts_before = sim.state.requests
        with pytest.raises(OutcomeUnknown) as err:
            await platform.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id],
                                                 job_name="nightly"))
        assert "look in Jobs for the job named 'nightly'" in err.value.human()
        assert sim.state.jobs == {}
        clock.advance(30)
        await platform.list_jobs()
    assert len(sim.state.jobs) == 1  # the one POST, committed late: nothing was sent twice
    assert posts_before < sim.state.requests


async def test_client_timeout_then_late_commit_exactly_one(sim, clock, chatml):
    """The real thing: the client times out while the server still holds the POST, which commits after."""
    async with Platform(api_key=TEST_KEY, base_url=sim.base_url, timeout=10,
                        retry=RetryPolicy(attempts=4), sleep=lambda s: _release_then_advance(sim, clock, s)) as setup:
        remote = await setup.upload_file(chatml)
    runs = RUNS
    async with Platform(api_key=TEST_KEY, base_url=sim.base_url, timeout=0.05, retry=RetryPolicy(attempts=4),
                        sleep=lambda s: _release_then_advance(sim, clock, s)) as platform:
        sim.hold_path = "/fine-tunes"
        made = []
        for _ in range(runs):
            sim.release.clear()
            made.append(await platform.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id])))
        sim.hold_path = None
    assert len({j.job_id for j in made}) == runs == len(sim.state.jobs)


async def _release_then_advance(sim, clock, seconds: float) -> None:
    sim.release.set()  # the client gave up waiting: now the held POST commits
    await asyncio.sleep(0.01)
    clock.advance(seconds)


async def test_open_intent_is_settled_before_a_new_identical_create(sim, clock, chatml, tmp_path):
    """An intent left open by a crash: the same request again returns the job it made, with a message."""
    store = Store(tmp_path / "state.db", endpoint=sim.base_url)
    async with compressed(sim, clock) as platform:
        service = Service(platform, store)
        remote = await platform.upload_file(chatml)
        sim.state.config.late_commit, sim.state.config.late_commits = 3.0, 1
        request = JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id])
        before = await platform.job_snapshot(request)
        from bailian_tui.core.service import _job_key

        store.intent("job", _job_key(request), {"body": request.body(), "before": sorted(before)})
        with pytest.raises(Exception):  # the process "dies" with the create in flight: simulate by not waiting
            await platform._once("POST", "/fine-tunes", "create fine-tune", "finetune", json=request.body())
        again = await service.create_job_outcome(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id]))
    assert again.reused and "already made job" in again.message
    assert len(sim.state.jobs) == 1 and [i.state for i in store.intents()] == ["created"]
    store.close()


async def test_open_intents_are_settled_in_the_background(sim, clock, chatml, tmp_path):
    """On start: an intent whose job exists becomes `created` (with a message); one that made nothing, `absent`."""
    store = Store(tmp_path / "state.db", endpoint=sim.base_url)
    async with compressed(sim, clock, reconcile_window=0.0) as platform:
        service = Service(platform, store)
        remote = await platform.upload_file(chatml)
        made = JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id])
        job = await platform.create_job(made)  # made, but the process died before settling its intent
        store.intent("job", "k1", {"body": made.body(), "before": []})
        lost = JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id], job_name="never-arrived")
        store.intent("job", "k2", {"body": lost.body(), "before": []})
        messages = await service.reconcile_intents()
    assert messages == [f"an interrupted job had made job {job.job_id}: recorded"]
    assert [(i.key, i.state, i.result_id) for i in store.intents()] == [("k1", "created", job.job_id),
                                                                        ("k2", "absent", None)]
    store.close()
