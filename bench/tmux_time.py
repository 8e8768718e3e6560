# Copied from the shared tools folder beside the project (tools/tmux_time.py, 2026-11-22) so that bench/ reads nothing
# outside the repository. Unchanged below this note.
#!/usr/bin/env python3
"""Time what a person sees: from starting a command in a fresh tmux pane to a text appearing on screen.

    tmux_time.py [--size 120x40] [--runs 5] [--timeout 15] [--keys KEYS --then TEXT] -- TEXT COMMAND...

Prints one line per run and the median. With --keys, once TEXT is on screen the keys are sent
(tmux send-keys syntax, space-separated, e.g. "n" or "C-p Jobs Enter") and the time until --then TEXT
appears is measured too. Exit status 1 if the text never appears.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time
import uuid


def screen(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout


def wait_for(session: str, text: str, start: float, timeout: float) -> float | None:
    while time.perf_counter() - start < timeout:
        if text in screen(session):
            return time.perf_counter() - start
        time.sleep(0.01)
    return None


def one_run(args: argparse.Namespace) -> tuple[float | None, float | None]:
    session = f"tt-{uuid.uuid4().hex[:8]}"
    cols, rows = args.size.split("x")
    command = " ".join(shlex.quote(c) for c in args.command) + "; sleep 60"
    start = time.perf_counter()
    # The caller's environment travels with the command (a running tmux server would otherwise lend its own).
    keep = [f"{k}={v}" for k, v in os.environ.items()
            if k in ("PATH", "HOME", "VIRTUAL_ENV", "NO_COLOR", "COLUMNS") or k.startswith(("XDG_", "DASHSCOPE_", "OPENAI_"))]
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", cols, "-y", rows,
                    "env", *keep, "TERM=xterm-256color", "sh", "-c", command], check=True)
    try:
        first = wait_for(session, args.text, start, args.timeout)
        then = None
        if first is not None and args.keys:
            subprocess.run(["tmux", "send-keys", "-t", session, *args.keys.split()], check=True)
            sent = time.perf_counter()
            after = wait_for(session, args.then, sent, args.timeout)
            then = after
        return first, then
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="120x40")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=15.0)
    parser.add_argument("--keys", default="")
    parser.add_argument("--then", default="")
    parser.add_argument("text")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if not args.command or (args.keys and not args.then):
        parser.error("need TEXT and COMMAND (and --then with --keys)")
    firsts, thens = [], []
    for n in range(args.runs):
        first, then = one_run(args)
        if first is None:
            print(f"run {n + 1}: {args.text!r} not on screen after {args.timeout} s")
            return 1
        firsts.append(first)
        line = f"run {n + 1}: {args.text!r} after {first:.3f} s"
        if args.keys:
            if then is None:
                print(line + f"; {args.then!r} not on screen after the keys")
                return 1
            thens.append(then)
            line += f"; {args.then!r} {then:.3f} s after the keys"
        print(line)
    summary = f"median: {statistics.median(firsts):.3f} s to {args.text!r}"
    if thens:
        summary += f"; {statistics.median(thens):.3f} s from the keys to {args.then!r}"
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
