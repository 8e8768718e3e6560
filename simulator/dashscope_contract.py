"""DashScope's fine-tuning rules as the simulated *server* enforces them, written from the reference.

Transcribed from ``shared/reference/dashscope-api.md`` §8 (hyper-parameter defaults, §8.3 support matrix,
GUIDE-2026 / OVERVIEW-ZH, Beijing) and §8.1's ``split`` / ``max_split_val_dataset_sample`` rule — on
purpose without importing the client's ``core.hyperparams`` / ``core.jobform``: were the client's table
wrong, its own test backend would agree with it and no test could tell. ``tests/test_contracts.py``
checks this module and the client's tables against the same reference transcription in ``tests/data``.
"""

from __future__ import annotations

from typing import Any

TRAINING_TYPES = ("sft", "efficient_sft", "dpo_full", "dpo_lora", "cpt")
LORA_TYPES = frozenset({"efficient_sft", "dpo_lora"})

_ALL = frozenset(TRAINING_TYPES)
_NO_CPT = frozenset({"sft", "efficient_sft", "dpo_full", "dpo_lora"})
_SFT = frozenset({"sft"})
_SFT_LORA = frozenset({"sft", "efficient_sft"})
_CPT_SFT_LORA = frozenset({"cpt", "sft", "efficient_sft"})

# §8.3, the newer table (one row per model, as the reference groups them).
SUPPORT_MATRIX: dict[str, frozenset[str]] = {
    **dict.fromkeys(("qwen3.7-plus-2026-05-26", "qwen3.6-flash-2026-04-16", "qwen3.6-plus-2026-04-02",
                     "qwen3.5-flash-2026-02-23", "qwen3.5-plus-2026-02-15"), _SFT),
    **dict.fromkeys(("qwen3.5-27b", "qwen3.5-9b"), _SFT_LORA),
    **dict.fromkeys(("qwen3-32b", "qwen3-4b-instruct-2507", "qwen3-1.7b", "qwen3-0.6b", "qwen2.5-72b-instruct",
                     "qwen2.5-32b-instruct", "qwen2.5-14b-instruct", "qwen2.5-7b-instruct"), _ALL),
    "qwen3-30b-a3b-instruct-2507": _CPT_SFT_LORA,
    **dict.fromkeys(("qwen3-14b", "qwen3-8b", "qwen-plus-character-2025-11-06"), _NO_CPT),
    **dict.fromkeys(("qwen3-vl-8b-instruct", "qwen3-vl-8b-thinking", "qwen3-vl-4b-instruct",
                     "qwen2.5-vl-72b-instruct", "qwen2.5-vl-32b-instruct", "qwen2.5-vl-7b-instruct"), _SFT_LORA),
}

# §8.1 defaults (the seed table); learning_rate's default is "~1e-5 order; ~1e-4 for efficient_sft".
DEFAULTS: dict[str, Any] = {
    "n_epochs": 1, "batch_size": 16, "learning_rate": 1e-5, "split": 0.8, "max_split_val_dataset_sample": 1000,
    "lr_scheduler_type": "cosine", "eval_steps": 50, "max_length": 2048, "warmup_ratio": 0.05,
    "weight_decay": 0.1, "max_grad_norm": 1.0, "logging_steps": 5,
}
LORA_DEFAULTS: dict[str, Any] = {"lora_rank": 8, "lora_alpha": 32, "lora_dropout": 0.1, "target_modules": "AUTO",
                                 "learning_rate": 1e-4}
CHECKPOINT_DEFAULTS: dict[str, Any] = {"save_strategy": "epoch", "save_steps": 50, "save_total_limit": 1}


def defaults_for(training_type: str, model: str = "") -> dict[str, Any]:
    values = dict(DEFAULTS)
    if training_type in LORA_TYPES:
        values.update(LORA_DEFAULTS)
    if training_type in ("sft", "efficient_sft"):
        values.update(CHECKPOINT_DEFAULTS)
    if "-vl-" in model:
        values["freeze_vit"] = True
    return values


def split_counts(samples: int, hp: dict, has_validation: bool) -> tuple[int, int]:
    """(training, validation) samples: ``split`` is kept for training, the rest validates, capped at
    ``max_split_val_dataset_sample``; with validation files nothing is split off (§8.1)."""
    if has_validation:
        return samples, 0
    split = float(hp.get("split", DEFAULTS["split"]))
    cap = int(hp.get("max_split_val_dataset_sample", DEFAULTS["max_split_val_dataset_sample"]))
    validation = min(int(round(samples * (1 - split), 9)), cap)  # round: 0.8 is not exact in binary
    return samples - validation, validation
