"""One polling scheduler for everything the app watches, with incremental log tails.

Every watched job has a due time. ``tick`` polls the most overdue job — its status, then only the log lines
it has not seen — if the global request budget allows, and says how long to wait before the next tick.
Intervals adapt to the status (fast while RUNNING, slow while PENDING/QUEUING, never once finished); a 429
pauses *all* polling with exponential backoff. However many jobs are watched, the request rate never
exceeds the budget, and no two polls overlap: there is one loop.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from core.errors import PlatformError
from core.logparse import Metrics
from core.records import Job, JobStatus

INTERVALS = {JobStatus.RUNNING: 2.0, JobStatus.CANCELING: 2.0, JobStatus.PENDING: 10.0, JobStatus.QUEUING: 10.0,
             JobStatus.UNKNOWN: 10.0}
LOG_PAGE = 1000
KEEP_LINES = 5000  # per job, for the tail shown on screen; metrics keep everything they parse


@dataclass
class LogTail:
    """Lines of one job's log, fetched incrementally: ``offset`` lines are already known."""

    job_id: str
    offset: int = 0
    lines: list[str] = field(default_factory=list)
    metrics: Metrics = field(default_factory=Metrics)

    def absorb(self, new: list[str], total: int | None) -> list[str]:
        if total is not None and len(new) > total - self.offset >= 0:
            # A server that reads `offset` as a 1-based line number repeats our last line: keep only the new.
            new = new[len(new) - (total - self.offset):] if total > self.offset else []
        self.offset += len(new)
        for line in new:
            self.metrics.feed(line)
        self.lines.extend(new)
        if len(self.lines) > KEEP_LINES:
            del self.lines[: len(self.lines) - KEEP_LINES]
        return new

    async def fetch(self, platform, pace: Callable[[], Awaitable[None]] | None = None) -> list[str]:
        """New lines since the last call; ``pace`` is awaited before each request (the scheduler's budget)."""
        fresh: list[str] = []
        while True:
            if pace is not None:
                await pace()
            page = await platform.job_logs(self.job_id, self.offset, LOG_PAGE)
            got = self.absorb(page.lines, page.total)
            fresh.extend(got)
            if len(page.lines) < LOG_PAGE or not got:
                return fresh


@dataclass
class Watched:
    job_id: str
    job: Job | None = None
    tail: LogTail | None = None
    due: float = 0.0
    error: str | None = None

    def __post_init__(self) -> None:
        self.tail = self.tail or LogTail(self.job_id)


@dataclass
class Update:
    """Published after each poll: what changed for one job."""

    watched: Watched
    new_lines: list[str]
    status_changed: bool
    finished_now: bool


class Scheduler:
    def __init__(self, platform, *, requests_per_second: float = 2.0,
                 clock: Callable[[], float] = time.monotonic, on_update: Callable[[Update], None] | None = None,
                 on_throttle: Callable[[float], None] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.platform = platform
        self.rate = max(requests_per_second, 0.01)
        self.clock = clock
        self.on_update = on_update or (lambda update: None)
        self.on_throttle = on_throttle or (lambda seconds: None)
        self._sleep = sleep
        self.jobs: dict[str, Watched] = {}
        self.next_request_at = 0.0
        self.paused_until = 0.0
        self.backoff = 0.0
        self.requests = 0
        self._wake = asyncio.Event()

    # -- the watch list --------------------------------------------------------------------------------

    def watch(self, job_id: str) -> Watched:
        if job_id not in self.jobs:
            self.jobs[job_id] = Watched(job_id, due=self.clock())
            self._wake.set()
        return self.jobs[job_id]

    def unwatch(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)

    def poll_soon(self, job_id: str) -> None:
        """After a cancel, say: look again now rather than at the next interval."""
        if job_id in self.jobs:
            self.jobs[job_id].due = self.clock()
            self._wake.set()

    # -- the loop --------------------------------------------------------------------------------------

    async def pace(self) -> None:
        """For other periodic calls of the app (the job list refresh): share the one request budget."""
        await self._pace()

    async def _pace(self) -> None:
        """Wait for the budget, then take one request's worth of it: the rate never exceeds the budget."""
        now = self.clock()
        if now < self.next_request_at:
            await self._sleep(self.next_request_at - now)
        self.next_request_at = max(self.next_request_at, self.clock()) + 1.0 / self.rate
        self.requests += 1

    async def tick(self) -> float:
        """Poll at most one job if one is due and the budget allows; return seconds until worth calling again."""
        now = self.clock()
        if now < self.paused_until:
            return self.paused_until - now
        if now < self.next_request_at:
            return self.next_request_at - now
        active = [w for w in self.jobs.values() if w.due != float("inf")]
        if not active:
            return 3600.0
        watched = min(active, key=lambda w: w.due)
        if watched.due > now:
            return watched.due - now
        try:
            await self._poll(watched)
        except PlatformError as err:
            watched.error = err.human()
            if err.status == 429:
                self.backoff = min(max(self.backoff * 2, 2.0), 60.0)
                self.paused_until = self.clock() + self.backoff
                self.on_throttle(self.backoff)
            watched.due = self.clock() + max(INTERVALS.get(watched.job.status if watched.job else JobStatus.UNKNOWN,
                                                           10.0), 2.0)
            self.on_update(Update(watched, [], False, False))
            return 0.0
        self.backoff = 0.0
        return 0.0

    async def _poll(self, watched: Watched) -> None:
        await self._pace()
        job = await self.platform.get_job(watched.job_id)
        previous = watched.job.status if watched.job else None
        watched.job, watched.error = job, None
        new_lines: list[str] = []
        if job.status not in (JobStatus.PENDING,) or watched.tail.offset == 0:
            new_lines = await watched.tail.fetch(self.platform, self._pace)
        # "Finished now" means we saw it end: a job that was already over at its first poll rings no bell.
        finished_now = job.status.finished and previous is not None and not previous.finished
        watched.due = float("inf") if job.status.finished else self.clock() + INTERVALS.get(job.status, 10.0)
        self.on_update(Update(watched, new_lines, previous != job.status, finished_now))

    async def run(self, sleep: Callable[[float], asyncio.Future] | None = None) -> None:
        """Forever: tick, then wait (or until something is newly watched)."""
        while True:
            delay = await self.tick()
            if delay <= 0:
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass
