"""A deliberately hostile DashScope on loopback: every string it serves is an attack on the terminal.

Every field of every record (files, jobs, logs, checkpoints, deployments), every log line and every error
message carries :data:`EVIL`: OSC 52 (writes the clipboard), OSC 0 (retitles the window), CSI 2J (clears the
screen), BEL, NUL, a right-to-left override and Rich markup (``[/]``, ``[link=…]``, ``[bold red]``). Modes
(``HostileServer.mode``) serve the other faults of issue #10:

* ``records`` (default) — well-formed answers full of :data:`EVIL`;
* ``errors`` — every call fails with a 400 whose message, code and request_id are :data:`EVIL` (and echo
  the key, as a server echoing the Authorization header would);
* ``endless`` — the job list claims ``has_more`` forever and repeats the same page;
* ``shapes`` — ``"jobs": {}``, ``output`` a list, a 200 with an empty body, a truncated JSON body;
* ``throttle200`` — a 200 carrying ``{"code": "Throttling"}`` for the first ``throttles`` calls.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

EVIL = ("\x1b]52;c;ZXZpbA==\x07\x1b]0;pwned\x07\x1b[2J\x07\x00\u202eevil[/][link=http://x.test]x[/link]"
        "[bold red]R\x9b31m")
PREFIX = "/api/v1"


def evil(tag: str) -> str:
    return f"{tag}{EVIL}"


def _job(i: int) -> dict:
    return {"job_id": evil(f"ft-{i}-"), "job_name": evil("name"), "status": "SUCCEEDED", "model": evil("model"),
            "base_model": evil("base"), "training_type": evil("sft"), "training_file_ids": [evil("file")],
            "validation_file_ids": [], "hyper_parameters": {"n_epochs": 1, evil("k"): evil("v")},
            "finetuned_output": evil("out"), "create_time": "2026-01-01 10:00:00",
            "end_time": "2026-01-01 11:00:00", "usage": 123, "code": evil("code"), "message": evil("msg")}


class HostileServer:
    def __init__(self, key: str) -> None:
        self.key, self.mode, self.requests, self.throttles = key, "records", 0, 2
        self.shape = "jobs-object"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer._serve(self)

            do_POST = do_PUT = do_DELETE = do_GET

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{PREFIX}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- answers ---------------------------------------------------------------------------------------

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        if length:
            h.rfile.read(length)
        self.requests += 1
        url = urlsplit(h.path)
        path = url.path[len(PREFIX):]
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        status, body = self._answer(h.command, path, query)
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(raw)))
        h.send_header("x-request-id", "hdr[/][bold red]x")  # a header cannot carry controls (h11 refuses)
        h.end_headers()
        h.wfile.write(raw)

    def _answer(self, method: str, path: str, query: dict) -> tuple[int, Any]:
        rid = evil("rid")
        if self.mode == "errors":
            return 400, {"request_id": f"{rid} Bearer {self.key}", "code": evil("Invalid"),
                         "message": f"{EVIL} you sent Authorization: Bearer {self.key}"}
        if self.mode == "throttle200" and self.throttles > 0:
            self.throttles -= 1
            return 200, {"request_id": rid, "code": "Throttling", "message": "slow down"}
        if self.mode == "shapes":
            return self._shapes(path)
        page_no = int(query.get("page_no", 1))
        if path == "/files" and method == "GET":
            files = [{"file_id": evil(f"file-{i}-"), "name": evil("train[v2].jsonl"), "size": 100 + i,
                      "purpose": evil("fine-tune"), "description": evil("desc"), "md5": evil("md5"),
                      "gmt_create": "2026-01-01 10:00:00"} for i in range(3)]
            return 200, {"request_id": rid, "data": {"files": files, "total": 3, "page_no": 1, "page_size": 100}}
        if path.startswith("/files/"):
            return 200, {"request_id": rid, "data": {"file_id": path[7:], "name": evil("n"), "size": 1}}
        if path == "/fine-tunes" and method == "GET":
            if self.mode == "endless":  # the same page, "more to come", forever
                return 200, {"request_id": rid, "output": {"jobs": [_job(1), _job(2)], "total": 10**9,
                                                           "page_no": page_no, "page_size": 2}}
            return 200, {"request_id": rid, "output": {"jobs": [_job(1), _job(2), _job(1)], "total": 3,
                                                       "page_no": 1, "page_size": 100}}
        if path.endswith("/logs"):
            lines = [evil(f"line {i} oops [/] ") for i in range(5)] + ["x" * 100_000]
            offset = int(query.get("offset", 0))
            return 200, {"request_id": rid, "output": {"logs": lines[offset:], "total": len(lines)}}
        if path.endswith("/checkpoints"):
            return 200, {"request_id": rid, "output": [
                {"checkpoint": evil("checkpoint-10-"), "job_id": evil("j"), "full_name": evil("full"),
                 "model_name": evil("m"), "status": evil("SUCCEEDED"), "create_time": "2026-01-01 10:00:00"}]}
        if path.startswith("/fine-tunes/"):
            return 200, {"request_id": rid, "output": _job(1)}
        if path == "/deployments" and method == "GET":
            deps = [{"deployed_model": evil(f"dep-{i}-"), "model_name": evil("m"), "base_model": evil("b"),
                     "status": "RUNNING", "capacity": 1, "ready_capacity": 1, "plan": evil("plan"),
                     "charge_type": evil("charge"), "gmt_create": "2026-01-01 10:00:00"} for i in range(2)]
            return 200, {"request_id": rid, "output": {"deployments": deps, "total": 2}}
        if path.startswith("/deployments/"):
            return 200, {"request_id": rid, "output": {"deployed_model": evil("dep"), "status": "RUNNING"}}
        return 404, {"request_id": rid, "code": evil("NotFound"), "message": evil("no such path")}

    def _shapes(self, path: str) -> tuple[int, Any]:
        rid = "req-shapes"
        if self.shape == "jobs-object":
            return 200, {"request_id": rid, "output": {"jobs": {}, "total": 1}}
        if self.shape == "output-list":
            return 200, {"request_id": rid, "output": [1, 2]}
        if self.shape == "empty":
            return 200, b""
        if self.shape == "truncated":
            return 200, b'{"request_id": "req-trunc", "output": {"jobs": [{"job_id": "ft-1"'
        if self.shape == "job-output-list":
            return 200, {"request_id": rid, "output": {"jobs": [{"job_id": "ft-1", "output": [1]},
                                                                {"job_id": ["x"]}], "total": 2}}
        raise AssertionError(self.shape)
