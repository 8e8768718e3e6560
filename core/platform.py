"""One async facade over ``dashscope.v2.AsyncClient`` for every DashScope operation bailian-tui performs.

The SDK provides the transport (httpx, auth and identification headers, base URL, workspace header). Its
own retry loop is switched off (``max_retries=0``) because it retries POSTs on 5xx and dropped connections,
which can bill a fine-tune twice; this module decides instead:

* reads are retried with exponential backoff on 408/429/5xx and transport errors, honouring Retry-After;
* creates are never re-sent after an ambiguous failure (timeout, reset, 5xx, 504): what the attempt may
  have made is looked for over a reconciliation window with back-off (a late commit lands seconds after the
  client gave up), and if the window ends without an answer the outcome is :class:`OutcomeUnknown` — the
  user decides. Only failures that prove nothing happened (a refusal: 429/Throttling; nothing sent:
  connection refused, DNS failure) are repeated automatically.
* a connection refused or a DNS failure is tried at most ``RetryPolicy.unreachable_attempts`` times, so a
  headless command fails within seconds with the URL it tried and a hint.

Responses are parsed into ``core.records`` types; failures become :class:`core.errors.PlatformError`.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import secrets as _secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

from bailian_tui.core.calls import CallDiscipline, CallStats, RetryPolicy  # RetryPolicy, CallStats: re-exported
from bailian_tui.core.errors import PlatformError
from bailian_tui.core.records import ChatReply, Checkpoint, Deployment, Job, LogPage, Page, RemoteFile, ShapeError
from bailian_tui.core.safetext import clean

ProgressCallback = Callable[[int, int], None]  # (bytes sent, total bytes)

_FT, _FILES = "finetune", "files"


PAGE_CAP = 50  # pages of one listing at most (5,000 items at 100 a page)
UNREACHABLE_HINT = ("check dashscope.region / dashscope.base_url (Beijing: https://dashscope.aliyuncs.com/api/v1, "
                    "Singapore: https://dashscope-intl.aliyuncs.com/api/v1) and the network or proxy")


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


class Platform(CallDiscipline):
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
        retry = kwargs.pop("retry", None) or RetryPolicy(attempts=settings.get("dashscope.read_retries"))
        try:
            retry.reconcile_window = float(settings.get("dashscope.reconcile_window"))
        except (KeyError, TypeError, ValueError):
            pass
        return cls(api_key=settings.api_key, base_url=settings.base_url, workspace=settings.workspace,
                   timeout=settings.get("dashscope.timeout"), retry=retry, **kwargs)

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
            raise self._transport_error(exc, path, op) from None
        body, bad = _json_body(response)
        request_id = body.get("request_id") if isinstance(body.get("request_id"), str) else None
        request_id = request_id or response.headers.get("x-request-id")
        code = body.get("code") if isinstance(body.get("code"), str) and body.get("code") else None
        if response.status_code >= 400 or code:
            message = body.get("message") or body.get("msg") or response.reason_phrase or "request failed"
            err = PlatformError(str(message), status=response.status_code, code=code or None,
                                request_id=request_id, operation=op)
            err.retry_after = _retry_after(response.headers)  # type: ignore[attr-defined]
            raise err
        if bad:
            raise unexpected(bad, op, request_id, status=response.status_code)
        body["__request_id"] = request_id
        return body

    def _transport_error(self, exc: Exception, path: str, op: str) -> PlatformError:
        import httpx

        cause = exc if isinstance(exc, httpx.HTTPError) else exc.__cause__
        url = f"{(self.base_url or '').rstrip('/')}{path}"
        if isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout)):
            # Refused, unresolvable or unreachable: the request never left, so nothing can have happened.
            return PlatformError(f"cannot reach {url} ({cause.__class__.__name__}: {cause})", operation=op,
                                 not_sent=True, hint=UNREACHABLE_HINT)
        return PlatformError(f"no response from {url} ({exc.__class__.__name__}: {exc})", operation=op)

    async def _parsed(self, op: str, body: dict, parse: Callable[[dict], Any]) -> Any:
        """``parse(body)`` with every wrong shape or type turned into a PlatformError naming the request id."""
        try:
            return parse(body)
        except (ShapeError, AttributeError, TypeError, ValueError, KeyError) as exc:
            raise unexpected(str(exc), op, body.get("__request_id")) from None

    async def _read(self, method: str, path: str, op: str, module: str = _FT, **kwargs: Any) -> dict:
        """A call that is safe to repeat (core.calls: retried on throttling, 5xx and lost connections)."""
        return await self._retried(lambda: self._once(method, path, op, module, **kwargs))

    # _create (a billed create sent once, then reconciled) and reconcile come from core.calls.CallDiscipline.

    async def _pages(self, fetch: Callable[[int], Awaitable[Page]], key: Callable[[Any], str],
                     what: str, limit: int = PAGE_CAP, pace: Callable[[], Awaitable[None]] | None = None) -> list:
        """Every item of a paged listing, deduplicated by ``key``.

        Stops at the total, at an empty page, at a page adding nothing new (a server repeating itself or an
        endless ``has_more``) and at ``limit`` pages, with a warning in ``stats.warnings`` for the last two. ``pace`` is awaited before every page (a shared request budget).
        """
        items: dict[str, Any] = {}
        for page_no in range(1, limit + 1):
            if pace is not None:
                await pace()
            page = await fetch(page_no)
            fresh = 0
            for item in page.items:
                if key(item) not in items:
                    items[key(item)] = item
                    fresh += 1
            if not page.items or len(items) >= page.total or not page.has_more:
                break
            if fresh == 0:
                self.stats.warnings.append(f"{what}: page {page_no} repeated earlier items; stopped there")
                break
        else:
            self.stats.warnings.append(f"{what}: stopped after {limit} pages ({len(items)} items); "
                                       "the list may be incomplete")
        return list(items.values())

    # -- files -----------------------------------------------------------------------------------------

    async def file_snapshot(self) -> set[str]:
        """Ids on the first page of files (newest first): a file an upload makes is on it and not in this set."""
        return {f.file_id for f in (await self.list_files(1, 100)).items}

    async def find_upload(self, name: str, size: int, before: set[str]) -> RemoteFile | None:
        for f in (await self.list_files(1, 100)).items:
            if f.name == clean(name) and f.size == size and f.file_id not in before:
                return f
        return None

    async def upload_file(self, path: str | Path, *, description: str | None = None,
                          on_progress: ProgressCallback | None = None,
                          before: set[str] | None = None) -> RemoteFile:
        path = Path(path)
        size = path.stat().st_size
        since = datetime.now()
        if before is None:
            before = await self.file_snapshot()

        async def send() -> RemoteFile:
            with open(path, "rb") as raw:
                reader = _ProgressReader(raw, size, on_progress)
                data = {"descriptions": description} if description else None
                body = await self._once("POST", "/files", "upload", _FILES,
                                        files={"files": (path.name, reader, "application/octet-stream")},
                                        data=data, timeout=max(600.0, size / 100_000))

            def parse(body: dict) -> RemoteFile:
                data_out = _expect_obj(body.get("data") or body.get("output") or {}, "data")
                uploaded = data_out.get("uploaded_files") or []
                if not isinstance(uploaded, list):
                    raise ShapeError("'uploaded_files' is not a list")
                if not uploaded:
                    failures = data_out.get("failed_uploads") or [{}]
                    failed = failures[0] if isinstance(failures, list) and isinstance(failures[0], dict) else {}
                    raise PlatformError(str(failed.get("message") or "the server accepted no file"), status=200,
                                        code=failed.get("code") if isinstance(failed.get("code"), str) else None,
                                        request_id=body.get("__request_id"), operation="upload")
                first = _expect_obj(uploaded[0], "an uploaded file")
                return RemoteFile.from_api({"size": size, "purpose": "fine-tune", **first,
                                            "gmt_create": since.strftime("%Y-%m-%d %H:%M:%S")})
            return await self._parsed("upload", body, parse)

        return await self._create("upload", send, lambda: self.find_upload(path.name, size, before),
                                  check=f"look in Files for '{clean(path.name)}' ({size} bytes)")

    async def list_files(self, page_no: int = 1, page_size: int = 100) -> Page[RemoteFile]:
        body = await self._read("GET", "/files", "list files", _FILES,
                                params={"page_no": page_no, "page_size": page_size})
        return await self._parsed("list files", body, lambda b: _page(
            b.get("data") or b.get("output") or {}, "files", RemoteFile.from_api, page_no, page_size))

    async def all_files(self, *, pace: Callable[[], Awaitable[None]] | None = None) -> list[RemoteFile]:
        return await self._pages(lambda n: self.list_files(n, 100), lambda f: f.file_id, "files", pace=pace)

    async def get_file(self, file_id: str) -> RemoteFile:
        body = await self._read("GET", f"/files/{file_id}", "get file", _FILES)
        return await self._parsed("get file", body,
                                  lambda b: _one(RemoteFile.from_api(b.get("data") or b.get("output") or {}),
                                                 "file_id"))

    async def delete_file(self, file_id: str) -> None:
        await self._read("DELETE", f"/files/{file_id}", "delete file", _FILES)

    # -- fine-tunes ------------------------------------------------------------------------------------

    async def job_snapshot(self, request: JobRequest) -> set[str]:
        """Ids of existing jobs the request could be mistaken for (none when its name is our own)."""
        request.ensure_name()
        body = request.body()
        return set() if request.name_generated else {j.job_id for j in await self.all_jobs() if _same_job(j, body)}

    async def find_job(self, body: dict, before: set[str]) -> Job | None:
        for job in await self.all_jobs():
            if _same_job(job, body) and job.job_id not in before:
                return job
        return None

    async def create_job(self, request: JobRequest, *, before: set[str] | None = None) -> Job:
        request.ensure_name()
        body = request.body()
        if before is None:
            # A name of our own is unique; a name the user chose may already exist, so remember those jobs.
            before = await self.job_snapshot(request)

        async def send() -> Job:
            out = await self._once("POST", "/fine-tunes", "create fine-tune", _FT, json=body)
            return await self._parsed("create fine-tune", out, lambda b: _one(Job.from_api(b.get("output") or {}),
                                                                              "job_id"))

        return await self._create("create fine-tune", send, lambda: self.find_job(body, before),
                                  check=f"look in Jobs for the job named '{clean(body.get('job_name') or '')}'")

    async def get_job(self, job_id: str) -> Job:
        body = await self._read("GET", f"/fine-tunes/{job_id}", "get job")
        return await self._parsed("get job", body, lambda b: _one(Job.from_api(b.get("output") or {}), "job_id"))

    async def list_jobs(self, page_no: int = 1, page_size: int = 100, model: str | None = None) -> Page[Job]:
        params: dict[str, Any] = {"page_no": page_no, "page_size": page_size}
        if model:
            params["model"] = model
        body = await self._read("GET", "/fine-tunes", "list jobs", params=params)
        return await self._parsed("list jobs", body,
                                  lambda b: _page(b.get("output") or {}, "jobs", Job.from_api, page_no, page_size))

    async def all_jobs(self, *, pace: Callable[[], Awaitable[None]] | None = None) -> list[Job]:
        return await self._pages(lambda n: self.list_jobs(n, 100), lambda j: j.job_id, "jobs", pace=pace)

    async def cancel_job(self, job_id: str) -> str:
        body = await self._read("POST", f"/fine-tunes/{job_id}/cancel", "cancel job")
        return await self._parsed("cancel job", body, lambda b: clean(_expect_obj(b.get("output") or {}, "output")
                                                                      .get("status") or "success"))

    async def delete_job(self, job_id: str) -> str:
        body = await self._read("DELETE", f"/fine-tunes/{job_id}", "delete job")
        return await self._parsed("delete job", body, lambda b: clean(_expect_obj(b.get("output") or {}, "output")
                                                                      .get("status") or "success"))

    async def job_logs(self, job_id: str, offset: int = 0, limit: int = 1000) -> LogPage:
        """Lines after the first ``offset`` (the documented meaning), at most ``limit`` (max 1000)."""
        body = await self._read("GET", f"/fine-tunes/{job_id}/logs", "get logs",
                                params={"offset": offset, "line": min(max(limit, 1), 1000)})
        return await self._parsed("get logs", body, lambda b: LogPage.from_api(b.get("output") or {}, offset))

    async def job_events(self, job_id: str) -> AsyncIterator[str]:
        """The SSE stream of a job (SDK-only endpoint): yields each event's data as text."""
        async for data in self._sse("GET", f"/fine-tunes/{job_id}/stream", "stream job events", _FT):
            yield clean(data, cap=20_000)

    async def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        body = await self._read("GET", f"/fine-tunes/{job_id}/checkpoints", "list checkpoints")

        def parse(b: dict) -> list[Checkpoint]:
            output = b.get("output") or []
            if isinstance(output, dict):
                output = output.get("checkpoints") or []
            if not isinstance(output, list):
                raise ShapeError(f"checkpoints are {type(output).__name__}, expected a list")
            return [Checkpoint.from_api(c) for c in output]
        return await self._parsed("list checkpoints", body, parse)

    async def export_checkpoint(self, job_id: str, checkpoint: str, model_name: str) -> bool:
        body = await self._read("GET", f"/fine-tunes/{job_id}/export/{checkpoint}", "export checkpoint",
                                params={"model_name": model_name})
        return bool(body.get("output"))

    # -- deployments -----------------------------------------------------------------------------------

    async def deployment_snapshot(self) -> set[str]:
        return {d.deployed_model for d in await self.all_deployments()}

    async def find_deployment(self, model_name: str, before: set[str]) -> Deployment | None:
        for dep in await self.all_deployments():
            new = dep.deployed_model not in before
            if new and (dep.model_name == clean(model_name) or dep.deployed_model.startswith(clean(model_name))):
                return dep
        return None

    async def create_deployment(self, model_name: str, capacity: int = 1, *, plan: str | None = None,
                                suffix: str | None = None, name: str | None = None,
                                before: set[str] | None = None) -> Deployment:
        body: dict[str, Any] = {"model_name": model_name, "capacity": capacity}
        for key, value in (("plan", plan), ("suffix", suffix), ("name", name)):
            if value:
                body[key] = value
        if before is None:
            before = await self.deployment_snapshot()

        async def send() -> Deployment:
            out = await self._once("POST", "/deployments", "deploy", _FT, json=body)
            return await self._parsed("deploy", out, lambda b: _one(Deployment.from_api(b.get("output") or {}),
                                                                    "deployed_model"))

        return await self._create("deploy", send, lambda: self.find_deployment(model_name, before),
                                  check=f"look in Deployments for a deployment of '{clean(model_name)}'")

    async def get_deployment(self, deployed_model: str) -> Deployment:
        body = await self._read("GET", f"/deployments/{deployed_model}", "get deployment")
        return await self._parsed("get deployment", body,
                                  lambda b: _one(Deployment.from_api(b.get("output") or {}), "deployed_model"))

    async def list_deployments(self, page_no: int = 1, page_size: int = 100) -> Page[Deployment]:
        body = await self._read("GET", "/deployments", "list deployments",
                                params={"page_no": page_no, "page_size": page_size})
        return await self._parsed("list deployments", body, lambda b: _page(
            b.get("output") or {}, "deployments", Deployment.from_api, page_no, page_size))

    async def all_deployments(self, *, pace: Callable[[], Awaitable[None]] | None = None) -> list[Deployment]:
        return await self._pages(lambda n: self.list_deployments(n, 100), lambda d: d.deployed_model,
                                 "deployments", pace=pace)

    async def scale_deployment(self, deployed_model: str, capacity: int) -> Deployment:
        body = await self._read("PUT", f"/deployments/{deployed_model}/scale", "scale deployment",
                                json={"deployed_model": deployed_model, "capacity": capacity})
        return await self._parsed("scale deployment", body, lambda b: Deployment.from_api(b.get("output") or {}))

    async def delete_deployment(self, deployed_model: str) -> Deployment:
        body = await self._read("DELETE", f"/deployments/{deployed_model}", "delete deployment")
        return await self._parsed("delete deployment", body, lambda b: Deployment.from_api(
            b.get("output") or {"deployed_model": deployed_model, "status": "DELETING"}))

    # -- generation ------------------------------------------------------------------------------------

    async def chat(self, model: str, messages: list[dict], **parameters: Any) -> ChatReply:
        body = {"model": model, "input": {"messages": messages},
                "parameters": {"result_format": "message", **parameters}}
        out = await self._read("POST", "/services/aigc/text-generation/generation", "chat", "generation",
                               json=body)
        return await self._parsed("chat", out, ChatReply.from_api)

    async def chat_stream(self, model: str, messages: list[dict], **parameters: Any) -> AsyncIterator[str]:
        """Yields text deltas as they arrive (``incremental_output``)."""
        body = {"model": model, "input": {"messages": messages},
                "parameters": {"result_format": "message", "incremental_output": True, **parameters}}
        async for data in self._sse("POST", "/services/aigc/text-generation/generation", "chat", "generation",
                                    json=body, headers={"X-DashScope-SSE": "enable"}):
            try:
                reply = ChatReply.from_api(json.loads(data))
            except (ValueError, AttributeError, TypeError):
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


def unexpected(detail: str, op: str, request_id: str | None, status: int | None = 200) -> PlatformError:
    return PlatformError(f"unexpected response from DashScope: {detail}", status=status, request_id=request_id,
                         operation=op)


def _expect_obj(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise ShapeError(f"'{what}' is {type(value).__name__}, expected an object")
    return value


def _one(record: Any, id_field: str) -> Any:
    if not getattr(record, id_field):
        raise ShapeError(f"no {id_field} in the answer")
    return record


def _page(data: Any, key: str, parse: Callable[[dict], Any], page_no: int, page_size: int) -> Page:
    data = _expect_obj(data, "output")
    raw = data.get(key)
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ShapeError(f"'{key}' is {type(raw).__name__}, expected a list")
    items = [parse(d) for d in raw]
    total = data.get("total", data.get("total_count"))
    number = lambda v, d: int(v) if v not in (None, "") else d  # noqa: E731
    return Page(items=items, total=number(total, len(items)), page_no=number(data.get("page_no"), page_no),
                page_size=number(data.get("page_size"), page_size))


def _json_body(response: Any) -> tuple[dict, str | None]:
    """The JSON object of a response, and what is wrong with it (None if nothing)."""
    if not response.content:
        return {}, f"an empty body (HTTP {response.status_code})"
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        text = clean(response.text[:200], cap=200)
        return {"message": text or f"HTTP {response.status_code} with a non-JSON body"}, \
            f"a body that is not JSON (HTTP {response.status_code}): {text!r}"
    if not isinstance(body, dict):
        return {}, f"a JSON {type(body).__name__} where an object was expected"
    return body, None


def _retry_after(headers: Any) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
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

