"""An interrupted create, many times per mode: kill a real ``bailian-tui`` create during its POST, run the
same command again → exactly one job / upload / deployment, and no intent left open — in each of N runs.

Each command is a real process forked by a zygote that has the CLI imported (tests/zygote.py): the same
entry point as ``python -m bailian_tui``, real signals, real exit statuses, without paying a Python start-up
per command. tests/test_interrupted.py keeps the genuine-subprocess runs of the console entry point.

Modes: what is created (a job from an uploaded file id; an upload, through ``jobs create`` with a local
file; a deployment) × the signal (SIGKILL: nothing runs; SIGHUP: the CLI unwinds and exits 129) × what the
server does with the request it received (commits it, as a real server does for a request already read; or
loses it: then the re-run must find nothing and make it once). The runs of one mode share one simulator and
one store, as a user's would: every run's count is checked against all earlier ones.

N is 10 in the suite (12 modes × 10 runs × two commands, ~40 s on a busy 2-core machine); the issue's
≥ 50 per mode: ``pytest tests/test_interrupted_many.py --interrupted-runs 50 -rP`` (~3 min; each mode prints
its figures; docs/benchmarks.md has the last run's).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import pytest

from bailian_tui.core.platform import Platform, RetryPolicy
from bailian_tui.core.store import Store
from bailian_tui.simulator import SimConfig
from tests.conftest import ROOT, TEST_KEY, no_sleep, write_chatml
from tests.zygote import Zygote

HOLD = {"job": "/fine-tunes", "upload": "/files", "deployment": "/deployments"}
MADE = {"job": "job", "upload": "file", "deployment": "deployment"}


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    with Zygote(ROOT, tmp_path_factory.mktemp("zygote")) as z:
        yield z


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(max_deployments=10_000)  # one deployment per run, all kept


@pytest.fixture
def runs(request) -> int:
    return request.config.getoption("--interrupted-runs")


def _upload(sim, path):
    async def go():
        async with Platform(api_key=TEST_KEY, base_url=sim.base_url, retry=RetryPolicy(), sleep=no_sleep) as p:
            return await p.upload_file(path)
    return asyncio.run(go())


@pytest.mark.parametrize("server", ["commits", "loses"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGHUP], ids=["SIGKILL", "SIGHUP"])
@pytest.mark.parametrize("what", ["job", "upload", "deployment"])
def test_killed_create_then_again_makes_exactly_one_every_time(sim, zygote, tmp_path, runs, what, sig, server):
    state = tmp_path / "state"
    env = {**os.environ, "DASHSCOPE_HTTP_BASE_URL": sim.base_url, "DASHSCOPE_API_KEY": TEST_KEY,
           "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "BAILIAN_TUI_STATE_DIR": str(state)}
    if server == "loses":
        # Nothing will ever land: the re-run looks for the lost create over a short window, then makes it.
        config = tmp_path / "cfg" / "bailian-tui" / "config.yaml"
        config.parent.mkdir(parents=True)
        config.write_text("dashscope:\n  reconcile_window: 0.1\n")
    sim.hold_commits = server == "commits"
    file_id = _upload(sim, write_chatml(tmp_path / "ids.jsonl")).file_id if what == "job" else None
    made = {"job": sim.state.jobs, "upload": sim.state.files, "deployment": sim.state.deployments}[what]
    before, started = len(made), time.perf_counter()
    for run in range(1, runs + 1):
        if what == "deployment":
            argv = ["deployments", "create", "qwen3-8b", "--suffix", f"r{run}", "--yes", "--json"]
        else:
            training = file_id or write_chatml(tmp_path / f"train-{run}.jsonl", prefix=f"r{run}-")
            spec = tmp_path / f"job-{run}.yaml"
            spec.write_text(f"model: qwen3-8b\ntraining_files: [{training}]\n"
                            "hyper_parameters: {n_epochs: 1, batch_size: 8}\n")
            argv = ["jobs", "create", spec, "--yes", "--json"]
        where = f"{what}/{sig.name}/{server} run {run}"

        sim.hold_path = HOLD[what]
        sim.create_arrived.clear()
        sim.release.clear()
        first = zygote.spawn(argv, env)
        try:
            # The POST is on its way (or the command ended before sending it: say why, at once).
            while not sim.create_arrived.wait(0.05):
                assert first.poll() is None, f"{where}: ended with {first.code} before its POST: {first.output()}"
            first.send_signal(sig)
        finally:
            code = first.wait()
        # SIGKILL: the process ends at once; SIGHUP: the CLI unwinds and says so with 128 + 1.
        assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 129), f"{where}: exit {code}"
        stdout, stderr = first.output()
        assert "Traceback" not in stderr and stdout == "", f"{where}: {stdout!r} {stderr!r}"
        sim.hold_path = None
        sim.release.set()  # the server acts on the request it received (or loses it), the client being gone

        again = zygote.run(argv, env)
        assert again.returncode == 0, f"{where}: {again.stderr}"
        assert "Traceback" not in again.stderr
        out = json.loads(again.stdout)
        ident = out["deployed_model"] if what == "deployment" else out["job_id"]
        if server == "commits":
            assert f"already made {MADE[what]}" in again.stderr, f"{where}: {again.stderr}"
        else:
            assert "already made" not in again.stderr, f"{where}: {again.stderr}"
        assert len(made) == before + run, f"{where}: {len(made) - before} {MADE[what]}s made in {run} runs"
        if what == "upload":
            assert len(sim.state.jobs) == run, f"{where}: {len(sim.state.jobs)} jobs for {run} uploads"
            used = {f for job in list(sim.state.jobs.values()) for f in job.training_file_ids}
            assert used == set(sim.state.files), f"{where}: a file no job uses, or a job on a file not made"
        else:
            assert ident in made

        # Every intent the two commands wrote is settled: none left open for a later run to trip over.
        intents = Store(state / "state.db", endpoint=sim.base_url).intents()
        open_ = [i for i in intents if i.open]
        assert not open_, f"{where}: intents left open: {open_}"
        kind = "upload" if what == "upload" else what
        settled = sorted(i.state for i in intents if i.kind == kind)
        expected = ["created"] * run if server == "commits" else ["absent"] * run + ["created"] * run
        assert settled == expected, f"{where}: {settled}"
    print(f"{what}/{sig.name}/server {server}: {runs} runs, {len(made) - before} {MADE[what]}s made, "
          f"0 duplicates, 0 intents left open, {time.perf_counter() - started:.1f} s")
