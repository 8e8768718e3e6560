"""Bailian (DashScope) behind the provider protocol: a thin adapter over :class:`core.platform.Platform`.

Every guarantee lives in the facade and stays there — no duplicate billed create (reconcile before
retry), read retries with backoff, status normalisation, the key kept out of errors. This adapter only
tags what the facade returns with the profile's name and states what DashScope offers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator

from bailian_tui.core.platform import JobRequest, Platform
from bailian_tui.core.providers.base import Capabilities, ProgressCallback, ProviderBase, ProviderInfo
from bailian_tui.core.records import ChatReply, Checkpoint, Deployment, Job, LogPage, Page, RemoteFile

TRAINING_TYPES = ("sft", "efficient_sft", "dpo_full", "dpo_lora", "cpt")


class DashScopeProvider(ProviderBase):
    capabilities = Capabilities(deployments=True, pause=False, delete_job=True, checkpoints=True,
                                checkpoint_export=True, checkpoint_chat=False, remote_files=True,
                                training_types=TRAINING_TYPES)

    def __init__(self, info: ProviderInfo, platform: Platform, request_budget: float | None = None) -> None:
        self.info, self.platform = info, platform
        if request_budget is not None:
            from dataclasses import replace

            self.capabilities = replace(DashScopeProvider.capabilities, request_budget=request_budget)

    @property
    def stats(self):
        return self.platform.stats

    @property
    def base_url(self) -> str | None:
        return self.platform.base_url

    async def aclose(self) -> None:
        await self.platform.aclose()

    # files
    async def upload_file(self, path: str | Path, *, description: str | None = None,
                          on_progress: ProgressCallback | None = None, before: set[str] | None = None) -> RemoteFile:
        return self.tag(await self.platform.upload_file(path, description=description, on_progress=on_progress,
                                                        before=before))

    async def list_files(self, page_no: int = 1, page_size: int = 100) -> Page[RemoteFile]:
        return self.tag_page(await self.platform.list_files(page_no, page_size))

    async def get_file(self, file_id: str) -> RemoteFile:
        return self.tag(await self.platform.get_file(file_id))

    async def delete_file(self, file_id: str) -> None:
        await self.platform.delete_file(file_id)

    # jobs
    def request_body(self, request: JobRequest) -> dict:
        return request.body()

    async def create_job(self, request: JobRequest, *, before: set[str] | None = None) -> Job:
        return self.tag(await self.platform.create_job(request, before=before))

    async def get_job(self, job_id: str) -> Job:
        return self.tag(await self.platform.get_job(job_id))

    async def list_jobs(self, page_no: int = 1, page_size: int = 100, model: str | None = None) -> Page[Job]:
        return self.tag_page(await self.platform.list_jobs(page_no, page_size, model))

    async def cancel_job(self, job_id: str) -> str:
        return await self.platform.cancel_job(job_id)

    async def delete_job(self, job_id: str) -> str:
        return await self.platform.delete_job(job_id)

    async def job_logs(self, job_id: str, offset: int = 0, limit: int = 1000) -> LogPage:
        return await self.platform.job_logs(job_id, offset, limit)

    async def job_events(self, job_id: str) -> AsyncIterator[str]:
        async for data in self.platform.job_events(job_id):
            yield data

    # checkpoints
    async def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        return [self.tag(c) for c in await self.platform.list_checkpoints(job_id)]

    async def export_checkpoint(self, job_id: str, checkpoint: str, model_name: str) -> bool:
        return await self.platform.export_checkpoint(job_id, checkpoint, model_name)

    # serving: a tuned model answers only once deployed
    def servable_model(self, job: Job) -> str | None:
        return None

    async def all_deployments(self) -> list[Deployment]:
        return [self.tag(d) for d in await self.platform.all_deployments()]

    async def create_deployment(self, model_name: str, capacity: int = 1, **kwargs: Any) -> Deployment:
        return self.tag(await self.platform.create_deployment(model_name, capacity, **kwargs))

    async def get_deployment(self, deployed_model: str) -> Deployment:
        return self.tag(await self.platform.get_deployment(deployed_model))

    async def scale_deployment(self, deployed_model: str, capacity: int) -> Deployment:
        return self.tag(await self.platform.scale_deployment(deployed_model, capacity))

    async def delete_deployment(self, deployed_model: str) -> Deployment:
        return self.tag(await self.platform.delete_deployment(deployed_model))

    # chat
    async def chat(self, model: str, messages: list[dict], **parameters: Any) -> ChatReply:
        return await self.platform.chat(model, messages, **parameters)

    async def chat_stream(self, model: str, messages: list[dict], **parameters: Any) -> AsyncIterator[str]:
        async for text in self.platform.chat_stream(model, messages, **parameters):
            yield text

    def __getattr__(self, name: str) -> Any:
        # Anything DashScope-only the screens reach for today (retry policy, SSE job stream…) still works
        # while they move to the protocol; the protocol methods above are what new code must call.
        if name.startswith("_") or name in ("info", "platform"):
            raise AttributeError(name)
        return getattr(self.platform, name)


