"""The OpenAI-compatible fine-tuning contract as the simulated *server* enforces it.

Written from ``shared/reference/openai-ft-api.md`` (and the XPULink seed document it cites), on purpose
without importing anything from the client (``bailian_tui.core``): a wrong rule in the client must be
refused by its test backend, not agreed with. ``tests/test_contracts.py`` checks this table, and the
client's, against the reference table copied into ``tests/data/``.

What a real service may do differently is a knob of :class:`OpenAISimConfig`, not a code path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Statuses of `fine_tuning.job` (reference "Job"); `paused` is the newer one.
STATUSES = ("validating_files", "queued", "running", "succeeded", "failed", "cancelled", "paused")
FINISHED = frozenset({"succeeded", "failed", "cancelled"})
METHODS = ("supervised", "dpo")  # "reinforcement" is refused: no Qwen service offers it

# The standard's hyper-parameters (each a number or "auto").
STANDARD_HP = ("n_epochs", "batch_size", "learning_rate_multiplier")
# XPULink's extension (seed document "关键超参数说明"): accepted only when the service declares it.
XPULINK_HP = ("n_epochs", "batch_size", "learning_rate", "lora_r", "lora_alpha", "lora_dropout")

# Hard bounds the simulated service refuses outside of. The reference gives *typical* values, not
# limits; these bounds are wide enough for every documented value and narrow enough to catch a unit
# mistake (a learning rate of 5 instead of 5e-5, a dropout of 10 instead of 0.1).
BOUNDS: dict[str, tuple[float, float, type]] = {
    "n_epochs": (1, 50, int),
    "batch_size": (1, 256, int),
    "learning_rate_multiplier": (0.01, 10.0, float),
    "learning_rate": (1e-7, 1e-2, float),
    "lora_r": (1, 256, int),
    "lora_alpha": (1, 1024, int),
    "lora_dropout": (0.0, 0.9, float),
    "beta": (0.0, 2.0, float),  # DPO
}

# What "auto" resolves to on the simulated service (OpenAI does not publish its rule).
AUTO = {"n_epochs": 3, "batch_size": 4, "learning_rate_multiplier": 1.0, "learning_rate": 5e-5,
        "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "beta": 0.1}

MIN_EXAMPLES = 10  # OpenAI's documented minimum of training examples


@dataclass
class OpenAISimConfig:
    """One simulated OpenAI-compatible service. The XPULink flavour is the default of the demo."""

    models: tuple[str, ...] = ("qwen3-32b", "qwen3-14b", "qwen3-8b", "gpt-4o-mini-2024-07-18")
    organisation: str = "sim-org"
    extra_hyperparameters: bool = True  # XPULink: lora_r/lora_alpha/lora_dropout/learning_rate accepted
    pause_resume: bool = True
    min_examples: int = MIN_EXAMPLES
    validating_seconds: float = 2.0
    queued_seconds: float = 2.0
    step_seconds: float = 0.5
    checkpoint_every_epoch: bool = True
    max_file_bytes: int = 512 * 1024 * 1024
    chat_models: tuple[str, ...] = field(default=("qwen3-32b", "qwen3-14b", "qwen3-8b", "qwen-plus"))


def allowed_hyperparameters(config: OpenAISimConfig, method: str) -> tuple[str, ...]:
    names = set(STANDARD_HP)
    if config.extra_hyperparameters:
        names |= set(XPULINK_HP)
    if method == "dpo":
        names.add("beta")
    return tuple(sorted(names))


def check_hyperparameters(config: OpenAISimConfig, method: str, hp: dict) -> tuple[str, str] | None:
    """``(param, message)`` of the first refused value, or None."""
    allowed = allowed_hyperparameters(config, method)
    for name, value in hp.items():
        if name not in allowed:
            return f"hyperparameters.{name}", f"Unknown hyperparameter '{name}'. Allowed: {', '.join(allowed)}."
        if value == "auto":
            continue
        low, high, kind = BOUNDS[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"hyperparameters.{name}", f"'{name}' must be a number or 'auto'."
        if kind is int and value != int(value):
            return f"hyperparameters.{name}", f"'{name}' must be an integer."
        if not low <= value <= high:
            return f"hyperparameters.{name}", f"'{name}' must be between {low:g} and {high:g}, got {value:g}."
    if "learning_rate" in hp and "learning_rate_multiplier" in hp:
        return "hyperparameters.learning_rate", "Give learning_rate or learning_rate_multiplier, not both."
    return None


def resolved(hp: dict, method: str) -> dict:
    """The values a job actually trains with ("auto" and missing ones filled in)."""
    out = {k: (AUTO[k] if v == "auto" else v) for k, v in hp.items()}
    for name in ("n_epochs", "batch_size"):
        out.setdefault(name, AUTO[name])
    if "learning_rate" not in out:
        out.setdefault("learning_rate_multiplier", AUTO["learning_rate_multiplier"])
    if method == "dpo":
        out.setdefault("beta", AUTO["beta"])
    return out
