"""Signals, end to end, on real processes: SSH drops (SIGHUP), kills (SIGTERM, SIGKILL), Ctrl-C (SIGINT), pipes.

Each long command runs as a real subprocess in its own session (so its process group is ours to inspect).
The test waits for a sign that it is mid-run — its worker processes exist — never for a fixed time, sends
the signal the way it arrives in life (Ctrl-C and a hang-up reach the whole foreground group, ``kill``
reaches the one process), then checks: the exit code (130/143/129), no traceback, no process of the group
left, the output folder (dot-files included) holding nothing new, and the input unchanged.
Exit codes and the design: docs/signals.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}
# Where a signal comes from: the terminal sends SIGINT/SIGHUP to the foreground group, `kill` to one pid.
TO_GROUP = {signal.SIGINT: True, signal.SIGTERM: False, signal.SIGHUP: True}
ENDS_WITHIN = 2.5  # seconds; the target is 1 s (docs/signals.md), with room for a busy 2-core machine
# The app's own shutdown (Textual restoring the terminal) took up to 4.5 s with three copies of the suite and
# four other projects' suites on 2 cores (load average 8); about 0.3 s on a quiet machine.
APP_ENDS_WITHIN = 8.0
RECORDS = 70_000  # ≈ 24 MB: above the parallel threshold, and mid-run for a second or more


def _chatml_line(i: int) -> str:
    return json.dumps({"messages": [
        {"role": "system", "content": "你是一个医学助手"},
        {"role": "user", "content": f"问题 {i}: 患者出现发热、咳嗽三天，" + "请问最可能的诊断是什么？" * 4},
        {"role": "assistant", "content": f"回答 {i}: 根据症状，" + "最可能是上呼吸道感染，建议多休息。" * 4}]},
        ensure_ascii=False) + "\n"


def _medqa_line(i: int) -> str:
    return json.dumps({"question": f"第{i}题：" + "下列关于支气管哮喘的说法，正确的是（　　）。" * 3,
                       "options": {"A": "吸入短效β2受体激动剂", "B": "口服抗生素", "C": "口服抗组胺药", "D": "静脉补液"},
                       "answer": "吸入短效β2受体激动剂", "meta_info": "内科学", "answer_idx": "A"},
                      ensure_ascii=False) + "\n"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A big Bailian file and a MedQA tree with one big split, made once for the module."""
    base = tmp_path_factory.mktemp("signal-inputs")
    big = base / "big.jsonl"
    with open(big, "w", encoding="utf-8") as handle:
        handle.writelines(_chatml_line(i) for i in range(RECORDS))
    tree = base / "questions" / "Mainland" / "4_options"
    tree.mkdir(parents=True)
    with open(tree / "train.jsonl", "w", encoding="utf-8") as handle:
        handle.writelines(_medqa_line(i) for i in range(RECORDS))
    for path in (big, tree / "train.jsonl"):
        path.chmod(0o444)  # the input must stay untouched: not even writable
    return {"big": big, "questions": base / "questions"}


def _digest(path: Path) -> tuple[int, float, str]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime, hashlib.sha256(path.read_bytes()).hexdigest()


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _group(pgid: int) -> list[int]:
    """Live processes of a process group, from /proc (zombies excluded: they are gone, only unreaped)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            found.append(int(entry))
    return found


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as handle:
            return [int(c) for c in handle.read().split()]
    except OSError:
        return []


def _until(predicate, timeout: float, what: str, step: float = 0.005):
    """Wait for a state of another process (nothing to subscribe to across processes): short steps."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(step)


def _start(args, cwd: Path, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "XDG_CONFIG_HOME": str(cwd / "no-config"), "BAILIAN_TUI_STATE_DIR": str(cwd / "state"),
           "COLUMNS": "120"}
    env.update(kwargs.pop("env", {}))
    umask = kwargs.pop("umask", None)
    return subprocess.Popen([sys.executable, "-m", "bailian_tui", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: _as_a_terminal_starts_it(umask), **kwargs)


def _as_a_terminal_starts_it(umask: int | None) -> None:
    """A shell starts a foreground command with SIGINT at its default. When these tests themselves run as a
    background job (`pytest &` in a script), SIGINT arrives ignored — and a command started so is right to
    keep ignoring it (that is what nohup and `&` mean) — so reset it, as the terminal's shell would."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if umask is not None:
        os.umask(umask)


def _signal(child: subprocess.Popen, signum: int) -> None:
    if TO_GROUP[signum]:
        os.killpg(child.pid, signum)
    else:
        os.kill(child.pid, signum)


def _cleanup(child: subprocess.Popen) -> None:
    for pid in _group(child.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if child.poll() is None:
        child.kill()
    child.communicate(timeout=10)


COMMANDS = {
    # name: (arguments, the output folder it writes into or None)
    "convert": (lambda i, out: ["convert", i["big"], out / "big.jsonl", "--max-length", "32"], True),
    "validate": (lambda i, out: ["validate", i["big"], "--max-length", "32"], False),
    "stats": (lambda i, out: ["stats", i["big"]], False),
    "estimate": (lambda i, out: ["estimate", i["big"], "--epochs", "1"], False),
    "batch-convert": (lambda i, out: ["batch-convert", "--src", i["questions"], "--dst", out], True),
}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_signal_mid_run_ends_the_command_cleanly(inputs, tmp_path, command, signum):
    arguments, writes = COMMANDS[command]
    out = tmp_path / "out"
    out.mkdir()
    (out / ".keep-me").write_text("a file of the user's: stays")
    before = {name: _digest(path) for name, path in
              [("big", inputs["big"]), ("medqa", inputs["questions"] / "Mainland/4_options/train.jsonl")]}
    child = _start(arguments(inputs, out), tmp_path)
    try:
        workers = _until(lambda: _children(child.pid) if child.poll() is None else [-1], 60, "the workers")
        assert workers != [-1], f"{command} ended before it was mid-run: {child.communicate()}"
        sent = time.monotonic()
        _signal(child, signum)
        stdout, stderr = child.communicate(timeout=30)
        took = time.monotonic() - sent
        assert child.returncode == EXIT[signum], (child.returncode, stderr.decode())
        assert took < ENDS_WITHIN, f"{command} took {took:.2f} s to end after {signum.name}"
        assert b"Traceback" not in stderr and b"Traceback" not in stdout
        # stderr is a pipe here, not a terminal: no message (docs/signals.md), the exit code says it all.
        assert stderr == b"", stderr.decode()
        _until(lambda: not _group(child.pid), 2.0, "the workers to be gone")
        assert _listing(out) == [".keep-me"]  # no partial output, no temporary file or folder
        assert _listing(tmp_path) == ["out"] or set(_listing(tmp_path)) <= {"out", "state", "no-config"}
        after = {name: _digest(path) for name, path in
                 [("big", inputs["big"]), ("medqa", inputs["questions"] / "Mainland/4_options/train.jsonl")]}
        assert after == before
    finally:
        _cleanup(child)


def test_after_sigkill_the_workers_go_and_the_next_run_sweeps_only_stale_temp_files(inputs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    child = _start(["convert", inputs["big"], out / "big.jsonl", "--max-length", "32"], tmp_path)
    try:
        workers = _until(lambda: _children(child.pid) if child.poll() is None else [-1], 60, "the workers")
        assert workers != [-1]
        _until(lambda: any(n.startswith(f".bt-{child.pid}-") for n in _listing(out)), 30, "its temporary files")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        assert child.returncode == -signal.SIGKILL
        sent = time.monotonic()
        _until(lambda: not _group(child.pid), 2.0, "the orphaned workers to exit")
        assert time.monotonic() - sent < 2.0
    finally:
        _cleanup(child)
    stale = [n for n in _listing(out) if n.startswith(f".bt-{child.pid}-")]
    assert stale, "a SIGKILL leaves its temporary files (nothing can run)"
    # A temp file of a run that is still alive (this test process) must survive the sweep.
    alive = out / f".bt-{os.getpid()}-part-concurrent.jsonl.tmp"
    alive.write_text("another run's")
    small = tmp_path / "small.jsonl"
    small.write_text("".join(_chatml_line(i) for i in range(50)), encoding="utf-8")
    again = _start(["convert", small, out / "small.jsonl"], tmp_path)
    again.communicate(timeout=60)
    assert again.returncode == 0
    assert _listing(out) == sorted([alive.name, "small.jsonl"])


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_output_files_get_the_mode_the_umask_gives(tmp_path, umask, mode):
    small = tmp_path / "small.jsonl"
    small.write_text("".join(_chatml_line(i) for i in range(20)), encoding="utf-8")
    child = _start(["convert", small, tmp_path / "out.jsonl"], tmp_path, umask=umask)
    child.communicate(timeout=60)
    assert child.returncode == 0
    assert (tmp_path / "out.jsonl").stat().st_mode & 0o777 == mode


@pytest.mark.parametrize("command", [
    "validate {bad} | head -1",
    "validate {bad} --json | head -c 10",
    "convert {bad} {out} --skip-bad --json | true",
])
def test_a_broken_pipe_ends_quietly(tmp_path, command):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(_chatml_line(i) if i % 3 else "{oops\n" for i in range(300)), encoding="utf-8")
    line = command.format(bad=bad, out=tmp_path / "o.jsonl")
    script = f'"{sys.executable}" -m bailian_tui {line}; echo "status=${{PIPESTATUS[0]}}" >&2'
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    status = int(done.stderr.rsplit("status=", 1)[1])
    assert status in (0, 1, 141), done.stderr  # 1: validate's own verdict when the reader read it all


# ----- the app, in a terminal ----------------------------------------------------------------------------

@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_the_app_ends_on_a_signal_and_gives_the_terminal_back(tmp_path, signum):
    import pty
    import select

    master, slave = pty.openpty()
    os.set_blocking(master, False)
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "BAILIAN_TUI_STATE_DIR": str(tmp_path),
           "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    child = subprocess.Popen([sys.executable, "-m", "bailian_tui", "--demo"], stdin=slave, stdout=slave,
                             stderr=slave, env=env, cwd=tmp_path, start_new_session=True,
                             preexec_fn=lambda: _as_a_terminal_starts_it(None))
    os.close(slave)
    seen = bytearray()

    def read() -> None:
        while select.select([master], [], [], 0.05)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            seen.extend(chunk)

    try:
        def drawn() -> bool:
            read()
            return b"\x1b[?1049h" in seen and b"Jobs" in seen  # alternate screen entered, first frame drawn

        _until(drawn, 60, "the first frame", step=0.02)
        sent = time.monotonic()
        _signal(child, signum)
        child.wait(timeout=30)
        took = time.monotonic() - sent
        read()
        assert child.returncode == EXIT[signum]
        assert took < APP_ENDS_WITHIN, f"the app took {took:.2f} s to end after {signum.name}"
        tail = bytes(seen[seen.rfind(b"\x1b[?1049h"):])
        assert b"\x1b[?1049l" in tail, "the alternate screen was not left: terminal not restored"
        assert b"Traceback" not in seen
        _until(lambda: not _group(child.pid), 2.0, "the app's processes to be gone")
    finally:
        _cleanup(child)
        os.close(master)


def _takes_the_terminal() -> None:
    """As a terminal emulator or tmux starts a shell: own session, the pty as its controlling terminal (so
    closing the terminal sends SIGHUP, as a dropped SSH connection does)."""
    import fcntl
    import termios

    _as_a_terminal_starts_it(None)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_the_app_ends_when_its_terminal_is_gone(tmp_path):
    """A dropped SSH connection / `tmux kill-session` while the app is drawing: the terminal stops reading for a
    moment (the app's output thread blocks in a write), then closes (the kernel sends SIGHUP). Textual's
    output thread dies on the failed write, its bounded queue fills and the event loop blocks for ever: the
    app must still end (129) with its demo simulators, not live on as an orphan deaf to SIGTERM."""
    import pty

    master, slave = pty.openpty()
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "BAILIAN_TUI_STATE_DIR": str(tmp_path),
           "TERM": "xterm-256color", "COLUMNS": "200", "LINES": "60"}
    child = subprocess.Popen([sys.executable, "-m", "bailian_tui", "--demo"], stdin=slave, stdout=slave,
                             stderr=slave, env=env, cwd=tmp_path, start_new_session=True,
                             preexec_fn=_takes_the_terminal)
    os.close(slave)
    os.set_blocking(master, False)
    seen = bytearray()

    def drawn() -> bool:
        try:
            seen.extend(os.read(master, 65536))
        except OSError:
            pass
        return b"Jobs" in seen and b"Bailian" in seen

    try:
        _until(drawn, 60, "the first frame", step=0.02)
        os.write(master, b"ndfpjndfpj")  # places, each a full redraw — and the terminal reads no more:
        time.sleep(0.3)  # the scenario, not a wait for an event: the connection stalls a moment, then drops
        os.close(master)  # the terminal is gone (SIGHUP from the kernel): every further write fails
        master = None
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("the app lives on after its terminal went away")
        assert child.returncode == EXIT[signal.SIGHUP]
        _until(lambda: not _group(child.pid), 10.0, "the demo simulators to end with the app")
    finally:
        _cleanup(child)
        if master is not None:
            os.close(master)


# ----- commands that talk to a service: a simulator in another process -----------------------------------

SIM_KEY = "sk-signal-test-0000"


@pytest.fixture(scope="module")
def sim_service(tmp_path_factory):
    """`bailian-tui sim` in its own process, answering every request after 20 ms (its own latency setting)."""
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "bailian_tui", "sim", "--port", str(port), "--api-key", SIM_KEY,
                               "--speed", "0.01"], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                              env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path_factory.mktemp("simcfg"))})
    assert "listening" in server.stdout.readline()
    base = f"http://127.0.0.1:{port}/api/v1"
    request = urllib.request.Request(f"http://127.0.0.1:{port}/_sim/faults", data=json.dumps({"latency": 0.02}).encode(),
                                     headers={"Authorization": f"Bearer {SIM_KEY}",
                                              "Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(request, timeout=10).read()
    yield {"DASHSCOPE_HTTP_BASE_URL": base, "DASHSCOPE_API_KEY": SIM_KEY}, port
    server.terminate()
    server.wait(10)


def _connected(pid: int, port: int) -> bool:
    """Whether ``pid`` holds an established TCP connection to 127.0.0.1:port (its first request is out)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        with open(f"/proc/{pid}/net/tcp", encoding="ascii") as handle:
            rows = handle.read().splitlines()[1:]
    except OSError:
        return False
    wanted = f"0100007F:{port:04X}"
    return any(row.split()[2] == wanted and row.split()[3] == "01" and row.split()[9] in inodes for row in rows)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_eval_stops_on_a_signal_and_keeps_every_whole_answer(sim_service, tmp_path, signum):
    env, port = sim_service
    split = tmp_path / "split.jsonl"
    with open(split, "w", encoding="utf-8") as handle:
        for i in range(400):
            handle.write(json.dumps({"messages": [
                {"role": "user", "content": f"第{i}题：哪一项正确？\n\n选项：\nA. 甲\nB. 乙\nC. 丙\nD. 丁"},
                {"role": "assistant", "content": "答案是 B. 乙"}]}, ensure_ascii=False) + "\n")
    before = _digest(split)
    child = _start(["eval", split, "--model", "qwen3-8b", "--concurrency", "2", "--json"], tmp_path, env=env)
    results = tmp_path / "split.eval.qwen3-8b.jsonl"
    try:
        _until(lambda: results.exists() and results.stat().st_size > 0 or child.poll() is not None, 60,
               "the first answer")
        assert child.poll() is None, child.communicate()
        sent = time.monotonic()
        _signal(child, signum)
        stdout, stderr = child.communicate(timeout=30)
        took = time.monotonic() - sent
        assert child.returncode == EXIT[signum], stderr.decode()
        assert took < ENDS_WITHIN and b"Traceback" not in stderr
        _until(lambda: not _group(child.pid), 2.0, "its processes to be gone")
    finally:
        _cleanup(child)
    lines = results.read_bytes().splitlines()
    assert 0 < len(lines) < 400 and all(json.loads(line)["model"] == "qwen3-8b" for line in lines)  # whole lines
    assert _digest(split) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_jobs_watch_stops_on_a_signal(sim_service, tmp_path, signum):
    env, port = sim_service
    listed = subprocess.run([sys.executable, "-m", "bailian_tui", "jobs", "list", "--json"], capture_output=True,
                            text=True, cwd=ROOT, timeout=60, env={**os.environ, **env,
                                                                  "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
                                                                  "BAILIAN_TUI_STATE_DIR": str(tmp_path / "s")})
    running = next(j["job_id"] for j in json.loads(listed.stdout) if j["status"] == "RUNNING")
    child = _start(["jobs", "watch", running], tmp_path, env=env)
    try:
        _until(lambda: _connected(child.pid, port) or child.poll() is not None, 60, "the first poll")
        assert child.poll() is None, child.communicate()
        sent = time.monotonic()
        _signal(child, signum)
        stdout, stderr = child.communicate(timeout=30)
        took = time.monotonic() - sent
        assert child.returncode == EXIT[signum], stderr.decode()
        assert took < ENDS_WITHIN and b"Traceback" not in stderr and b"Traceback" not in stdout
        _until(lambda: not _group(child.pid), 2.0, "its processes to be gone")
    finally:
        _cleanup(child)


# ----- an upload interrupted mid-POST: the simulator holds the request --------------------------------------

@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_files_upload_stops_on_a_signal_mid_post_and_the_next_run_uploads_nothing_twice(sim, tmp_path, signum):
    """The simulator (in this process, on loopback) holds the upload's POST and says when it arrived; the
    signal lands then. The server acts on what it received (as a real one would, its client gone or not), so
    the second run must find that file through the intent the first one left — one file on the server."""
    from tests.conftest import TEST_KEY, write_chatml

    data = tmp_path / "data"
    data.mkdir()
    local = write_chatml(data / "train.jsonl", 200)
    local.chmod(0o444)
    before = _digest(local)
    env = {"DASHSCOPE_HTTP_BASE_URL": sim.base_url, "DASHSCOPE_API_KEY": TEST_KEY}
    sim.hold_path = "/files"
    child = _start(["files", "upload", local, "--json"], tmp_path, env=env)
    try:
        assert sim.create_arrived.wait(60), f"the upload never reached the server: {child.poll()}"
        assert child.poll() is None
        sent = time.monotonic()
        _signal(child, signum)
        stdout, stderr = child.communicate(timeout=30)
        took = time.monotonic() - sent
        assert child.returncode == EXIT[signum], (child.returncode, stderr.decode())
        assert took < ENDS_WITHIN, f"upload took {took:.2f} s to end after {signum.name}"
        assert b"Traceback" not in stderr and b"Traceback" not in stdout
        assert stderr == b"", stderr.decode()  # stderr is a pipe: the exit code says it all (docs/signals.md)
        _until(lambda: not _group(child.pid), 2.0, "its processes to be gone")
    finally:
        sim.hold_path = None
        sim.release.set()  # the server commits the upload it had received
        _cleanup(child)
    assert _digest(local) == before
    assert _listing(data) == ["train.jsonl"]  # no temporary file beside the input
    assert not [p for p in tmp_path.rglob(".bt-*")], "a temporary file was left"
    again = _start(["files", "upload", local, "--json"], tmp_path, env=env)
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, stderr.decode()
    assert "already made file" in stderr.decode()
    (result,) = json.loads(stdout)
    assert result["reused"] is True
    assert list(sim.state.files) == [result["file_id"]]


def test_the_apps_demo_process_serves_both_services_and_dies_with_the_app(tmp_path):
    """`bailian-tui --demo` runs its simulators in a process of their own: seeded, on both URLs at once, and gone
    when the app is — after a normal stop and after a kill -9 that leaves it no time to say anything."""
    import urllib.request

    from bailian_tui.simulator.demo import DEMO_KEY, DemoProcess

    def listed(url: str) -> bytes:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {DEMO_KEY}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.read()

    demo = DemoProcess()
    try:
        assert b"qwen3-8b" in listed(demo.base_url + "/fine-tunes")
        assert b"medqa-r16" in listed(demo.openai.base_url + "/fine_tuning/jobs")
    finally:
        demo.stop()
    assert not _running(demo.pid)

    app = subprocess.Popen([sys.executable, "-c", "import sys\nfrom bailian_tui.simulator.demo import DemoProcess\n"
                            "d = DemoProcess()\nprint(d.pid, d.base_url, flush=True)\nsys.stdin.read()"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        pid, url = app.stdout.readline().split()
        assert b"qwen3-8b" in listed(url + "/fine-tunes")
        app.kill()
        app.wait(timeout=10)
        _until(lambda: not _running(int(pid)), 10, "the demo process to end with the app")
    finally:
        _cleanup(app)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False
