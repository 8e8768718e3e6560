"""What a simulated OpenAI-compatible fine-tuning service holds, and how it changes with the clock.

Same idea as :mod:`simulator.state` (one lock, time-driven changes worked out when read), its own rules
(:mod:`simulator.openai_contract`). A job runs validating_files → queued → running → succeeded / failed /
cancelled (paused ⇄ running where offered), writes a ``metrics`` event per step, a checkpoint per epoch
(each one a chat model) and, at the end, a per-step metrics CSV as its ``result_files``.
"""

from __future__ import annotations

import json
import math
import random
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from bailian_tui.simulator import openai_contract as contract
from bailian_tui.simulator.clock import SimClock
from bailian_tui.simulator.state import ApiError, SimConfig


class OAError(ApiError):
    """An OpenAI-shaped refusal: ``{"error": {"message", "type", "param", "code"}}`` with an HTTP status."""

    def __init__(self, status: int, type_: str, message: str, param: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(status, code or type_, message)
        self.type, self.param, self.oa_code = type_, param, code

    def payload(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.oa_code}}


@dataclass
class OAFile:
    id: str
    filename: str
    purpose: str
    content: bytes
    created: float
    kind: str = "unknown"  # sft | dpo | results | unknown
    samples: int = 0
    error: str | None = None
    memory: dict[str, str] = field(default_factory=dict)

    def api(self, clock: SimClock) -> dict:
        return {"id": self.id, "object": "file", "bytes": len(self.content), "created_at": int(clock.at(self.created).timestamp()),
                "filename": self.filename, "purpose": self.purpose, "status": "processed"}


@dataclass
class OAEvent:
    offset: float  # seconds after the job started running (or absolute time when absolute=True)
    level: str
    message: str
    type: str = "message"
    data: dict | None = None
    absolute: bool = False
    id: str = ""
    seq: int = 0


@dataclass
class OAJob:
    id: str
    model: str
    training_file: str
    validation_file: str | None
    method: str
    hp: dict
    effective: dict
    hp_form: str  # "method" or "hyperparameters": echoed in the shape it came
    suffix: str | None
    seed: int
    metadata: dict
    created: float
    status: str = "validating_files"
    started: float | None = None
    ended: float | None = None
    events: list[OAEvent] = field(default_factory=list)
    plan: list[OAEvent] = field(default_factory=list)
    duration: float = 0.0
    total_steps: int = 0
    checkpoints: list[tuple[float, int, dict]] = field(default_factory=list)  # (offset, step, metrics)
    pauses: list[list[float | None]] = field(default_factory=list)  # [paused_at, resumed_at or None]
    error: dict | None = None
    trained_tokens: int | None = None
    result_file: str | None = None
    fail_after: float | None = None
    tokens: int = 0

    @property
    def fine_tuned_model(self) -> str:
        return f"ft:{self.model}:{'sim-org'}:{self.suffix or 'custom'}:{self.id[-8:]}"


class OpenAIState:
    """Duck-compatible with :class:`SimState` where the HTTP plumbing needs it: lock, clock, config, api_key."""

    def __init__(self, clock: SimClock | None = None, service: contract.OpenAISimConfig | None = None,
                 api_key: str | None = None, config: SimConfig | None = None) -> None:
        self.clock = clock or SimClock()
        self.service = service or contract.OpenAISimConfig()
        self.config = config or SimConfig()  # fault injection and the upload limit, shared plumbing
        self.api_key = api_key
        self.lock = threading.RLock()
        self.rng = random.Random(self.config.seed + 1)
        self.requests = 0
        self.files: dict[str, OAFile] = {}
        self.jobs: dict[str, OAJob] = {}
        self.knowledge: dict[str, str] = {}
        self.generations: list[tuple[str, str]] = []
        self._event_no = 0

    def _id(self, prefix: str, n: int = 24) -> str:
        return prefix + "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                                for _ in range(n))

    # -- files -----------------------------------------------------------------------------------------

    def upload(self, filename: str, content: bytes, purpose: str) -> OAFile:
        with self.lock:
            if purpose not in ("fine-tune", "assistants", "batch", "user_data", "evals", "vision"):
                raise OAError(400, "invalid_request_error", f"'{purpose}' is not one of the supported purposes.")
            if len(content) > self.service.max_file_bytes:
                raise OAError(400, "invalid_request_error", f"File {filename} is larger than the upload limit.")
            f = OAFile(id=self._id("file-"), filename=filename, purpose=purpose, content=content,
                       created=self.clock.t())
            if purpose == "fine-tune":
                f.kind, f.samples, f.error, f.memory = inspect(content)
            self.files[f.id] = f
            return f

    def file(self, file_id: str) -> OAFile:
        with self.lock:
            if file_id not in self.files:
                raise OAError(404, "invalid_request_error", f"No such File object: {file_id}")
            return self.files[file_id]

    def delete_file(self, file_id: str) -> None:
        with self.lock:
            self.file(file_id)
            del self.files[file_id]

    # -- jobs ------------------------------------------------------------------------------------------

    def create_job(self, body: dict) -> OAJob:
        with self.lock:
            model = body.get("model")
            if not isinstance(model, str) or not model:
                raise OAError(400, "invalid_request_error", "Missing required parameter: 'model'.", "model")
            base = self._base_model(model)
            training = body.get("training_file")
            if not isinstance(training, str) or not training:
                raise OAError(400, "invalid_request_error", "Missing required parameter: 'training_file'.",
                               "training_file")
            validation = body.get("validation_file") or None
            for name, file_id in (("training_file", training), ("validation_file", validation)):
                if file_id is None:
                    continue
                if file_id not in self.files:
                    raise OAError(400, "invalid_request_error", f"invalid {name}: {file_id}", name)
                if self.files[file_id].purpose != "fine-tune":
                    raise OAError(400, "invalid_request_error",
                                   f"File {file_id} has purpose {self.files[file_id].purpose}, not fine-tune.", name)
            method = body.get("method") or {}
            if method and not isinstance(method, dict):
                raise OAError(400, "invalid_request_error", "'method' must be an object.", "method")
            method_type = method.get("type", "supervised") if method else "supervised"
            if method_type not in contract.METHODS:
                raise OAError(400, "invalid_request_error",
                               f"method.type must be one of {', '.join(contract.METHODS)}.", "method.type")
            if method and body.get("hyperparameters"):
                raise OAError(400, "invalid_request_error",
                               "Give hyperparameters under 'method' or at the top level, not both.", "hyperparameters")
            if method:
                hp = ((method.get(method_type) or {}).get("hyperparameters") or {})
                form = "method"
            else:
                hp = body.get("hyperparameters") or {}
                form = "hyperparameters"
            if not isinstance(hp, dict):
                raise OAError(400, "invalid_request_error", "hyperparameters must be an object.", "hyperparameters")
            refused = contract.check_hyperparameters(self.service, method_type, hp)
            if refused:
                raise OAError(400, "invalid_request_error", refused[1], refused[0])
            suffix = body.get("suffix")
            if suffix is not None and (not isinstance(suffix, str) or len(suffix) > 64):
                raise OAError(400, "invalid_request_error", "suffix must be a string of at most 64 characters.",
                               "suffix")
            metadata = body.get("metadata") or {}
            if not isinstance(metadata, dict) or len(metadata) > 16 or any(
                    len(str(k)) > 64 or not isinstance(v, str) or len(v) > 512 for k, v in metadata.items()):
                raise OAError(400, "invalid_request_error",
                               "metadata: at most 16 string pairs, keys up to 64 and values up to 512 characters.",
                               "metadata")
            seed = body.get("seed")
            now = self.clock.t()
            job = OAJob(id=self._id("ftjob-"), model=model, training_file=training, validation_file=validation,
                        method=method_type, hp=dict(hp), effective=contract.resolved(hp, method_type), hp_form=form,
                        suffix=suffix, seed=int(seed) if isinstance(seed, int) else self.rng.randrange(1 << 31),
                        metadata=dict(metadata), created=now)
            job.base = base  # type: ignore[attr-defined]
            self._event(job, OAEvent(now, "info", f"Created fine-tuning job: {job.id}", absolute=True))
            self._event(job, OAEvent(now, "info", f"Validating training file: {training}", absolute=True))
            self.jobs[job.id] = job
            self._advance()
            return job

    def _base_model(self, model: str) -> str:
        if model in self.service.models:
            return model
        for job in self.jobs.values():
            if job.status == "succeeded" and job.fine_tuned_model == model:
                return getattr(job, "base", job.model)
        raise OAError(400, "invalid_request_error", f"Model {model} is not available for fine-tuning.", "model")

    def job(self, job_id: str) -> OAJob:
        with self.lock:
            self._advance()
            if job_id not in self.jobs:
                raise OAError(404, "invalid_request_error", f"No such fine-tuning job: {job_id}.", "fine_tuning_job_id")
            return self.jobs[job_id]

    def cancel(self, job_id: str) -> OAJob:
        with self.lock:
            job = self.job(job_id)
            if job.status in contract.FINISHED:
                raise OAError(400, "invalid_request_error", f"Job {job_id} is already {job.status}.")
            now = self.clock.t()
            self._finish(job, "cancelled", now)
            return job

    def pause(self, job_id: str) -> OAJob:
        with self.lock:
            if not self.service.pause_resume:
                raise OAError(404, "invalid_request_error", "Unknown request URL: pause is not offered by this service.")
            job = self.job(job_id)
            if job.status != "running":
                raise OAError(400, "invalid_request_error", f"Only running jobs can be paused; {job_id} is {job.status}.")
            now = self.clock.t()
            job.pauses.append([now, None])
            job.status = "paused"
            self._event(job, OAEvent(now, "info", "Fine-tuning job paused", absolute=True))
            return job

    def resume(self, job_id: str) -> OAJob:
        with self.lock:
            if not self.service.pause_resume:
                raise OAError(404, "invalid_request_error", "Unknown request URL: resume is not offered by this service.")
            job = self.job(job_id)
            if job.status != "paused":
                raise OAError(400, "invalid_request_error", f"Only paused jobs can be resumed; {job_id} is {job.status}.")
            now = self.clock.t()
            job.pauses[-1][1] = now
            job.status = "running"
            self._event(job, OAEvent(now, "info", "Fine-tuning job resumed", absolute=True))
            self._advance()
            return job

    def _number(self, event: OAEvent) -> OAEvent:
        self._event_no += 1
        event.seq = self._event_no
        event.id = f"ftevent-{self._event_no:08d}{self._id('', 8)}"
        return event

    def _event(self, job: OAJob, event: OAEvent) -> None:
        job.events.append(self._number(event))

    def _wall(self, job: OAJob, offset: float) -> float | None:
        """When a planned offset happens, pauses included (None: not before a resume)."""
        t = (job.started or 0.0) + offset
        for paused_at, resumed_at in job.pauses:
            if t >= paused_at:
                if resumed_at is None:
                    return None
                t += resumed_at - paused_at
        return t

    def visible_events(self, job: OAJob) -> list[tuple[float, OAEvent]]:
        """(time, event) oldest first, as far as the clock has come."""
        now = self.clock.t()
        out = [(e.offset, e) for e in job.events if e.offset <= now]
        if job.started is not None:
            limit = job.ended if job.ended is not None else now
            for e in job.plan:
                at = self._wall(job, e.offset)
                if at is not None and at <= min(now, limit):
                    out.append((at, e))
        out.sort(key=lambda pair: (pair[0], pair[1].seq))
        return out

    def checkpoints_of(self, job: OAJob) -> list[tuple[float, int, dict]]:
        if job.started is None:
            return []
        now = self.clock.t()
        limit = job.ended if job.ended is not None else now
        out = []
        for offset, step, metrics in job.checkpoints:
            at = self._wall(job, offset)
            if at is not None and at <= min(now, limit):
                out.append((at, step, metrics))
        return out

    # -- the state machine -----------------------------------------------------------------------------

    def _advance(self) -> None:
        now = self.clock.t()
        cfg = self.service
        for job in sorted(self.jobs.values(), key=lambda j: j.created):
            if job.status == "validating_files" and now >= job.created + cfg.validating_seconds:
                at = job.created + cfg.validating_seconds
                problem = self._check_files(job)
                if problem:
                    job.error = {"code": "invalid_training_file", "message": problem, "param": "training_file"}
                    self._event(job, OAEvent(at, "error", problem, absolute=True))
                    self._finish(job, "failed", at)
                    continue
                job.status = "queued"
                self._event(job, OAEvent(at, "info", "Files validated, moving job to queued state", absolute=True))
            if job.status == "queued" and now >= job.created + cfg.validating_seconds + cfg.queued_seconds:
                self._start(job, job.created + cfg.validating_seconds + cfg.queued_seconds)
            if job.status == "running":
                end = self._wall(job, job.duration)
                if end is not None and now >= end:
                    self._finish(job, "succeeded", end)

    def _check_files(self, job: OAJob) -> str | None:
        train = self.files.get(job.training_file)
        if train is None:
            return f"The training file {job.training_file} was deleted before validation."
        if train.error:
            return f"The training file {train.filename} has an error: {train.error}"
        wanted = "dpo" if job.method == "dpo" else "sft"
        if train.kind != wanted:
            return f"The training file holds {train.kind} examples; method {job.method} needs {wanted} examples."
        if train.samples < self.service.min_examples:
            return (f"Training file has {train.samples} example(s), but must have at least "
                    f"{self.service.min_examples} examples.")
        batch = int(job.effective.get("batch_size", 4))
        if batch > train.samples:
            return f"batch_size {batch} is larger than the number of training examples ({train.samples})."
        if job.validation_file:
            val = self.files.get(job.validation_file)
            if val is None or val.error:
                return f"The validation file has an error: {val.error if val else 'deleted'}"
        return None

    def _start(self, job: OAJob, at: float) -> None:
        job.status, job.started = "running", at
        train = self.files[job.training_file]
        has_val = bool(job.validation_file)
        epochs = int(job.effective.get("n_epochs", 3))
        batch = int(job.effective.get("batch_size", 4))
        per_epoch = max(math.ceil(train.samples / batch), 1)
        total = per_epoch * epochs
        dt = self.service.step_seconds
        rng = random.Random(job.id)
        lr = float(job.effective.get("learning_rate", 5e-5 * float(job.effective.get("learning_rate_multiplier", 1.0))))
        speed = min(max(lr / 5e-5, 0.3), 3.0)  # a larger step falls faster (and over-fits sooner)
        floor, start = 0.3 + rng.random() * 0.25, 1.8 + rng.random() * 0.6
        plan: list[OAEvent] = [OAEvent(0.0, "info", f"Fine-tuning job started: {epochs} epochs, {total} steps")]
        tokens_per_sample = max(len(train.content) // max(train.samples, 1) // 4, 1)
        job.tokens = tokens_per_sample * train.samples * epochs
        for step in range(1, total + 1):
            progress = step / total
            loss = floor + (start - floor) * math.exp(-4 * speed * progress) + rng.gauss(0, 0.03)
            acc = min(0.98, 0.4 + 0.5 * (1 - math.exp(-3 * speed * progress)) + rng.gauss(0, 0.01))
            data: dict[str, Any] = {"step": step, "train_loss": round(loss, 4),
                                    "train_mean_token_accuracy": round(acc, 4), "total_steps": total}
            if has_val:
                over = max(step / per_epoch - 2.0, 0.0) * 0.08
                data["valid_loss"] = round(floor + 0.08 + (start - floor) * math.exp(-3.5 * speed * progress) + over, 4)
                data["valid_mean_token_accuracy"] = round(min(0.97, acc - 0.03 - over / 2), 4)
            plan.append(OAEvent(step * dt, "info", f"Step {step}/{total}: training loss={loss:.4f}", "metrics", data))
            if step % per_epoch == 0 and step != total and self.service.checkpoint_every_epoch:
                metrics = {"step": float(step), "train_loss": data["train_loss"],
                           "train_mean_token_accuracy": data["train_mean_token_accuracy"],
                           "valid_loss": data.get("valid_loss"), "valid_mean_token_accuracy": data.get("valid_mean_token_accuracy"),
                           "full_valid_loss": data.get("valid_loss"), "full_valid_mean_token_accuracy": data.get("valid_mean_token_accuracy")}
                job.checkpoints.append((step * dt + dt * 0.1, step, metrics))
                plan.append(OAEvent(step * dt + dt * 0.1, "info", f"Checkpoint created at step {step}"))
        end = total * dt + dt
        last = plan[-1].data if plan[-1].data else plan[-2].data or {}
        job.checkpoints.append((end, total, {"step": float(total), "train_loss": last.get("train_loss"),
                                             "train_mean_token_accuracy": last.get("train_mean_token_accuracy"),
                                             "valid_loss": last.get("valid_loss"),
                                             "valid_mean_token_accuracy": last.get("valid_mean_token_accuracy"),
                                             "full_valid_loss": last.get("valid_loss"),
                                             "full_valid_mean_token_accuracy": last.get("valid_mean_token_accuracy")}))
        plan.append(OAEvent(end, "info", f"New fine-tuned model created: {job.fine_tuned_model}"))
        plan.append(OAEvent(end, "info", "The job has successfully completed"))
        job.plan, job.duration, job.total_steps = [self._number(e) for e in plan], end, total

    def _finish(self, job: OAJob, status: str, at: float) -> None:
        job.status, job.ended = status, at
        if status == "cancelled":
            self._event(job, OAEvent(at, "info", "Fine-tuning job cancelled", absolute=True))
        if status == "succeeded":
            job.trained_tokens = job.tokens
        if job.started is not None:
            job.result_file = self._results_csv(job).id

    def _results_csv(self, job: OAJob) -> OAFile:
        rows = ["step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"]
        for _, event in self.visible_events(job):
            if event.type == "metrics" and event.data:
                d = event.data
                rows.append(",".join("" if d.get(k) is None else str(d.get(k)) for k in
                                     ("step", "train_loss", "train_mean_token_accuracy", "valid_loss",
                                      "valid_mean_token_accuracy")))
        f = OAFile(id=self._id("file-"), filename="step_metrics.csv", purpose="fine-tune-results",
                   content=("\n".join(rows) + "\n").encode(), created=job.ended or self.clock.t(), kind="results")
        self.files[f.id] = f
        return f

    # -- wire shapes -----------------------------------------------------------------------------------

    def job_api(self, job: OAJob) -> dict:
        def ts(t: float | None) -> int | None:
            return int(self.clock.at(t).timestamp()) if t is not None else None

        hp = {k: job.hp.get(k, "auto") for k in ("n_epochs", "batch_size")}
        hp.update({k: v for k, v in job.hp.items()})
        if "learning_rate" not in hp:
            hp.setdefault("learning_rate_multiplier", "auto")
        method: dict[str, Any] = {"type": job.method, job.method: {"hyperparameters": hp}}
        estimated = None
        if job.status in ("running", "queued", "validating_files") and job.started is not None:
            end = self._wall(job, job.duration)
            estimated = ts(end)
        return {
            "object": "fine_tuning.job", "id": job.id, "model": job.model, "created_at": ts(job.created),
            "finished_at": ts(job.ended) if job.status in contract.FINISHED else None,
            "fine_tuned_model": job.fine_tuned_model if job.status == "succeeded" else None,
            "organization_id": self.service.organisation, "status": job.status,
            "training_file": job.training_file, "validation_file": job.validation_file,
            "result_files": [job.result_file] if job.result_file else [],
            "trained_tokens": job.trained_tokens, "error": job.error, "seed": job.seed,
            "suffix": job.suffix, "metadata": job.metadata or None, "estimated_finish": estimated,
            "integrations": [], "hyperparameters": hp, "method": method,
        }

    def event_api(self, at: float, event: OAEvent) -> dict:
        out = {"object": "fine_tuning.job.event", "id": event.id,
               "created_at": int(self.clock.at(at).timestamp()), "level": event.level, "message": event.message,
               "type": event.type}
        if event.data is not None:
            out["data"] = event.data
        return out

    def checkpoint_api(self, job: OAJob, at: float, step: int, metrics: dict) -> dict:
        return {"object": "fine_tuning.job.checkpoint", "id": f"ftckpt-{job.id[-12:]}{step:06d}",
                "created_at": int(self.clock.at(at).timestamp()),
                "fine_tuned_model_checkpoint": f"{job.fine_tuned_model}:ckpt-step-{step}",
                "step_number": step, "metrics": metrics, "fine_tuning_job_id": job.id}

    # -- chat ------------------------------------------------------------------------------------------

    def chat_model(self, model: str) -> tuple[str, dict[str, str]]:
        with self.lock:
            self._advance()
            for job in self.jobs.values():
                memory = self.files[job.training_file].memory if job.training_file in self.files else {}
                if job.status == "succeeded" and model == job.fine_tuned_model:
                    return "tuned", memory
                for _, step, _ in self.checkpoints_of(job):
                    if model == f"{job.fine_tuned_model}:ckpt-step-{step}":
                        return "tuned", memory
            if model in self.service.chat_models or model in self.service.models:
                return "base", {}
        raise OAError(404, "invalid_request_error", f"The model `{model}` does not exist or you do not have access to it.",
                      "model", code="model_not_found")


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _messages_ok(messages: Any, number: int, need_assistant: bool) -> str | None:
    if not isinstance(messages, list) or not messages:
        return f"line {number}: 'messages' must be a non-empty list"
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant", "tool"):
            return f"line {number}: a message has an unknown role"
        if "weight" in message:
            if message.get("role") != "assistant":
                return f"line {number}: 'weight' is only allowed on assistant messages"
            if message["weight"] not in (0, 1):
                return f"line {number}: 'weight' must be 0 or 1"
    if need_assistant and not any(m.get("role") == "assistant" for m in messages):
        return f"line {number}: no assistant message to learn from"
    return None


def inspect(content: bytes) -> tuple[str, int, str | None, dict[str, str]]:
    """(kind, samples, error, memory) of a fine-tune upload, by the OpenAI chat / preference formats."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "unknown", 0, "the file is not UTF-8 text", {}
    kind, samples, memory = "unknown", 0, {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            return kind, samples, f"line {number}: invalid JSON", memory
        if not isinstance(record, dict):
            return kind, samples, f"line {number}: not a JSON object", memory
        if "preferred_output" in record or "non_preferred_output" in record:
            this = "dpo"
            problem = _messages_ok((record.get("input") or {}).get("messages"), number, need_assistant=False)
            if problem is None and not (isinstance(record.get("preferred_output"), list)
                                        and isinstance(record.get("non_preferred_output"), list)):
                problem = f"line {number}: preferred_output and non_preferred_output must be lists of messages"
        else:
            this = "sft"
            problem = _messages_ok(record.get("messages"), number, need_assistant=True)
            if problem is None:
                messages = record["messages"]
                users = [m for m in messages if m.get("role") == "user"]
                if users and messages[-1].get("role") == "assistant" and len(memory) < 20000:
                    memory[_text(users[-1].get("content")).strip()] = _text(messages[-1].get("content"))
        if problem:
            return kind, samples, problem, memory
        if kind not in ("unknown", this):
            return kind, samples, f"line {number}: mixes {kind} and {this} examples", memory
        kind = this
        samples += 1
    if samples == 0:
        return kind, 0, "the file holds no examples", memory
    return kind, samples, None, memory
