"""Demo content: files, jobs in every state (one RUNNING), a RUNNING deployment, and the answer key.

Seeding replays history on the simulator's own clock — it winds the clock back, creates and cancels
things at the moments they would have happened, and winds it forward again — so every object comes out
of the same state machine a client drives, not out of hand-written fixtures.
"""

from __future__ import annotations

import json
from pathlib import Path

from bailian_tui.core.data.converters import medqa
from bailian_tui.simulator.state import SimState

DEMO_KEY = "sk-bailian-tui-demo"


def datasets_root() -> Path:
    """The shipped samples, wherever the app is launched from (editable install or a checkout)."""
    here = Path(__file__).resolve().parents[1] / "datasets"
    return here if here.is_dir() else Path.cwd() / "datasets"


def _medqa_chatml(path: Path) -> bytes:
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.strip():
            lines.append(json.dumps(medqa.convert(json.loads(raw)), ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode()


def load_knowledge(state: SimState, root: Path) -> None:
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


def start_demo(speed: float = 1.0, port: int = 0):
    """A seeded simulator serving on loopback, for ``bailian-tui --demo``. Returns the running server.

    Its clock keeps wall time (so "created 5 s ago" is true) but epochs last 6 s: a new job trains in
    well under a minute once the demo's queue ahead of it has drained (about a minute and a half).
    """
    from bailian_tui.simulator.clock import SimClock
    from bailian_tui.simulator.server import SimServer
    from bailian_tui.simulator.state import SimConfig

    state = SimState(SimClock(speed=speed), SimConfig(epoch_seconds=6.0), api_key=DEMO_KEY)
    seed(state)
    return SimServer(state, port=port).start()


def point_at_demo(settings, server) -> None:
    """Demo mode: the simulator's URL and key win over any config, and state goes to a demo store."""
    settings.values["dashscope.base_url"] = server.base_url
    settings.values["dashscope.api_key"] = DEMO_KEY
    settings.values["dashscope.workspace"] = None
    settings.values["paths.state_dir"] = str(settings.state_dir / "demo")
    settings.origins["dashscope.base_url"] = settings.origins["dashscope.api_key"] = "--demo"
    settings.demo = True
    store = settings.state_dir / "state.db"
    for suffix in ("", "-wal", "-shm"):  # each demo starts from a fresh simulator: old ids mean nothing
        store.with_name(store.name + suffix).unlink(missing_ok=True)
