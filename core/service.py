"""Operations that span the remote platform and the local store: what the TUI and the CLI call.

``Service`` adds what neither half knows alone: an upload of bytes already uploaded reuses the file_id
(after checking the server still has it); every billed create (job, upload, deployment) is recorded as an
intent before it is sent and settled after; an intent left open (a crash, a kill, an unknown outcome) is
reconciled on start, in the background, and before any new create of the same request — which then returns
what the earlier attempt made instead of billing again. The job list is merged with where each job's data
came from.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bailian_tui.core.errors import OutcomeUnknown, PlatformError
from bailian_tui.core.platform import JobRequest, Platform, ProgressCallback
from bailian_tui.core.records import Deployment, Job, RemoteFile
from bailian_tui.core.store import Intent, Store, sha256_of


@dataclass(frozen=True)
class Created:
    """What a create returned; ``reused`` with a ``message`` when an earlier interrupted attempt had made it."""

    item: Any
    reused: bool = False
    message: str | None = None


@dataclass(frozen=True)
class UploadResult:
    file: RemoteFile
    reused: bool
    sha256: str
    message: str | None = None


@dataclass(frozen=True)
class JobRow:
    """A job as the Jobs screen shows it: the remote object plus our own lineage for it."""

    job: Job
    dataset: str | None
    ours: bool


class Service:
    def __init__(self, platform: Platform, store: Store) -> None:
        self.platform, self.store = platform, store

    async def existing_upload(self, path: str | Path, digest: str | None = None) -> RemoteFile | None:
        """The remote file already holding these exact bytes, if the server still has it."""
        digest = digest or await asyncio.to_thread(sha256_of, path)  # 300 MB take ~1 s: not on the event loop
        for upload in self.store.uploads_of(digest):
            try:
                return await self.platform.get_file(upload.file_id)
            except PlatformError as err:
                if err.status in (400, 404):  # deleted remotely since: forget it
                    self.store.forget_upload(upload.file_id)
                    continue
                raise
        return None

    async def upload(self, path: str | Path, *, force: bool = False, description: str | None = None,
                     on_progress: ProgressCallback | None = None) -> UploadResult:
        path = Path(path)
        digest = await asyncio.to_thread(sha256_of, path)
        size = path.stat().st_size
        # An interrupted upload of these bytes may have landed: that is never a reason to upload again.
        earlier = await self._settle_open("upload", digest)
        if earlier is not None:
            self.store.record_upload(path, digest, size, earlier.file_id)
            return UploadResult(earlier, True, digest, self._reuse_message("upload", earlier.file_id))
        if not force:
            existing = await self.existing_upload(path, digest)
            if existing is not None:
                return UploadResult(existing, True, digest)
        if not hasattr(self.platform, "file_snapshot"):  # other providers: their own upload rules
            remote = await self.platform.upload_file(path, description=description, on_progress=on_progress)
            self.store.record_upload(path, digest, size, remote.file_id)
            return UploadResult(remote, False, digest)
        before = await self.platform.file_snapshot()
        intent = self.store.intent("upload", digest, {"name": path.name, "size": size, "before": sorted(before)})
        try:
            remote = await self.platform.upload_file(path, description=description, on_progress=on_progress,
                                                     before=before)
        except PlatformError as err:
            self.store.settle(intent, "unknown" if isinstance(err, OutcomeUnknown) else "failed", error=err.human())
            raise
        self.store.settle(intent, "created", remote.file_id)
        self.store.record_upload(path, digest, size, remote.file_id)
        return UploadResult(remote, False, digest)

    async def create_job(self, request: JobRequest, dataset: str | None = None) -> Job:
        if not self.reconciles:  # a provider without the DashScope facade's reconcile: record, send, settle
            return await self._create_job_plain(request, dataset)
        return (await self.create_job_outcome(request, dataset)).item

    @property
    def reconciles(self) -> bool:
        """The platform finds what an ambiguous create made (the DashScope facade; other providers
        (core.providers) keep their own rules: OpenAI-compatible ones reconcile by metadata, local runs
        cannot be ambiguous)."""
        return hasattr(self.platform, "job_snapshot")

    async def _create_job_plain(self, request: JobRequest, dataset: str | None) -> Job:
        request.ensure_name()  # the intent must carry the name that identifies the job after a crash
        # A provider words the request its own way (core.providers): record what will be sent.
        body = self.platform.request_body(request) if hasattr(self.platform, "request_body") else request.body()
        intent = self.store.job_intent(body, dataset)
        try:
            job = await self.platform.create_job(request)
        except PlatformError as err:
            self.store.job_failed(intent, err.human())
            raise
        self.store.job_created(intent, job.job_id)
        self.store.watch(job.job_id)
        return job

    async def create_job_outcome(self, request: JobRequest, dataset: str | None = None) -> Created:
        request.ensure_name()  # the intent must carry the name that identifies the job after a crash
        key = _job_key(request)
        earlier = await self._settle_open("job", key)
        if earlier is not None:
            self.store.watch(earlier.job_id)
            return Created(earlier, True, self._reuse_message("job", earlier.job_id))
        before = await self.platform.job_snapshot(request)
        intent = self.store.intent("job", key, {"body": request.body(), "before": sorted(before)})
        # The lineage keeps what is sent, in the provider's own words (core.providers); the intent keeps the
        # request (its find_job reads either shape).
        sent = self.platform.request_body(request) if hasattr(self.platform, "request_body") else request.body()
        lineage = self.store.job_intent(sent, dataset)
        try:
            job = await self.platform.create_job(request, before=before)
        except PlatformError as err:
            self.store.settle(intent, "unknown" if isinstance(err, OutcomeUnknown) else "failed", error=err.human())
            self.store.job_failed(lineage, err.human())
            raise
        self.store.settle(intent, "created", job.job_id)
        self.store.job_created(lineage, job.job_id)
        self.store.watch(job.job_id)
        return Created(job)

    async def create_deployment(self, model_name: str, capacity: int = 1, *, plan: str | None = None,
                                suffix: str | None = None, name: str | None = None) -> Created:
        key = json.dumps({"model_name": model_name, "capacity": capacity, "plan": plan, "suffix": suffix,
                          "name": name}, sort_keys=True)
        earlier = await self._settle_open("deployment", key)
        if earlier is not None:
            return Created(earlier, True, self._reuse_message("deployment", earlier.deployed_model))
        before = await self.platform.deployment_snapshot()
        intent = self.store.intent("deployment", key, {"model_name": model_name, "before": sorted(before)})
        try:
            dep = await self.platform.create_deployment(model_name, capacity, plan=plan, suffix=suffix, name=name,
                                                        before=before)
        except PlatformError as err:
            self.store.settle(intent, "unknown" if isinstance(err, OutcomeUnknown) else "failed", error=err.human())
            raise
        self.store.settle(intent, "created", dep.deployed_model)
        return Created(dep)

    # -- reconciling intents ---------------------------------------------------------------------------

    async def reconcile_intents(self) -> list[str]:
        """Settle every open intent (on start, in the background): what each one made, or that it made nothing.

        Returns one message per intent that turned out to have made something.
        """
        found = []
        for intent in self.store.open_intents():
            try:
                item = await self._settle(intent)
            except OutcomeUnknown:
                continue
            if item is not None:
                found.append(self._reuse_message(intent.kind, _id_of(item), settled=True))
        return found

    async def _settle_open(self, kind: str, key: str) -> Any | None:
        """What an open intent of the same request made, waiting out what is left of its window; else None."""
        for intent in self.store.open_intents(kind, key):
            item = await self._settle(intent)
            if item is not None:
                return item
        return None

    async def _settle(self, intent: Intent) -> Any | None:
        """Look for what ``intent`` made for as long as a late commit could still land (the rest of the window).

        Found: the intent is settled as created. Not found once the window has passed since it was sent: it
        made nothing (``absent``) — a commit cannot land later than the window, by the window's definition.
        """
        find = self._finder(intent)
        if find is None:
            self.store.settle(intent.intent_id, "absent", error="unreadable intent")
            return None
        remaining = max(0.0, self.platform.retry.reconcile_window - (time.time() - intent.at))
        try:
            item = await self.platform.reconcile(intent.kind, find, check="", window=remaining)
        except OutcomeUnknown:
            self.store.settle(intent.intent_id, "absent", error=intent.error)
            return None
        self.store.settle(intent.intent_id, "created", _id_of(item))
        if intent.kind == "job":
            lineage = self.store.job_intent(intent.request.get("body") or {}, None)
            self.store.job_created(lineage, item.job_id)
        return item

    def _finder(self, intent: Intent):
        before = set(intent.request.get("before") or [])
        if intent.kind == "job" and isinstance(intent.request.get("body"), dict):
            return lambda: self.platform.find_job(intent.request["body"], before)
        if intent.kind == "upload" and "name" in intent.request:
            return lambda: self.platform.find_upload(intent.request["name"], int(intent.request["size"]), before)
        if intent.kind == "deployment" and "model_name" in intent.request:
            return lambda: self.platform.find_deployment(intent.request["model_name"], before)
        return None

    @staticmethod
    def _reuse_message(kind: str, ident: str, settled: bool = False) -> str:
        what = {"job": "job", "upload": "file", "deployment": "deployment"}.get(kind, kind)
        if settled:
            return f"an interrupted {kind} had made {what} {ident}: recorded"
        return (f"an earlier interrupted {kind} of the same request had already made {what} {ident}: "
                "using it instead of billing again")

    async def job_rows(self, *, pace=None) -> list[JobRow]:
        """Every job, deduplicated by id; ``pace`` is awaited before each page (the app's request budget)."""
        # Providers of core.providers page on their own (a fleet paces each on its own budget).
        jobs = await (self.platform.all_jobs(pace=pace) if pace is not None else self.platform.all_jobs())
        lineage = {r.job_id: r.dataset for r in self.store.job_records() if r.job_id}
        return [JobRow(job, lineage.get(job.job_id), job.job_id in lineage) for job in jobs]




def _job_key(request: JobRequest) -> str:
    """Two job requests are the same when their bodies are, apart from a name we generated."""
    body = request.body()
    if request.name_generated:
        body.pop("job_name", None)
    return json.dumps(body, sort_keys=True, ensure_ascii=False)


def _id_of(item: Any) -> str:
    for attr in ("job_id", "file_id", "deployed_model"):
        if getattr(item, attr, None):
            return getattr(item, attr)
    return str(item)
