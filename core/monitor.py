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
GLANCE_LINES = 200  # a glance reads at most this many of the newest log lines, in one request
GLANCE_INTERVAL = 10.0  # seconds between two glances at one job, at the least
GLANCE_SHARE = 0.5  # glances never take more than this share of the request budget
GLANCE_POINTS = 20  # loss points a glance keeps (the job list shows the latest)


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
class Glance:
    """A running job nobody watches: its latest progress and loss for the job list, one request at a time.

    Unlike a watched job's tail it never reads the whole log: each glance asks for the lines after the last
    one seen, and when more than GLANCE_LINES arrived in between it skips to the newest GLANCE_LINES.
    """

    job_id: str
    offset: int = 0
    metrics: Metrics = field(default_factory=Metrics)
    due: float = 0.0
    active: bool = True
    last: bool = False  # the job ended: one more look, then no more
    error: str | None = None
    glances: int = 0

    async def look(self, platform) -> bool:
        """One request; whether the newest lines have been read (False: a job with a long log, first look)."""
        page = await platform.job_logs(self.job_id, self.offset, GLANCE_LINES)
        self.glances += 1
        lines = page.lines
        if page.total is not None and len(lines) > page.total - self.offset >= 0:  # a 1-based server
            lines = lines[len(lines) - (page.total - self.offset):] if page.total > self.offset else []
        for line in lines:
            self.metrics.feed(line)
        del self.metrics.loss[:-GLANCE_POINTS]
        del self.metrics.eval_loss[:-GLANCE_POINTS]
        del self.metrics.eval_accuracy[:-GLANCE_POINTS]
        del self.metrics.errors[:-GLANCE_POINTS]
        self.offset += len(lines)
        if page.total is not None and page.total - self.offset > GLANCE_LINES:
            self.offset = page.total - GLANCE_LINES  # far behind: the newest lines are what the list shows
        self.error = None
        return page.total is None or self.offset >= page.total


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
                 on_glance: Callable[[Glance], None] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.platform = platform
        self.rate = max(requests_per_second, 0.01)
        self.clock = clock
        self.on_update = on_update or (lambda update: None)
        self.on_throttle = on_throttle or (lambda seconds: None)
        self.on_glance = on_glance or (lambda glance: None)
        self.glances: dict[str, Glance] = {}
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

    def glance(self, job_ids) -> None:
        """The running jobs nobody watches (the job list's latest view): glance at each within the budget.

        Jobs no longer in ``job_ids`` keep what was last seen but are not asked about again; watched jobs are
        skipped (their full tail already says more).
        """
        wanted = set(job_ids) - set(self.jobs)
        for job_id, glance in self.glances.items():
            if job_id in wanted:
                glance.active, glance.last = True, False
            elif glance.active and not glance.last and job_id not in self.jobs:
                glance.last, glance.due = True, self.clock()  # it ended: one last look shows how far it got
            elif job_id in self.jobs:
                glance.active = False
        for job_id in wanted:
            if job_id not in self.glances:
                self.glances[job_id] = Glance(job_id, due=self.clock())
                self._wake.set()

    def glance_interval(self) -> float:
        """Seconds between two glances at one job: GLANCE_INTERVAL, longer when many jobs share the budget."""
        active = sum(1 for g in self.glances.values() if g.active and g.job_id not in self.jobs)
        return max(GLANCE_INTERVAL, active / (self.rate * GLANCE_SHARE))

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
        glances = [g for g in self.glances.values() if g.active and g.job_id not in self.jobs]
        if not active and not glances:
            return 3600.0
        bulk = len(active) >= BULK_FROM
        if bulk and now >= self.bulk_due:
            await self._guarded(None, self._bulk(active))
            self.bulk_due = self.clock() + BULK_INTERVAL
            return 0.0
        wait = 3600.0
        if active:
            watched = min(active, key=lambda w: w.due)
            if watched.due <= now:
                await self._guarded(watched, self._poll(watched, status=not bulk or watched.job is None))
                return 0.0
            wait = min(watched.due, self.bulk_due) - now if bulk else watched.due - now
        if glances:  # watched jobs come first; a glance only takes budget nobody watching needs now
            glance = min(glances, key=lambda g: g.due)
            if glance.due <= now:
                await self._glance(glance)
                return 0.0
            wait = min(wait, glance.due - now)
        return wait

    async def _glance(self, glance: Glance) -> None:
        caught_up = True
        try:
            await self._pace()
            caught_up = await glance.look(self.platform)
        except PlatformError as err:
            glance.error = err.human()
            if err.status == 429:
                self.backoff = min(max(self.backoff * 2, 2.0), 60.0)
                self.paused_until = self.clock() + self.backoff
                self.on_throttle(self.backoff)
            elif err.status in (400, 404):
                glance.active = False  # gone: the next job list says so
        # A long log's first look read its head (total steps); the newest lines come at the next free slot.
        glance.due = self.clock() + (0.0 if not caught_up else self.glance_interval())
        if glance.last and caught_up:
            glance.active = False
        self.on_glance(glance)

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
