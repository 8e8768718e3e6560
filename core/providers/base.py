"""The provider protocol: what every place a fine-tune runs offers to the app, in the app's own records.

A *provider* is one configured place (a profile): Bailian over DashScope, an OpenAI-compatible service
(XPULink, OpenAI, Azure OpenAI), or — later — local GPU runs. Screens, the scheduler, the store and the CLI
talk to this protocol only; none of them names a backend. Everything a provider returns is a
``core.records`` object tagged with the provider's name (``record.provider``), so ids stay unique across
providers (``record.key`` = ``"<provider>:<id>"``).

The protocol is deliberately small — files, jobs, a line view of each job's log/events, checkpoints,
serving and chat — and *capability-flagged*: a backend that cannot pause, has no deployment step or no
remote files says so in :class:`Capabilities`, and the screens adapt instead of special-casing backends.
:class:`ProviderBase` gives every optional operation a clear "not offered by <provider>" error, so a new
backend implements only what it has.

Rules every backend keeps (they are what makes a create billable only once):

* reads may be retried (throttling, 5xx, lost connections); the SDK's own retry loop is off for creates;
* a create that failed ambiguously (no response, timeout, 5xx) is *reconciled* before any retry: the
  backend looks for what the attempt may have made (a unique name / metadata tag) and returns it if found;
* every failure leaves ``core`` as :class:`core.errors.PlatformError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Protocol, runtime_checkable

from bailian_tui.core.errors import PlatformError
from bailian_tui.core.records import ChatReply, Checkpoint, Deployment, Job, LogPage, Page, RemoteFile

ProgressCallback = Callable[[int, int], None]  # (bytes sent, total bytes)

KINDS = ("dashscope", "openai", "local")  # kinds a profile may name


@dataclass(frozen=True)
class Capabilities:
    """What a provider offers beyond the common core (files, create/get/list/cancel jobs, logs, chat)."""

    deployments: bool = False        # a tuned model must be deployed before it answers (DashScope)
    pause: bool = False              # jobs can be paused and resumed
    delete_job: bool = False         # finished jobs can be deleted
    checkpoints: bool = True         # intermediate checkpoints are listed
    checkpoint_export: bool = False  # a checkpoint must be exported to a model before use (DashScope)
    checkpoint_chat: bool = False    # a checkpoint is itself a chat model (OpenAI-compatible)
    remote_files: bool = True        # data is uploaded and referred to by file id
    training_types: tuple[str, ...] = ("sft",)  # the values JobRequest.training_type may take
    request_budget: float | None = None  # requests/s the scheduler may spend here (None: the app default)
    # Local runs (core.providers.local) — optional capabilities, off for remote services:
    adopt: bool = False              # a run started elsewhere can be adopted (adopt_run)
    gpu_stats: bool = False          # GPU memory/utilisation of the machine running the jobs (gpu_stats)
    environment_check: bool = False  # the training environment can be checked on demand (check_environment)
    export_formats: tuple[str, ...] = ()  # a finished job's adapter can be merged/converted (export_model)


@dataclass(frozen=True)
class ProviderInfo:
    """What the header, the job list badge and ``config show`` say about a provider."""

    name: str          # the profile name, unique in the config ("bailian", "xpulink")
    kind: str          # "dashscope" | "openai" | "local"
    label: str         # shown to people ("Bailian (simulated)")
    base_url: str | None
    key_env: str | None = None      # the environment variable that holds its key
    has_key: bool = False
    masked_key: str = "(no key)"
    badge: str = ""                 # two or three letters for narrow columns ("BL", "XPU")
    extra: dict = field(default_factory=dict)


@runtime_checkable
class Provider(Protocol):
    """The operations every backend offers. Optional ones raise :class:`PlatformError` when not offered."""

    info: ProviderInfo
    capabilities: Capabilities

    @property
    def name(self) -> str: ...

    async def aclose(self) -> None: ...

    # files
    async def upload_file(self, path: str | Path, *, description: str | None = None,
                          on_progress: ProgressCallback | None = None) -> RemoteFile: ...
    async def list_files(self, page_no: int = 1, page_size: int = 100) -> Page[RemoteFile]: ...
    async def all_files(self) -> list[RemoteFile]: ...
    async def get_file(self, file_id: str) -> RemoteFile: ...
    async def delete_file(self, file_id: str) -> None: ...

    # jobs (``request`` is a core.platform.JobRequest; training_type is one of capabilities.training_types)
    def request_body(self, request: Any) -> dict: ...
    async def create_job(self, request: Any) -> Job: ...
    async def get_job(self, job_id: str) -> Job: ...
    async def list_jobs(self, page_no: int = 1, page_size: int = 100) -> Page[Job]: ...
    async def all_jobs(self) -> list[Job]: ...
    async def cancel_job(self, job_id: str) -> str: ...
    async def pause_job(self, job_id: str) -> Job: ...
    async def resume_job(self, job_id: str) -> Job: ...
    async def delete_job(self, job_id: str) -> str: ...

    # the job's log as lines (event streams are rendered as lines; metrics lines are the dict form
    # ``core.logparse`` reads, so one parser draws every provider's loss curves)
    async def job_logs(self, job_id: str, offset: int = 0, limit: int = 1000) -> LogPage: ...

    # checkpoints
    async def list_checkpoints(self, job_id: str) -> list[Checkpoint]: ...
    async def export_checkpoint(self, job_id: str, checkpoint: str, model_name: str) -> bool: ...

    # serving
    def servable_model(self, job: Job) -> str | None: ...
    async def all_deployments(self) -> list[Deployment]: ...
    async def create_deployment(self, model_name: str, capacity: int = 1, **kwargs: Any) -> Deployment: ...
    async def get_deployment(self, deployed_model: str) -> Deployment: ...
    async def scale_deployment(self, deployed_model: str, capacity: int) -> Deployment: ...
    async def delete_deployment(self, deployed_model: str) -> Deployment: ...

    # chat
    async def chat(self, model: str, messages: list[dict], **parameters: Any) -> ChatReply: ...
    def chat_stream(self, model: str, messages: list[dict], **parameters: Any) -> AsyncIterator[str]: ...


class ProviderBase:
    """Shared plumbing: the name, record tagging and "not offered" answers for optional operations."""

    info: ProviderInfo
    capabilities: Capabilities = Capabilities()

    @property
    def name(self) -> str:
        return self.info.name

    def _unsupported(self, what: str) -> PlatformError:
        return PlatformError(f"{self.info.label} does not offer {what}", operation=what)

    async def aclose(self) -> None:
        return None

    async def all_files(self, *, pace: Callable[[], Awaitable[None]] | None = None) -> list[RemoteFile]:
        items: list[RemoteFile] = []
        for page_no in range(1, 1001):
            if pace is not None:
                await pace()  # a shared request budget
            page = await self.list_files(page_no, 100)  # type: ignore[attr-defined]
            items.extend(page.items)
            if not page.has_more:
                break
        return items

    async def all_jobs(self, *, pace: Callable[[], Awaitable[None]] | None = None) -> list[Job]:
        items: list[Job] = []
        for page_no in range(1, 1001):
            if pace is not None:
                await pace()
            page = await self.list_jobs(page_no, 100)  # type: ignore[attr-defined]
            items.extend(page.items)
            if not page.has_more:
                break
        return items

    async def pause_job(self, job_id: str) -> Job:
        raise self._unsupported("pausing jobs")

    async def resume_job(self, job_id: str) -> Job:
        raise self._unsupported("resuming jobs")

    async def delete_job(self, job_id: str) -> str:
        raise self._unsupported("deleting jobs")

    async def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        raise self._unsupported("checkpoints")

    async def export_checkpoint(self, job_id: str, checkpoint: str, model_name: str) -> bool:
        raise self._unsupported("checkpoint export (its checkpoints are usable directly)")

    # -- optional capabilities of local runs (see Capabilities) --------------------------------------------

    async def adopt_run(self, path: str | Path, name: str | None = None) -> Job:
        raise self._unsupported("adopting runs started elsewhere")

    def gpu_stats(self, job_id: str | None = None) -> list:
        """GPU lines (core.local.gpu.GpuStat) for the machine running the jobs; [] when unknown."""
        return []

    async def check_environment(self, recipe: str | None = None):
        raise self._unsupported("an environment check")

    async def export_model(self, job_id: str, fmt: str) -> Job:
        raise self._unsupported("merging or exporting adapters")

    def servable_model(self, job: Job) -> str | None:
        """The model id that answers chat for a finished job without any deployment step, if there is one."""
        return None

    async def all_deployments(self, **kwargs: Any) -> list[Deployment]:
        return []

    async def deployment_snapshot(self) -> set[str]:
        raise self._unsupported("deployments (tuned models are served directly)")

    async def create_deployment(self, model_name: str, capacity: int = 1, **kwargs: Any) -> Deployment:
        raise self._unsupported("deployments (tuned models are served directly)")

    async def get_deployment(self, deployed_model: str) -> Deployment:
        raise self._unsupported("deployments (tuned models are served directly)")

    async def scale_deployment(self, deployed_model: str, capacity: int) -> Deployment:
        raise self._unsupported("deployments (tuned models are served directly)")

    async def delete_deployment(self, deployed_model: str) -> Deployment:
        raise self._unsupported("deployments (tuned models are served directly)")

    # -- tagging ---------------------------------------------------------------------------------------

    def tag(self, record: Any) -> Any:
        """The record with ``provider`` set to this provider's name (records are frozen)."""
        from dataclasses import replace

        return replace(record, provider=self.info.name) if getattr(record, "provider", None) != self.info.name \
            else record

    def tag_page(self, page: Page) -> Page:
        return Page(items=[self.tag(item) for item in page.items], total=page.total, page_no=page.page_no,
                    page_size=page.page_size)


class ProviderError(PlatformError):
    """A :class:`PlatformError` from a provider other than DashScope: its own name and key hint."""

    def __init__(self, message: str, *, provider: str = "", hint: str | None = None, **kwargs: Any) -> None:
        self.provider, self.hint = provider, hint
        super().__init__(message, **kwargs)

    def human(self) -> str:
        head = f"{self.operation} failed: " if self.operation else ""
        tail = [t for t in (self.code, f"HTTP {self.status}" if self.status else None,
                            f"request_id {self.request_id}" if self.request_id else None) if t]
        text = f"{head}{self.message}" + (f" ({', '.join(tail)})" if tail else "")
        hint = self.hint or {403: "the key has no access to this model or operation",
                             429: "rate limited or a quota was hit; wait and retry"}.get(self.status or 0)
        return f"{text} — {hint}" if hint else text


def safe_text(value: Any, limit: int = 1000) -> str:
    """Server-supplied text made safe to show — the one boundary of core.safetext: controls made visible
    (ESC → ␛), known keys masked, bounded length. Kept here for providers built on this module."""
    from bailian_tui.core.safetext import clean

    return clean(value if value is not None else "", cap=limit)


class ChatRouter:
    """Chat with each model through the provider that serves it: an evaluation can compare a Bailian
    fine-tune with an XPULink one on the same split. ``routes`` maps model ids to providers."""

    def __init__(self, routes: dict[str, Any], default: Any) -> None:
        self.routes, self.default = dict(routes), default

    def provider_for(self, model: str) -> Any:
        return self.routes.get(model, self.default)

    async def chat(self, model: str, messages: list[dict], **parameters: Any) -> ChatReply:
        return await self.provider_for(model).chat(model, messages, **parameters)

    def chat_stream(self, model: str, messages: list[dict], **parameters: Any) -> AsyncIterator[str]:
        return self.provider_for(model).chat_stream(model, messages, **parameters)

    async def aclose(self) -> None:
        seen: list[Any] = []
        for provider in [self.default, *self.routes.values()]:
            if all(provider is not other for other in seen):
                seen.append(provider)
                await provider.aclose()


def qualified(provider: str, object_id: str) -> str:
    """``"<provider>:<id>"``: unique across providers in the store and on screen."""
    return f"{provider}:{object_id}" if provider else object_id


def split_qualified(key: str) -> tuple[str, str]:
    """The inverse of :func:`qualified`; an unqualified id belongs to the default provider ``""``."""
    provider, sep, object_id = key.partition(":")
    return (provider, object_id) if sep and provider and "/" not in provider else ("", key)
