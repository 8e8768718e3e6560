"""The project's own typed records for what DashScope returns.

The wire is inconsistent across docs and SDK versions (``SUCCEEDED`` vs ``success``, logs as a list or a
joined string, ``finetuned_output`` vs ``finetuned_model``); every ``from_api`` here accepts each observed
form so that nothing above ``core`` ever sees a raw dict or has to care which spelling a server used.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from bailian_tui.core.safetext import clean, clean_line, clean_or_none

T = TypeVar("T")


class ShapeError(ValueError):
    """A response whose shape or types are not what DashScope sends: the facade reports it, never a traceback."""


def _obj(d: Any, what: str) -> dict:
    if not isinstance(d, dict):
        raise ShapeError(f"{what} is {type(d).__name__}, expected an object")
    return d


def _text(d: dict, *keys: str, default: str = "") -> str:
    """The first non-empty of ``keys`` as a safe string; an object or a list where text belongs is an error."""
    for key in keys:
        value = d.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, (dict, list, tuple)):
            raise ShapeError(f"'{clean(key, cap=40)}' is {type(value).__name__}, expected text")
        return clean(value)
    return default


def _clean_tree(value: Any, depth: int = 0) -> Any:
    """The raw answer with every string in it made inert too (``--json`` prints it)."""
    if isinstance(value, str):
        return clean(value)
    if depth > 20:
        return None
    if isinstance(value, dict):
        return {clean(k, cap=200): _clean_tree(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_tree(v, depth + 1) for v in value]
    return value


def _text_or_none(d: dict, *keys: str) -> str | None:
    return _text(d, *keys) or None


class JobStatus(str, enum.Enum):
    PENDING = "PENDING"
    QUEUING = "QUEUING"
    RUNNING = "RUNNING"
    CANCELING = "CANCELING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    PAUSED = "PAUSED"  # OpenAI-compatible services that offer pause/resume
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, value: Any) -> "JobStatus":
        return _parse_enum(cls, value, _JOB_ALIASES)

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)


_JOB_ALIASES = {
    "SUCCEED": "SUCCEEDED", "SUCCESS": "SUCCEEDED", "SUCCESSFUL": "SUCCEEDED", "COMPLETED": "SUCCEEDED",
    "FAIL": "FAILED", "ERROR": "FAILED",
    "CANCELLED": "CANCELED", "CANCEL": "CANCELED", "CANCELLING": "CANCELING",
    "QUEUED": "QUEUING", "QUEUEING": "QUEUING", "CREATING": "PENDING", "CREATED": "PENDING",
    "VALIDATING_FILES": "PENDING",  # OpenAI-compatible
}


class DeploymentStatus(str, enum.Enum):
    PENDING = "PENDING"
    DEPLOYING = "DEPLOYING"
    RUNNING = "RUNNING"
    UPDATING = "UPDATING"
    STOPPED = "STOPPED"
    DELETING = "DELETING"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, value: Any) -> "DeploymentStatus":
        return _parse_enum(cls, value, {"READY": "RUNNING", "SERVING": "RUNNING", "DELETED": "DELETING"})

    @property
    def settling(self) -> bool:
        """Still changing on its own: worth polling."""
        return self in (DeploymentStatus.PENDING, DeploymentStatus.DEPLOYING,
                        DeploymentStatus.UPDATING, DeploymentStatus.DELETING)


E = TypeVar("E", bound=enum.Enum)


def _parse_enum(cls: type[E], value: Any, aliases: dict[str, str]) -> E:
    text = str(value or "").strip().upper().replace("-", "_")
    text = aliases.get(text, text)
    try:
        return cls(text)
    except ValueError:
        return cls("UNKNOWN")


def parse_time(value: Any) -> datetime | None:
    """DashScope writes ``2025-01-01 12:00:31``, ``2025-01-01T13:00:38`` or, rarely, a unix time."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value)
    text = str(value).strip().replace("T", " ").rstrip("Z")
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _str_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [clean(value)]
    if not isinstance(value, (list, tuple)) or any(isinstance(v, (dict, list)) for v in value):
        raise ShapeError(f"a list of ids is {type(value).__name__}")
    return [clean(v) for v in value]


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, dict):  # v2-style usage object
        value = value.get("total_tokens")
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page_no: int
    page_size: int

    @property
    def has_more(self) -> bool:
        return self.page_no * self.page_size < self.total and bool(self.items)


@dataclass(frozen=True)
class RemoteFile:
    file_id: str
    name: str
    size: int | None = None
    purpose: str | None = None
    description: str | None = None
    md5: str | None = None
    created_at: datetime | None = None
    provider: str = ""  # the profile that holds it (core.providers); "" before providers existed
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, d: dict) -> "RemoteFile":
        d = _obj(d, "a file")
        return cls(
            file_id=_text(d, "file_id", "id"),
            name=_text(d, "name", "filename"),
            size=_int_or_none(d.get("size", d.get("bytes"))),
            purpose=_text_or_none(d, "purpose"),
            description=_text_or_none(d, "description"),
            md5=_text_or_none(d, "md5"),
            created_at=parse_time(d.get("gmt_create") or d.get("uploaded_at") or d.get("created_at")),
            raw=_clean_tree(d),
        )


@dataclass(frozen=True)
class Job:
    job_id: str
    status: JobStatus
    model: str
    job_name: str = ""
    base_model: str | None = None
    training_type: str = "sft"
    training_file_ids: list[str] = field(default_factory=list)
    validation_file_ids: list[str] = field(default_factory=list)
    hyper_parameters: dict = field(default_factory=dict)
    finetuned_output: str | None = None
    created_at: datetime | None = None
    ended_at: datetime | None = None
    usage: int | None = None
    code: str | None = None
    message: str | None = None
    provider: str = ""  # the profile that holds it (core.providers); "" before providers existed
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def key(self) -> str:
        """Unique across providers: ``"<provider>:<job_id>"`` (the bare id before providers existed)."""
        return f"{self.provider}:{self.job_id}" if self.provider else self.job_id

    @classmethod
    def from_api(cls, d: dict) -> "Job":
        d = _obj(d, "a job")
        hyper = d.get("hyper_parameters") or {}
        if not isinstance(hyper, dict):
            raise ShapeError(f"'hyper_parameters' is {type(hyper).__name__}, expected an object")
        return cls(
            job_id=_text(d, "job_id", "id"),
            status=JobStatus.parse(d.get("status")),
            model=_text(d, "model"),
            job_name=_text(d, "job_name", "jobs_name"),
            base_model=_text_or_none(d, "base_model"),
            training_type=_text(d, "training_type", "mode", default="sft"),
            training_file_ids=_str_list(d.get("training_file_ids")),
            validation_file_ids=_str_list(d.get("validation_file_ids")),
            hyper_parameters={clean(k, cap=80): v if isinstance(v, (int, float, bool)) or v is None
                              else clean(v) for k, v in hyper.items()},
            finetuned_output=_text_or_none(d, "finetuned_output", "finetuned_model"),
            created_at=parse_time(d.get("create_time") or d.get("created_at")),
            ended_at=parse_time(d.get("end_time") or d.get("finished_at")),
            usage=_int_or_none(d.get("usage")),
            code=_text_or_none(d, "code"),
            message=_text_or_none(d, "message"),
            raw=_clean_tree(d),
        )


@dataclass(frozen=True)
class LogPage:
    """Lines ``offset+1 … offset+len(lines)`` of a job log, and the total the server reported."""

    lines: list[str]
    offset: int
    total: int | None

    @property
    def next_offset(self) -> int:
        return self.offset + len(self.lines)

    @classmethod
    def from_api(cls, d: dict, offset: int) -> "LogPage":
        d = _obj(d, "a log page")
        logs = d.get("logs")
        if logs is None:
            logs = d.get("content")
        if isinstance(logs, str):  # v2 joins the list; some servers answer one string
            lines = [clean_line(x) for x in logs.splitlines()]
        elif isinstance(logs, (list, tuple)) or logs is None:
            lines = [clean_line(x) for x in (logs or [])]
        else:
            raise ShapeError(f"'logs' is {type(logs).__name__}, expected a list of lines")
        return cls(lines=lines, offset=offset, total=_int_or_none(d.get("total")))


@dataclass(frozen=True)
class Checkpoint:
    checkpoint: str
    job_id: str
    full_name: str = ""
    model_name: str | None = None
    status: str = ""
    created_at: datetime | None = None
    step_number: int | None = None  # when the id does not end in the step (OpenAI ftckpt-…)
    metrics: dict = field(default_factory=dict)  # train/valid loss at this checkpoint, if reported
    provider: str = ""  # the profile that holds it (core.providers); "" before providers existed
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.checkpoint}" if self.provider else self.checkpoint

    @property
    def step(self) -> int | None:
        if self.step_number is not None:
            return self.step_number
        tail = self.checkpoint.rsplit("-", 1)[-1]
        return int(tail) if tail.isdigit() else None

    @classmethod
    def from_api(cls, d: dict) -> "Checkpoint":
        d = _obj(d, "a checkpoint")
        return cls(
            checkpoint=_text(d, "checkpoint"),
            job_id=_text(d, "job_id"),
            full_name=_text(d, "full_name"),
            model_name=_text_or_none(d, "model_name"),
            status=_text(d, "status").upper(),
            created_at=parse_time(d.get("create_time")),
            raw=_clean_tree(d),
        )


@dataclass(frozen=True)
class Deployment:
    deployed_model: str
    status: DeploymentStatus
    model_name: str = ""
    base_model: str | None = None
    capacity: int | None = None
    ready_capacity: int | None = None
    plan: str | None = None
    charge_type: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    provider: str = ""  # the profile that holds it (core.providers); "" before providers existed
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, d: dict) -> "Deployment":
        d = _obj(d, "a deployment")
        return cls(
            deployed_model=_text(d, "deployed_model", "model_name"),
            status=DeploymentStatus.parse(d.get("status")),
            model_name=_text(d, "model_name"),
            base_model=_text_or_none(d, "base_model"),
            capacity=_int_or_none(d.get("capacity")),
            ready_capacity=_int_or_none(d.get("ready_capacity")),
            plan=_text_or_none(d, "plan"),
            charge_type=_text_or_none(d, "charge_type"),
            created_at=parse_time(d.get("gmt_create") or d.get("created_at")),
            updated_at=parse_time(d.get("gmt_modified") or d.get("updated_at")),
            raw=_clean_tree(d),
        )


@dataclass(frozen=True)
class ChatReply:
    content: str
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    request_id: str | None = None

    @classmethod
    def from_api(cls, body: dict) -> "ChatReply":
        output = _obj(_obj(body, "a reply").get("output") or {}, "a reply's output")
        choices = output.get("choices") or []
        if not isinstance(choices, list):
            raise ShapeError(f"'choices' is {type(choices).__name__}, expected a list")
        if choices:
            choice = _obj(choices[0], "a choice")
            content = _obj(choice.get("message") or {}, "a message").get("content") or ""
            finish = choice.get("finish_reason")
        else:
            content, finish = output.get("text") or "", output.get("finish_reason")
        if isinstance(content, list):  # multimodal content parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        usage = body.get("usage") or {}
        if not isinstance(usage, dict):
            usage = {}
        return cls(
            content=clean(content, cap=1_000_000, multiline=True),
            finish_reason=None if finish in (None, "null") else clean(finish),
            input_tokens=_int_or_none(usage.get("input_tokens")),
            output_tokens=_int_or_none(usage.get("output_tokens")),
            request_id=clean_or_none(body.get("request_id")),
        )
