"""The simulator's OpenAI-compatible face: the fine-tuning standard XPULink, OpenAI and Azure OpenAI serve.

Its own port and base URL (``http://127.0.0.1:PORT/v1``), the same HTTP plumbing as the DashScope face
(keep-alive, multipart, fault injection, ``/_sim/clock`` and ``/_sim/faults``), errors in the OpenAI shape
(``{"error": {"message", "type", "param", "code"}}``), 401 ``invalid_api_key`` for a wrong key, cursor
paging (``after``/``limit``, newest first) and SSE chat (``data: {...}`` … ``data: [DONE]``). The official
``openai`` SDK is the peer that proves it (tests/test_openai_sim.py).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Callable

from bailian_tui.simulator import answers
from bailian_tui.simulator.openai_state import OAError, OpenAIState
from bailian_tui.simulator.server import ADMIN_ROUTES, SimServer, _Handler
from bailian_tui.simulator.state import ApiError

PREFIX = "/v1"

# How the shared plumbing's DashScope-style refusals (auth, injected faults) read in the OpenAI shape.
_TRANSLATE = {
    "InvalidApiKey": ("invalid_request_error", "invalid_api_key",
                      "Incorrect API key provided. You can find your API key in your account settings."),
    "Throttling": ("requests", "rate_limit_exceeded", None),
    "InternalError": ("server_error", "server_error", None),
    "NotFound": ("invalid_request_error", "unknown_url", None),
    "InvalidParameter": ("invalid_request_error", None, None),
}


class _OpenAIHandler(_Handler):
    server_version = "OpenAICompatSim/1.0"

    def _send_json(self, status: int, payload: dict) -> None:
        if status >= 400 and "error" not in payload:
            type_, code, message = _TRANSLATE.get(payload.get("code") or "", ("invalid_request_error", None, None))
            payload = {"error": {"message": message or payload.get("message") or "request failed", "type": type_,
                                 "param": None, "code": code}}
        super()._send_json(status, payload)


def _oa(handler: Callable) -> Callable:
    """Route handlers answer their own refusals in the OpenAI shape, ``param`` included."""

    def wrapped(h: _OpenAIHandler, *args: Any) -> Any:
        try:
            return handler(h, *args)
        except OAError as err:
            return err.status, err.payload()

    return wrapped


def _limit(h: _Handler, default: int = 20, maximum: int = 100) -> int:
    try:
        limit = int(h.query.get("limit", default))
    except ValueError:
        raise OAError(400, "invalid_request_error", "limit must be an integer", "limit") from None
    if not 1 <= limit <= maximum:
        raise OAError(400, "invalid_request_error", f"limit must be between 1 and {maximum}", "limit")
    return limit


def _cursor_page(items: list[dict], after: str | None, limit: int, extra: bool = False) -> dict:
    """``items`` already in answer order; ``after`` = the id after which the page starts."""
    start = 0
    if after:
        ids = [item["id"] for item in items]
        if after not in ids:
            raise OAError(400, "invalid_request_error", f"Invalid 'after' cursor: {after}", "after")
        start = ids.index(after) + 1
    page = items[start: start + limit]
    out: dict[str, Any] = {"object": "list", "data": page, "has_more": start + limit < len(items)}
    if extra:
        out["first_id"] = page[0]["id"] if page else None
        out["last_id"] = page[-1]["id"] if page else None
    return out


def _state(h: _Handler) -> OpenAIState:
    return h.sim.state  # type: ignore[return-value]


# -- files ---------------------------------------------------------------------------------------------


@_oa
def upload_file(h: _Handler, form: Any) -> tuple[int, dict]:
    if not isinstance(form, dict) or not form.get("file") or not isinstance(form["file"][0], tuple):
        raise OAError(400, "invalid_request_error", "Missing required parameter: 'file'.", "file")
    purpose = (form.get("purpose") or [""])[0]
    if not purpose:
        raise OAError(400, "invalid_request_error", "Missing required parameter: 'purpose'.", "purpose")
    name, content = form["file"][0]
    # RFC 7578 §4.2: a receiver keeps no directory part of a multipart filename. The official CLI sends the
    # path it was given (`openai api files.create -f data/train.jsonl`); the File object names the file.
    name = name.replace("\\", "/").rsplit("/", 1)[-1] or "file"
    state = _state(h)
    f = state.upload(name, content, purpose)
    return 200, f.api(state.clock)


@_oa
def list_files(h: _Handler, _body: Any) -> tuple[int, dict]:
    state = _state(h)
    limit = _limit(h, 10000, 10000)
    order = h.query.get("order", "desc")
    with state.lock:
        files = sorted(state.files.values(), key=lambda f: f.created)  # stable: ties stay in upload order
        if order != "asc":
            files.reverse()
        if h.query.get("purpose"):
            files = [f for f in files if f.purpose == h.query["purpose"]]
        items = [f.api(state.clock) for f in files]
    return 200, _cursor_page(items, h.query.get("after"), limit, extra=True)


@_oa
def get_file(h: _Handler, _body: Any, file_id: str) -> tuple[int, dict]:
    state = _state(h)
    return 200, state.file(file_id).api(state.clock)


@_oa
def delete_file(h: _Handler, _body: Any, file_id: str) -> tuple[int, dict]:
    _state(h).delete_file(file_id)
    return 200, {"id": file_id, "object": "file", "deleted": True}


@_oa
def file_content(h: _Handler, _body: Any, file_id: str) -> tuple[int, dict] | None:
    content = _state(h).file(file_id).content
    h.send_response(200)
    h.send_header("Content-Type", "application/octet-stream")
    h.send_header("Content-Length", str(len(content)))
    h.end_headers()
    h.wfile.write(content)
    return None


# -- jobs ----------------------------------------------------------------------------------------------


@_oa
def create_job(h: _Handler, body: Any) -> tuple[int, dict]:
    if not isinstance(body, dict):
        raise OAError(400, "invalid_request_error", "The request body must be a JSON object.")
    state = _state(h)
    with state.lock:
        return 200, state.job_api(state.create_job(body))


@_oa
def list_jobs(h: _Handler, _body: Any) -> tuple[int, dict]:
    state = _state(h)
    limit = _limit(h)
    wanted = {m.group(1): v for k, v in h.query.items() if (m := re.fullmatch(r"metadata\[(.+)\]", k))}
    with state.lock:
        state._advance()
        jobs = sorted(state.jobs.values(), key=lambda j: j.created)[::-1]  # newest first, ties by creation
        jobs = [j for j in jobs if all(j.metadata.get(k) == v for k, v in wanted.items())]
        items = [state.job_api(j) for j in jobs]
    return 200, _cursor_page(items, h.query.get("after"), limit)


@_oa
def get_job(h: _Handler, _body: Any, job_id: str) -> tuple[int, dict]:
    state = _state(h)
    with state.lock:
        return 200, state.job_api(state.job(job_id))


def _job_action(action: str) -> Callable:
    @_oa
    def handler(h: _Handler, _body: Any, job_id: str) -> tuple[int, dict]:
        state = _state(h)
        with state.lock:
            return 200, state.job_api(getattr(state, action)(job_id))

    return handler


@_oa
def job_events(h: _Handler, _body: Any, job_id: str) -> tuple[int, dict]:
    state = _state(h)
    limit = _limit(h)
    with state.lock:
        job = state.job(job_id)
        events = [state.event_api(at, e) for at, e in reversed(state.visible_events(job))]  # newest first
    return 200, _cursor_page(events, h.query.get("after"), limit)


@_oa
def job_checkpoints(h: _Handler, _body: Any, job_id: str) -> tuple[int, dict]:
    state = _state(h)
    limit = _limit(h, 10, 100)
    with state.lock:
        job = state.job(job_id)
        items = [state.checkpoint_api(job, at, step, metrics)
                 for at, step, metrics in reversed(state.checkpoints_of(job))]
    return 200, _cursor_page(items, h.query.get("after"), limit, extra=True)


# -- chat ----------------------------------------------------------------------------------------------


@_oa
def chat_completions(h: _Handler, body: Any) -> tuple[int, dict] | None:
    if not isinstance(body, dict) or not body.get("model"):
        raise OAError(400, "invalid_request_error", "Missing required parameter: 'model'.", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise OAError(400, "invalid_request_error", "'messages' must be a non-empty array.", "messages")
    state = _state(h)
    model = body["model"]
    kind, memory = state.chat_model(model)
    with state.lock:
        state.generations.append((model, json.dumps(messages, ensure_ascii=False)))
    text = answers.reply(model, kind == "tuned", memory, state.knowledge, messages)
    prompt_tokens = sum(len(str(m.get("content", ""))) for m in messages if isinstance(m, dict))
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(text),
             "total_tokens": prompt_tokens + len(text)}
    created = int(time.time())
    completion_id = "chatcmpl-" + h.request_id.replace("-", "")[:24]
    if body.get("stream"):
        h.start_sse()  # the shared plumbing's SSE headers; the OpenAI framing is written below
        pieces = [text[i:i + 6] for i in range(0, len(text), 6)] or [""]
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            chunk = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": [{"index": 0, "delta": ({"role": "assistant"} if index == 0 else {}) | {"content": piece},
                                  "finish_reason": "stop" if last else None}]}
            h.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
            h.wfile.flush()
            time.sleep(h.sim.stream_delay)
        h.wfile.write(b"data: [DONE]\n\n")
        h.wfile.flush()
        return None
    return 200, {"id": completion_id, "object": "chat.completion", "created": created, "model": model,
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                              "finish_reason": "stop"}], "usage": usage}


@_oa
def list_models(h: _Handler, _body: Any) -> tuple[int, dict]:
    state = _state(h)
    with state.lock:
        state._advance()
        names = list(dict.fromkeys([*state.service.models, *state.service.chat_models] +
                                   [j.fine_tuned_model for j in state.jobs.values() if j.status == "succeeded"]))
    return 200, {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "sim-org"}
                                            for n in names]}


_ID = r"([^/]+)"
ROUTES: list[tuple[str, str, Callable]] = [
    ("POST", "/files", upload_file),
    ("GET", "/files", list_files),
    ("GET", f"/files/{_ID}", get_file),
    ("DELETE", f"/files/{_ID}", delete_file),
    ("GET", f"/files/{_ID}/content", file_content),
    ("POST", "/fine_tuning/jobs", create_job),
    ("GET", "/fine_tuning/jobs", list_jobs),
    ("GET", f"/fine_tuning/jobs/{_ID}", get_job),
    ("POST", f"/fine_tuning/jobs/{_ID}/cancel", _job_action("cancel")),
    ("POST", f"/fine_tuning/jobs/{_ID}/pause", _job_action("pause")),
    ("POST", f"/fine_tuning/jobs/{_ID}/resume", _job_action("resume")),
    ("GET", f"/fine_tuning/jobs/{_ID}/events", job_events),
    ("GET", f"/fine_tuning/jobs/{_ID}/checkpoints", job_checkpoints),
    ("POST", "/chat/completions", chat_completions),
    ("GET", "/models", list_models),
]


class OpenAISimServer(SimServer):
    """Serves an :class:`OpenAIState` on ``127.0.0.1:port`` under ``/v1``."""

    def __init__(self, state: OpenAIState | None = None, **kwargs: Any) -> None:
        state = state or OpenAIState()
        super().__init__(state, **kwargs)  # type: ignore[arg-type]
        self.routes = [(m, re.compile(PREFIX + p), f) for m, p, f in ROUTES]
        self.routes += [(m, re.compile(p), f) for m, p, f in ADMIN_ROUTES]
        self._httpd.RequestHandlerClass = type("Handler", (_OpenAIHandler,), {"sim": self})

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PREFIX}"


__all__ = ["OpenAISimServer", "OpenAIState", "ApiError"]
