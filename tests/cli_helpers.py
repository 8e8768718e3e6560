"""Running ``bailian-tui`` as a user does: a subprocess to a pipe, or to a pseudo-terminal of 80 columns."""

from __future__ import annotations

import fcntl
import os
import re
import select
import socket
import struct
import subprocess
import sys
import termios
import time

from tests.conftest import ROOT

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Simulator:
    """One ``bailian-tui sim`` subprocess (fast clock) for a whole test module."""

    def __init__(self, key: str, *extra: str, speed: float = 50.0) -> None:
        self.port = free_port()
        self.key = key
        self.child = subprocess.Popen([sys.executable, "-m", "bailian_tui", "sim", "--port", str(self.port),
                                       "--api-key", key, "--speed", str(speed), "--pending-seconds", "0", *extra],
                                      stdout=subprocess.PIPE, text=True, cwd=ROOT)
        for _ in range(5):
            self.child.stdout.readline()
        self.base_url = f"http://127.0.0.1:{self.port}/api/v1"

    def env(self, tmp_path, **more: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE_", "BAILIAN_TUI_"))}
        env.update({"DASHSCOPE_HTTP_BASE_URL": self.base_url, "DASHSCOPE_API_KEY": self.key,
                    "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "BAILIAN_TUI_STATE_DIR": str(tmp_path / "state"),
                    "COLUMNS": "200"}, **more)
        return env

    def stop(self) -> None:
        self.child.terminate()
        self.child.wait(10)
        self.child.stdout.close()


def run(env, *args, timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bailian_tui", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=timeout, input=input)


def run_pty(env, *args, columns: int = 80, rows: int = 40, timeout: float = 120,
            answer: str | None = None) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal of ``columns``×``rows``; (exit code, output).

    With ``answer``, stdin is the terminal too and ``answer`` is typed once the command asks ("? [y/N]")."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    child = subprocess.Popen([sys.executable, "-m", "bailian_tui", *map(str, args)],
                             stdin=slave if answer is not None else subprocess.DEVNULL,
                             stdout=slave, stderr=slave, cwd=ROOT, env={**env, "COLUMNS": str(columns),
                                                                          "LINES": str(rows)})
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
                if answer is not None and b"[y/N]" in b"".join(chunks):
                    os.write(master, answer.encode() + b"\n")
                    answer = None
            elif child.poll() is not None:
                break
        code = child.wait(max(deadline - time.monotonic(), 1))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def screen_lines(text: str) -> list[str]:
    """What the terminal shows line by line, colour codes removed (redraw codes split lines too)."""
    plain = ANSI.sub("\n", text)
    return [line for line in plain.split("\n")]
