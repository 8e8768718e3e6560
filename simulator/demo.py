"""Demo content: files, jobs in every state (one RUNNING), a RUNNING deployment, and the answer key —
on the simulated Bailian (DashScope) and, beside it, a simulated XPULink (OpenAI-compatible) service.

Seeding replays history on the simulator's own clock — it winds the clock back, creates and cancels
things at the moments they would have happened, and winds it forward again — so every object comes out
of the same state machine a client drives, not out of hand-written fixtures.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path


DEMO_KEY = "sk-bailian-tui-demo"
XPULINK_LABEL, BAILIAN_LABEL = "XPULink (simulated)", "Bailian (simulated)"
# The LoRA extension XPULink's example sends (shared/reference/openai-ft-api.md).
XPULINK_EXTRA = ["learning_rate", "lora_r", "lora_alpha", "lora_dropout"]

# What a user's conversion of MedQA uploads: the documented ChatML sample (system prompt, "选项：" layout,
# "答案是 X. text"). Written here rather than imported from the client, which the simulator never imports;
# tests/test_contracts.py checks it equals the client's converter output.
_SYSTEM = "你是一个专业的医学助手，擅长回答医学选择题。请根据题目和选项，给出正确答案。"


def medqa_chatml_lines(records) -> list[str]:
    lines = []
    for record in records:
        options = record["options"]
        idx = str(record["answer_idx"]).strip()
        user = f"{str(record['question']).strip()}\n\n选项：\n" + "\n".join(f"{k}. {v}" for k, v in options.items())
        lines.append(json.dumps({"messages": [
            {"role": "system", "content": _SYSTEM}, {"role": "user", "content": user},
            {"role": "assistant", "content": f"答案是 {idx}. {record.get('answer') or options[idx]}"}]},
            ensure_ascii=False))
    return lines


def datasets_root() -> Path:
    """The shipped samples, wherever the app is launched from (editable install or a checkout)."""
    here = Path(__file__).resolve().parents[1] / "datasets"
    return here if here.is_dir() else Path.cwd() / "datasets"


def _medqa_chatml(path: Path) -> bytes:
    records = [json.loads(raw) for raw in path.read_text(encoding="utf-8").splitlines() if raw.strip()]
    return ("\n".join(medqa_chatml_lines(records)) + "\n").encode()


def load_knowledge(state, root: Path) -> None:
    """The right answers of the shipped MedQA splits, so that evaluations have something to measure."""
    for path in sorted((root / "MedQA").rglob("*.jsonl")):
        for raw in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(raw)
                state.knowledge[" ".join(str(record["question"]).split())] = str(record["answer_idx"])
            except (ValueError, KeyError, TypeError):
                continue


def seed(state: SimState, root: Path | None = None) -> None:
    root = root or datasets_root()
    mainland = root / "MedQA/questions/Mainland/4_options"
    clock = state.clock
    load_knowledge(state, root)
    train = _medqa_chatml(mainland / "train.jsonl")
    dev = _medqa_chatml(mainland / "dev.jsonl")
    broken = train.replace(b'"role": "assistant"', b'"role": "bot"', 1)

    clock.advance(-7200)
    f_train = state.upload("mainland_4opt_train.jsonl", train, "MedQA Mainland 4-option, train")
    f_dev = state.upload("mainland_4opt_dev.jsonl", dev, "MedQA Mainland 4-option, dev")
    f_bad = state.upload("mainland_4opt_train_v0.jsonl", broken, "first attempt: a role typo")
    hp = {"n_epochs": 3, "batch_size": 8, "learning_rate": 1e-5, "max_length": 2048}

    def create(model: str, files: list[str], training_type: str = "sft", validation: list[str] = (),
               **extra) -> str:
        body = {"model": model, "training_file_ids": files, "validation_file_ids": list(validation),
                "training_type": training_type, "hyper_parameters": {**hp, **extra}}
        return state.create_job(body).job_id

    done = create("qwen3-8b", [f_train.file_id])
    clock.advance(600)
    create("qwen3-8b", [f_bad.file_id])
    clock.advance(600)
    canceled = create("qwen3-14b", [f_train.file_id], "efficient_sft", learning_rate=1e-4, lora_rank=64)
    clock.advance(10)  # mid-training, whatever the demo's epoch length
    state.cancel_job(canceled)
    clock.advance(620)
    state.create_deployment({"model_name": state.job(done).finetuned_output, "capacity": 1, "plan": "lora"})
    clock.advance(1200)
    create("qwen2.5-7b-instruct", [f_train.file_id], n_epochs=2)
    clock.advance(7200 - 600 - 600 - 30 - 600 - 1200 - 40)
    # Long enough to watch: 12 epochs run for minutes even on the demo's compressed clock.
    create("qwen3-8b", [f_train.file_id], n_epochs=12, logging_steps=1, eval_steps=2)
    clock.advance(25)
    create("qwen3-14b", [f_train.file_id], validation=[f_dev.file_id])
    clock.advance(14)
    create("qwen3-32b", [f_train.file_id], n_epochs=2)
    clock.advance(1)
    state.job(done)  # settle every job at the present moment


def seed_openai(state, root: Path | None = None) -> None:
    """The XPULink side of the demo: the same MedQA split uploaded, a finished LoRA job on qwen3-32b with
    XPULink's hyper-parameters, a failed one (too few samples) and one still training."""
    root = root or datasets_root()
    mainland = root / "MedQA/questions/Mainland/4_options"
    clock = state.clock
    load_knowledge(state, root)
    train = _medqa_chatml(mainland / "train.jsonl")
    dev = _medqa_chatml(mainland / "dev.jsonl")
    clock.advance(-3600)
    f_train = state.upload("mainland_4opt_train.jsonl", train, "fine-tune")
    f_dev = state.upload("mainland_4opt_dev.jsonl", dev, "fine-tune")
    hp = {"n_epochs": 3, "batch_size": 4, "learning_rate": 5e-5, "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.05}
    state.create_job({"model": "qwen3-32b", "training_file": f_train.id, "validation_file": f_dev.id,
                      "suffix": "medqa-lora", "hyperparameters": hp, "metadata": {"bt_request": "bt-demo-xpu-1"}})
    clock.advance(900)
    state.create_job({"model": "qwen3-32b", "training_file": f_dev.id, "suffix": "too-small",
                      "hyperparameters": hp, "metadata": {"bt_request": "bt-demo-xpu-2"}})
    clock.advance(3600 - 900 - 20)
    # Long enough to watch beside the Bailian one.
    state.create_job({"model": "qwen3-32b", "training_file": f_train.id, "validation_file": f_dev.id,
                      "suffix": "medqa-r16", "metadata": {"bt_request": "bt-demo-xpu-3"},
                      "hyperparameters": {**hp, "n_epochs": 12, "lora_r": 16, "lora_alpha": 32}})
    clock.advance(20)
    state.job(next(iter(state.jobs)))  # settle every job at the present moment


class _BailianFirst:
    """A demo's address is its DashScope side's (what scripts and tests point DASHSCOPE_HTTP_BASE_URL at)."""

    dashscope: object

    @property
    def base_url(self) -> str:
        return self.dashscope.base_url

    @property
    def port(self) -> int:
        return self.dashscope.port


class DemoServer(_BailianFirst):
    """Both simulated services of ``--demo``: ``dashscope`` (Bailian) and ``openai`` (XPULink)."""

    def __init__(self, dashscope, openai) -> None:
        self.dashscope, self.openai = dashscope, openai
        self.state = dashscope.state  # the DashScope side, as before (tests, scripts)

    def stop(self) -> None:
        self.openai.stop()
        self.dashscope.stop()


class _Endpoint:
    def __init__(self, port: int, prefix: str) -> None:
        self.port, self.base_url = port, f"http://127.0.0.1:{port}{prefix}"


class DemoProcess(_BailianFirst):
    """The demo's simulators in a process of their own — ``bailian-tui --demo``, the app.

    Its listening sockets are bound here first, so their URLs are known at once and the app starts while the
    process imports and seeds (a request that comes before it is ready waits in the listen queue); serving
    the app's requests then never takes the app's GIL. It dies with the app: it ends when its stdin closes —
    ``stop``, or the app's end, however it ends (a ``kill -9`` closes the pipe too).
    """

    def __init__(self, speed: float = 1.0) -> None:
        import socket
        import subprocess
        import sys

        listening = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
        try:
            fds = [s.fileno() for s in listening]
            # The same paths SimServer/OpenAISimServer serve under (tests/test_app_demo.py reaches both here).
            self.dashscope = _Endpoint(listening[0].getsockname()[1], "/api/v1")
            self.openai = _Endpoint(listening[1].getsockname()[1], "/v1")
            self._process = subprocess.Popen(
                [sys.executable, "-c", "from bailian_tui.simulator.demo import serve_apart; serve_apart()",
                 repr(float(speed)), *map(str, fds)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=fds)
        finally:
            for s in listening:
                s.close()  # the process holds them now: if it dies, connections are refused, never left hanging

    @property
    def pid(self) -> int:
        return self._process.pid

    def stop(self) -> None:
        import subprocess

        with contextlib.suppress(OSError):
            self._process.stdin.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def serve_apart() -> None:
    """The body of :class:`DemoProcess`: argv is the clock's speed and the two listening sockets."""
    import socket
    import sys

    speed, fds = float(sys.argv[1]), [int(fd) for fd in sys.argv[2:4]]
    servers = start_demo(speed=speed, listening=[socket.socket(fileno=fd) for fd in fds])
    try:
        sys.stdin.buffer.read()  # until the app closes our stdin: it is done, or gone
    finally:
        servers.stop()


def start_demo(speed: float = 1.0, port: int = 0, clock=None, listening=None) -> DemoServer:
    """Seeded simulators serving on loopback, for ``bailian-tui --demo``. Returns the running servers.

    Their shared clock keeps wall time (so "created 5 s ago" is true) but epochs last 6 s: a new job
    trains in well under a minute once the demo's queue ahead of it has drained (about a minute and a
    half). The XPULink side takes two seconds a step.
    """
    from bailian_tui.simulator.clock import SimClock
    from bailian_tui.simulator.openai_server import OpenAISimServer
    from bailian_tui.simulator.openai_state import OpenAIState
    from bailian_tui.simulator.server import SimServer
    from bailian_tui.simulator.state import SimConfig, SimState

    clock = clock or SimClock(speed=speed)
    state = SimState(clock, SimConfig(epoch_seconds=6.0), api_key=DEMO_KEY)
    seed(state)
    from bailian_tui.simulator.openai_contract import OpenAISimConfig

    # Two seconds a step: the XPULink job still training when the demo opens runs about two minutes, beside
    # the Bailian one.
    xpulink = OpenAIState(clock, OpenAISimConfig(step_seconds=2.0), api_key=DEMO_KEY)
    seed_openai(xpulink)
    dashscope, openai = listening or (None, None)
    return DemoServer(SimServer(state, port=port, listening=dashscope).start(),
                      OpenAISimServer(xpulink, listening=openai).start())


def demo_profiles(servers: DemoServer) -> list[dict]:
    """The two profiles the demo shows (the config's ``providers:`` shape; the key is the demo's own)."""
    return [
        {"name": "bailian", "kind": "dashscope", "label": BAILIAN_LABEL, "base_url": servers.dashscope.base_url,
         "api_key": DEMO_KEY, "badge": "BL"},
        {"name": "xpulink", "kind": "openai", "label": XPULINK_LABEL, "base_url": servers.openai.base_url,
         "api_key": DEMO_KEY, "key_env": "XPULINK_API_KEY", "hyperparameters_form": "hyperparameters",
         "extra_hyperparameters": list(XPULINK_EXTRA), "models": ["qwen3-32b", "qwen3-14b", "qwen3-8b"],
         "pricing": {"currency": "CNY", "per_1k_tokens": {"qwen3-32b": 0.04, "qwen3-14b": 0.03, "qwen3-8b": 0.006}},
         "badge": "XPU", "requests_per_second": 2.0},
    ]


LOCAL_LABEL = "this machine (stand-in GPU)"


def demo_local_profile(runs_dir) -> dict:
    """The demo's local profile: real recipes and run folders, trained by simulator/local_trainer.py."""
    return {"name": "gpu", "kind": "local", "label": LOCAL_LABEL, "stand_in": True, "runs_dir": str(runs_dir),
            "badge": "GPU"}


def point_at_demo(settings, server, local: bool = False) -> None:
    """Demo mode: the simulator's URL and key win over any config, and state goes to a demo store."""
    settings.values["dashscope.base_url"] = server.base_url
    settings.values["dashscope.api_key"] = DEMO_KEY
    settings.values["dashscope.workspace"] = None
    settings.values["paths.state_dir"] = str(settings.state_dir / "demo")
    settings.origins["dashscope.base_url"] = settings.origins["dashscope.api_key"] = "--demo"
    settings.demo = True
    if getattr(server, "openai", None) is not None:  # both simulated services: two profiles
        settings.values["providers"] = demo_profiles(server)
        settings.values["default_profile"] = "bailian"
        settings.origins["providers"] = settings.origins["default_profile"] = "--demo"
        if local:  # …and this machine, the stand-in trainer in place of Unsloth (runs in the demo's state)
            settings.values["providers"].append(demo_local_profile(settings.state_dir / "runs"))
    store = settings.state_dir / "state.db"
    for suffix in ("", "-wal", "-shm"):  # each demo starts from a fresh simulator: old ids mean nothing
        store.with_name(store.name + suffix).unlink(missing_ok=True)
