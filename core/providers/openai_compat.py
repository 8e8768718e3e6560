"""An OpenAI-compatible fine-tuning service (XPULink, OpenAI, Azure OpenAI…) behind the provider protocol.

Built on the official ``openai`` SDK (``AsyncOpenAI(base_url=…)``) with its retry loop OFF
(``max_retries=0``): like the DashScope facade, this module retries reads itself (408/429/5xx, lost
connections, Retry-After honoured) and never repeats a billed create after an ambiguity. Each job we
create carries ``metadata["bt_request"]`` (a unique name, also in the store's intent); after a timeout, a
dropped connection or a 5xx the jobs listed newest-first are searched for that tag (or, on a service that
drops metadata, for the same model + training file + suffix among jobs that were not there before) over
the same reconciliation window as DashScope's (one code: ``core.calls``): found, it is returned; not found,
the outcome is :class:`core.errors.OutcomeUnknown` — never a second POST. A create refused up front (4xx,
429, or a connection that never opened) is retried as a read is.

The job's events (newest first on the wire) are followed incrementally — the first page is read until
the newest event already seen — and kept oldest-first as log lines: message events as
``YYYY-MM-DD HH:MM:SS - LEVEL - text`` and metrics events as the dict lines ``core.logparse`` reads
(``{'loss': …, 'eval_loss': …, 'step': …, 'total_steps': …}``), so both providers feed the same loss
and validation-loss charts through one parser.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

from bailian_tui.core.calls import CallDiscipline
from bailian_tui.core.errors import PlatformError
from bailian_tui.core.platform import (CallStats, JobRequest, RetryPolicy, _ProgressReader, _retry_after,
                                        new_job_name)
from bailian_tui.core.records import _clean_tree
from bailian_tui.core.safetext import clean
from bailian_tui.core.providers.base import (Capabilities, ProgressCallback, ProviderBase, ProviderError,
                                             ProviderInfo)
from bailian_tui.core.records import ChatReply, Checkpoint, Job, JobStatus, LogPage, Page, RemoteFile

TAG = "bt_request"  # metadata key that names the create request a job came from
STANDARD_HP = ("n_epochs", "batch_size", "learning_rate_multiplier")
METHODS = {"sft": "supervised", "supervised": "supervised", "dpo": "dpo"}
EVENT_PAGE = 100
_END = "\x00end"  # no such page


@dataclass
class _EventTail:
    """One job's events, oldest first, and the rendered lines the log view and the parser read."""

    ids: set[str] = field(default_factory=set)
    newest: str | None = None
    lines: list[str] = field(default_factory=list)


class OpenAIProvider(ProviderBase, CallDiscipline):
    def __init__(self, info: ProviderInfo, *, api_key: str | None, base_url: str, timeout: float = 60.0,
                 retry: RetryPolicy | None = None, sleep: Callable[[float], Awaitable[None]] | None = None,
                 hyperparameters_form: str = "method", extra_hyperparameters: tuple[str, ...] = (),
                 pause: bool = True, metadata: bool = True, request_budget: float | None = None) -> None:
        from openai import AsyncOpenAI

        self.info = info
        self._client = AsyncOpenAI(api_key=api_key or "missing-key", base_url=base_url, timeout=timeout,
                                   max_retries=0)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep or asyncio.sleep
        self.stats = CallStats()
        self.base_url = base_url
        self.hyperparameters_form = hyperparameters_form  # "method" (current standard) | "hyperparameters"
        self.extra_hyperparameters = tuple(extra_hyperparameters)
        self.metadata = metadata
        self.capabilities = Capabilities(deployments=False, pause=pause, delete_job=False, checkpoints=True,
                                         checkpoint_export=False, checkpoint_chat=True, remote_files=True,
                                         training_types=("supervised", "dpo"), request_budget=request_budget)
        self._tails: dict[str, _EventTail] = {}
        self._job_cursors: dict[tuple[int, int], str | None] = {}
        self._file_cursors: dict[tuple[int, int], str | None] = {}

    async def aclose(self) -> None:
        await self._client.close()

    # -- wire ------------------------------------------------------------------------------------------

    def _error(self, exc: Exception, op: str) -> PlatformError:
        import openai

        hint = f"check ${self.info.key_env}" if self.info.key_env else "check the profile's api key"
        if isinstance(exc, openai.APIStatusError):
            body = exc.body if isinstance(exc.body, dict) else {}
            message = body.get("message") or getattr(exc, "message", None) or f"HTTP {exc.status_code}"
            if body.get("param"):
                message = f"{message} (param {body['param']})"
            err = ProviderError(clean_text(message), status=exc.status_code, code=body.get("code") or body.get("type"),
                                request_id=exc.request_id, operation=op, provider=self.info.label,
                                hint=hint if exc.status_code == 401 else None)
            err.retry_after = _retry_after(exc.response.headers)  # type: ignore[attr-defined]
            return err
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__.__class__.__name__ if exc.__cause__ else exc.__class__.__name__
            if cause in ("ConnectError", "ConnectTimeout"):  # refused or unreachable: nothing was sent
                return ProviderError(f"cannot reach {self.base_url} ({cause})", operation=op,
                                     provider=self.info.label, not_sent=True,
                                     hint="check the profile's base_url and the network or proxy")
            return ProviderError(f"no response from {self.info.label} ({cause})", operation=op,
                                 provider=self.info.label)
        return ProviderError(clean_text(str(exc)), operation=op, provider=self.info.label)

    async def _once(self, op: str, call: Callable[[], Awaitable[Any]]) -> Any:
        import openai

        self.stats.requests += 1
        try:
            return await call()
        except (openai.APIError, OSError) as exc:
            raise self._error(exc, op) from None

    async def _read(self, op: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """A call that is safe to repeat, retried as DashScope's are (core.calls)."""
        return await self._retried(lambda: self._once(op, call))

    async def _create_once(self, op: str, send: Callable[[], Awaitable[Any]],
                           find: Callable[[], Awaitable[Any | None]], check: str) -> Any:
        """A billed create through the one create-once rule both cloud providers share (core.calls)."""
        return await self._create(op, lambda: self._once(op, send), find, check)

    # -- files -----------------------------------------------------------------------------------------

    def _file(self, obj: Any) -> RemoteFile:
        d = obj.model_dump() if hasattr(obj, "model_dump") else dict(obj)
        return self.tag(RemoteFile(file_id=str(d.get("id") or ""), name=clean_text(d.get("filename") or "", 300),
                                   size=d.get("bytes"), purpose=d.get("purpose"),
                                   created_at=_time(d.get("created_at")), raw=_clean_tree(d)))

    async def file_snapshot(self) -> set[str]:
        """Ids on the first page of files (newest first): a file an upload makes is on it and not in this set."""
        return {f.file_id for f in (await self.list_files(1, 100)).items}

    async def find_upload(self, name: str, size: int, before: set[str]) -> RemoteFile | None:
        for f in (await self.list_files(1, 100)).items:
            if f.name == clean_text(name, 300) and f.size == size and f.file_id not in before:
                return f
        return None

    async def upload_file(self, path: str | Path, *, description: str | None = None,
                          on_progress: ProgressCallback | None = None, before: set[str] | None = None) -> RemoteFile:
        path = Path(path)
        size = path.stat().st_size
        if before is None:
            before = await self.file_snapshot()

        async def send() -> RemoteFile:
            with open(path, "rb") as raw:
                reader = _ProgressReader(raw, size, on_progress)
                obj = await self._client.files.create(file=(path.name, reader), purpose="fine-tune",
                                                      timeout=max(600.0, size / 100_000))
            return self._file(obj)

        return await self._create_once("upload", send, lambda: self.find_upload(path.name, size, before),
                                  check=f"look in Files of {self.info.label} for '{clean(path.name)}' ({size} bytes)")

    async def list_files(self, page_no: int = 1, page_size: int = 100) -> Page[RemoteFile]:
        after = await self._cursor(self._file_cursors, page_no, page_size, self.list_files)
        if after == _END:
            return _page([], page_no, page_size, False)

        async def call():
            kwargs: dict[str, Any] = {"purpose": "fine-tune", "limit": page_size}
            if after:
                kwargs["after"] = after
            return await self._client.files.list(**kwargs)

        page = await self._read("list files", call)
        items = [self._file(f) for f in page.data]
        has_more = bool(getattr(page, "has_more", False))
        if has_more and items:
            self._file_cursors[(page_size, page_no + 1)] = items[-1].file_id
        return _page(items, page_no, page_size, has_more)

    async def get_file(self, file_id: str) -> RemoteFile:
        return self._file(await self._read("get file", lambda: self._client.files.retrieve(file_id)))

    async def delete_file(self, file_id: str) -> None:
        await self._read("delete file", lambda: self._client.files.delete(file_id))

    async def file_content(self, file_id: str) -> bytes:
        response = await self._read("download file", lambda: self._client.files.content(file_id))
        return response.content if hasattr(response, "content") else bytes(response)

    async def _cursor(self, cursors: dict[tuple[int, int], str | None], page_no: int, page_size: int,
                      lister) -> str | None:
        """The ``after`` id that starts page ``page_no`` (earlier pages are read once if never read)."""
        cursors.setdefault((page_size, 1), None)
        while (page_size, page_no) not in cursors:
            known = max(n for (size, n) in cursors if size == page_size and n < page_no)
            page = await lister(known, page_size)  # records the cursor of the page after it, if any
            if not page.has_more:
                return _END
        return cursors[(page_size, page_no)]

    # -- jobs ------------------------------------------------------------------------------------------

    def request_body(self, request: JobRequest) -> dict:
        """The JSON the create sends: the standard ``method`` form or the older ``hyperparameters`` one."""
        return build_body(request, form=self.hyperparameters_form, metadata=self.metadata, label=self.info.label)

    def _job(self, obj: Any) -> Job:
        d = obj.model_dump() if hasattr(obj, "model_dump") else dict(obj)
        method = d.get("method") or {}
        kind = method.get("type") or "supervised"
        hp = ((method.get(kind) or {}).get("hyperparameters") or d.get("hyperparameters") or {})
        error = d.get("error") or {}
        metadata = d.get("metadata") or {}
        return self.tag(Job(
            job_id=str(d.get("id") or ""), status=JobStatus.parse(d.get("status")), model=str(d.get("model") or ""),
            job_name=clean_text(metadata.get(TAG) or d.get("suffix") or "", 200), base_model=d.get("model"),
            training_type=kind, training_file_ids=[d["training_file"]] if d.get("training_file") else [],
            validation_file_ids=[d["validation_file"]] if d.get("validation_file") else [],
            hyper_parameters={k: v for k, v in dict(hp).items() if v is not None},
            finetuned_output=d.get("fine_tuned_model") or None, created_at=_time(d.get("created_at")),
            ended_at=_time(d.get("finished_at")), usage=d.get("trained_tokens"),
            code=str(error["code"]) if error.get("code") else None,
            message=clean_text(error.get("message") or "", 2000) or None, raw=_clean_tree(d)))

    async def job_snapshot(self, request: JobRequest) -> set[str]:
        """Jobs that were there before a create. Our metadata tag is unique, so none are needed; a service
        that drops metadata is matched by what it keeps (model, file, suffix) among jobs new since."""
        request.ensure_name()
        return set() if self.metadata else {j.job_id for j in (await self.list_jobs(1, 100)).items}

    async def find_job(self, body: dict, before: set[str]) -> Job | None:
        """The job a create made: ``body`` in this provider's shape or the DashScope shape the store keeps."""
        tag = body.get("job_name") or (body.get("metadata") or {}).get(TAG)
        files = body.get("training_file_ids") or [body.get("training_file")]
        suffix = body.get("model_name") or body.get("suffix") or None
        for page_no in range(1, 4):
            page = await self.list_jobs(page_no, 100)
            for job in page.items:
                if job.job_id in before:
                    continue
                seen = (job.raw.get("metadata") or {}).get(TAG)
                if seen is not None:
                    if seen == tag:
                        return job
                    continue
                if (job.model == body.get("model") and job.training_file_ids == list(files[:1])
                        and (job.raw.get("suffix") or None) == suffix):
                    return job
            if not page.has_more:
                break
        return None

    async def create_job(self, request: JobRequest, *, before: set[str] | None = None) -> Job:
        if before is None:
            before = await self.job_snapshot(request)
        request.ensure_name()
        body = self.request_body(request)
        extra = {k: body[k] for k in ("method", "hyperparameters") if k in body}
        plain = {k: v for k, v in body.items() if k not in extra}

        async def send() -> Job:
            return self._job(await self._client.fine_tuning.jobs.create(**plain, extra_body=extra or None))

        return await self._create_once("create fine-tune", send, lambda: self.find_job(body, before),
                                  check=f"look in Jobs of {self.info.label} for the job with metadata "
                                        f"{TAG}={clean(request.job_name or '')}")

    async def get_job(self, job_id: str) -> Job:
        return self._job(await self._read("get job", lambda: self._client.fine_tuning.jobs.retrieve(job_id)))

    async def list_jobs(self, page_no: int = 1, page_size: int = 100, model: str | None = None) -> Page[Job]:
        after = await self._cursor(self._job_cursors, page_no, page_size, self.list_jobs)
        if after == _END:
            return _page([], page_no, page_size, False)

        async def call():
            kwargs: dict[str, Any] = {"limit": page_size}
            if after:
                kwargs["after"] = after
            return await self._client.fine_tuning.jobs.list(**kwargs)

        page = await self._read("list jobs", call)
        items = [self._job(j) for j in page.data]
        if model:
            items = [j for j in items if j.model == model]
        has_more = bool(getattr(page, "has_more", False))
        if has_more and page.data:
            self._job_cursors[(page_size, page_no + 1)] = page.data[-1].id
        return _page(items, page_no, page_size, has_more)

    async def cancel_job(self, job_id: str) -> str:
        job = self._job(await self._read("cancel job", lambda: self._client.fine_tuning.jobs.cancel(job_id)))
        return job.status.value.lower()

    async def pause_job(self, job_id: str) -> Job:
        if not self.capabilities.pause:
            raise self._unsupported("pausing jobs")
        return self._job(await self._read("pause job", lambda: self._client.fine_tuning.jobs.pause(job_id)))

    async def resume_job(self, job_id: str) -> Job:
        if not self.capabilities.pause:
            raise self._unsupported("resuming jobs")
        return self._job(await self._read("resume job", lambda: self._client.fine_tuning.jobs.resume(job_id)))

    # -- events as a log -------------------------------------------------------------------------------

    async def _new_events(self, job_id: str, tail: _EventTail) -> list[dict]:
        """Events newer than the newest seen, oldest first: first page, older pages only while needed."""
        fresh: list[dict] = []
        after: str | None = None
        while True:
            async def call(after=after):
                kwargs: dict[str, Any] = {"limit": EVENT_PAGE}
                if after:
                    kwargs["after"] = after
                return await self._client.fine_tuning.jobs.list_events(job_id, **kwargs)

            page = await self._read("get events", call)
            reached = False
            for event in page.data:
                d = event.model_dump() if hasattr(event, "model_dump") else dict(event)
                if d.get("id") == tail.newest or d.get("id") in tail.ids:
                    reached = True
                    break
                fresh.append(d)
            if reached or not page.has_more or not page.data:
                break
            after = page.data[-1].id
        fresh.reverse()
        return fresh

    async def job_logs(self, job_id: str, offset: int = 0, limit: int = 1000) -> LogPage:
        tail = self._tails.setdefault(job_id, _EventTail())
        if offset >= len(tail.lines):
            for d in await self._new_events(job_id, tail):
                tail.ids.add(d["id"])
                tail.newest = d["id"]
                tail.lines.append(render_event(d))
        lines = tail.lines[offset: offset + max(limit, 1)]
        return LogPage(lines=lines, offset=offset, total=len(tail.lines))

    # -- checkpoints -----------------------------------------------------------------------------------

    async def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        out: list[Checkpoint] = []
        after: str | None = None
        for _ in range(100):
            async def call(after=after):
                kwargs: dict[str, Any] = {"limit": 100}
                if after:
                    kwargs["after"] = after
                return await self._client.fine_tuning.jobs.checkpoints.list(job_id, **kwargs)

            page = await self._read("list checkpoints", call)
            for c in page.data:
                d = c.model_dump()
                model = d.get("fine_tuned_model_checkpoint") or ""
                out.append(self.tag(Checkpoint(checkpoint=str(d.get("id") or ""), job_id=job_id, full_name=model,
                                               model_name=model or None, status="SUCCEEDED",
                                               created_at=_time(d.get("created_at")),
                                               step_number=d.get("step_number"),
                                               metrics={k: v for k, v in (d.get("metrics") or {}).items()
                                                        if v is not None}, raw=_clean_tree(d))))
            if not page.has_more or not page.data:
                break
            after = page.data[-1].id
        return sorted(out, key=lambda c: c.step or 0)

    # -- serving and chat ------------------------------------------------------------------------------

    def servable_model(self, job: Job) -> str | None:
        return job.finetuned_output if job.status is JobStatus.SUCCEEDED else None

    async def chat(self, model: str, messages: list[dict], **parameters: Any) -> ChatReply:
        reply = await self._read("chat", lambda: self._client.chat.completions.create(
            model=model, messages=messages, **parameters))
        choice = reply.choices[0] if reply.choices else None
        usage = reply.usage
        return ChatReply(content=(choice.message.content or "") if choice else "",
                         finish_reason=choice.finish_reason if choice else None,
                         input_tokens=usage.prompt_tokens if usage else None,
                         output_tokens=usage.completion_tokens if usage else None,
                         request_id=getattr(reply, "_request_id", None))

    async def chat_stream(self, model: str, messages: list[dict], **parameters: Any) -> AsyncIterator[str]:
        import openai

        self.stats.requests += 1
        try:
            stream = await self._client.chat.completions.create(model=model, messages=messages, stream=True,
                                                                **parameters)
            async for chunk in stream:
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        yield choice.delta.content
        except (openai.APIError, OSError) as exc:
            raise self._error(exc, "chat") from None


def clean_text(value: Any, limit: int = 2000) -> str:
    """Server text made inert (core.safetext.clean: controls shown, keys masked, bounded)."""
    return clean(value if value is not None else "", cap=limit)


def build_body(request: JobRequest, *, form: str = "method", metadata: bool = True, label: str = "the service") -> dict:
    """A create request for an OpenAI-compatible service (no network: previews and dry runs use it too)."""
    method = METHODS.get(request.training_type)
    if method is None:
        raise PlatformError(f"{label} trains 'supervised' or 'dpo', not {request.training_type!r}",
                            operation="create fine-tune")
    if len(request.training_file_ids) != 1 or len(request.validation_file_ids) > 1:
        raise PlatformError(f"{label} takes one training file and at most one validation file; "
                            "merge the files into one and upload it", operation="create fine-tune")
    body: dict[str, Any] = {"model": request.model, "training_file": request.training_file_ids[0]}
    if request.validation_file_ids:
        body["validation_file"] = request.validation_file_ids[0]
    if request.model_name:
        body["suffix"] = request.model_name
    if request.job_name and metadata:
        body["metadata"] = {TAG: request.job_name}
    hp = {k: v for k, v in request.hyper_parameters.items() if v not in (None, "")}
    if form == "hyperparameters" and method == "supervised":
        body["hyperparameters"] = hp
    else:
        body["method"] = {"type": method, method: {"hyperparameters": hp}}
    return body


def render_event(d: dict) -> str:
    """One event as a log line: metrics as the dict form the log parser reads, messages as stamped lines."""
    data = d.get("data") or {}
    if d.get("type") == "metrics" and isinstance(data, dict) and data.get("step") is not None:
        parts = {"loss": data.get("train_loss"), "token_accuracy": data.get("train_mean_token_accuracy"),
                 "eval_loss": data.get("valid_loss"), "eval_token_accuracy": data.get("valid_mean_token_accuracy"),
                 "step": data.get("step"), "total_steps": data.get("total_steps")}
        return "{" + ", ".join(f"'{k}': {v!r}" for k, v in parts.items() if isinstance(v, (int, float))) + "}"
    when = _time(d.get("created_at"))
    stamp = when.strftime("%Y-%m-%d %H:%M:%S") if when else "0000-00-00 00:00:00"
    level = {"warn": "WARNING", "warning": "WARNING", "error": "ERROR"}.get(str(d.get("level")).lower(), "INFO")
    return f"{stamp} - {level} - {clean_text(d.get('message') or '', 2000)}"


def _time(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value)
    return None


def _page(items: list, page_no: int, page_size: int, has_more: bool) -> Page:
    # Cursor paging has no total: report one that makes Page.has_more say what the server said.
    total = page_no * page_size + 1 if has_more else (page_no - 1) * page_size + len(items)
    return Page(items=items, total=total, page_no=page_no, page_size=page_size)


__all__ = ["OpenAIProvider", "render_event", "new_job_name"]
