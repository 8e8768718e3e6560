"""Training log lines → metrics. Unknown lines are kept as text and never raise.

Formats (reference §4): Hugging Face ``Trainer``-style dict reprs with single quotes (per-step, per-eval and
the final summary), ``Actual number of consumed tokens is N!``, timestamped ``- INFO -`` / ``- ERROR -``
lines, ``##FT_COMPLETE##``. Per-step dicts may carry ``'step': 5, 'total_steps': 60`` or ``'step': '5/60'``.
Local runs add tqdm's progress bar (``45%|████▌ | 27/60 [00:13<00:16]``) and Unsloth's ``Total steps = 60``
banner; their dicts carry no step, so their curves are drawn against the epoch.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

CONSUMED = re.compile(r"Actual number of consumed tokens is (\d+)")
STAMPED = re.compile(r"^\s*(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:,\d+)?) - (\w+) - (.*)$")
TOTAL_STEPS = re.compile(r"total steps:\s*(\d+)")
# Local runs (Unsloth / Hugging Face Trainer on this machine): the tqdm bar "| 27/60 [" and Unsloth's banner.
PROGRESS_BAR = re.compile(r"\|\s*(\d+)/(\d+) \[")
BANNER_TOTAL = re.compile(r"Total steps = ([\d,]+)")


@dataclass
class Point:
    step: float  # the x axis: step where known, else epoch
    value: float


@dataclass
class Metrics:
    """What a job's log has told so far; ``feed`` it lines in order."""

    loss: list[Point] = field(default_factory=list)
    eval_loss: list[Point] = field(default_factory=list)
    eval_accuracy: list[Point] = field(default_factory=list)
    learning_rate: float | None = None
    epoch: float | None = None
    step: int | None = None
    total_steps: int | None = None
    consumed_tokens: int | None = None
    train_loss: float | None = None
    complete: bool = False
    x_axis: str = "step"  # "epoch" once a point was placed by its epoch (dicts without a step: local runs)
    errors: list[str] = field(default_factory=list)
    lines: int = 0

    @property
    def progress(self) -> float | None:
        if self.complete:
            return 1.0
        if self.step is not None and self.total_steps:
            return min(self.step / self.total_steps, 1.0)
        return None

    @property
    def latest_loss(self) -> float | None:
        return self.loss[-1].value if self.loss else None

    @property
    def eval_loss_rising(self) -> bool:
        """The last two validation losses both went up: over-fitting, worth a look (and maybe a cancel)."""
        values = [p.value for p in self.eval_loss[-3:]]
        return len(values) == 3 and values[0] < values[1] < values[2]

    def feed(self, line: str) -> None:
        self.lines += 1
        text = line.strip()
        if text.startswith("{") and text.endswith("}"):
            self._dict(text)
            return
        if "##FT_COMPLETE##" in text:
            self.complete = True
        consumed = CONSUMED.search(text)
        if consumed:
            self.consumed_tokens = int(consumed.group(1))
        bar = PROGRESS_BAR.search(text)
        if bar:
            self.step, self.total_steps = int(bar.group(1)), int(bar.group(2)) or self.total_steps
        banner = BANNER_TOTAL.search(text)
        if banner:
            self.total_steps = int(banner.group(1).replace(",", ""))
        stamped = STAMPED.match(line)
        if stamped:
            level, message = stamped.group(2), stamped.group(3)
            if level in ("ERROR", "CRITICAL"):
                self.errors.append(message)
            total = TOTAL_STEPS.search(message)
            if total:
                self.total_steps = int(total.group(1))

    def _dict(self, text: str) -> None:
        try:
            data = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return
        if not isinstance(data, dict):
            return
        step = data.get("step")
        if isinstance(step, str) and "/" in step:
            done, _, total = step.partition("/")
            step = int(done) if done.strip().isdigit() else None
            if total.strip().isdigit():
                self.total_steps = int(total)
        if isinstance(data.get("total_steps"), int):
            self.total_steps = data["total_steps"]
        if isinstance(step, (int, float)):
            self.step = int(step)
        if isinstance(data.get("epoch"), (int, float)):
            self.epoch = float(data["epoch"])
        x = float(self.step) if isinstance(step, (int, float)) else (self.epoch or 0.0)
        if not isinstance(step, (int, float)) and ("loss" in data or "eval_loss" in data):
            self.x_axis = "epoch"
        if "train_loss" in data:  # the final summary
            self.train_loss = _number(data.get("train_loss"))
            return
        loss = _number(data.get("loss"))
        if loss is not None:
            self.loss.append(Point(x, loss))
        if _number(data.get("learning_rate")) is not None:
            self.learning_rate = _number(data["learning_rate"])
        eval_loss = _number(data.get("eval_loss"))
        if eval_loss is not None:
            self.eval_loss.append(Point(x, eval_loss))
        accuracy = _number(data.get("eval_token_accuracy", data.get("eval_accuracy")))
        if accuracy is not None:
            self.eval_accuracy.append(Point(x, accuracy))


def _number(value) -> float | None:
    try:
        return float(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None
