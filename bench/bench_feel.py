"""The rest of issue 12's speed targets, timed as a person sees them (tmux pane text), medians of --runs:

    python bench/bench_feel.py [--runs 5] [--size 120x40] [--file BIG.jsonl] [--baseline DIR]

- `bailian-tui FILE` on a big JSONL file (make one with --make-file SIZE_MB): process start → the first
  record's text in the preview (target ≤ 0.9 s for 400 MB);
- moving in the record list: Down → the next record's number in the preview, 20 presses, p95 (≤ 50 ms);
- a key during start-up: the first frame is up, `?` at once → the help text (≤ 100 ms);
- the log view of a job with 1,000+ lines: `l` → "N lines" with N the log's length (≤ 0.3 s).

The log case runs against a simulator in its own process holding one finished job with a long log (pointed at
through DASHSCOPE_BASE_URL/DASHSCOPE_API_KEY, as a user would). --baseline DIR times the app whose
`bailian_tui` package sits in DIR, interleaved run by run (see bench_tui.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_tui import end_session, precompile, scratch  # noqa: E402
from tmux_time import screen, wait_for  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-bench-feel-0000"
SERVER = """
import sys
from bailian_tui.simulator import SimClock, SimConfig, SimServer, SimState
from bailian_tui.core.platform import JobRequest
config = SimConfig(pending_seconds=0, epoch_seconds=5)
state = SimState(SimClock(manual=True), config, api_key=sys.argv[2])
lines = "".join('{"messages": [{"role": "user", "content": "q%d"}, {"role": "assistant", "content": "a%d"}]}\\n' % (i, i)
                for i in range(400))
remote = state.upload("train.jsonl", lines.encode(), "bench")
job = state.create_job({"model": "qwen3-8b", "training_file_ids": [remote.file_id], "training_type": "sft",
                        "hyper_parameters": {"n_epochs": 22, "batch_size": 8, "logging_steps": 1, "eval_steps": 5}})
state.clock.advance(10_000)
total = len(state.visible_log(state.job(job.job_id)))
server = SimServer(state, port=0).start()
print(server.base_url, total, flush=True)
sys.stdin.read()
server.stop()
"""


def start(session: str, size: str, command: str, env: dict[str, str]) -> float:
    cols, rows = size.split("x")
    keep = [f"{k}={v}" for k, v in os.environ.items() if k in ("PATH", "HOME", "VIRTUAL_ENV")]
    keep += [f"{k}={v}" for k, v in env.items()] + ["TERM=xterm-256color"]
    began = time.perf_counter()
    for _ in range(3):
        # Started in a neutral folder: `python -m bailian_tui` puts the working folder first on sys.path, so from
        # the repository root a --baseline run would import this checkout (bench_tui.py does the same).
        if subprocess.run(["tmux", "new-session", "-d", "-s", session, "-c", "/", "-x", cols, "-y", rows, "env", *keep,
                           "sh", "-c", command + "; sleep 60"], capture_output=True).returncode == 0:
            return began
        time.sleep(0.2)
        began = time.perf_counter()
    raise SystemExit("tmux would not start")


def keys(session: str, *names: str) -> float:
    subprocess.run(["tmux", "send-keys", "-t", session, *names], check=True)
    return time.perf_counter()


def kill(session: str) -> None:
    end_session(session)


def app_env(state: Path, pythonpath: str | None) -> dict[str, str]:
    env = {"XDG_CONFIG_HOME": str(state / "cfg"), "BAILIAN_TUI_STATE_DIR": str(state)}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return env


def big_file_run(size: str, path: Path, first_text: str, pythonpath: str | None) -> dict[str, float]:
    session = f"bf-{uuid.uuid4().hex[:8]}"
    out: dict[str, float] = {}
    with scratch("bench-feel-") as state:
        began = start(session, size, f"{sys.executable} -m bailian_tui --demo {path}", app_env(Path(state), pythonpath))
        try:
            took = wait_for(session, first_text, began, 30)
            if took is None:
                raise SystemExit(f"the first record ({first_text!r}) never showed")
            out["big file: launch → first record"] = took
            time.sleep(1.0)
            moves = []
            for n in range(2, 22):
                sent = keys(session, "Down")
                took = wait_for(session, f"line {n} ·", sent, 10)
                if took is None:
                    raise SystemExit(f"record {n} never showed")
                moves.append(took)
                time.sleep(0.05)
            moves.sort()
            out["record list: Down → next record (p95)"] = moves[int(len(moves) * 0.95) - 1]
            out["record list: Down → next record (median)"] = statistics.median(moves)
        finally:
            kill(session)
    return out


def startup_key_run(size: str, pythonpath: str | None) -> dict[str, float]:
    session = f"bk-{uuid.uuid4().hex[:8]}"
    with scratch("bench-feel-") as state:
        began = start(session, size, f"{sys.executable} -m bailian_tui --demo", app_env(Path(state), pythonpath))
        try:
            if wait_for(session, "job id", began, 30) is None:
                raise SystemExit("no first frame")
            sent = keys(session, "?")
            took = wait_for(session, "every action is also", sent, 10)
            if took is None:
                raise SystemExit("the help never showed: " + screen(session)[:400])
            return {"key during start-up: ? → help": took}
        finally:
            kill(session)


def log_run(size: str, base_url: str, total: int, pythonpath: str | None) -> dict[str, float]:
    session = f"bl-{uuid.uuid4().hex[:8]}"
    with scratch("bench-feel-") as state:
        env = app_env(Path(state), pythonpath) | {"DASHSCOPE_BASE_URL": base_url, "DASHSCOPE_API_KEY": KEY}
        began = start(session, size, f"{sys.executable} -m bailian_tui", env)
        try:
            if wait_for(session, "SUCCEEDED", began, 30) is None:
                raise SystemExit("no job row: " + screen(session)[:600])
            time.sleep(1.5)
            sent = keys(session, "l")
            took = wait_for(session, f"{total:,} lines", sent, 10)
            if took is None:
                raise SystemExit("the log never showed: " + screen(session)[:600])
            return {f"log view: l → {total:,} lines shown": took}
        finally:
            kill(session)


def make_file(path: Path, megabytes: int) -> None:
    source = (ROOT / "datasets/MedQA/questions/Mainland/4_options/test.jsonl").read_text(encoding="utf-8").splitlines()
    target, size, n = megabytes * 1024 * 1024, 0, 0
    with open(path, "w", encoding="utf-8") as handle:
        while size < target:
            record = json.loads(source[n % len(source)])
            record["question"] = f"#{n + 1} " + record["question"]  # every record says its number
            line = json.dumps(record, ensure_ascii=False) + "\n"
            handle.write(line)
            size += len(line.encode())
            n += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", default="120x40")
    parser.add_argument("--file", default=None, help="a big JSONL file made by --make-file")
    parser.add_argument("--make-file", type=int, default=0, metavar="MB")
    parser.add_argument("--baseline", default=None)
    args = parser.parse_args()
    if args.make_file:
        make_file(Path(args.file), args.make_file)
    precompile(ROOT)  # as an installed copy runs (see bench_tui.py)
    if args.baseline:
        precompile(args.baseline)
    server = subprocess.Popen([sys.executable, "-c", SERVER, "0", KEY], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=ROOT)
    base_url, total = server.stdout.readline().split()
    variants = [("ours", None)] + ([("base", args.baseline)] if args.baseline else [])
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in variants}
    try:
        for n in range(args.runs):
            for name, pythonpath in variants:
                row: dict[str, float] = {}
                if args.file:
                    row |= big_file_run(args.size, Path(args.file), "#1 ", pythonpath)
                row |= startup_key_run(args.size, pythonpath)
                row |= log_run(args.size, base_url, int(total), pythonpath)
                results[name].append(row)
                print(f"{name} {n + 1}: " + ", ".join(f"{v:.3f}" for v in row.values()), flush=True)
    finally:
        server.stdin.close()
        server.wait(timeout=10)
    print(f"# {os.cpu_count()} cores · Python {sys.version.split()[0]} · {time.strftime('%Y-%m-%d')} · {args.size}"
          f" · load {os.getloadavg()[0]:.1f}")
    for label in results["ours"][0]:
        ours = statistics.median(r[label] for r in results["ours"])
        line = f"{label:44s} median {ours * 1000:6.0f} ms"
        if args.baseline:
            theirs = statistics.median(r[label] for r in results["base"])
            line += f"   baseline {theirs * 1000:6.0f} ms   ratio {theirs / ours:4.2f}x"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
