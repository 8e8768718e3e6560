from __future__ import annotations

import socket
import subprocess
import sys

import httpx

from tests.conftest import ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_sim_command_prints_exports_and_serves(tmp_path):
    port = _free_port()
    child = subprocess.Popen([sys.executable, "-m", "bailian_tui", "sim", "--port", str(port), "--api-key",
                              "sk-sim-cli-test-0000"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        lines = [child.stdout.readline().strip() for _ in range(4)]
        assert f"export DASHSCOPE_HTTP_BASE_URL=http://127.0.0.1:{port}/api/v1" in lines
        response = httpx.get(f"http://127.0.0.1:{port}/api/v1/fine-tunes",
                             headers={"Authorization": "Bearer sk-sim-cli-test-0000"})
        jobs = response.json()["output"]["jobs"]
        assert {j["status"] for j in jobs} >= {"SUCCEEDED", "FAILED", "CANCELED", "RUNNING"}
        denied = httpx.get(f"http://127.0.0.1:{port}/api/v1/files")
        assert denied.status_code == 401 and denied.json()["code"] == "InvalidApiKey"
    finally:
        child.terminate()
        child.wait(10)


def test_sim_command_empty(tmp_path):
    port = _free_port()
    child = subprocess.Popen([sys.executable, "-m", "bailian_tui", "sim", "--port", str(port), "--empty"],
                             stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        key = [child.stdout.readline() for _ in range(4)][3].split("=", 1)[1].strip()
        body = httpx.get(f"http://127.0.0.1:{port}/api/v1/files",
                         headers={"Authorization": f"Bearer {key}"}).json()
        assert body["data"]["total"] == 0
    finally:
        child.terminate()
        child.wait(10)
