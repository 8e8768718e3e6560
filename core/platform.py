"""One async facade over ``dashscope.v2.AsyncClient`` for every DashScope operation bailian-tui performs.

The SDK provides the transport (httpx, auth and identification headers, base URL, workspace header). Its
own retry loop is switched off (``max_retries=0``) because it retries POSTs on 5xx and dropped connections,
which can bill a fine-tune twice; this module decides instead:

* reads are retried with exponential backoff on 408/429/5xx and transport errors, honouring Retry-After;
* creates are never blindly retried: after an ambiguous failure (timeout, reset, 5xx) the job or
  deployment the attempt may have made is looked for first, and only if none exists is the call repeated.

Responses are parsed into ``core.records`` types; failures become :class:`core.errors.PlatformError`.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import secrets as _secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

from bailian_tui.core.errors import PlatformError
from bailian_tui.core.records import ChatReply, Checkpoint, Deployment, Job, LogPage, Page, RemoteFile

ProgressCallback = Callable[[int, int], None]  # (bytes sent, total bytes)

_FT, _FILES = "finetune", "files"


@dataclass
class RetryPolicy:
    attempts: int = 6
    base: float = 0.5
    cap: float = 8.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap)
        base = min(self.base * 2**attempt, self.cap)
        return base + random.uniform(0, base * 0.25)


@dataclass
class CallStats:
    """What the facade did on the wire (tests and benchmarks read it)."""

    requests: int = 0
    retries: int = 0
    reconciled: int = 0


@dataclass
class JobRequest:
    model: str
    training_file_ids: list[str]
    validation_file_ids: list[str] = field(default_factory=list)
    training_type: str = "sft"
    hyper_parameters: dict[str, Any] = field(default_factory=dict)
    job_name: str | None = None
    model_name: str | None = None
    name_generated: bool = False  # a name we made up is unique: no need to look for older namesakes

    def ensure_name(self) -> str:
        if not self.job_name:
            self.job_name, self.name_generated = new_job_name(), True
        return self.job_name

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "training_file_ids": list(self.training_file_ids),
            "validation_file_ids": list(self.validation_file_ids),
            "hyper_parameters": dict(self.hyper_parameters),
            "training_type": self.training_type,
        }
        if self.job_name:
            body["job_name"] = self.job_name
        if self.model_name:
            body["model_name"] = self.model_name
        return body


def new_job_name() -> str:
    """A unique name: after an ambiguous create it identifies the job the attempt made, if any."""
    return f"bt-{datetime.now():%Y%m%d%H%M}-{_secrets.token_hex(3)}"


class Platform:
    def __init__(self, *, api_key: str | None, base_url: str | None, workspace: str | None = None,
                 timeout: float = 60.0, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        from dashscope.v2 import AsyncClient  # heavy import: keep it off the app's first frame

        self._client = AsyncClient(api_key=api_key or "", base_url=base_url, workspace=workspace,
                                   timeout=timeout, max_retries=0)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep or asyncio.sleep
        self.stats = CallStats()
        self.base_url = base_url

    @classmethod
    def from_settings(cls, settings, **kwargs) -> "Platform":
        return cls(api_key=settings.api_key, base_url=settings.base_url, workspace=settings.workspace,
                   timeout=settings.get("dashscope.timeout"),
                   retry=RetryPolicy(attempts=settings.get("dashscope.read_retries")), **kwargs)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> "Platform":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    # -- wire ------------------------------------------------------------------------------------------

    async def _once(self, method: str, path: str, op: str, module: str, **kwargs: Any) -> dict:
        from dashscope.v2.errors import DashScopeError
        import httpx

        self.stats.requests += 1
        try:
            response = await self._client.transport.request(method, path, sdk_module=module, **kwargs)
        except (DashScopeError, httpx.HTTPError) as exc:
            err = PlatformError(f"no response from DashScope ({exc.__class__.__name__}: {exc})", operation=op)
            raise err from None
        body = _json_body(response)
        request_id = body.get("request_id") or response.headers.get("x-request-id")
        code = body.get("code") if isinstance(body.get("code"), str) else None
        if response.status_code >= 400 or code:
            message = body.get("message") or body.get("msg") or response.reason_phrase or "request failed"
            err = PlatformError(str(message), status=response.status_code, code=code or None,
                                request_id=request_id, operation=op)
            err.retry_after = _retry_after(response.headers)  # type: ignore[attr-defined]
            raise err
        return body

    async def _read(self, method: str, path: str, op: str, module: str = _FT, **kwargs: Any) -> dict:
        """A call that is safe to repeat: retried on throttling, 5xx and lost connections."""
        attempts = max(self.retry.attempts, 1)
        for attempt in range(attempts):
            try:
                return await self._once(method, path, op, module, **kwargs)
            except PlatformError as err:
                if not err.retryable or attempt == attempts - 1:
                    raise
                self.stats.retries += 1
                await self._sleep(self.retry.delay(attempt, getattr(err, "retry_after", None)))
        raise AssertionError("unreachable")

    async def _create(self, op: str, send: Callable[[], Awaitable[dict]],
                      find: Callable[[], Awaitable[Any | None]]) -> Any:
        """A billed create: retried only when the server refused it, or after proving it did not happen."""
        attempts = max(self.retry.attempts, 1)
        for attempt in range(attempts):
            try:
                return await send()
            except PlatformError as err:
                if attempt == attempts - 1 or not err.retryable:
                    if err.ambiguous:
                        found = await self._find_quietly(find)
                        if found is not None:
                            return found
                    raise
                if err.ambiguous:
                    found = await self._find_quietly(find)
                    if found is not None:
                        return found
                self.stats.retries += 1
                await self._sleep(self.retry.delay(attempt, getattr(err, "retry_after", None)))
        raise AssertionError("unreachable")

    async def _find_quietly(self, find: Callable[[], Awaitable[Any | None]]) -> Any | None:
        found = await find()  # a read: retried on its own; if it fails, the create's outcome is unknown
        if found is not None:
            self.stats.reconciled += 1
        return found

    async def _pages(self, fetch: Callable[[int], Awaitable[Page]], limit: int = 1000) -> list:
        items: list = []
        for page_no in range(1, limit + 1):
            page = await fetch(page_no)
            items.extend(page.items)
            if not page.has_more:
                break
        return items

    # -- files -----------------------------------------------------------------------------------------

    async def upload_file(self, path: str | Path, *, description: str | None = None,
                          on_progress: ProgressCallback | None = None) -> RemoteFile:
        path = Path(path)
        size = path.stat().st_size
        since = datetime.now()
        # Listed newest first: a file the attempt creates is on the first page, and was not there before.
        before = {f.file_id for f in (await self.list_files(1, 100)).items}

        async def send() -> RemoteFile:
            with open(path, "rb") as raw:
                reader = _ProgressReader(raw, size, on_progress)
                data = {"descriptions": description} if description else None
                body = await self._once("POST", "/files", "upload", _FILES,
                                        files={"files": (path.name, reader, "application/octet-stream")},
                                        data=data, timeout=max(600.0, size / 100_000))
            data_out = body.get("data") or body.get("output") or {}
            uploaded = data_out.get("uploaded_files") or []
            if not uploaded:
                failed = (data_out.get("failed_uploads") or [{}])[0]
                raise PlatformError(failed.get("message") or "the server accepted no file", status=200,
                                    code=failed.get("code"), request_id=body.get("request_id"),
                                    operation="upload")
            first = uploaded[0]
            return RemoteFile.from_api({"size": size, "purpose": "fine-tune", **first,
                                        "gmt_create": since.strftime("%Y-%m-%d %H:%M:%S")})

        async def find() -> RemoteFile | None:
            for f in (await self.list_files(1, 100)).items:
                if f.name == path.name and f.size == size and f.file_id not in before:
                    return f
            return None

        return await self._create("upload", send, find)

    async def list_files(self, page_no: int = 1, page_size: int = 100) -> Page[RemoteFile]:
        body = await self._read("GET", "/files", "list files", _FILES,
                                params={"page_no": page_no, "page_size": page_size})
        data = body.get("data") or body.get("output") or {}
        return _page(data, "files", RemoteFile.from_api, page_no, page_size)

    async def all_files(self) -> list[RemoteFile]:
        return await self._pages(lambda n: self.list_files(n, 100))

    async def get_file(self, file_id: str) -> RemoteFile:
        body = await self._read("GET", f"/files/{file_id}", "get file", _FILES)
        return RemoteFile.from_api(body.get("data") or body.get("output") or {})

    async def delete_file(self, file_id: str) -> None:
        await self._read("DELETE", f"/files/{file_id}", "delete file", _FILES)

    # -- fine-tunes ------------------------------------------------------------------------------------

    async def create_job(self, request: JobRequest) -> Job:
        request.ensure_name()
        body = request.body()
        # A name of our own is unique; a name the user chose may already exist, so remember those jobs.
        before = set() if request.name_generated else {j.job_id for j in await self.all_jobs()
                                                        if _same_job(j, body)}

        async def send() -> Job:
            return Job.from_api((await self._once("POST", "/fine-tunes", "create fine-tune", _FT,
                                                  json=body)).get("output") or {})

        async def find() -> Job | None:
            for job in await self.all_jobs():
                if _same_job(job, body) and job.job_id not in before:
                    return job
            return None

        return await self._create("create fine-tune", send, find)

    async def get_job(self, job_id: str) -> Job:
        return Job.from_api((await self._read("GET", f"/fine-tunes/{job_id}", "get job")).get("output") or {})

    async def list_jobs(self, page_no: int = 1, page_size: int = 100, model: str | None = None) -> Page[Job]:
        params: dict[str, Any] = {"page_no": page_no, "page_size": page_size}
        if model:
            params["model"] = model
        body = await self._read("GET", "/fine-tunes", "list jobs", params=params)
        return _page(body.get("output") or {}, "jobs", Job.from_api, page_no, page_size)

    async def all_jobs(self) -> list[Job]:
        return await self._pages(lambda n: self.list_jobs(n, 100))

    async def cancel_job(self, job_id: str) -> str:
        body = await self._read("POST", f"/fine-tunes/{job_id}/cancel", "cancel job")
        return str((body.get("output") or {}).get("status") or "success")

    async def delete_job(self, job_id: str) -> str:
        body = await self._read("DELETE", f"/fine-tunes/{job_id}", "delete job")
        return str((body.get("output") or {}).get("status") or "success")

    async def job_logs(self, job_id: str, offset: int = 0, limit: int = 1000) -> LogPage:
        """Lines after the first ``offset`` (the documented meaning), at most ``limit`` (max 1000)."""
        body = await self._read("GET", f"/fine-tunes/{job_id}/logs", "get logs",
                                params={"offset": offset, "line": min(max(limit, 1), 1000)})
        return LogPage.from_api(body.get("output") or {}, offset)

    async def job_events(self, job_id: str) -> AsyncIterator[str]:
        """The SSE stream of a job (SDK-only endpoint): yields each event's data as text."""
        async for data in self._sse("GET", f"/fine-tunes/{job_id}/stream", "stream job events", _FT):
            yield data

    async def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        body = await self._read("GET", f"/fine-tunes/{job_id}/checkpoints", "list checkpoints")
        output = body.get("output") or []
        if isinstance(output, dict):
            output = output.get("checkpoints") or []
        return [Checkpoint.from_api(c) for c in output]

    async def export_checkpoint(self, job_id: str, checkpoint: str, model_name: str) -> bool:
        body = await self._read("GET", f"/fine-tunes/{job_id}/export/{checkpoint}", "export checkpoint",
                                params={"model_name": model_name})
        return bool(body.get("output"))

    # -- deployments -----------------------------------------------------------------------------------

    async def create_deployment(self, model_name: str, capacity: int = 1, *, plan: str | None = None,
                                suffix: str | None = None, name: str | None = None) -> Deployment:
        body: dict[str, Any] = {"model_name": model_name, "capacity": capacity}
        for key, value in (("plan", plan), ("suffix", suffix), ("name", name)):
            if value:
                body[key] = value
        before = {d.deployed_model for d in await self.all_deployments()}

        async def send() -> Deployment:
            out = await self._once("POST", "/deployments", "deploy", _FT, json=body)
            return Deployment.from_api(out.get("output") or {})

        async def find() -> Deployment | None:
            for dep in await self.all_deployments():
                new = dep.deployed_model not in before
                if new and (dep.model_name == model_name or dep.deployed_model.startswith(model_name)):
                    return dep
            return None

        return await self._create("deploy", send, find)

    async def get_deployment(self, deployed_model: str) -> Deployment:
        body = await self._read("GET", f"/deployments/{deployed_model}", "get deployment")
        return Deployment.from_api(body.get("output") or {})

    async def list_deployments(self, page_no: int = 1, page_size: int = 100) -> Page[Deployment]:
        body = await self._read("GET", "/deployments", "list deployments",
                                params={"page_no": page_no, "page_size": page_size})
        return _page(body.get("output") or {}, "deployments", Deployment.from_api, page_no, page_size)

    async def all_deployments(self) -> list[Deployment]:
        return await self._pages(lambda n: self.list_deployments(n, 100))

    async def scale_deployment(self, deployed_model: str, capacity: int) -> Deployment:
        body = await self._read("PUT", f"/deployments/{deployed_model}/scale", "scale deployment",
                                json={"deployed_model": deployed_model, "capacity": capacity})
        return Deployment.from_api(body.get("output") or {})

    async def delete_deployment(self, deployed_model: str) -> Deployment:
        body = await self._read("DELETE", f"/deployments/{deployed_model}", "delete deployment")
        return Deployment.from_api(body.get("output") or {"deployed_model": deployed_model,
                                                          "status": "DELETING"})

    # -- generation ------------------------------------------------------------------------------------

    async def chat(self, model: str, messages: list[dict], **parameters: Any) -> ChatReply:
        body = {"model": model, "input": {"messages": messages},
                "parameters": {"result_format": "message", **parameters}}
        out = await self._read("POST", "/services/aigc/text-generation/generation", "chat", "generation",
                               json=body)
        return ChatReply.from_api(out)

    async def chat_stream(self, model: str, messages: list[dict], **parameters: Any) -> AsyncIterator[str]:
        """Yields text deltas as they arrive (``incremental_output``)."""
        body = {"model": model, "input": {"messages": messages},
                "parameters": {"result_format": "message", "incremental_output": True, **parameters}}
        async for data in self._sse("POST", "/services/aigc/text-generation/generation", "chat", "generation",
                                    json=body, headers={"X-DashScope-SSE": "enable"}):
            try:
                reply = ChatReply.from_api(json.loads(data))
            except (ValueError, AttributeError):
                continue
            if reply.content:
                yield reply.content

    async def _sse(self, method: str, path: str, op: str, module: str, **kwargs: Any) -> AsyncIterator[str]:
        from dashscope.v2.errors import DashScopeError
        import httpx

        self.stats.requests += 1
        try:
            response = await self._client.transport.open_stream(method, path, sdk_module=module, **kwargs)
        except DashScopeError as exc:
            raise PlatformError(str(getattr(exc, "message", exc)), status=getattr(exc, "status_code", None),
                                code=getattr(exc, "code", None), request_id=getattr(exc, "request_id", None),
                                operation=op) from None
        except httpx.HTTPError as exc:
            raise PlatformError(f"no response from DashScope ({exc.__class__.__name__})", operation=op) from None
        try:
            is_error, status = False, None
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    is_error = line[6:].strip() == "error"
                elif line.startswith("status:"):
                    status = int(line[7:].strip() or 0) or None
                elif line.startswith("data:"):
                    data = line[5:].lstrip(" ")
                    if is_error:
                        message = data
                        try:
                            message = json.loads(data).get("message", data)
                        except (ValueError, AttributeError):
                            pass
                        raise PlatformError(str(message), status=status, operation=op)
                    yield data
        except httpx.HTTPError as exc:
            raise PlatformError(f"stream interrupted ({exc.__class__.__name__})", operation=op) from None
        finally:
            await response.aclose()


def _same_job(job: Job, body: dict) -> bool:
    return (job.job_name == body.get("job_name") and job.model == body["model"]
            and sorted(job.training_file_ids) == sorted(body["training_file_ids"])
            and job.training_type == body["training_type"])


def _page(data: dict, key: str, parse: Callable[[dict], Any], page_no: int, page_size: int) -> Page:
    items = [parse(d) for d in (data.get(key) or [])]
    total = data.get("total", data.get("total_count"))
    return Page(items=items, total=int(total) if total is not None else len(items),
                page_no=int(data.get("page_no") or page_no), page_size=int(data.get("page_size") or page_size))


def _json_body(response: Any) -> dict:
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        text = response.text[:200] if response.content else ""
        return {"message": text or f"HTTP {response.status_code} with a non-JSON body"}
    return body if isinstance(body, dict) else {"output": body}


def _retry_after(headers: Any) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return float(value) * scale
            except ValueError:
                continue
    return None


class _ProgressReader(io.RawIOBase):
    """A read-only file that reports how much of it httpx has streamed."""

    def __init__(self, raw: Any, total: int, callback: ProgressCallback | None) -> None:
        self._raw, self._total, self._callback, self._sent = raw, total, callback, 0

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._raw.fileno()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        pos = self._raw.seek(offset, whence)
        self._sent = pos
        return pos

    def tell(self) -> int:
        return self._raw.tell()

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        self._sent += len(chunk)
        if self._callback and chunk:
            self._callback(min(self._sent, self._total), self._total)
        return chunk

