"""Checking a job request before anything is billed, and showing it as the body and the CLI command.

The checks are the documented ranges (``core.hyperparams``), the support matrix, the learning-rate order
for the training type, and the platform's known gates: more training samples (after the validation
split) than ``batch_size`` — the platform otherwise fails minutes into the job — and the batch_size range
the official ``bl`` CLI enforces.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from bailian_tui.core.hyperparams import BATCH_SIZE_RANGE, LORA_TYPES, PARAMS_BY_NAME, SUPPORT_MATRIX
from bailian_tui.core.platform import JobRequest

# The dashscope 2.0.2 CLI's only hyper-parameter flags (reference §3.1).
CLI_FLAGS = {"n_epochs": "-e", "batch_size": "-b", "learning_rate": "-l"}
LR_ORDER = {"full": (1e-6, 1e-4), "lora": (1e-5, 1e-3)}


@dataclass(frozen=True)
class Problem:
    field: str
    message: str
    blocking: bool = True


def coerce(name: str, raw: Any) -> Any:
    """A typed value from form text ('3', '1e-5', 'true'); raises ValueError with a readable message."""
    param = PARAMS_BY_NAME.get(name)
    if param is None:
        return raw
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "":
            raise ValueError("empty")
    if param.kind is bool:
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("true", "yes", "1"):
            return True
        if str(raw).lower() in ("false", "no", "0"):
            return False
        raise ValueError("expected true or false")
    if param.kind is int:
        value = float(raw)
        if value != int(value):
            raise ValueError("expected a whole number")
        return int(value)
    if param.kind is float:
        return float(raw)
    return str(raw)


def prepare(raw: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Typed hyper-parameters from what a person wrote (form text or YAML values), the way every caller sends
    them: an optional text field left empty is not sent, and with mixed training off none of its keys go out."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, value in raw.items():
        param = PARAMS_BY_NAME.get(name)
        if isinstance(value, str) and not value.strip() and param is not None and param.default == "":
            continue
        try:
            values[name] = coerce(name, value)
        except ValueError as err:
            problems.append(Problem(name, str(err)))
    if not values.get("data_augmentation"):
        for name in ("data_augmentation", "augmentation_types", "augmentation_ratio"):
            values.pop(name, None)
    return values, problems


def review(model: str, training_type: str, raw: dict[str, Any], *, train_samples: int | None = None,
           has_validation: bool = False, base_model: str | None = None) -> tuple[dict[str, Any], list[Problem]]:
    """THE check of a job request — the new-job form, ``jobs create`` and anything else that creates a job call
    this: typed values (:func:`prepare`), then ranges, support matrix, learning-rate order, the sample/batch
    gate and mixed training (:func:`check`). Returns the hyper-parameters to send and every problem."""
    values, problems = prepare(raw)
    problems += check(model, training_type, values, train_samples=train_samples, has_validation=has_validation,
                      base_model=base_model)
    return values, problems


def split_counts(samples: int, hp: dict, has_validation: bool) -> tuple[int, int]:
    """(training, validation) samples as the platform will split them."""
    if has_validation:
        return samples, 0
    split = float(hp.get("split", 0.8))
    validation = min(int(round(samples * (1 - split), 9)), int(hp.get("max_split_val_dataset_sample", 1000)))
    return samples - validation, validation


def check(model: str, training_type: str, hp: dict[str, Any], *, train_samples: int | None = None,
          has_validation: bool = False, base_model: str | None = None) -> list[Problem]:
    problems: list[Problem] = []
    base = base_model or model
    supported = SUPPORT_MATRIX.get(base)
    if supported is None:
        problems.append(Problem("model", f"{base} is not in the documented support matrix", blocking=False))
    elif training_type not in supported:
        problems.append(Problem("training_type", f"{base} supports {', '.join(sorted(supported))}, "
                                                 f"not {training_type}"))
    for name, value in hp.items():
        param = PARAMS_BY_NAME.get(name)
        if param is None:
            problems.append(Problem(name, "not a documented hyper-parameter", blocking=False))
            continue
        if not param.applies_to(training_type, base):
            problems.append(Problem(name, f"does not apply to {training_type}" +
                                    (" on this model" if name == "freeze_vit" else "")))
            continue
        if param.choices and str(value) not in param.choices:
            problems.append(Problem(name, f"one of {', '.join(param.choices)}"))
        if param.minimum is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            if not param.minimum <= value <= param.maximum:
                problems.append(Problem(name, f"must be between {param.minimum:g} and {param.maximum:g}"))
    lr = hp.get("learning_rate")
    if isinstance(lr, (int, float)):
        low, high = LR_ORDER["lora" if training_type in LORA_TYPES else "full"]
        if not low <= lr <= high:
            kind = "LoRA" if training_type in LORA_TYPES else "full-parameter"
            problems.append(Problem("learning_rate", f"{lr:g} is off the {kind} order ({low:g}–{high:g}); the "
                                                     f"docs use ~{'1e-4' if kind == 'LoRA' else '1e-5'}"))
    batch = hp.get("batch_size")
    if isinstance(batch, int):
        low, high = BATCH_SIZE_RANGE
        if not low <= batch <= high:
            problems.append(Problem("batch_size", f"the platform takes {low}–{high} (the official bl CLI clamps it)"))
        if train_samples is not None:
            training, _ = split_counts(train_samples, hp, has_validation)
            if training <= batch:
                problems.append(Problem("batch_size", f"{training} training samples after the validation split "
                                                      f"must be more than batch_size {batch}; the platform fails "
                                                      "such jobs minutes after they start"))
    if hp.get("data_augmentation") is True:
        types = [t for t in str(hp.get("augmentation_types", "")).split(",") if t.strip()]
        ratios = [r for r in str(hp.get("augmentation_ratio", "")).split(",") if r.strip()]
        if not types:
            problems.append(Problem("augmentation_types", "mixed training needs at least one type"))
        if len(ratios) != len(types):
            problems.append(Problem("augmentation_ratio", "give one ratio per augmentation type"))
        for ratio in ratios:
            try:
                if not 0.0 <= float(ratio) <= 2.0:
                    raise ValueError
            except ValueError:
                problems.append(Problem("augmentation_ratio", f"{ratio.strip()} is not between 0.0 and 2.0"))
    if hp.get("save_strategy") == "steps" and isinstance(hp.get("save_steps"), int) \
            and isinstance(hp.get("eval_steps"), int) and hp["save_steps"] % hp["eval_steps"]:
        problems.append(Problem("save_steps", "make it a multiple of eval_steps", blocking=False))
    return problems


def body_json(request: JobRequest) -> str:
    return json.dumps(request.body(), ensure_ascii=False, indent=2)


def command_line(request: JobRequest) -> str:
    """The equivalent official CLI call, with what it cannot express said in a comment."""
    parts = ["dashscope", "ft", "create", "-m", request.model]
    for file_id in request.training_file_ids:
        parts += ["-t", file_id]
    for file_id in request.validation_file_ids:
        parts += ["-v", file_id]
    parts += ["--mode", request.training_type]
    for name, flag in CLI_FLAGS.items():
        if name in request.hyper_parameters:
            parts += [flag, str(request.hyper_parameters[name])]
    line = " ".join(shlex.quote(p) for p in parts)
    rest = sorted(set(request.hyper_parameters) - set(CLI_FLAGS))
    if rest:
        line += f"\n# not expressible with the dashscope CLI (use the API body): {', '.join(rest)}"
    return line


def fitted_batch_size(samples: int | None, hp: dict, has_validation: bool, preferred: int) -> int:
    """The largest batch size up to ``preferred`` (a power of two, in the platform's range) that leaves more
    training samples after the validation split than the batch — the gate in ``check``. A small demo file
    with the default 16 would otherwise be refused."""
    low, high = BATCH_SIZE_RANGE
    if samples is None:
        return preferred
    training, _ = split_counts(samples, hp, has_validation)
    size = min(preferred, high)
    while size > low and size >= training:
        size //= 2
    return max(size, low)


def recommended(training_type: str, model: str, samples: int | None, hp: dict, has_validation: bool) -> dict:
    """The documented recommendations plus a batch size that passes the gate for this file."""
    from bailian_tui.core.hyperparams import defaults_for, recommended_for

    values = recommended_for(training_type, model, samples)
    preferred = int(defaults_for(training_type, model).get("batch_size", 16))
    merged = {**hp, **values}
    values["batch_size"] = fitted_batch_size(samples, merged, has_validation, preferred)
    return values
