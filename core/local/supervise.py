"""The run's session leader: starts the training command, waits for it, writes how it ended.

Started detached by :func:`bailian_tui.core.local.runs.launch` as ``python supervise.py RUN_DIR LOG --
COMMAND…`` in a new session, so closing the app or losing the SSH connection touches neither it nor the
training (no controlling terminal; SIGHUP ignored). It only waits: SIGINT/SIGTERM sent to the process
group reach the training directly, this process notes them and keeps waiting, and when the training
exits it writes ``exit.json`` (return code, signal, time) atomically — so the app, whenever it looks
again, knows the outcome even though it was not the parent. Standard library only, by design: it runs
under whatever Python started the app and imports nothing of it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print("usage: supervise.py RUN_DIR LOG -- COMMAND…", file=sys.stderr)
        return 2
    run_dir, log_name, command = argv[0], argv[1], argv[3:]
    received: list[int] = []
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # inherited by the training: it survives a dropped session
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: received.append(signum))
    log_path = os.path.join(run_dir, log_name)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        with open(log_path, "ab", buffering=0) as log:
            child = subprocess.Popen(command, cwd=run_dir, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, env=env)
    except OSError as err:
        with open(log_path, "ab") as log:
            log.write(f"bailian-tui: cannot start {command[0]}: {err.strerror}\n".encode())
        _write_exit(run_dir, 127, None, received)
        return 127
    returncode = child.wait()  # PEP 475: signals interrupt nothing here, the handlers just take notes
    _write_exit(run_dir, returncode, -returncode if returncode < 0 else None, received)
    return 0


def _write_exit(run_dir: str, returncode: int, by_signal: int | None, received: list[int]) -> None:
    record = {"returncode": returncode, "signal": by_signal,
              "signals_received": [signal.Signals(s).name for s in received],
              "ended_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    temp = os.path.join(run_dir, ".exit.json.tmp")
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, os.path.join(run_dir, "exit.json"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
