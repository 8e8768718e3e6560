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

from bailian_tui.core.errors import PlatformError
from bailian_tui.core.logparse import Metrics
from bailian_tui.core.records import Job, JobStatus

INTERVALS = {JobStatus.RUNNING: 2.0, JobStatus.CANCELING: 2.0, JobStatus.PENDING: 10.0, JobStatus.QUEUING: 10.0,
             JobStatus.UNKNOWN: 10.0}
LOG_PAGE = 1000
BULK_FROM = 4  # watched jobs from which statuses come from one list call
BULK_INTERVAL = 3.0
BULK_PAGES = 5
KEEP_LINES = 5000  # per job, for the tail shown on screen; metrics keep everything they parse
KEEP_CHARS = 2_000_000  # and at most this much text (a line is cut at safetext.LINE_CAP characters)


@dataclass
class LogTail:
    """Lines of one job's log, fetched incrementally: ``offset`` lines are already known."""

    job_id: str
    offset: int = 0
    lines: list[str] = field(default_factory=list)
    metrics: Metrics = field(default_factory=Metrics)
    chars: int = 0

    def absorb(self, new: list[str], total: int | None) -> list[str]:
        if total is not None and len(new) > total - self.offset >= 0:
            # A server that reads `offset` as a 1-based line number repeats our last line: keep only the new.
            new = new[len(new) - (total - self.offset):] if total > self.offset else []
        self.offset += len(new)
        for line in new:
            self.metrics.feed(line)
        self.lines.extend(new)
        self.chars += sum(len(line) for line in new)
        if len(self.lines) > KEEP_LINES:
            cut = len(self.lines) - KEEP_LINES
            self.chars -= sum(len(line) for line in self.lines[:cut])
            del self.lines[:cut]
        if self.chars > KEEP_CHARS:  # capped in size as well as in lines
            cut, dropped = 0, 0
            while cut < len(self.lines) - 1 and self.chars - dropped > KEEP_CHARS:
                dropped += len(self.lines[cut])
                cut += 1
            del self.lines[:cut]
            self.chars -= dropped
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
    error_kind: str | None = None  # "job": this job only (gone, no access); "connection": everything

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
        self.bulk_due = 0.0
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
        """Do at most one round of work if it is due and the budget allows; return seconds until worth calling again.

        With many jobs watched, statuses come from one list call for all of them (every BULK_INTERVAL s) and
        per-job polls only fetch new log lines: the status of 50 jobs stays seconds fresh on a 2 req/s budget.
        """
        now = self.clock()
        if now < self.paused_until:
            return self.paused_until - now
        if now < self.next_request_at:
            return self.next_request_at - now
        active = [w for w in self.jobs.values() if w.due != float("inf")]
        if not active:
            return 3600.0
        bulk = len(active) >= BULK_FROM
        if bulk and now >= self.bulk_due:
            await self._guarded(None, self._bulk(active))
            self.bulk_due = self.clock() + BULK_INTERVAL
            return 0.0
        watched = min(active, key=lambda w: w.due)
        if watched.due > now:
            return min(watched.due, self.bulk_due) - now if bulk else watched.due - now
        await self._guarded(watched, self._poll(watched, status=not bulk or watched.job is None))
        return 0.0

    async def _guarded(self, watched: Watched | None, work) -> None:
        try:
            await work
        except PlatformError as err:
            if err.status == 429:
                self.backoff = min(max(self.backoff * 2, 2.0), 60.0)
                self.paused_until = self.clock() + self.backoff
                self.on_throttle(self.backoff)
            only_this = watched is not None and err.status in (400, 404)
            for target in [watched] if watched is not None else self.jobs.values():
                if only_this:
                    target.error, target.error_kind = f"gone or no access: {err.human()}", "job"
                else:
                    target.error, target.error_kind = err.human(), "connection"
                if watched is not None:
                    status = target.job.status if target.job else JobStatus.UNKNOWN
                    target.due = self.clock() + max(INTERVALS.get(status, 10.0), 2.0)
                self.on_update(Update(target, [], False, False))
                if watched is None:
                    break  # one message is enough to show a bulk failure
            return
        self.backoff = 0.0

    def _absorb(self, watched: Watched, job: Job, new_lines: list[str]) -> None:
        previous = watched.job.status if watched.job else None
        watched.job, watched.error, watched.error_kind = job, None, None
        # "Finished now" means we saw it end: a job that was already over at its first poll rings no bell.
        finished_now = job.status.finished and previous is not None and not previous.finished
        self.on_update(Update(watched, new_lines, previous != job.status, finished_now))

    async def _bulk(self, active: list[Watched]) -> None:
        wanted = {w.job_id: w for w in active}
        found: dict[str, Job] = {}
        for page_no in range(1, BULK_PAGES + 1):
            await self._pace()
            page = await self.platform.list_jobs(page_no, 100)
            found.update((job.job_id, job) for job in page.items if job.job_id in wanted)
            if len(found) == len(wanted) or not page.has_more:
                break
        for job_id, watched in wanted.items():
            job = found.get(job_id)
            if job is None:
                watched.job = None  # not in the list: its own poll will ask for it
                watched.due = min(watched.due, self.clock())
                continue
            changed = watched.job is None or watched.job.status != job.status
            if changed:
                self._absorb(watched, job, [])
                if job.status.finished:
                    watched.due = self.clock()  # one last log fetch, then never again
            else:
                watched.job = job

    async def _poll(self, watched: Watched, status: bool = True) -> None:
        if status:
            await self._pace()
            job = await self.platform.get_job(watched.job_id)
        else:
            job = watched.job
        new_lines: list[str] = []
        if job.status is not JobStatus.PENDING or watched.tail.offset == 0:
            new_lines = await watched.tail.fetch(self.platform, self._pace)
        if status:
            self._absorb(watched, job, new_lines)
        elif new_lines:
            self.on_update(Update(watched, new_lines, False, False))
        watched.due = float("inf") if job.status.finished else self.clock() + INTERVALS.get(job.status, 10.0)

    async def run(self) -> None:
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
