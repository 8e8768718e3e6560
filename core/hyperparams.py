"""The documented hyper-parameter table, the model × training-type support matrix and presets, as data.

Sources are the tags of ``shared/reference/dashscope-api.md``: GUIDE-OLD (the seed doc), REF-ZH
(2026-02-11), GUIDE-2026. The form, the validator of job requests and the simulator all read these tables,
so the three can never disagree about what a model supports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TRAINING_TYPES = ("sft", "efficient_sft", "dpo_full", "dpo_lora", "cpt")
LORA_TYPES = frozenset({"efficient_sft", "dpo_lora"})

_ALL = frozenset(TRAINING_TYPES)
_NO_CPT = frozenset({"sft", "efficient_sft", "dpo_full", "dpo_lora"})
_SFT_ONLY = frozenset({"sft"})
_SFT_BOTH = frozenset({"sft", "efficient_sft"})
_CPT_SFT = frozenset({"cpt", "sft", "efficient_sft"})

# GUIDE-2026 / OVERVIEW-ZH (Beijing). Order is the order the form offers them in.
SUPPORT_MATRIX: dict[str, frozenset[str]] = {
    "qwen3-8b": _NO_CPT,
    "qwen3-14b": _NO_CPT,
    "qwen3-32b": _ALL,
    "qwen3-4b-instruct-2507": _ALL,
    "qwen3-1.7b": _ALL,
    "qwen3-0.6b": _ALL,
    "qwen3-30b-a3b-instruct-2507": _CPT_SFT,
    "qwen3.5-27b": _SFT_BOTH,
    "qwen3.5-9b": _SFT_BOTH,
    "qwen3.5-flash-2026-02-23": _SFT_ONLY,
    "qwen3.5-plus-2026-02-15": _SFT_ONLY,
    "qwen3.6-flash-2026-04-16": _SFT_ONLY,
    "qwen3.6-plus-2026-04-02": _SFT_ONLY,
    "qwen3.7-plus-2026-05-26": _SFT_ONLY,
    "qwen2.5-72b-instruct": _ALL,
    "qwen2.5-32b-instruct": _ALL,
    "qwen2.5-14b-instruct": _ALL,
    "qwen2.5-7b-instruct": _ALL,
    "qwen-plus-character-2025-11-06": _NO_CPT,
    "qwen3-vl-8b-instruct": _SFT_BOTH,
    "qwen3-vl-8b-thinking": _SFT_BOTH,
    "qwen3-vl-4b-instruct": _SFT_BOTH,
    "qwen2.5-vl-72b-instruct": _SFT_BOTH,
    "qwen2.5-vl-32b-instruct": _SFT_BOTH,
    "qwen2.5-vl-7b-instruct": _SFT_BOTH,
}

# ¥ per 1 000 training tokens, Beijing (OVERVIEW-ZH, 2026). Tuned models are priced like their base.
UNIT_PRICES_CNY_PER_1K: dict[str, float] = {
    "qwen3.6-flash-2026-04-16": 0.05, "qwen3.5-27b": 0.05, "qwen3.5-9b": 0.02,
    "qwen3.5-flash-2026-02-23": 0.05, "qwen3-32b": 0.04, "qwen3-30b-a3b-instruct-2507": 0.03,
    "qwen3-14b": 0.03, "qwen3-8b": 0.006, "qwen3-4b-instruct-2507": 0.006, "qwen3-1.7b": 0.0045,
    "qwen3-0.6b": 0.003, "qwen2.5-72b-instruct": 0.15, "qwen2.5-32b-instruct": 0.03,
    "qwen2.5-14b-instruct": 0.03, "qwen2.5-7b-instruct": 0.006, "qwen-plus-character-2025-11-06": 0.15,
    "qwen3-vl-8b-instruct": 0.012, "qwen3-vl-8b-thinking": 0.012, "qwen3-vl-4b-instruct": 0.006,
    "qwen2.5-vl-72b-instruct": 0.05, "qwen2.5-vl-32b-instruct": 0.02, "qwen2.5-vl-7b-instruct": 0.01,
}

# The official `bl` CLI clamps batch_size to this range ("server hard constraint, undocumented").
BATCH_SIZE_RANGE = (8, 1024)


def is_vl(model: str) -> bool:
    return "-vl-" in model




@dataclass(frozen=True)
class Param:
    name: str
    kind: type
    default: Any
    recommended: str
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    only_types: frozenset[str] | None = None  # None: every training type
    source: str = "GUIDE-OLD"

    def applies_to(self, training_type: str, model: str = "") -> bool:
        if self.name == "freeze_vit":
            return is_vl(model)
        return self.only_types is None or training_type in self.only_types


_CKPT = frozenset({"sft", "efficient_sft"})

PARAMS: tuple[Param, ...] = (
    Param("n_epochs", int, 1, "3–5 under 10k samples; 1–2 above",
          "Passes over the training set. Cost grows linearly with it.", 1, 100),
    Param("batch_size", int, 16, "model default",
          "Samples per step. Larger models default smaller; must stay below the number of training samples.",
          *BATCH_SIZE_RANGE),
    Param("learning_rate", float, 1e-5, "default (1e-5 order; 1e-4 order for LoRA)",
          "Step size. Full-parameter types want ~1e-5, LoRA types ~1e-4.", 1e-7, 1e-2),
    Param("max_length", int, 2048, "8192",
          "Token limit per sample. Longer SFT samples are DROPPED silently by the platform.", 128, 131072,
          source="GUIDE-OLD; REF-ZH"),
    Param("split", float, 0.8, "default",
          "Share kept for training when no validation file is given.", 0.01, 1.0),
    Param("max_split_val_dataset_sample", int, 1000, "default",
          "Cap on the automatically split validation set.", 1, 100000),
    Param("lr_scheduler_type", str, "cosine", "linear or Inverse_sqrt",
          "Learning-rate schedule. Warmup has no effect with Constant.",
          choices=("cosine", "linear", "Inverse_sqrt", "Constant", "polynomial")),
    Param("eval_steps", int, 50, "as needed",
          "Steps between validation loss / token accuracy reports.", 1, 100000),
    Param("warmup_ratio", float, 0.05, "default", "Share of steps spent warming up.", 0.0, 0.5),
    Param("weight_decay", float, 0.1, "default", "L2 regularisation.", 0.0, 1.0),
    Param("max_grad_norm", float, 1.0, "default", "Gradient clipping (GUIDE-OLD only).", 0.0, 100.0),
    Param("logging_steps", int, 5, "as needed", "Steps between training log lines.", 1, 10000),
    Param("lora_rank", int, 8, "64", "LoRA rank; keep it when re-tuning a LoRA model.", 1, 512,
          only_types=LORA_TYPES),
    Param("lora_alpha", int, 32, "default", "LoRA scaling.", 1, 1024, only_types=LORA_TYPES),
    Param("lora_dropout", float, 0.1, "default", "LoRA dropout.", 0.0, 0.9, only_types=LORA_TYPES),
    Param("target_modules", str, "AUTO", "ALL", "LoRA target layers (GUIDE-OLD only).",
          choices=("AUTO", "ALL"), only_types=LORA_TYPES),
    Param("save_strategy", str, "epoch", "default", "When checkpoints are saved.",
          choices=("epoch", "steps"), only_types=_CKPT, source="GUIDE-2026"),
    Param("save_steps", int, 50, "a multiple of eval_steps", "Steps between checkpoints (save_strategy=steps).",
          1, 100000, only_types=_CKPT, source="GUIDE-2026"),
    Param("save_total_limit", int, 1, "10", "Checkpoints kept.", 1, 100, only_types=_CKPT,
          source="GUIDE-2026"),
    Param("data_augmentation", bool, False, "as needed",
          "Mixed training: blend general data into yours to keep general skills (mixed tokens are billed).",
          only_types=_CKPT, source="GUIDE-2026"),
    Param("augmentation_types", str, "", "mix_v2 (Qwen3), vl_mix (Qwen3-VL)",
          "Mixed training: comma list of data kinds, e.g. dialogue_cn,math_cn (Qwen2) or mix_v2 (Qwen3).",
          only_types=_CKPT, source="GUIDE-2026"),
    Param("augmentation_ratio", str, "", "each 0.0–2.0",
          "Mixed training: comma list of ratios, one per type, each 0.0–2.0.", only_types=_CKPT,
          source="GUIDE-2026"),
    Param("freeze_vit", bool, True, "true", "VL models: keep the vision tower frozen (only true is token-billed).",
          source="GUIDE-2026"),
)

PARAMS_BY_NAME = {p.name: p for p in PARAMS}


def defaults_for(training_type: str, model: str = "") -> dict[str, Any]:
    values = {p.name: p.default for p in PARAMS if p.applies_to(training_type, model)}
    if training_type in LORA_TYPES:
        values["learning_rate"] = 1e-4
    return values


PRESETS: dict[str, dict[str, Any]] = {
    "under 10k samples": {"n_epochs": 3, "max_length": 8192, "lr_scheduler_type": "linear"},
    "over 10k samples": {"n_epochs": 1, "max_length": 8192, "lr_scheduler_type": "linear"},
    "LoRA": {"n_epochs": 3, "learning_rate": 1e-4, "lora_rank": 64, "lora_alpha": 32, "lora_dropout": 0.1,
             "target_modules": "ALL", "max_length": 8192},
}


def recommended_for(training_type: str, model: str = "", samples: int | None = None) -> dict[str, Any]:
    """The documented recommendations as values (the table's "recommended" column, made concrete)."""
    values: dict[str, Any] = {"max_length": 8192, "lr_scheduler_type": "linear"}
    values["n_epochs"] = 1 if samples is not None and samples > 10_000 else 3
    if training_type in LORA_TYPES:
        values.update(lora_rank=64, target_modules="ALL", learning_rate=1e-4)
    if training_type in ("sft", "efficient_sft"):
        values["save_total_limit"] = 10
    if is_vl(model):
        values["freeze_vit"] = True
    return {k: v for k, v in values.items() if PARAMS_BY_NAME[k].applies_to(training_type, model)}
