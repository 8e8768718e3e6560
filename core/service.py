"""Operations that span the remote platform and the local store: what the TUI and the CLI call.

``Service`` adds what neither half knows alone: an upload of bytes already uploaded reuses the file_id
(after checking the server still has it); a job is recorded as an intent before it is created and
completed with its id after; the job list is merged with where each job's data came from.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from bailian_tui.core.errors import PlatformError
from bailian_tui.core.platform import JobRequest, Platform, ProgressCallback
from bailian_tui.core.records import Job, RemoteFile
from bailian_tui.core.store import Store, sha256_of


@dataclass(frozen=True)
class UploadResult:
    file: RemoteFile
    reused: bool
    sha256: str


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
        if not force:
            existing = await self.existing_upload(path, digest)
            if existing is not None:
                return UploadResult(existing, True, digest)
        remote = await self.platform.upload_file(path, description=description, on_progress=on_progress)
        self.store.record_upload(path, digest, path.stat().st_size, remote.file_id)
        return UploadResult(remote, False, digest)

    async def create_job(self, request: JobRequest, dataset: str | None = None) -> Job:
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

    async def job_rows(self) -> list[JobRow]:
        jobs = await self.platform.all_jobs()
        lineage = {r.job_id: r.dataset for r in self.store.job_records() if r.job_id}
        return [JobRow(job, lineage.get(job.job_id), job.job_id in lineage) for job in jobs]


