"""A stand-in for an Unsloth/Hugging Face training script: writes what the Trainer writes, no GPU needed.

Used by the tests and by demo mode in place of a generated ``train.py``. Standard library only; run it
as a script. It prints Unsloth's banner, a tqdm-style progress bar on stderr redrawn with ``\\r``, the
Trainer's log dicts on stdout the way tqdm.write puts them (``{'loss': …, 'grad_norm': …,
'learning_rate': …, 'epoch': …}``, eval dicts, the final ``train_runtime`` summary), keeps
``trainer_state.json`` current, saves ``checkpoints/checkpoint-N/`` (trainer state, adapter config and
weights) and finally the adapter folder. Ctrl+C (SIGINT) ends it with a KeyboardInterrupt traceback, as
a real run ends; SIGTERM kills it.

    python local_trainer.py --steps 60 --pace 0.5 --eval-every 10 --save-every 20

``--hold-at STEP --hold-file PATH`` pauses after STEP until PATH exists (tests use it to keep a run
alive exactly as long as they need); ``--fail-at STEP`` dies there with a CUDA out-of-memory error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path


def bar(step: int, total: int, started: float) -> str:
    done = int(20 * step / total) if total else 0
    elapsed = time.monotonic() - started
    rate = step / elapsed if elapsed > 0 else 0.0
    return f"{int(100 * step / total):3d}%|{'█' * done}{' ' * (20 - done)}| {step}/{total} " \
           f"[{int(elapsed // 60):02d}:{int(elapsed % 60):02d}<00:00, {rate:5.2f}it/s]"


def write_json(path: Path, data: dict) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(temp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="stand-in Hugging Face Trainer run")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--pace", type=float, default=0.5, help="seconds per step")
    parser.add_argument("--examples", type=int, default=480)
    parser.add_argument("--batch", type=int, default=8, help="effective batch: examples per step")
    parser.add_argument("--eval-every", type=int, default=0)
    parser.add_argument("--save-every", type=int, default=0)
    parser.add_argument("--logging-steps", type=int, default=1)
    parser.add_argument("--output-dir", default=".")
    parser.add_argument("--adapter", default="lora_model")
    parser.add_argument("--hold-at", type=int, default=0)
    parser.add_argument("--hold-file", default="")
    parser.add_argument("--fail-at", type=int, default=0)
    parser.add_argument("--seed", type=int, default=3407)
    args = parser.parse_args(argv)

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    steps_per_epoch = max(1, math.ceil(args.examples / args.batch))
    epochs = math.ceil(args.steps / steps_per_epoch)
    print("==((====))==  Unsloth - 2x faster free finetuning | Num GPUs used = 1")
    print(f"   \\\\   /|    Num examples = {args.examples:,} | Num Epochs = {epochs} | Total steps = {args.steps}")
    print(f"O^O/ \\_/ \\    Batch size per device = {args.batch} | Gradient accumulation steps = 1")
    print(f"\\        /    Data Parallel GPUs = 1 | Total batch size ({args.batch} x 1 x 1) = {args.batch}")
    print(' "-____-"     Trainable parameters = 40,370,176 of 7,655,986,688 (0.53% trained)', flush=True)

    history: list[dict] = []
    started = time.monotonic()
    losses: list[float] = []

    def state(step: int) -> dict:
        return {"global_step": step, "max_steps": args.steps, "epoch": round(step / steps_per_epoch, 4),
                "logging_steps": args.logging_steps, "eval_steps": args.eval_every or None,
                "save_steps": args.save_every or 500, "num_train_epochs": epochs, "total_flos": 0.0,
                "train_batch_size": args.batch, "log_history": history, "is_world_process_zero": True}

    def say(record: dict) -> None:  # tqdm.write: clear the bar, print the line, redraw the bar
        sys.stderr.write("\r" + " " * 60 + "\r")
        sys.stderr.flush()
        sys.stdout.write(f"{record}\n")
        sys.stdout.flush()
        sys.stderr.write("\r" + bar(step, args.steps, started))
        sys.stderr.flush()

    step = 0
    sys.stderr.write("\r" + bar(0, args.steps, started))
    sys.stderr.flush()
    for step in range(1, args.steps + 1):
        if args.pace:
            time.sleep(args.pace)
        if args.fail_at and step == args.fail_at:
            sys.stderr.write("\n")
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.77 GiB total capacity)")
        epoch = round(step / steps_per_epoch, 4)
        loss = round(2.2 * math.exp(-3 * step / args.steps) + 0.35 + rng.uniform(-0.05, 0.05), 4)
        losses.append(loss)
        sys.stderr.write("\r" + bar(step, args.steps, started))
        sys.stderr.flush()
        if step % args.logging_steps == 0:
            lr = 2e-4 * (1 - step / args.steps)
            record = {"loss": loss, "grad_norm": round(rng.uniform(0.3, 1.5), 4), "learning_rate": lr,
                      "epoch": epoch}
            say(record)
            history.append({**record, "step": step})
        if args.eval_every and step % args.eval_every == 0:
            record = {"eval_loss": round(loss + 0.08 + rng.uniform(0, 0.03), 4), "eval_runtime": 1.23,
                      "eval_samples_per_second": 32.5, "eval_steps_per_second": 4.06, "epoch": epoch}
            say(record)
            history.append({**record, "step": step})
        write_json(out / "trainer_state.json", state(step))
        if args.save_every and step % args.save_every == 0:
            checkpoint = out / "checkpoints" / f"checkpoint-{step}"
            checkpoint.mkdir(parents=True, exist_ok=True)
            write_json(checkpoint / "trainer_state.json", state(step))
            write_json(checkpoint / "adapter_config.json", {"peft_type": "LORA", "r": 16, "lora_alpha": 16})
            (checkpoint / "adapter_model.safetensors").write_bytes(b"\0" * 64)
        if args.hold_at and step == args.hold_at and args.hold_file:
            while not os.path.exists(args.hold_file):
                time.sleep(0.05)
    runtime = round(time.monotonic() - started, 3)
    summary = {"train_runtime": runtime, "train_samples_per_second": round(args.steps * args.batch / max(runtime, 1e-3), 3),
               "train_steps_per_second": round(args.steps / max(runtime, 1e-3), 3),
               "train_loss": round(sum(losses) / len(losses), 4) if losses else 0.0,
               "epoch": round(args.steps / steps_per_epoch, 4)}
    say(summary)
    sys.stderr.write("\n")
    history.append({**summary, "step": args.steps})
    write_json(out / "trainer_state.json", state(args.steps))
    adapter = out / args.adapter
    adapter.mkdir(parents=True, exist_ok=True)
    write_json(adapter / "adapter_config.json", {"peft_type": "LORA", "r": 16, "lora_alpha": 16,
                                                 "base_model_name_or_path": "Qwen/Qwen2.5-7B-Instruct"})
    (adapter / "adapter_model.safetensors").write_bytes(b"\0" * 64)
    print(f"bailian-tui: adapter saved to {adapter.resolve()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
