"""Every configured profile at once: a provider, a service and a polling scheduler for each.

The app and ``jobs watch`` see one list of jobs from every provider, each tagged with its provider, and
address jobs by their key (``"<provider>:<job_id>"``), unique across providers. Each provider has its
own scheduler, so each keeps its own request budget (the profile's ``requests_per_second``, else the
app's ``polling.requests_per_second``) and its own 429 backoff: a throttled XPULink never slows the
polling of Bailian, and twenty jobs split across both never exceed either budget.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from bailian_tui.core.errors import PlatformError
from bailian_tui.core.monitor import Scheduler, Update
from bailian_tui.core.profiles import Profile, default_profile, open_provider, profiles
from bailian_tui.core.providers.base import split_qualified
from bailian_tui.core.service import JobRow, Service
from bailian_tui.core.store import Store


@dataclass
class Member:
    profile: Profile
    provider: Any  # a core.providers.base.Provider
    service: Service
    scheduler: Scheduler

    @property
    def name(self) -> str:
        return self.profile.name


@dataclass(frozen=True)
class FleetRows:
    rows: list[JobRow]
    errors: dict[str, str]  # provider name -> what went wrong listing its jobs


class Fleet:
    def __init__(self, settings, *, store_path: Path | None = None,
                 on_update: Callable[[Update], None] | None = None,
                 on_throttle: Callable[[str, float], None] | None = None,
                 clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None,
                 only: str | None = None, provider_kwargs: dict | None = None) -> None:
        self.settings = settings
        every = profiles(settings)
        self.default = default_profile(settings, every).name
        if only:
            every = [p for p in every if p.name == only]
        store_path = store_path or settings.state_dir / "state.db"
        self.members: dict[str, Member] = {}
        for profile in every:
            provider = open_provider(profile, settings, **(provider_kwargs or {}))
            # Rows are scoped by endpoint as before, so the single-profile store of older versions still reads.
            store = Store(store_path, endpoint=profile.base_url or f"{profile.name}:default")
            rate = profile.requests_per_second or settings.get("polling.requests_per_second")
            extra: dict[str, Any] = {}
            if clock is not None:
                extra["clock"] = clock
            if sleep is not None:
                extra["sleep"] = sleep
            scheduler = Scheduler(provider, requests_per_second=rate, on_update=on_update or (lambda u: None),
                                  on_throttle=(lambda seconds, name=profile.name: on_throttle(name, seconds))
                                  if on_throttle else None, **extra)
            self.members[profile.name] = Member(profile, provider, Service(provider, store), scheduler)

    # -- lookup ----------------------------------------------------------------------------------------

    def member(self, name: str | None = None) -> Member:
        name = name or self.default
        if name not in self.members:
            raise KeyError(f"no profile named {name!r}; profiles: {', '.join(self.members)}")
        return self.members[name]

    def resolve(self, key: str) -> tuple[Member, str]:
        """(member, bare job id) for ``provider:job_id`` or a bare id (the default provider's)."""
        provider, job_id = split_qualified(key)
        return self.member(provider or None), job_id

    # -- jobs across providers -------------------------------------------------------------------------

    async def job_rows(self) -> FleetRows:
        """Every provider's jobs, newest first; a provider that fails is reported, the others still listed."""
        async def one(member: Member) -> tuple[str, list[JobRow] | str]:
            try:
                return member.name, await member.service.job_rows()
            except PlatformError as err:
                return member.name, err.human()

        rows: list[JobRow] = []
        errors: dict[str, str] = {}
        for name, result in await asyncio.gather(*(one(m) for m in self.members.values())):
            if isinstance(result, str):
                errors[name] = result
            else:
                rows.extend(result)
        rows.sort(key=lambda r: r.job.created_at.timestamp() if r.job.created_at else 0.0, reverse=True)
        return FleetRows(rows, errors)

    def watch(self, key: str) -> None:
        member, job_id = self.resolve(key)
        member.scheduler.watch(job_id)
        member.service.store.watch(job_id)

    def unwatch(self, key: str) -> None:
        member, job_id = self.resolve(key)
        member.scheduler.unwatch(job_id)
        member.service.store.unwatch(job_id)

    def watched(self) -> list[str]:
        """Keys of every job on a watch list (stored ones included, for restarts)."""
        return [f"{m.name}:{job_id}" for m in self.members.values() for job_id in m.service.store.watched()]

    def restore_watch_list(self) -> None:
        for member in self.members.values():
            for job_id in member.service.store.watched():
                member.scheduler.watch(job_id)

    async def tick(self) -> float:
        """One round of every scheduler; the shortest wait (tests and ``jobs watch`` drive this)."""
        waits = [await m.scheduler.tick() for m in self.members.values()]
        return min(waits) if waits else 3600.0

    async def run(self) -> None:
        await asyncio.gather(*(m.scheduler.run() for m in self.members.values()))

    def requests(self) -> dict[str, int]:
        return {name: m.scheduler.requests for name, m in self.members.items()}

    async def aclose(self) -> None:
        for member in self.members.values():
            await member.provider.aclose()
            member.service.store.close()
