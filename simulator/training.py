"""What a simulated training run writes to its log, and when.

Shape of the lines follows the one real sample in reference §4: ``YYYY-MM-DD HH:MM:SS,mmm - INFO - …``
lines, Hugging Face ``Trainer``-style dict reprs with single quotes, the final summary dict,
``Actual number of consumed tokens is N!`` and ``##FT_COMPLETE##``.

The per-step and per-eval dicts are OUR INVENTION: no real per-step Bailian line has been published.
They follow the Trainer's ``log_history`` style (``{'loss': …, 'learning_rate': …, 'epoch': …}``) and add
``'step'``/``'total_steps'`` so that progress can be read from the log alone.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

PREP_SECONDS = 2.0
TAIL_SECONDS = 3.0


@dataclass
class Plan:
    """A run worked out in advance: log lines at offsets (seconds after start) and the outcome."""

    lines: list[tuple[float, str]] = field(default_factory=list)
    duration: float = 0.0
    succeeded: bool = True
    usage: int = 0
    total_steps: int = 0
    checkpoints: list[tuple[float, int]] = field(default_factory=list)  # (offset, step)
    error_code: str | None = None
    error_message: str | None = None
    tokens_per_second: float = 0.0


def _lr(step: int, total: int, peak: float, warmup_ratio: float, scheduler: str) -> float:
    warm = max(int(total * warmup_ratio), 1)
    if step <= warm and scheduler.lower() != "constant":
        return peak * step / warm
    progress = (step - warm) / max(total - warm, 1)
    if scheduler == "linear":
        return peak * (1 - progress)
    if scheduler == "Inverse_sqrt":
        return peak / math.sqrt(max(step / warm, 1))
    if scheduler.lower() == "constant":
        return peak
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


def _num(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e-3 else f"{round(value, 4)}"


def plan_failure(stamp, message: str, code: str = "InvalidDataset", after: float = PREP_SECONDS) -> Plan:
    plan = Plan(succeeded=False, duration=after + 1, error_code=code, error_message=message)
    plan.lines = [
        (0.0, f"{stamp(0.0)} - INFO - start to prepare data"),
        (after, f"{stamp(after)} - ERROR - {message}"),
        (after + 1, f"{stamp(after + 1)} - INFO - finetune-job failed"),
    ]
    return plan


def plan_training(*, stamp, seed: str, n_train: int, n_val: int, tokens_per_epoch: int, hp: dict,
                  epoch_seconds: float) -> Plan:
    """``stamp(offset)`` formats the wall time of an offset for the INFO lines."""
    rng = random.Random(seed)
    epochs = int(hp.get("n_epochs", 1))
    batch = int(hp.get("batch_size", 16))
    logging_steps = max(int(hp.get("logging_steps", 5)), 1)
    eval_steps = max(int(hp.get("eval_steps", 50)), 1)
    peak = float(hp.get("learning_rate", 1e-5))
    scheduler = str(hp.get("lr_scheduler_type", "cosine"))
    warmup = float(hp.get("warmup_ratio", 0.05))
    steps_per_epoch = max(math.ceil(n_train / batch), 1)
    total = steps_per_epoch * epochs
    run = max(epochs * epoch_seconds, 0.001)
    dt = run / total
    plan = Plan(total_steps=total, usage=tokens_per_epoch * epochs)
    plan.tokens_per_second = plan.usage / run if run else 0.0
    lines = plan.lines
    lines.append((0.0, f"{stamp(0.0)} - INFO - start to prepare data"))
    lines.append((0.5, f"{stamp(0.5)} - INFO - training samples: {n_train}, validation samples: {n_val}"))
    lines.append((1.0, f"{stamp(1.0)} - INFO - start to train, epochs: {epochs}, steps per epoch: "
                       f"{steps_per_epoch}, total steps: {total}"))
    floor, start = 0.35 + rng.random() * 0.3, 1.6 + rng.random() * 0.8
    losses: list[float] = []
    save_steps = int(hp.get("save_steps", 50)) if hp.get("save_strategy") == "steps" else steps_per_epoch
    end = PREP_SECONDS + run
    for step in range(1, total + 1):
        at = PREP_SECONDS + step * dt
        after = (lambda fraction: min(at + dt * fraction, end))  # the last step's lines stay before the summary
        progress = step / total
        epoch = round(step / steps_per_epoch, 4)
        loss = floor + (start - floor) * math.exp(-4 * progress) + rng.gauss(0, 0.03)
        losses.append(loss)
        if step % logging_steps == 0 or step == total:
            lr = _lr(step, total, peak, warmup, scheduler)
            lines.append((at, "{" + f"'loss': {_num(loss)}, 'grad_norm': {_num(1.5 + rng.random())}, "
                               f"'learning_rate': {_num(lr)}, 'epoch': {epoch}, 'step': {step}, "
                               f"'total_steps': {total}" + "}"))
        if n_val and (step % eval_steps == 0 or step == total):
            # Past two epochs the validation loss creeps up again: over-fitting, worth a warning.
            over = max(epoch - 2.0, 0.0) * 0.08
            eval_loss = floor + 0.08 + (start - floor) * math.exp(-3.5 * progress) + over
            acc = min(0.97, 0.45 + 0.45 * (1 - math.exp(-3 * progress)) - over / 2)
            lines.append((after(0.1), "{" + f"'eval_loss': {_num(eval_loss)}, 'eval_token_accuracy': "
                                         f"{_num(acc)}, 'epoch': {epoch}, 'step': {step}, "
                                         f"'total_steps': {total}" + "}"))
        if step % save_steps == 0 or step == total:
            plan.checkpoints.append((after(0.2), step))
            lines.append((after(0.2), f"{stamp(after(0.2))} - INFO - saving checkpoint-{step}"))
    mean_loss = sum(losses) / len(losses)
    summary = (f"{{'train_runtime': {run:.4f}, 'train_samples_per_second': {n_train * epochs / run:.3f}, "
               f"'train_steps_per_second': {total / run:.3f}, 'train_loss': {mean_loss}, 'epoch': {float(epochs)}}}")
    tail = [summary, f" Actual number of consumed tokens is {plan.usage}!", " Uploaded checkpoint!",
            " Fine-tune succeeded!", f" use checkpoint-{total} as final checkpoint"]
    for i, text in enumerate(tail):
        lines.append((end + 0.1 * i, text))
    for i, text in enumerate(["transfer for inference succeeded, start to deliver it for inference",
                              "start to save checkpoint", "finetune-job succeeded",
                              f"training usage {plan.usage}", "##FT_COMPLETE##"]):
        at = end + 1 + i * (TAIL_SECONDS - 1) / 4
        lines.append((at, f"{stamp(at)} - INFO - {text}"))
    plan.duration = end + TAIL_SECONDS
    lines.sort(key=lambda pair: pair[0])
    return plan
