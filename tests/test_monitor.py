"""Log parsing, incremental tails and the one polling scheduler, against the simulator's clock."""

from __future__ import annotations

from bailian_tui.core.logparse import Metrics
from bailian_tui.core.monitor import LogTail, Scheduler
from bailian_tui.core.platform import JobRequest
from bailian_tui.core.records import JobStatus
from tests.conftest import write_chatml

HP = {"n_epochs": 3, "batch_size": 8, "logging_steps": 1, "eval_steps": 2}


async def make_job(platform, tmp_path, name="a", **hp):
    remote = await platform.upload_file(write_chatml(tmp_path / f"{name}.jsonl"))
    return await platform.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id],
                                                hyper_parameters={**HP, **hp}))


def test_parser_reads_the_documented_sample_and_ignores_the_unknown():
    metrics = Metrics()
    for line in [
        "{'train_runtime': 216.3999, 'train_samples_per_second': 2.066, 'train_steps_per_second': 0.014, "
        "'train_loss': 0.9122632344563802, 'epoch': 0.8571428571428571}",
        " Actual number of consumed tokens is 279808!",
        " Uploaded checkpoint!",
        "2024-10-29 17:11:25,175 - INFO - ##FT_COMPLETE##",
        "garbage {not a dict",
        "{'loss': 1.5, 'learning_rate': 1e-05, 'epoch': 0.5, 'step': '3/6'}",
        "2024-10-29 17:11:25,175 - ERROR - data check failed",
    ]:
        metrics.feed(line)
    assert metrics.train_loss == 0.9122632344563802 and metrics.consumed_tokens == 279808
    assert metrics.complete and metrics.progress == 1.0
    assert (metrics.step, metrics.total_steps, metrics.latest_loss) == (3, 6, 1.5)
    assert metrics.errors == ["data check failed"]


async def test_tail_fetches_only_new_lines_and_metrics_follow(platform, clock, tmp_path):
    job = await make_job(platform, tmp_path)
    tail = LogTail(job.job_id)
    clock.advance(20)
    first = await tail.fetch(platform)
    clock.advance(15)
    second = await tail.fetch(platform)
    assert first and second and tail.lines == first + second
    assert await tail.fetch(platform) == []  # nothing new, nothing re-downloaded
    clock.advance(300)
    await tail.fetch(platform)
    done = await platform.get_job(job.job_id)
    assert tail.metrics.complete and tail.metrics.consumed_tokens == done.usage
    assert tail.metrics.loss and tail.metrics.eval_loss and tail.metrics.total_steps == 12
    assert tail.lines == (await platform.job_logs(job.job_id, 0, 1000)).lines


async def test_tail_copes_with_one_based_offsets(platform, clock, tmp_path, sim):
    sim.state.config.log_offset_base = 1
    job = await make_job(platform, tmp_path)
    tail = LogTail(job.job_id)
    clock.advance(20)
    await tail.fetch(platform)
    clock.advance(400)
    await tail.fetch(platform)
    sim.state.config.log_offset_base = 0
    assert tail.lines == (await platform.job_logs(job.job_id, 0, 1000)).lines


class FakeClock:
    """Time for the scheduler; sleeping moves it and the simulator's clock together."""

    def __init__(self, sim_clock=None) -> None:
        self.now = 0.0
        self.sim_clock = sim_clock

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.sim_clock is not None:
            self.sim_clock.advance(seconds)


async def run_for(scheduler, fake, sim_clock, seconds: float, step: float = 5.0) -> None:
    end = fake.now + seconds
    while fake.now < end:
        wait = await scheduler.tick()
        advance = min(max(wait, 0.0), step) if wait > 0 else 0.0
        if advance:
            fake.now += advance
            sim_clock.advance(advance)


async def test_scheduler_watches_many_jobs_within_budget(platform, clock, tmp_path, sim):
    sim.state.config.epoch_seconds = 4.0
    jobs = [await make_job(platform, tmp_path, name=str(i)) for i in range(4)]
    fake, updates = FakeClock(clock), []
    scheduler = Scheduler(platform, requests_per_second=2.0, clock=fake, on_update=updates.append,
                          sleep=fake.sleep)
    for job in jobs:
        scheduler.watch(job.job_id)
    before = sim.state.requests
    await run_for(scheduler, fake, clock, 30)
    sent = sim.state.requests - before
    assert sent == scheduler.requests
    assert sent <= 2.0 * 30 + 1  # the budget, strictly
    statuses = {u.watched.job_id: u.watched.job.status for u in updates if u.watched.job}
    assert JobStatus.RUNNING in statuses.values() or JobStatus.SUCCEEDED in statuses.values()
    await run_for(scheduler, fake, clock, 120)
    assert all(w.job.status is JobStatus.SUCCEEDED for w in scheduler.jobs.values())
    finished = [u for u in updates if u.finished_now]
    assert len(finished) == 4
    idle_before = sim.state.requests
    await run_for(scheduler, fake, clock, 60)
    assert sim.state.requests == idle_before  # finished jobs are not polled any more
    for watched in scheduler.jobs.values():
        assert watched.tail.metrics.complete


async def test_scheduler_backs_off_on_429_and_recovers(platform, clock, tmp_path, sim):
    job = await make_job(platform, tmp_path)
    fake, throttles = FakeClock(clock), []
    scheduler = Scheduler(platform, clock=fake, on_throttle=throttles.append, sleep=fake.sleep)
    platform.retry.attempts = 1
    scheduler.watch(job.job_id)
    sim.state.config.rate_429 = 1.0
    await run_for(scheduler, fake, clock, 30)
    assert throttles and throttles == sorted(throttles) and max(throttles) >= 8
    storm_requests = scheduler.requests
    assert storm_requests < 15  # backing off, not hammering
    sim.state.config.rate_429 = 0.0
    await run_for(scheduler, fake, clock, 200)
    assert scheduler.jobs[job.job_id].job.status is JobStatus.SUCCEEDED


async def test_scheduler_survives_dropped_connections(platform, clock, tmp_path, sim):
    job = await make_job(platform, tmp_path)
    fake = FakeClock(clock)
    scheduler = Scheduler(platform, clock=fake, sleep=fake.sleep)
    scheduler.watch(job.job_id)
    sim.state.config.drop_rate = 0.5
    await run_for(scheduler, fake, clock, 300)
    sim.state.config.drop_rate = 0.0
    await run_for(scheduler, fake, clock, 30)
    watched = scheduler.jobs[job.job_id]
    assert watched.job.status is JobStatus.SUCCEEDED and watched.tail.metrics.complete
    assert watched.tail.lines == (await platform.job_logs(job.job_id, 0, 1000)).lines


async def test_a_watched_jobs_404_marks_that_job_not_the_connection(platform, sim):
    updates = []

    async def no_wait(_seconds: float) -> None:
        return None

    scheduler = Scheduler(platform, requests_per_second=1000.0, on_update=updates.append, sleep=no_wait)
    scheduler.watch("ft-does-not-exist")
    await scheduler.tick()
    watched = scheduler.jobs["ft-does-not-exist"]
    assert watched.error_kind == "job" and watched.error.startswith("gone or no access")
    assert updates and updates[-1].watched is watched


async def test_running_jobs_nobody_watches_are_glanced_within_the_budget(platform, clock, tmp_path, sim):
    sim.state.config.one_training_at_a_time = False
    sim.state.config.pending_seconds = 0
    sim.state.config.epoch_seconds = 600.0
    jobs = [await make_job(platform, tmp_path, name=str(i)) for i in range(10)]
    clock.advance(120)
    fake, glanced = FakeClock(clock), []
    scheduler = Scheduler(platform, requests_per_second=2.0, clock=fake, sleep=fake.sleep, on_glance=glanced.append)
    scheduler.glance(job.job_id for job in jobs)
    before = sim.state.requests
    await run_for(scheduler, fake, clock, 60)
    sent = sim.state.requests - before
    assert sent == scheduler.requests
    assert sent <= 2.0 * 60 * 0.5 + 10 + 1  # at most half the budget (plus one catch-up look per long log)
    for job in jobs:
        glance = scheduler.glances[job.job_id]
        assert glance.glances >= 5  # each job at least every GLANCE_INTERVAL
        assert glance.metrics.step is not None and glance.metrics.latest_loss is not None
        assert glance.metrics.total_steps
    full = Metrics()
    for line in (await platform.job_logs(jobs[0].job_id, 0, 1000)).lines:
        full.feed(line)
    assert scheduler.glances[jobs[0].job_id].metrics.step <= full.step
    # A watched job is not glanced at (its tail says more); an ended one gets one last look, then no more.
    scheduler.watch(jobs[0].job_id)
    await platform.cancel_job(jobs[1].job_id)
    scheduler.glance(job.job_id for job in jobs[2:])
    await run_for(scheduler, fake, clock, 30)
    assert not scheduler.glances[jobs[0].job_id].active
    assert not scheduler.glances[jobs[1].job_id].active
    idle = scheduler.glances[jobs[1].job_id].glances
    await run_for(scheduler, fake, clock, 30)
    assert scheduler.glances[jobs[1].job_id].glances == idle


async def test_a_glance_at_a_long_log_reads_its_newest_lines_only(platform, clock, tmp_path, sim):
    sim.state.config.pending_seconds = 0
    sim.state.config.epoch_seconds = 1.0
    job = await make_job(platform, tmp_path, n_epochs=100)
    clock.advance(60)
    total = (await platform.job_logs(job.job_id, 0, 1)).total
    assert total > 2 * 200, total
    fake = FakeClock(clock)
    scheduler = Scheduler(platform, requests_per_second=1000.0, clock=fake, sleep=fake.sleep)
    scheduler.glance([job.job_id])
    before = sim.state.requests
    for _ in range(10):  # the fake clock only moves when told: step it over the budget's spacing
        fake.now += max(await scheduler.tick(), 0.0)
        if scheduler.requests == 2:
            break
    glance = scheduler.glances[job.job_id]
    assert sim.state.requests - before == 2 and glance.offset >= total  # the head, then the newest lines
    full = Metrics()
    for line in (await platform.job_logs(job.job_id, max(total - 1000, 0), 1000)).lines:
        full.feed(line)
    assert (glance.metrics.step, glance.metrics.latest_loss) == (full.step, full.latest_loss)
