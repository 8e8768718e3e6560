"""The simulator's HTTP face: a threaded stdlib server on loopback speaking DashScope's wire format.

HTTP/1.1 with keep-alive (httpx and requests pool connections), JSON envelopes as in reference §1.4,
SSE for the job event stream and streamed generation, and fault injection applied before routing.
Administrative calls for scripts live under ``/_sim/`` (same key): advance the clock, set faults.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from bailian_tui.simulator import answers
from bailian_tui.simulator.state import ApiError, SimConfig, SimState

log = logging.getLogger("bailian_tui.simulator")

PREFIX = "/api/v1"
Route = tuple[str, re.Pattern, Callable]


class _Drop(Exception):
    """Close the connection without answering (fault injection)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "DashScopeSim/1.0"
    sim: "SimServer"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes: without this, Nagle + delayed ACK add ~40 ms to each answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt: str, *args: Any) -> None:  # requests go to our logger, never stderr
        log.debug("%s " + fmt, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing --------------------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        sim = self.sim
        state = sim.state
        self.request_id = str(uuid.uuid4())
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            body = self._read_body()
            if not self._authorised():
                raise ApiError(401, "InvalidApiKey", "Invalid API-key provided.")
            with state.lock:
                state.requests += 1
            sim.commit_due(self)
            if not url.path.startswith("/_sim/"):
                self._inject_faults(method)
            for route_method, pattern, handler in sim.routes:
                match = pattern.fullmatch(url.path)
                if match and route_method == method:
                    is_create = method == "POST" and url.path[len(PREFIX):] in CREATES
                    if is_create:
                        sim.hold_create(url.path[len(PREFIX):])  # the client may be gone after: the server acts anyway
                    if is_create and sim.defer_create(self, handler, body, match.groups()):
                        return
                    drop_after = method != "GET" and not url.path.startswith("/_sim/") and self._take_write_drop()
                    result = handler(self, body, *match.groups())
                    if drop_after:
                        raise _Drop()
                    if result is not None:
                        status, payload = result
                        self._send_json(status, payload)
                    return
            raise ApiError(404, "NotFound", f"Not Found! ({method} {url.path})")
        except ApiError as err:
            self._send_json(err.status, {"request_id": self.request_id, "code": err.code, "message": err.message})
        except _Drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug in the simulator must look like a server error, not hang a client
            log.exception("simulator error on %s %s", method, url.path)
            self._send_json(500, {"request_id": self.request_id, "code": "InternalError",
                                  "message": f"Internal server error! ({exc.__class__.__name__})"})

    def _authorised(self) -> bool:
        expected = self.sim.state.api_key
        if not expected:
            return True
        return self.headers.get("Authorization", "") == f"Bearer {expected}"

    def _inject_faults(self, method: str) -> None:
        cfg, rng = self.sim.state.config, self.sim.fault_rng
        if cfg.latency:
            time.sleep(cfg.latency)
        with self.sim.fault_lock:
            roll = rng.random()
        if roll < cfg.drop_rate:
            raise _Drop()
        roll -= cfg.drop_rate
        if roll < cfg.rate_429:
            raise ApiError(429, "Throttling", "Requests rate limit exceeded, please try again later.")
        roll -= cfg.rate_429
        if roll < cfg.rate_500:
            raise ApiError(500, "InternalError", "Internal server error!")

    def _take_write_drop(self) -> bool:
        cfg = self.sim.state.config
        with self.sim.fault_lock:
            if cfg.drop_after_write > 0:
                cfg.drop_after_write -= 1
                return True
        return False

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = self._read_chunked()
        else:
            limit = self.sim.state.config.max_file_bytes + 1024 * 1024
            if length > limit:
                self.close_connection = True
                raise ApiError(400, "InvalidParameter",
                               f"File exceeds the size limit of {self.sim.state.config.max_file_bytes // 2**20}MB.")
            raw = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            return _parse_multipart(ctype, raw)
        if raw and "json" in ctype:
            try:
                return json.loads(raw)
            except ValueError:
                raise ApiError(400, "InvalidParameter", "Request body is not valid JSON.") from None
        return raw

    def _read_chunked(self) -> bytes:
        parts = []
        while True:
            size = int(self.rfile.readline().strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _send_json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", self.request_id)
        self.end_headers()
        self.wfile.write(data)

    def ok(self, output: Any, key: str = "output", status: int = 200) -> tuple[int, dict]:
        return status, {"request_id": self.request_id, key: output}

    def start_sse(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.send_header("x-request-id", self.request_id)
        self.end_headers()
        self.close_connection = True

    def sse(self, event_id: int, data: str, event: str = "result") -> None:
        self.wfile.write(f"id:{event_id}\nevent:{event}\n:HTTP_STATUS/200\ndata:{data}\n\n".encode())
        self.wfile.flush()


def _parse_multipart(ctype: str, raw: bytes) -> dict[str, list]:
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + raw)
    form: dict[str, list] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        value = (filename, payload) if filename is not None else payload.decode("utf-8", "replace")
        form.setdefault(name, []).append(value)
    return form


# -- route handlers (h = the request handler) ----------------------------------------------------------


def _page_params(h: _Handler, default_size: int, max_size: int) -> tuple[int, int]:
    try:
        page_no = max(int(h.query.get("page_no", 1)), 1)
        page_size = int(h.query.get("page_size", default_size))
    except ValueError:
        raise ApiError(400, "InvalidParameter", "page_no and page_size must be integers") from None
    if not 1 <= page_size <= max_size:
        raise ApiError(400, "InvalidParameter", f"page_size must be between 1 and {max_size}")
    return page_no, page_size


def _slice(items: list, page_no: int, page_size: int) -> list:
    return items[(page_no - 1) * page_size: page_no * page_size]


def upload_files(h: _Handler, form: Any) -> tuple[int, dict]:
    if not isinstance(form, dict) or not form.get("files"):
        raise ApiError(400, "InvalidParameter", "Missing files in multipart form-data (field 'files').")
    descriptions = form.get("descriptions") or []
    # The official tools never send `purpose` (reference §2.1): default it as the service must.
    purpose = (form.get("purpose") or ["fine-tune"])[0]
    uploaded, failed = [], []
    for index, entry in enumerate(form["files"]):
        if not isinstance(entry, tuple):
            continue
        name, content = entry
        description = descriptions[index] if index < len(descriptions) else ""
        try:
            sim_file = h.sim.state.upload(name, content, description, purpose)
        except ApiError as err:
            if len(form["files"]) == 1:
                raise
            failed.append({"name": name, "code": err.code, "message": err.message})
        else:
            uploaded.append({"file_id": sim_file.file_id, "name": sim_file.name})
    return h.ok({"uploaded_files": uploaded, "failed_uploads": failed}, key="data")


def list_files(h: _Handler, _body: Any) -> tuple[int, dict]:
    page_no, page_size = _page_params(h, 10, 100)
    with h.sim.state.lock:
        files = sorted(h.sim.state.files.values(), key=lambda f: f.created, reverse=True)
        clock = h.sim.state.clock
        return h.ok({"total": len(files), "page_no": page_no, "page_size": page_size,
                     "files": [f.api(clock) for f in _slice(files, page_no, page_size)]}, key="data")


def get_file(h: _Handler, _body: Any, file_id: str) -> tuple[int, dict]:
    return h.ok(h.sim.state.get_file(file_id).api(h.sim.state.clock), key="data")


def delete_file(h: _Handler, _body: Any, file_id: str) -> tuple[int, dict]:
    h.sim.state.delete_file(file_id)
    return 200, {"request_id": h.request_id}


def create_job(h: _Handler, body: Any) -> tuple[int, dict]:
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidParameter", "Request body must be a JSON object.")
    state = h.sim.state
    with state.lock:
        return h.ok(state.job_api(state.create_job(body)))


def list_jobs(h: _Handler, _body: Any) -> tuple[int, dict]:
    page_no, page_size = _page_params(h, 10, 100)
    state = h.sim.state
    with state.lock:
        state._advance()
        jobs = sorted(state.jobs.values(), key=lambda j: j.created, reverse=True)
        if h.query.get("model"):
            jobs = [j for j in jobs if j.model == h.query["model"]]
        return h.ok({"page_no": page_no, "page_size": page_size, "total": len(jobs),
                     "jobs": [state.job_api(j) for j in _slice(jobs, page_no, page_size)]})


def get_job(h: _Handler, _body: Any, job_id: str) -> tuple[int, dict]:
    state = h.sim.state
    with state.lock:
        return h.ok(state.job_api(state.job(job_id)))


def cancel_job(h: _Handler, _body: Any, job_id: str) -> tuple[int, dict]:
    h.sim.state.cancel_job(job_id)
    return h.ok({"status": "success"})


def delete_job(h: _Handler, _body: Any, job_id: str) -> tuple[int, dict]:
    h.sim.state.delete_job(job_id)
    return h.ok({"status": "success"})


def job_logs(h: _Handler, _body: Any, job_id: str) -> tuple[int, dict]:
    state = h.sim.state
    try:
        offset = max(int(h.query.get("offset", 0)), 0)
        count = int(h.query.get("line", 100))
    except ValueError:
        raise ApiError(400, "InvalidParameter", "offset and line must be integers") from None
    if not 1 <= count <= 1000:
        raise ApiError(400, "InvalidParameter", "line must be between 1 and 1000")
    with state.lock:
        lines = state.visible_log(state.job(job_id))
    skip = max(offset - 1, 0) if state.config.log_offset_base == 1 else offset
    chunk = lines[skip: skip + count]
    logs: Any = "\n".join(chunk) if state.config.logs_as_string else chunk
    return h.ok({"total": len(lines), "logs": logs})


def stream_job(h: _Handler, _body: Any, job_id: str) -> None:
    state = h.sim.state
    state.job(job_id)  # 404 before the stream opens
    h.start_sse()
    sent, event_id = 0, 0
    deadline = time.monotonic() + h.sim.stream_seconds
    while not h.sim.stopping.is_set() and time.monotonic() < deadline:
        with state.lock:
            job = state.jobs.get(job_id)
            lines = state.visible_log(job) if job else []
            finished = job is None or (job.finished and sent >= len(lines))
        for line in lines[sent:]:
            event_id += 1
            h.sse(event_id, line)
        sent = len(lines)
        if finished:
            return
        time.sleep(0.1)


def checkpoints(h: _Handler, _body: Any, job_id: str) -> tuple[int, dict]:
    return h.ok(h.sim.state.checkpoints(job_id))


def export_checkpoint(h: _Handler, _body: Any, job_id: str, checkpoint: str) -> tuple[int, dict]:
    h.sim.state.export_checkpoint(job_id, checkpoint, h.query.get("model_name", ""))
    return h.ok(True)


def create_deployment(h: _Handler, body: Any) -> tuple[int, dict]:
    state = h.sim.state
    with state.lock:
        return h.ok(state.deployment_api(state.create_deployment(body if isinstance(body, dict) else {})))


def list_deployments(h: _Handler, _body: Any) -> tuple[int, dict]:
    page_no, page_size = _page_params(h, 50, 200)
    state = h.sim.state
    with state.lock:
        deps = state.all_deployments()
        return h.ok({"page_no": page_no, "page_size": page_size, "total": len(deps),
                     "deployments": [state.deployment_api(d) for d in _slice(deps, page_no, page_size)]})


def get_deployment(h: _Handler, _body: Any, name: str) -> tuple[int, dict]:
    state = h.sim.state
    with state.lock:
        return h.ok(state.deployment_api(state.deployment(name)))


def scale_deployment(h: _Handler, body: Any, name: str) -> tuple[int, dict]:
    state = h.sim.state
    capacity = body.get("capacity") if isinstance(body, dict) else None
    with state.lock:
        return h.ok(state.deployment_api(state.scale_deployment(name, capacity)))


def delete_deployment(h: _Handler, _body: Any, name: str) -> tuple[int, dict]:
    state = h.sim.state
    with state.lock:
        return h.ok(state.deployment_api(state.delete_deployment(name)))


def generation(h: _Handler, body: Any) -> tuple[int, dict] | None:
    state = h.sim.state
    if not isinstance(body, dict) or not body.get("model"):
        raise ApiError(400, "InvalidParameter", "Missing model")
    messages = (body.get("input") or {}).get("messages")
    if not isinstance(messages, list) or not messages:
        prompt = (body.get("input") or {}).get("prompt")
        if not prompt:
            raise ApiError(400, "InvalidParameter", "input.messages must be a non-empty list")
        messages = [{"role": "user", "content": prompt}]
    kind, memory = state.chat_model(body["model"])
    with state.lock:
        state.generations.append((body["model"], json.dumps(messages, ensure_ascii=False)))
    text = answers.reply(body["model"], kind == "tuned", memory, state.knowledge, messages)
    params = body.get("parameters") or {}
    in_tokens = sum(len(str(m.get("content", ""))) for m in messages if isinstance(m, dict))
    usage = {"input_tokens": in_tokens, "output_tokens": len(text), "total_tokens": in_tokens + len(text)}

    def output(content: str, finish: str | None) -> dict:
        if params.get("result_format") == "message":
            return {"choices": [{"finish_reason": finish or "null",
                                 "message": {"role": "assistant", "content": content}}]}
        return {"text": content, "finish_reason": finish or "null"}

    if h.headers.get("X-DashScope-SSE", "").lower() == "enable" or params.get("stream"):
        incremental = bool(params.get("incremental_output"))
        h.start_sse()
        pieces = [text[i:i + 6] for i in range(0, len(text), 6)] or [""]
        for index, _ in enumerate(pieces):
            last = index == len(pieces) - 1
            content = pieces[index] if incremental else "".join(pieces[: index + 1])
            h.sse(index + 1, json.dumps({"output": output(content, "stop" if last else None), "usage": usage,
                                         "request_id": h.request_id}, ensure_ascii=False))
            time.sleep(h.sim.stream_delay)
        return None
    return 200, {"request_id": h.request_id, "output": output(text, "stop"), "usage": usage}


def admin_clock(h: _Handler, body: Any) -> tuple[int, dict]:
    seconds = float((body or {}).get("advance", 0)) if isinstance(body, dict) else 0.0
    h.sim.state.clock.advance(seconds)
    return h.ok({"t": h.sim.state.clock.t(), "requests": h.sim.state.requests})


_FAULT_KEYS = ("rate_429", "rate_500", "drop_rate", "latency", "drop_after_write", "late_commit",
               "late_commit_answer", "late_commits")


def admin_faults(h: _Handler, body: Any) -> tuple[int, dict]:
    cfg = h.sim.state.config
    for key, value in (body or {}).items():
        if key in _FAULT_KEYS:
            setattr(cfg, key, type(getattr(cfg, key))(value))
    return h.ok({k: getattr(cfg, k) for k in _FAULT_KEYS})


CREATES = ("/files", "/fine-tunes", "/deployments")  # the billed creates that fault modes can delay or hold
_ID = r"([^/]+)"
ROUTES: list[tuple[str, str, Callable]] = [
    ("POST", "/files", upload_files),
    ("GET", "/files", list_files),
    ("GET", f"/files/{_ID}", get_file),
    ("DELETE", f"/files/{_ID}", delete_file),
    ("POST", "/fine-tunes", create_job),
    ("GET", "/fine-tunes", list_jobs),
    ("GET", f"/fine-tunes/{_ID}", get_job),
    ("DELETE", f"/fine-tunes/{_ID}", delete_job),
    ("POST", f"/fine-tunes/{_ID}/cancel", cancel_job),
    ("GET", f"/fine-tunes/{_ID}/logs", job_logs),
    ("GET", f"/fine-tunes/{_ID}/stream", stream_job),
    ("GET", f"/fine-tunes/{_ID}/checkpoints", checkpoints),
    ("GET", f"/fine-tunes/{_ID}/export/{_ID}", export_checkpoint),
    ("POST", "/deployments", create_deployment),
    ("GET", "/deployments", list_deployments),
    ("GET", f"/deployments/{_ID}", get_deployment),
    ("PUT", f"/deployments/{_ID}/scale", scale_deployment),
    ("DELETE", f"/deployments/{_ID}", delete_deployment),
    ("POST", "/services/aigc/text-generation/generation", generation),
]
ADMIN_ROUTES = [("POST", "/_sim/clock", admin_clock), ("POST", "/_sim/faults", admin_faults)]


class SimServer:
    """Serves a :class:`SimState` on ``127.0.0.1:port`` (0 = a free port) from a background thread."""

    def __init__(self, state: SimState | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 stream_seconds: float = 600.0, stream_delay: float = 0.02, listening=None) -> None:
        import random

        self.state = state or SimState(config=SimConfig())
        self.routes: list[Route] = [(m, re.compile(PREFIX + p), f) for m, p, f in ROUTES]
        self.routes += [(m, re.compile(p), f) for m, p, f in ADMIN_ROUTES]
        self.fault_rng = random.Random(self.state.config.seed)
        self.fault_lock = threading.Lock()
        self.stopping = threading.Event()
        self.stream_seconds, self.stream_delay = stream_seconds, stream_delay
        handler = type("Handler", (_Handler,), {"sim": self})
        if listening is None:
            self._httpd = ThreadingHTTPServer((host, port), handler)
        else:  # a socket already bound and listening (simulator.demo.DemoProcess: its port was known first)
            self._httpd = ThreadingHTTPServer(listening.getsockname(), handler, bind_and_activate=False)
            self._httpd.socket.close()
            self._httpd.socket = listening
            self._httpd.server_address = listening.getsockname()
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        # Late commits: (due simulated time, handler, request handler, body, groups), applied on later requests.
        self._late: list[tuple[float, Callable, Any, Any, tuple]] = []
        # Held creates: a test sets ``hold_path`` ("/fine-tunes", "/files", "/deployments"), waits for
        # ``create_arrived``, kills its client, then sets ``release``; the create then takes effect — or,
        # with ``hold_commits`` False, is lost (a gateway that dropped it): nothing is made, no answer.
        self.hold_path: str | None = None
        self.hold_commits = True
        self.create_arrived = threading.Event()
        self.release = threading.Event()

    def hold_create(self, path: str) -> None:
        if self.hold_path != path:
            return
        self.create_arrived.set()
        self.release.wait(timeout=60)
        if not self.hold_commits:
            raise _Drop()

    def defer_create(self, h: "_Handler", handler: Callable, body: Any, groups: tuple) -> bool:
        """Fault mode ``late_commit``: answer 504 (or drop) now, commit ``late_commit`` simulated seconds later."""
        cfg = self.state.config
        with self.fault_lock:
            if cfg.late_commit <= 0 or cfg.late_commits == 0:
                return False
            cfg.late_commits -= 1 if cfg.late_commits > 0 else 0
            self._late.append((self.state.clock.t() + cfg.late_commit, handler, h, body, groups))
        if cfg.late_commit_answer == "drop":
            raise _Drop()
        raise ApiError(504, "GatewayTimeout", "Gateway timeout: the request is still being processed.")

    def commit_due(self, h: "_Handler") -> None:
        """Apply the late commits whose time has come (simulated clock), before serving any request."""
        now = self.state.clock.t()
        with self.fault_lock:
            due = [item for item in self._late if item[0] <= now]
            self._late = [item for item in self._late if item[0] > now]
        for _, handler, _original, body, groups in due:
            try:
                handler(h, body, *groups)
            except ApiError:
                pass  # the deferred request was refused after all: nothing committed

    @property
    def late_pending(self) -> int:
        with self.fault_lock:
            return len(self._late)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PREFIX}"

    def start(self) -> "SimServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="dashscope-sim", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "SimServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
