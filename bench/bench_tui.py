"""What a person feels in a real terminal: from process start (or a key press) to text on screen, in tmux.

    python bench/bench_tui.py [--runs 5] [--size 80x24] [--baseline DIR] [--settle 2]

--baseline DIR: also time the app whose `bailian_tui` package sits in DIR (e.g. an export of main laid out
as DIR/bailian_tui/{core,tui,simulator}), interleaved run by run with this one, and print the ratios —
on a shared, busy machine only same-run ratios mean much.

Runs `bailian-tui --demo` (self-contained: the built-in simulator) and times, per run, the first frame and
then each step of a tour — a key, and the text that shows the step is done. Prints the median of each step.
Uses bench/tmux_time.py (a copy of the shared helper) for the pane reading.

Both trees are byte-compiled first (`precompile`): an installed copy runs from its .pyc files (pip compiles
them at install; an editable install writes them on its first run), but with PYTHONDONTWRITEBYTECODE set —
as on the shared machine, whose tmux server passes it on — every launch recompiled the project's modules from
source, ~0.2–0.35 s that no user pays.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from tmux_time import screen, wait_for  # noqa: E402

# (label, keys, text that proves the step is on screen); text must not be on screen before the keys.
TOUR = [
    ("first visit: New job", "n", "training type"),
    ("first visit: Datasets", "d", "Pick a file"),
    ("first visit: Files", "f", "file_id"),
    ("first visit: Deployments", "p", "deployed model"),
    ("return: Jobs", "j", "job id"),
    ("return: New job", "n", "training type"),
    ("return: Jobs again", "j", "job id"),
    ("return: Datasets", "d", "Pick a file"),
    ("return: Files", "f", "file_id"),
    ("return: Deployments", "p", "deployed model"),
    ("return: Jobs, third", "j", "job id"),
]


def precompile(root: Path | str) -> None:
    """Byte-compile the app's packages under ``root`` (this checkout, or a baseline laid out as bailian_tui/)."""
    root = Path(root)
    folders = [root / name for name in ("bailian_tui", "core", "tui", "simulator", "cli") if (root / name).is_dir()]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *map(str, folders)], check=True, stdout=subprocess.DEVNULL)


ROOT = Path(__file__).resolve().parents[1]


def end_session(session: str) -> None:
    """Kill a run's tmux session, and the app with it. The app catches the SIGHUP, but with its terminal gone it
    can hang in Textual's driver shutdown and live on as an orphan (reported; seen on main too): after 3 s the
    pane's process group is killed, so no run leaves a process behind to load the next ones."""
    import signal

    pane = subprocess.run(["tmux", "display-message", "-p", "-t", session, "#{pane_pid}"], capture_output=True, text=True)
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    if not pane.stdout.strip().isdigit():
        return
    group, deadline = int(pane.stdout.strip()), time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


@contextlib.contextmanager
def scratch(prefix: str):
    """A state folder for one run. The app ends a moment after its tmux session is killed (SIGHUP, then its
    demo's local run is stopped), still writing there: removal is retried until it is gone (≤ 10 s)."""
    folder = tempfile.mkdtemp(prefix=prefix)
    try:
        yield folder
    finally:
        deadline = time.monotonic() + 10
        while os.path.exists(folder) and time.monotonic() < deadline:
            shutil.rmtree(folder, ignore_errors=True)
            if os.path.exists(folder):
                time.sleep(0.2)


def one_run(size: str, state: Path, pythonpath: str | None = None, settle: float = 2.0) -> dict[str, float]:
    session = f"bt-{uuid.uuid4().hex[:8]}"
    cols, rows = size.split("x")
    env = [f"{k}={v}" for k, v in os.environ.items() if k in ("PATH", "HOME", "VIRTUAL_ENV")]
    env += [f"XDG_CONFIG_HOME={state / 'cfg'}", f"BAILIAN_TUI_STATE_DIR={state}", "TERM=xterm-256color"]
    if pythonpath:
        env.append(f"PYTHONPATH={pythonpath}")
    command = f"{sys.executable} -m bailian_tui --demo; sleep 60"
    start = time.perf_counter()
    for attempt in range(3):  # a tmux server that is just starting sometimes refuses the first session
        # Started in the state folder, never the checkout: `python -m bailian_tui` puts the working folder first
        # on sys.path, so from the repository root the --baseline run would import this checkout, not DIR.
        if subprocess.run(["tmux", "new-session", "-d", "-s", session, "-c", str(state), "-x", cols, "-y", rows,
                           "env", *env, "sh", "-c", command], capture_output=True).returncode == 0:
            break
        time.sleep(0.2)
        start = time.perf_counter()
    results: dict[str, float] = {}
    try:
        first = wait_for(session, "job id", start, 15)
        if first is None:
            raise SystemExit("the first frame never came")
        results["first frame (launch → job list header)"] = first
        time.sleep(settle)  # a person reading the list; the SDK and tokenizer load meanwhile (--settle)
        for label, keys, text in TOUR:
            if text in screen(session):  # the previous screen must be gone first
                raise SystemExit(f"{label}: {text!r} already on screen")
            subprocess.run(["tmux", "send-keys", "-t", session, keys], check=True)
            sent = time.perf_counter()
            took = wait_for(session, text, sent, 15)
            if took is None:
                raise SystemExit(f"{label}: {text!r} never appeared")
            results[label] = took
            time.sleep(0.5)
    finally:
        end_session(session)
    return results


def check_baseline(baseline: str) -> None:
    """Refuse a baseline that would not be measured: DIR must hold the `bailian_tui` the baseline runs import
    (an editable install of this checkout is found first unless DIR's package is complete)."""
    with tempfile.TemporaryDirectory(prefix="bench-tui-") as where:
        found = subprocess.run([sys.executable, "-c", "import bailian_tui.tui; print(bailian_tui.tui.__file__)"],
                               cwd=where, env={**os.environ, "PYTHONPATH": baseline}, capture_output=True, text=True)
    tui = Path(found.stdout.strip() or "?").resolve()
    if not tui.is_relative_to(Path(baseline).resolve()):
        raise SystemExit(f"--baseline {baseline}: the baseline would import {tui}, not its own copy (lay it out "
                         "as DIR/bailian_tui/{core,tui,simulator,cli})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", default="80x24")
    parser.add_argument("--baseline", default=None)
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds between the first frame and the first key (default 2: on a busy machine the "
                             "SDK and tokenizer may still be loading then; a larger value times the visits alone)")
    args = parser.parse_args()
    precompile(ROOT)
    if args.baseline:
        check_baseline(args.baseline)
        precompile(args.baseline)
    runs: list[dict[str, float]] = []
    base: list[dict[str, float]] = []
    for n in range(args.runs):
        with scratch("bench-tui-") as state:
            runs.append(one_run(args.size, Path(state), settle=args.settle))
        print(f"run {n + 1}: " + ", ".join(f"{v:.3f}" for v in runs[-1].values()), flush=True)
        if args.baseline:
            with scratch("bench-tui-") as state:
                base.append(one_run(args.size, Path(state), args.baseline, args.settle))
            print(f"base {n + 1}: " + ", ".join(f"{v:.3f}" for v in base[-1].values()), flush=True)
    print(f"# {os.cpu_count()} cores · Python {sys.version.split()[0]} · {time.strftime('%Y-%m-%d')} · {args.size}"
          f" · load {os.getloadavg()[0]:.1f} · first key {args.settle:g} s after the first frame")
    for label in runs[0]:
        ours = statistics.median(r[label] for r in runs)
        line = f"{label:42s} median {ours * 1000:6.0f} ms"
        if base:
            theirs = statistics.median(b[label] for b in base)
            line += f"   baseline {theirs * 1000:6.0f} ms   ratio {theirs / ours:4.2f}x"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
