"""Detached local runs: launch, liveness, outcome, log lines, trainer state, cancel, adoption.

A run is a folder (see :mod:`recipes`). Launching starts ``supervise.py`` in a new session (its own
process group, no controlling terminal) with stdout and stderr going to ``train.log``; ``run.json``
records the session leader's PID, its start time in clock ticks since boot (field 22 of
``/proc/PID/stat``) and the boot id, so a PID reused by another process after a reboot or a long time is
never mistaken for the run. Everything the app later needs is in files — the app can quit, restart and
re-attach, or another machine's shell can look at the folder:

    run.json     who is running it (pid, start ticks, boot id, command, log)
    exit.json    how it ended (written by the supervisor when the training exits)
    cancel.json  that a cancel was asked for (so SIGINT's exit reads as CANCELED, not FAILED)

Adopted runs (started by hand, no supervisor) have no exit.json: their outcome is read from the log's
final summary and ``trainer_state.json``, and their PID — when still running — from ``/proc/*/fd``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable

from bailian_tui.core.records import JobStatus

SUPERVISOR = Path(__file__).with_name("supervise.py")
BAR = re.compile(r"\|\s*(\d+)/(\d+) \[")
ERROR_LINE = re.compile(r"^(?:[\w.]+(?:Error|Exception|Interrupt)|RuntimeError|SystemExit)\b.*|^CUDA out of memory.*")
BLOCK = 4 << 20  # bytes read at a time from a log
_children: dict[int, subprocess.Popen] = {}  # runs this process started: reaped when looked at


class RunError(Exception):
    """A run could not be started, found or signalled: the message says what and what to do."""


# -- processes ------------------------------------------------------------------------------------------


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # the command name may hold spaces and parentheses
    if fields[0] in ("Z", "X"):  # a zombie has ended: only its exit status is left
        return None
    return int(fields[19])


def _reap(pid: int) -> None:
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        _children.pop(pid, None)


def group_alive(pid: int, ticks: int | None, boot: str) -> bool:
    """Is the run's process group still there? The leader is checked against its recorded start time."""
    if pid <= 0:
        return False
    _reap(pid)
    if boot and boot_id() and boot != boot_id():
        return False  # the machine restarted since
    now = start_ticks(pid)
    if now is not None:
        return ticks is None or now == ticks
    try:  # the leader is gone; its group lives on while any member does (a PID is never reused as a pgid)
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _group_has_a_live_member(pid)


def _group_has_a_live_member(pgid: int) -> bool:
    """Does any process of the group still run? Members that have ended but are not reaped yet (zombies) still
    answer ``killpg(pgid, 0)``: a trainer killed with its group is re-parented to PID 1, and a PID 1 that reaps
    lazily (a VM's or container's init: ~2 s here) kept the demo's quit waiting that long for processes that
    had already ended. Without /proc, what killpg says."""
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return True
    for entry in entries:
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # ended meanwhile, or not ours to read
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


# -- run records ----------------------------------------------------------------------------------------


@dataclass
class RunInfo:
    run_dir: Path
    log: str = "train.log"
    pid: int = 0
    start_ticks: int | None = None
    boot_id: str = ""
    command: list[str] = field(default_factory=list)
    started_at: str = ""
    adopted: bool = False
    output_dir: str = ""  # adopted runs: where the trainer writes (trainer_state.json, checkpoints)

    @property
    def state_dir(self) -> Path:
        return Path(self.output_dir) if self.output_dir else self.run_dir

    @property
    def log_path(self) -> Path:
        log = Path(self.log)
        return log if log.is_absolute() else self.run_dir / log

    def to_json(self) -> dict:
        return {"pid": self.pid, "start_ticks": self.start_ticks, "boot_id": self.boot_id, "command": self.command,
                "started_at": self.started_at, "log": self.log, "adopted": self.adopted,
                "output_dir": self.output_dir}

    @classmethod
    def read(cls, run_dir: Path) -> "RunInfo | None":
        try:
            data = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return cls(run_dir, data.get("log") or "train.log", int(data.get("pid") or 0), data.get("start_ticks"),
                   data.get("boot_id") or "", list(data.get("command") or []), data.get("started_at") or "",
                   bool(data.get("adopted")), data.get("output_dir") or "")

    def write(self) -> None:
        _write_json(self.run_dir / "run.json", self.to_json())


def _write_json(path: Path, data: dict) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(temp, path)


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def training_environment() -> dict[str, str]:
    """The app's environment minus the cloud services' keys: a training run has no use for them (HF_TOKEN and
    WANDB_API_KEY stay: a gated model download or a W&B report may need them)."""
    return {k: v for k, v in os.environ.items()
            if not (k.endswith("_API_KEY") and k != "WANDB_API_KEY") and not k.startswith("DASHSCOPE_")}


def launch(run_dir: Path, command: list[str], log: str = "train.log", env: dict | None = None) -> RunInfo:
    """Start ``command`` detached in ``run_dir`` under the supervisor; return what identifies it later."""
    run_dir = Path(run_dir)
    if (run_dir / "run.json").exists() and not (run_dir / "exit.json").exists():
        info = RunInfo.read(run_dir)
        if info and group_alive(info.pid, info.start_ticks, info.boot_id):
            raise RunError(f"{run_dir} is already running (pid {info.pid})")
    executable = command[0]
    if os.sep in executable and not os.access(executable, os.X_OK):
        raise RunError(f"{executable}: not an executable Python; set the profile's python to the bin/python "
                       "of the environment where Unsloth is installed")
    for stale in ("exit.json", "cancel.json"):
        (run_dir / stale).unlink(missing_ok=True)
    child = subprocess.Popen([sys.executable, str(SUPERVISOR), str(run_dir), log, "--", *command],
                             cwd=run_dir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True,
                             env={**training_environment(), **(env or {})})
    _children[child.pid] = child
    info = RunInfo(run_dir, log, child.pid, start_ticks(child.pid), boot_id(), list(command),
                   datetime.now().isoformat(timespec="seconds"))
    info.write()
    return info


# -- what a run says about itself ----------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: JobStatus
    message: str | None = None
    ended_at: datetime | None = None
    alive: bool = False


def last_error(log_path: Path, tail_bytes: int = 65536) -> str | None:
    """The last exception line of a log (what a traceback ends with), for a FAILED run's message."""
    try:
        with open(log_path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - tail_bytes))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return None
    for line in reversed(text.replace("\r", "\n").splitlines()):
        line = line.strip()
        if ERROR_LINE.match(line) or line.startswith("bailian-tui: cannot start"):
            return line[:300]
    return None


def _summary_in_log(log_path: Path, tail_bytes: int = 65536) -> bool:
    try:
        with open(log_path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - tail_bytes))
            return b"'train_runtime'" in handle.read()
    except OSError:
        return False


def outcome(info: RunInfo) -> Outcome:
    run_dir = info.run_dir
    cancel = _read_json(run_dir / "cancel.json")
    exit_record = _read_json(run_dir / "exit.json")
    if exit_record is not None:
        ended = _parse_time(exit_record.get("ended_at"))
        code = int(exit_record.get("returncode", 1))
        if code == 0:
            return Outcome(JobStatus.SUCCEEDED, None, ended)
        if cancel is not None:
            return Outcome(JobStatus.CANCELED, "cancelled", ended)
        how = f"killed by {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals() \
            else f"exit code {code}"
        return Outcome(JobStatus.FAILED, f"{how}: {last_error(info.log_path) or 'see train.log'}", ended)
    alive = group_alive(info.pid, info.start_ticks, info.boot_id) if info.pid else False
    if alive:
        return Outcome(JobStatus.CANCELING if cancel else JobStatus.RUNNING, None, None, True)
    if info.adopted:  # no supervisor: judge by what the trainer left
        ended = _mtime(info.log_path) or _mtime(run_dir / "trainer_state.json")
        state = TrainerState.read(find_trainer_state(info.state_dir))
        if _summary_in_log(info.log_path) or (state and state.max_steps and state.global_step >= state.max_steps):
            return Outcome(JobStatus.SUCCEEDED, None, ended)
        if cancel is not None:
            return Outcome(JobStatus.CANCELED, "cancelled", ended)
        error = last_error(info.log_path)
        if error:
            return Outcome(JobStatus.FAILED, error, ended)
        if info.pid == 0 and ended and time.time() - ended.timestamp() < 120:
            return Outcome(JobStatus.RUNNING, "adopted: written to in the last 2 minutes, no process found")
        return Outcome(JobStatus.UNKNOWN, "adopted run: not running, and it left no final summary", ended)
    if cancel is not None:
        return Outcome(JobStatus.CANCELED, "cancelled", _parse_time(cancel.get("at")))
    return Outcome(JobStatus.FAILED, "the run's processes are gone and left no exit record (killed with "
                   "SIGKILL, out of memory, or the machine restarted); see train.log", _mtime(info.log_path))


def _parse_time(value) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime)
    except OSError:
        return None


# -- cancel ---------------------------------------------------------------------------------------------


def request_cancel(info: RunInfo) -> bool:
    """Note the cancel, then SIGINT the whole process group. False when nothing was running."""
    _write_json(info.run_dir / "cancel.json", {"at": datetime.now().isoformat(timespec="seconds")})
    return signal_group(info, signal.SIGINT)


def signal_group(info: RunInfo, sig: int) -> bool:
    if info.pid <= 1 or not group_alive(info.pid, info.start_ticks, info.boot_id):
        return False
    try:
        os.killpg(info.pid, sig) if not info.adopted else os.kill(info.pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError as err:
        raise RunError(f"not allowed to signal pid {info.pid} ({err.strerror}); it belongs to another user") \
            from None
    return True


# -- the log as lines -----------------------------------------------------------------------------------


class LogLines:
    """A growing log read incrementally as the lines a terminal would show.

    Progress bars redraw with ``\\r``: of each ``\\n``-terminated line only the last drawing is kept, and
    when a bar was overdrawn by a message (tqdm writes the Trainer's dicts that way) the bar's last state
    comes first, so the parser still sees progress. A line still being written is never returned.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.position = 0
        self.lines: list[str] = []
        self._inode: int | None = None

    def refresh(self) -> list[str]:
        try:
            stat = self.path.stat()
        except OSError:
            return []
        if self._inode is not None and (stat.st_ino != self._inode or stat.st_size < self.position):
            self.position, self.lines = 0, []  # replaced or truncated (a relaunch): start over
        self._inode = stat.st_ino
        if stat.st_size <= self.position:
            return []
        fresh: list[str] = []
        with open(self.path, "rb") as handle:  # in blocks: a re-attach to a 1 GB log never holds it whole
            handle.seek(self.position)
            pending = b""
            while self.position + len(pending) < stat.st_size:
                block = pending + handle.read(min(BLOCK, stat.st_size - self.position - len(pending)))
                end = block.rfind(b"\n")
                if end < 0:
                    if len(block) == len(pending):
                        break
                    pending = block
                    continue
                fresh += [line for raw in block[:end].split(b"\n") for line in visible(raw.decode("utf-8", "replace"))]
                self.position += end + 1
                pending = block[end + 1:]
        self.lines.extend(fresh)
        return fresh


def visible(raw: str) -> Iterable[str]:
    segments = [s.rstrip() for s in raw.split("\r") if s.strip()]
    if not segments:
        return [""] if not raw.strip("\r") else []
    last = segments[-1]
    if BAR.search(last):
        return [last.strip()]
    bars = [s for s in segments[:-1] if BAR.search(s)]
    return [bars[-1].strip(), last] if bars else [last]


# -- trainer_state.json ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainerState:
    global_step: int
    max_steps: int
    epoch: float | None
    log_history: list[dict]

    @classmethod
    def read(cls, path: Path | None) -> "TrainerState | None":
        data = _read_json(path) if path else None
        if data is None:
            return None
        history = [h for h in data.get("log_history") or [] if isinstance(h, dict)]
        return cls(int(data.get("global_step") or 0), int(data.get("max_steps") or 0), data.get("epoch"), history)

    def metrics_at(self, step: int) -> dict:
        found: dict = {}
        for entry in self.log_history:
            if entry.get("step") == step:
                found.update({k: v for k, v in entry.items() if k in ("loss", "eval_loss", "learning_rate", "epoch")})
        return found

    def as_log_lines(self) -> list[str]:
        """The history in the Trainer's own printed form, with step and total (what core.logparse reads)."""
        return [repr({**entry, "total_steps": self.max_steps}) for entry in self.log_history]


def find_trainer_state(folder: Path) -> Path | None:
    """The folder's own trainer_state.json, else the newest checkpoint's (what the Trainer writes)."""
    own = folder / "trainer_state.json"
    if own.is_file():
        return own
    checkpoints = sorted(folder.glob("**/checkpoint-*/trainer_state.json"), key=_step_of)
    return checkpoints[-1] if checkpoints else None


def _step_of(path: Path) -> int:
    tail = path.parent.name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def checkpoints(folder: Path) -> list[Path]:
    return sorted((p for p in folder.glob("**/checkpoint-*") if p.is_dir() and _step_of(p / "x") >= 0),
                  key=lambda p: _step_of(p / "x"))


# -- adoption -------------------------------------------------------------------------------------------


def writers_of(path: Path) -> list[int]:
    """PIDs of processes holding ``path`` open (Linux /proc), e.g. the training writing its log."""
    target = str(path.resolve())
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) == target:
                    found.append(int(entry.name))
                    break
        except OSError:
            continue
    return sorted(found)


def adopt(target: Path, run_dir: Path) -> RunInfo:
    """Make ``run_dir`` the record of a run started by hand: ``target`` is its log file or output folder.

    The log (given, or the newest *.log / *.out in the folder) is watched where it is; the PID is the
    process holding the log open, if one still does. Nothing of the original run is moved or changed.
    """
    target = Path(target).expanduser().resolve()
    if not target.exists():
        raise RunError(f"{target}: no such file or folder; point at the run's log file or its output folder")
    if target.is_file():
        log, folder = target, target.parent
    else:
        folder = target
        logs = sorted((p for pattern in ("*.log", "*.out", "nohup.out") for p in folder.glob(pattern)),
                      key=lambda p: p.stat().st_mtime)
        log = logs[-1] if logs else None
        if log is None and find_trainer_state(folder) is None:
            raise RunError(f"{folder}: neither a log file (*.log, *.out) nor a trainer_state.json in it; point at "
                           "the log file the run writes")
    pids = writers_of(log) if log else []
    pid = pids[0] if pids else 0
    run_dir.mkdir(parents=True, exist_ok=True)
    info = RunInfo(run_dir, str(log) if log else str(run_dir / "train.log"), pid, start_ticks(pid) if pid else None,
                   boot_id(), [], datetime.now().isoformat(timespec="seconds"), adopted=True,
                   output_dir=str(folder))
    _write_json(run_dir / "config.json", {"recipe": "adopted", "adopted_from": str(target),
                                          "output_dir": str(folder), "model": ""})
    info.write()
    return info
