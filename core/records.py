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

T = TypeVar("T")


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
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


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
        return cls(
            file_id=str(d.get("file_id") or d.get("id") or ""),
            name=str(d.get("name") or d.get("filename") or ""),
            size=_int_or_none(d.get("size", d.get("bytes"))),
            purpose=d.get("purpose"),
            description=d.get("description"),
            md5=d.get("md5"),
            created_at=parse_time(d.get("gmt_create") or d.get("uploaded_at") or d.get("created_at")),
            raw=dict(d),
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
        return cls(
            job_id=str(d.get("job_id") or d.get("id") or ""),
            status=JobStatus.parse(d.get("status")),
            model=str(d.get("model") or ""),
            job_name=str(d.get("job_name") or d.get("jobs_name") or ""),
            base_model=d.get("base_model"),
            training_type=str(d.get("training_type") or d.get("mode") or "sft"),
            training_file_ids=_str_list(d.get("training_file_ids")),
            validation_file_ids=_str_list(d.get("validation_file_ids")),
            hyper_parameters=dict(d.get("hyper_parameters") or {}),
            finetuned_output=d.get("finetuned_output") or d.get("finetuned_model") or None,
            created_at=parse_time(d.get("create_time") or d.get("created_at")),
            ended_at=parse_time(d.get("end_time") or d.get("finished_at")),
            usage=_int_or_none(d.get("usage")),
            code=str(d["code"]) if d.get("code") not in (None, "") else None,
            message=d.get("message") or None,
            raw=dict(d),
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
        logs = d.get("logs")
        if logs is None:
            logs = d.get("content")
        if isinstance(logs, str):  # v2 joins the list; some servers answer one string
            lines = logs.splitlines()
        else:
            lines = [str(x) for x in (logs or [])]
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
        return cls(
            checkpoint=str(d.get("checkpoint") or ""),
            job_id=str(d.get("job_id") or ""),
            full_name=str(d.get("full_name") or ""),
            model_name=d.get("model_name") or None,
            status=str(d.get("status") or "").upper(),
            created_at=parse_time(d.get("create_time")),
            raw=dict(d),
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
        return cls(
            deployed_model=str(d.get("deployed_model") or d.get("model_name") or ""),
            status=DeploymentStatus.parse(d.get("status")),
            model_name=str(d.get("model_name") or ""),
            base_model=d.get("base_model"),
            capacity=_int_or_none(d.get("capacity")),
            ready_capacity=_int_or_none(d.get("ready_capacity")),
            plan=d.get("plan"),
            charge_type=d.get("charge_type"),
            created_at=parse_time(d.get("gmt_create") or d.get("created_at")),
            updated_at=parse_time(d.get("gmt_modified") or d.get("updated_at")),
            raw=dict(d),
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
        output = body.get("output") or {}
        choices = output.get("choices") or []
        if choices:
            choice = choices[0]
            content = (choice.get("message") or {}).get("content") or ""
            finish = choice.get("finish_reason")
        else:
            content, finish = output.get("text") or "", output.get("finish_reason")
        if isinstance(content, list):  # multimodal content parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        usage = body.get("usage") or {}
        return cls(
            content=str(content),
            finish_reason=None if finish in (None, "null") else str(finish),
            input_tokens=_int_or_none(usage.get("input_tokens")),
            output_tokens=_int_or_none(usage.get("output_tokens")),
            request_id=body.get("request_id"),
        )
