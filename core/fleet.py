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
                 on_glance: Callable[[Any], None] | None = None,
                 clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None,
                 only: str | None = None, provider_kwargs: dict | None = None, qualify: bool = False) -> None:
        self.settings = settings
        every = profiles(settings)
        self.default = default_profile(settings, every).name
        if only:
            every = [p for p in every if p.name == only]
        store_path = store_path or settings.state_dir / "state.db"
        self.members: dict[str, Member] = {}
        self.views: dict[str, Any] = {}  # what the scheduler and the screens see of each provider
        for profile in every:
            provider = open_provider(profile, settings, **(provider_kwargs or {}))
            view = QualifiedProvider(provider, profile.name) if qualify and profile.name != self.default else provider
            self.views[profile.name] = view
            # Rows are scoped by endpoint as before, so the single-profile store of older versions still reads.
            store = Store(store_path, endpoint=profile.base_url or f"{profile.name}:default")
            rate = profile.requests_per_second or settings.get("polling.requests_per_second")
            extra: dict[str, Any] = {}
            if clock is not None:
                extra["clock"] = clock
            if sleep is not None:
                extra["sleep"] = sleep
            if on_glance is not None:
                extra["on_glance"] = on_glance
            scheduler = Scheduler(view, requests_per_second=rate, on_update=on_update or (lambda u: None),
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

    def watch(self, key: str, persist: bool = True) -> None:
        """Poll a job (``provider:id`` or a bare id of the default profile); ``persist`` keeps it on the
        profile's watch list across restarts (the app), a headless ``jobs watch`` does not."""
        member, job_id = self.resolve(key)
        view = self.views[member.name]
        member.scheduler.watch(view.q(job_id) if isinstance(view, QualifiedProvider) else job_id)
        if persist:
            member.service.store.watch(job_id)

    def unwatch(self, key: str) -> None:
        member, job_id = self.resolve(key)
        view = self.views[member.name]
        member.scheduler.unwatch(view.q(job_id) if isinstance(view, QualifiedProvider) else job_id)
        member.service.store.unwatch(job_id)

    def watched(self) -> list[str]:
        """Keys of every job on a watch list (stored ones included, for restarts)."""
        return [f"{m.name}:{job_id}" for m in self.members.values() for job_id in m.service.store.watched()]

    def restore_watch_list(self) -> None:
        for name, member in self.members.items():
            view = self.views[name]
            for job_id in member.service.store.watched():
                member.scheduler.watch(view.q(job_id) if isinstance(view, QualifiedProvider) else job_id)

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


# -- the app's view: one service, one scheduler, ids unique on screen -------------------------------------


class QualifiedProvider:
    """A provider whose ids read ``"<profile>:<id>"`` — jobs, files, checkpoints' job ids — so that ids of
    every profile but the default one can never collide on screen; calls strip the prefix again."""

    def __init__(self, provider: Any, name: str) -> None:
        self.inner, self.prefix = provider, f"{name}:"

    def __getattr__(self, name: str) -> Any:  # info, capabilities, stats, chat, deployments…
        return getattr(self.inner, name)

    def q(self, object_id: str) -> str:
        return object_id if not object_id or object_id.startswith(self.prefix) else self.prefix + object_id

    def u(self, object_id: str) -> str:
        return object_id.removeprefix(self.prefix)

    def _job(self, job):
        from dataclasses import replace

        return replace(job, job_id=self.q(job.job_id), training_file_ids=[self.q(f) for f in job.training_file_ids],
                       validation_file_ids=[self.q(f) for f in job.validation_file_ids])

    def _file(self, f):
        from dataclasses import replace

        return replace(f, file_id=self.q(f.file_id))

    def _page(self, page, convert):
        from bailian_tui.core.records import Page

        return Page(items=[convert(x) for x in page.items], total=page.total, page_no=page.page_no,
                    page_size=page.page_size)

    def _bare(self, request):
        from dataclasses import replace

        return replace(request, training_file_ids=[self.u(f) for f in request.training_file_ids],
                       validation_file_ids=[self.u(f) for f in request.validation_file_ids])

    async def upload_file(self, path, **kwargs):
        return self._file(await self.inner.upload_file(path, **kwargs))

    async def list_files(self, page_no: int = 1, page_size: int = 100):
        return self._page(await self.inner.list_files(page_no, page_size), self._file)

    async def all_files(self):
        return [self._file(f) for f in await self.inner.all_files()]

    async def get_file(self, file_id: str):
        return self._file(await self.inner.get_file(self.u(file_id)))

    async def delete_file(self, file_id: str) -> None:
        await self.inner.delete_file(self.u(file_id))

    def request_body(self, request) -> dict:
        return self.inner.request_body(self._bare(request))

    async def create_job(self, request):
        return self._job(await self.inner.create_job(self._bare(request)))

    async def get_job(self, job_id: str):
        return self._job(await self.inner.get_job(self.u(job_id)))

    async def list_jobs(self, page_no: int = 1, page_size: int = 100, model: str | None = None):
        return self._page(await self.inner.list_jobs(page_no, page_size), self._job)

    async def all_jobs(self):
        return [self._job(j) for j in await self.inner.all_jobs()]

    async def cancel_job(self, job_id: str) -> str:
        return await self.inner.cancel_job(self.u(job_id))

    async def pause_job(self, job_id: str):
        return self._job(await self.inner.pause_job(self.u(job_id)))

    async def resume_job(self, job_id: str):
        return self._job(await self.inner.resume_job(self.u(job_id)))

    async def delete_job(self, job_id: str) -> str:
        return await self.inner.delete_job(self.u(job_id))

    async def job_logs(self, job_id: str, offset: int = 0, limit: int = 1000):
        return await self.inner.job_logs(self.u(job_id), offset, limit)

    async def list_checkpoints(self, job_id: str):
        from dataclasses import replace

        return [replace(c, job_id=self.q(c.job_id)) for c in await self.inner.list_checkpoints(self.u(job_id))]

    async def export_checkpoint(self, job_id: str, checkpoint: str, model_name: str) -> bool:
        return await self.inner.export_checkpoint(self.u(job_id), checkpoint, model_name)


class RoutingProvider:
    """The app's one "platform": every call goes to the provider an id or a model belongs to.

    Ids of the default profile are bare (as before providers existed); every other profile's are
    qualified (``xpulink:ftjob-…``). A tuned model is routed to the provider whose job made it (learned
    from the job lists), else to a profile that lists it under ``models:``, else to the default one.
    """

    def __init__(self, fleet: "Fleet", views: dict[str, Any]) -> None:
        self.fleet, self.views = fleet, views
        # model id -> profile name, learned from job lists, checkpoints and deployments. Base models go to the
        # default profile (Bailian serves every base Qwen model); a profile's `models:` only fills its form.
        self.models: dict[str, str] = {}

    @property
    def default(self):
        return self.views[self.fleet.default]

    def for_id(self, object_id: str):
        name, sep, _ = object_id.partition(":")
        if sep and name in self.views and name != self.fleet.default:
            return self.views[name]
        return self.default

    def for_model(self, model: str):
        return self.views.get(self.models.get(model, self.fleet.default), self.default)

    def member_for_id(self, object_id: str) -> Member:
        name, sep, _ = object_id.partition(":")
        return self.fleet.members[name] if sep and name in self.fleet.members else self.fleet.members[self.fleet.default]

    def learn(self, jobs) -> None:
        for job in jobs:
            if job.finetuned_output and job.provider:
                self.models[job.finetuned_output] = job.provider

    def __getattr__(self, name: str) -> Any:
        return getattr(self.default, name)

    # files
    async def upload_file(self, path, *, profile: str | None = None, **kwargs):
        return await self.views.get(profile or self.fleet.default, self.default).upload_file(path, **kwargs)

    async def all_files(self):
        out = []
        for view in self.views.values():
            out.extend(await view.all_files())
        return out

    async def get_file(self, file_id: str):
        return await self.for_id(file_id).get_file(file_id)

    async def delete_file(self, file_id: str) -> None:
        await self.for_id(file_id).delete_file(file_id)

    # jobs
    async def all_jobs(self):
        out = []
        for view in self.views.values():
            out.extend(await view.all_jobs())
        self.learn(out)
        return out

    async def get_job(self, job_id: str):
        return await self.for_id(job_id).get_job(job_id)

    async def cancel_job(self, job_id: str) -> str:
        return await self.for_id(job_id).cancel_job(job_id)

    async def pause_job(self, job_id: str):
        return await self.for_id(job_id).pause_job(job_id)

    async def resume_job(self, job_id: str):
        return await self.for_id(job_id).resume_job(job_id)

    async def delete_job(self, job_id: str) -> str:
        return await self.for_id(job_id).delete_job(job_id)

    async def job_logs(self, job_id: str, offset: int = 0, limit: int = 1000):
        return await self.for_id(job_id).job_logs(job_id, offset, limit)

    async def list_checkpoints(self, job_id: str):
        checkpoints = await self.for_id(job_id).list_checkpoints(job_id)
        provider = self.member_for_id(job_id).name
        for c in checkpoints:
            if c.model_name:
                self.models[c.model_name] = provider
        return checkpoints

    async def export_checkpoint(self, job_id: str, checkpoint: str, model_name: str) -> bool:
        return await self.for_id(job_id).export_checkpoint(job_id, checkpoint, model_name)

    def capabilities_for(self, object_id: str):
        return self.member_for_id(object_id).provider.capabilities

    # serving: deployments live where deployments exist; chat goes where the model is served
    async def all_deployments(self):
        out = []
        for name, view in self.views.items():
            if self.fleet.members[name].provider.capabilities.deployments:
                deployments = await view.all_deployments()
                for d in deployments:
                    self.models[d.deployed_model] = name
                out.extend(deployments)
        return out

    async def served_models(self) -> list:
        """Tuned models of providers with no deployment step, as RUNNING "deployments" that cost nothing
        while idle: the Deployments screen lists them beside real deployments, to try and evaluate."""
        from bailian_tui.core.records import Deployment, DeploymentStatus, JobStatus

        out = []
        for name, view in self.views.items():
            member = self.fleet.members[name]
            if member.provider.capabilities.deployments:
                continue
            for job in await view.all_jobs():
                # only what the provider itself serves (a local run's adapter needs a server of the user's)
                if job.status is JobStatus.SUCCEEDED and job.finetuned_output and member.provider.servable_model(job):
                    self.models[job.finetuned_output] = name
                    out.append(Deployment(deployed_model=job.finetuned_output, status=DeploymentStatus.RUNNING,
                                          model_name=job.finetuned_output, base_model=job.base_model or job.model,
                                          plan="served directly", charge_type="per token",
                                          created_at=job.ended_at, updated_at=job.ended_at, provider=name))
        return out

    def is_served_directly(self, model: str) -> bool:
        name = self.models.get(model)
        return name is not None and not self.fleet.members[name].provider.capabilities.deployments

    async def create_deployment(self, model_name: str, capacity: int = 1, **kwargs):
        return await self.for_model(model_name).create_deployment(model_name, capacity, **kwargs)

    async def get_deployment(self, deployed_model: str):
        return await self.for_model(deployed_model).get_deployment(deployed_model)

    async def scale_deployment(self, deployed_model: str, capacity: int):
        return await self.for_model(deployed_model).scale_deployment(deployed_model, capacity)

    async def delete_deployment(self, deployed_model: str):
        return await self.for_model(deployed_model).delete_deployment(deployed_model)

    async def chat(self, model: str, messages: list[dict], **parameters: Any):
        return await self.for_model(model).chat(model, messages, **parameters)

    def chat_stream(self, model: str, messages: list[dict], **parameters: Any):
        return self.for_model(model).chat_stream(model, messages, **parameters)

    async def aclose(self) -> None:
        await self.fleet.aclose()


class FleetScheduler:
    """The scheduler surface the screens use, over one scheduler per provider (each its own budget)."""

    def __init__(self, fleet: "Fleet", routing: RoutingProvider) -> None:
        self.fleet, self.routing = fleet, routing

    @property
    def jobs(self) -> dict:
        merged: dict = {}
        for member in self.fleet.members.values():
            merged.update(member.scheduler.jobs)
        return merged

    @property
    def requests(self) -> int:
        return sum(m.scheduler.requests for m in self.fleet.members.values())

    @property
    def glances(self) -> dict:
        merged: dict = {}
        for member in self.fleet.members.values():
            merged.update(member.scheduler.glances)
        return merged

    def glance(self, keys) -> None:
        """Running jobs nobody watches, each glanced at by its own provider's scheduler (its own budget)."""
        by_member: dict[str, list[str]] = {name: [] for name in self.fleet.members}
        for key in keys:
            by_member[self.routing.member_for_id(key).profile.name].append(key)
        for name, member_keys in by_member.items():
            self.fleet.members[name].scheduler.glance(member_keys)

    def _scheduler(self, key: str) -> Scheduler:
        return self.routing.member_for_id(key).scheduler

    def watch(self, key: str):
        return self._scheduler(key).watch(key)

    def unwatch(self, key: str) -> None:
        self._scheduler(key).unwatch(key)

    def poll_soon(self, key: str) -> None:
        self._scheduler(key).poll_soon(key)

    async def pace(self, key: str | None = None) -> None:
        await (self._scheduler(key) if key else self.fleet.member().scheduler).pace()

    async def tick(self) -> float:
        return await self.fleet.tick()

    async def run(self) -> None:
        await self.fleet.run()


class FleetService(Service):
    """The app's service: the default profile's store and uploads as before, jobs of every profile."""

    def __init__(self, fleet: "Fleet", routing: RoutingProvider) -> None:
        default = fleet.member()
        super().__init__(routing, default.service.store)
        self.fleet, self.routing = fleet, routing

    def member_for(self, key_or_profile: str | None) -> Member:
        if key_or_profile in self.fleet.members:
            return self.fleet.members[key_or_profile]  # type: ignore[index]
        return self.routing.member_for_id(key_or_profile or "")

    def upload_record(self, file_id: str):
        """The local upload a (possibly qualified) file id came from, in its own profile's store."""
        member = self.routing.member_for_id(file_id)
        return member.service.store.upload_for_file_id(file_id.removeprefix(f"{member.name}:"))

    async def existing_upload(self, path, digest: str | None = None, *, profile: str | None = None):
        """The file already holding these bytes on that profile (each profile's uploads are its own)."""
        member = self.fleet.member(profile)
        found = await member.service.existing_upload(path, digest)
        view = self.routing.views[member.name]
        return view._file(found) if found is not None and isinstance(view, QualifiedProvider) else found

    async def upload(self, path, *, profile: str | None = None, **kwargs):
        member = self.fleet.member(profile)
        result = await member.service.upload(path, **kwargs)
        if member.name != self.fleet.default:
            from dataclasses import replace

            result = replace(result, file=self.routing.views[member.name]._file(result.file))
        return result

    async def create_job(self, request, dataset: str | None = None, *, profile: str | None = None):
        return (await self.create_job_outcome(request, dataset, profile=profile)).item

    async def create_job_outcome(self, request, dataset: str | None = None, *, profile: str | None = None):
        """A create on the chosen profile: with the DashScope facade's reconcile where the provider has it."""
        from bailian_tui.core.service import Created

        member = self.fleet.member(profile)
        view = self.routing.views[member.name]
        bare = view._bare(request) if isinstance(view, QualifiedProvider) else request
        if member.service.reconciles:
            created = await member.service.create_job_outcome(bare, dataset)
        else:
            created = Created(await member.service.create_job(bare, dataset))
        job = view._job(created.item) if isinstance(view, QualifiedProvider) else created.item
        member.scheduler.watch(job.job_id)
        return Created(job, created.reused, created.message)

    async def reconcile_intents(self) -> list[str]:
        """Creates a crash left open, settled on every profile (where the service keeps intents)."""
        messages: list[str] = []
        for member in self.fleet.members.values():
            settle = getattr(member.service, "reconcile_intents", None)
            if settle is not None:
                try:
                    messages += [f"{member.profile.label}: {m}" for m in await settle()]
                except PlatformError:
                    continue  # the next identical create settles them first anyway
        return messages

    async def job_rows(self, *, pace=None) -> list[JobRow]:
        """Every profile's jobs (``pace`` is ignored: each provider spends its own budget)."""
        rows: list[JobRow] = []
        for name, member in self.fleet.members.items():
            view = self.routing.views[name]
            await member.scheduler.pace()  # each provider's list refresh spends its own budget
            try:
                member_rows = await member.service.job_rows()
            except PlatformError:
                if name == self.fleet.default:
                    raise
                continue  # another provider failing does not hide the default's jobs
            for row in member_rows:
                job = view._job(row.job) if isinstance(view, QualifiedProvider) else row.job
                rows.append(JobRow(job, row.dataset, row.ours))
        self.routing.learn(r.job for r in rows)
        return rows


def for_app(settings, *, on_update=None, on_throttle=None,
            on_glance=None) -> tuple[Fleet, FleetService, FleetScheduler]:
    """What the app runs on: every profile, ids qualified for all but the default, one service and scheduler
    facade for the screens, the watch lists of every profile restored."""
    fleet = Fleet(settings, on_update=on_update, on_throttle=on_throttle, on_glance=on_glance, qualify=True)
    routing = RoutingProvider(fleet, fleet.views)
    return fleet, FleetService(fleet, routing), FleetScheduler(fleet, routing)
