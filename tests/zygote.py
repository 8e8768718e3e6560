"""A zygote: one Python process that has imported the CLI and forks a fresh ``bailian-tui`` per command.

A real ``python -m bailian_tui …`` costs a Python start-up and the imports (~1 s each on a busy machine);
killing one in the middle of a create 50 times per mode would take minutes. Here the start-up is paid once:
the zygote imports the CLI and the core, then, per request, ``os.fork()``s a child that becomes the command —
its own argv, environment, working folder and stdout/stderr files — and runs exactly what
``bailian_tui/__main__.py`` runs: ``sys.exit(main())``, interpreter shutdown included. The child is a real
process: the test signals it by its pid (SIGKILL, SIGHUP…), and the zygote reaps it and reports its exit
status the way a shell would (``-9`` for a kill, 129 for the CLI's own answer to SIGHUP).

What keeps each child as fresh as a new interpreter: the zygote only imports — it runs no command, opens no
store, creates no event loop and starts no thread (checked before every fork), so every signal handler,
asyncio loop, sqlite connection and HTTP client is made in the child by the command itself. Nothing in the
project reads the environment at import time, so setting it after the fork is what a new process sees.

Protocol (one JSON object per line on the zygote's stdin, one answer per line on its stdout):
``{"op": "spawn", "argv": [...], "env": {...}, "cwd": ..., "stdout": path, "stderr": path}`` → ``{"pid": N}``;
``{"op": "wait", "pid": N}`` → ``{"code": exit code, negative for a signal}``; ``{"op": "poll", "pid": N}``
→ the same if it has ended (then reaped), else ``{"code": null}``.

The genuine-subprocess tests (tests/test_interrupted.py) keep proving the console entry point itself.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path

# What the commands under test import lazily: loaded once here so that a child does not pay for it.
WARM = [
    "bailian_tui.cli", "bailian_tui.cli.app", "bailian_tui.cli.remote", "bailian_tui.cli.output",
    "bailian_tui.core.lifecycle", "bailian_tui.core.config", "bailian_tui.core.profiles",
    "bailian_tui.core.platform", "bailian_tui.core.service", "bailian_tui.core.store",
    "bailian_tui.core.jobform", "bailian_tui.core.hyperparams", "bailian_tui.core.data.cost",
    "bailian_tui.core.data.scan", "bailian_tui.core.data.converters", "bailian_tui.core.providers.openai_hp",
    "bailian_tui.core.providers.dashscope", "bailian_tui.cli.data", "bailian_tui.cli.local",
    "dashscope.v2", "dashscope.v2.errors", "asyncio", "concurrent.futures.thread", "httpx", "sqlite3", "yaml",
    "certifi", "zoneinfo", "_strptime", "anyio", "h11", "httpcore", "sniffio", "encodings.gb18030",
    "encodings.utf_8_sig", "anyio._backends._asyncio", "anyio.to_thread", "anyio.streams.tls", "tiktoken.load",
]


# ----- the zygote's side -----------------------------------------------------------------------------------

def _serve() -> dict | None:
    """Answer requests until stdin closes; in a forked child, return the request it is to become."""
    import importlib

    for name in WARM:
        importlib.import_module(name)
    from bailian_tui.core.data import tokens

    tokens.encoding()  # the Qwen vocabulary (~0.3 s to load): a cache, read-only once made
    for name in ("SIGHUP", "SIGTERM", "SIGINT"):  # a child starts with the dispositions a new process has
        signal.signal(getattr(signal, name), signal.SIG_DFL if name != "SIGINT" else signal.default_int_handler)
    answer = sys.stdout
    while line := sys.stdin.readline():
        request = json.loads(line)
        if request["op"] == "spawn":
            if threading.active_count() != 1:  # a thread would be copied half-alive into the child
                raise RuntimeError(f"zygote has {threading.active_count()} threads: refusing to fork")
            answer.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                return request
            reply = {"pid": pid}
        elif request["op"] in ("wait", "poll"):
            pid, status = os.waitpid(int(request["pid"]), os.WNOHANG if request["op"] == "poll" else 0)
            reply = {"code": os.waitstatus_to_exitcode(status) if pid else None}
        else:
            reply = {"error": f"unknown op {request['op']!r}"}
        answer.write(json.dumps(reply) + "\n")
        answer.flush()
    return None


def _become(request: dict) -> None:
    """In the forked child: the command's own stdin/stdout/stderr, environment, folder and argv."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    for fd, target in ((devnull, 0), (out, 1), (err, 2)):  # the protocol pipes are gone from here on
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # the zygote's reader may hold read-ahead bytes
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = ["bailian-tui", *request["argv"]]


def _exit(request: dict) -> None:
    """Run the command as bailian_tui/__main__.py does, then end the way the interpreter's exit does what
    matters for a command — ``SystemExit`` code, atexit handlers, non-daemon threads joined, stdio flushed —
    without freeing the zygote's whole heap object by object (copy-on-write makes that ~0.5 s per child)."""
    import atexit

    from bailian_tui.cli import main

    try:
        code = main()
    except SystemExit as exc:  # argparse's --help / usage errors
        code = exc.code
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code & 0xFF)


if __name__ == "__main__":
    _request = _serve()
    if _request is None:
        sys.exit(0)
    _become(_request)
    _exit(_request)


# ----- the test's side -------------------------------------------------------------------------------------

class Zygote:
    """The test's handle on one zygote process (a context manager; ``spawn`` / ``wait`` / ``run``)."""

    def __init__(self, cwd: str | Path, folder: Path) -> None:
        self.cwd, self.folder = str(cwd), Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._errors = open(self.folder / "zygote.err", "w+b")
        # The DashScope SDK reads DASHSCOPE_* into module globals when imported: the zygote imports it with none
        # set (the project passes key, URL and workspace explicitly; each command gets its own environment).
        env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
        self._proc = subprocess.Popen([sys.executable, "-m", "tests.zygote"], cwd=self.cwd, env=env,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors, text=True)
        self._count = 0
        self._live: set[int] = set()

    def _ask(self, request: dict, timeout: float = 120.0) -> dict:
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"zygote did not answer {request['op']} in {timeout:g} s")
        line = self._proc.stdout.readline()
        if not line:
            self._errors.seek(0)
            raise RuntimeError("zygote died: " + self._errors.read().decode(errors="replace")[-2000:])
        return json.loads(line)

    def spawn(self, argv: list[str], env: dict[str, str]) -> "Child":
        self._count += 1
        out, err = self.folder / f"{self._count}.out", self.folder / f"{self._count}.err"
        pid = self._ask({"op": "spawn", "argv": [str(a) for a in argv], "env": env, "cwd": self.cwd,
                         "stdout": str(out), "stderr": str(err)})["pid"]
        self._live.add(pid)
        return Child(self, pid, out, err)

    def wait(self, pid: int, timeout: float = 120.0) -> int:
        """Reap ``pid`` (killed with SIGKILL if it has not ended within ``timeout``); its exit code."""
        self._proc.stdin.write(json.dumps({"op": "wait", "pid": pid}) + "\n")
        self._proc.stdin.flush()
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        if not ready:  # still running: end it, then take the answer that follows
            os.kill(pid, signal.SIGKILL)
        code = json.loads(self._proc.stdout.readline())["code"]
        self._live.discard(pid)
        if not ready:
            raise TimeoutError(f"command {pid} still running after {timeout:g} s: killed")
        return code

    def poll(self, pid: int) -> int | None:
        """``pid``'s exit code if it has ended (it is reaped then), else None."""
        code = self._ask({"op": "poll", "pid": pid})["code"]
        if code is not None:
            self._live.discard(pid)
        return code

    def run(self, argv: list[str], env: dict[str, str], timeout: float = 120.0) -> "Done":
        child = self.spawn(argv, env)
        code = child.wait(timeout)
        return Done(code, child.out.read_text(encoding="utf-8"), child.err.read_text(encoding="utf-8"))

    def close(self) -> None:
        for pid in list(self._live):  # a test that failed half-way: no orphan left behind
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait(pid)
        self._proc.stdin.close()
        self._proc.wait(timeout=30)
        self._proc.stdout.close()
        self._errors.close()

    def __enter__(self) -> "Zygote":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Child:
    def __init__(self, zygote: Zygote, pid: int, out: Path, err: Path) -> None:
        self.zygote, self.pid, self.out, self.err = zygote, pid, out, err
        self.code: int | None = None

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def poll(self) -> int | None:
        if self.code is None:
            self.code = self.zygote.poll(self.pid)
        return self.code

    def wait(self, timeout: float = 120.0) -> int:
        if self.code is None:
            self.code = self.zygote.wait(self.pid, timeout)
        return self.code

    def output(self) -> tuple[str, str]:
        return self.out.read_text(encoding="utf-8"), self.err.read_text(encoding="utf-8")


class Done:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr
