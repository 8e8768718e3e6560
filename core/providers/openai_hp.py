"""Hyper-parameters of OpenAI-compatible fine-tuning, with XPULink's documented guidance, as data.

Source: ``shared/reference/openai-ft-api.md`` — the standard's ``n_epochs`` / ``batch_size`` /
``learning_rate_multiplier`` (each a number or ``"auto"``) and XPULink's LoRA extension (``learning_rate``
absolute, ``lora_r``, ``lora_alpha``, ``lora_dropout``) with its typical values, advice, the three
dataset-size presets and the minimum-data guidance. The new-job form, ``jobs create --profile`` and the
checks below read these tables; which names a profile may send is the profile's business
(``extra_hyperparameters``), since real services differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bailian_tui.core.jobform import Problem


@dataclass(frozen=True)
class OAParam:
    name: str
    kind: type
    typical: str
    advice: str
    low: float  # the typical range: outside it is a warning, not a refusal (the service decides)
    high: float
    auto: bool = False  # "auto" is a valid value (the standard's three)
    extension: bool = False  # XPULink's LoRA extension, sent only when the profile declares it


PARAMS: tuple[OAParam, ...] = (
    OAParam("n_epochs", int, "3–5", "3 for little data, 5 for more", 1, 10, auto=True),
    OAParam("batch_size", int, "2–8", "2–4 for small sets, 4–8 for large ones", 1, 64, auto=True),
    OAParam("learning_rate_multiplier", float, "auto", "the standard's knob: a multiple of the service's own rate",
            0.02, 2.0, auto=True),
    OAParam("learning_rate", float, "5e-5", "if results are poor try 1e-5 … 1e-4", 1e-5, 1e-4, extension=True),
    OAParam("lora_r", int, "4–16 (8 balanced)",
            "4 simple tasks · 8 most · 16 complex · 32 near full fine-tune, costs more", 4, 32, extension=True),
    OAParam("lora_alpha", int, "16–32", "usually 2 × lora_r", 8, 64, extension=True),
    OAParam("lora_dropout", float, "0.05–0.1", "raise it to fight over-fitting", 0.0, 0.3, extension=True),
)
PARAMS_BY_NAME = {p.name: p for p in PARAMS}

PRESETS: dict[str, dict[str, Any]] = {
    "< 100": {"n_epochs": 5, "batch_size": 2, "learning_rate": 1e-4, "lora_r": 4},
    "100-1000": {"n_epochs": 3, "batch_size": 4, "learning_rate": 5e-5, "lora_r": 8},
    "> 1000": {"n_epochs": 2, "batch_size": 8, "learning_rate": 2e-5, "lora_r": 16},
}
MIN_EFFECT, MIN_RECOMMENDED, MIN_IDEAL = 20, 50, 200
OVERFITTING_REMEDIES = ("fewer epochs (5 → 3)", "more dropout (0.05 → 0.1)", "lower rank (16 → 8)",
                        "more diverse data")


def preset_name(samples: int) -> str:
    return "< 100" if samples < 100 else "100-1000" if samples <= 1000 else "> 1000"


def preset_for(samples: int, allowed: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """The documented preset for a file of ``samples`` examples, limited to what the profile may send.

    Presets set ``lora_r``; ``lora_alpha`` follows the documented "usually 2 × lora_r" rule."""
    name = preset_name(samples)
    values = dict(PRESETS[name])
    if "lora_r" in values:
        values["lora_alpha"] = 2 * values["lora_r"]
    return name, {k: v for k, v in values.items() if k in allowed}


def allowed_names(extra: tuple[str, ...]) -> tuple[str, ...]:
    """The standard three plus the extension names the profile declares."""
    names = ["n_epochs", "batch_size"]
    if "learning_rate" not in extra:
        names.append("learning_rate_multiplier")
    return tuple(names) + tuple(n for n in extra if n in PARAMS_BY_NAME and n not in names)


def data_guidance(samples: int | None) -> Problem | None:
    """XPULink's minimum-data guidance as a (non-blocking) note, None when the data is ample."""
    if samples is None or samples >= MIN_IDEAL:
        return None
    if samples < MIN_EFFECT:
        return Problem("training_file", f"{samples} samples: 20–30 good samples are the least that shows an "
                                        "effect; 50–100 recommended, 200+ ideal", blocking=False)
    if samples < MIN_RECOMMENDED:
        return Problem("training_file", f"{samples} samples: enough to see an effect; 50–100 recommended, "
                                        "200+ ideal", blocking=False)
    return Problem("training_file", f"{samples} samples: good; 200+ is ideal", blocking=False)


def coerce(name: str, raw: Any) -> Any:
    param = PARAMS_BY_NAME.get(name)
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "":
            raise ValueError("empty")
        if raw == "auto" and param is not None and param.auto:
            return "auto"
    if param is None:
        return raw
    if isinstance(raw, bool):
        raise ValueError("expected a number")
    if param.kind is int:
        value = float(raw)
        if value != int(value):
            raise ValueError("expected a whole number")
        return int(value)
    return float(raw)


def check(hp: dict[str, Any], *, allowed: tuple[str, ...], samples: int | None = None,
          method: str = "supervised") -> list[Problem]:
    """Problems with a request to an OpenAI-compatible profile: names it may not send (blocking), values
    off the documented typical ranges (warnings), batch vs samples (blocking), data size (note)."""
    problems: list[Problem] = []
    for name, value in hp.items():
        if name == "beta" and method == "dpo":
            continue
        if name not in allowed:
            problems.append(Problem(name, "this profile does not send it; add it to the profile's "
                                          "extra_hyperparameters if the service takes it"))
            continue
        param = PARAMS_BY_NAME[name]
        if value == "auto":
            if not param.auto:
                problems.append(Problem(name, "'auto' is only for n_epochs, batch_size, learning_rate_multiplier"))
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value <= 0 and name != "lora_dropout":
                problems.append(Problem(name, "must be more than 0"))
            elif not param.low <= value <= param.high:
                problems.append(Problem(name, f"{value:g} is off the documented typical {param.typical}: "
                                              f"{param.advice}", blocking=False))
    r, alpha = hp.get("lora_r"), hp.get("lora_alpha")
    if isinstance(r, int) and isinstance(alpha, int) and alpha != 2 * r:
        problems.append(Problem("lora_alpha", f"usually 2 × lora_r = {2 * r}", blocking=False))
    batch = hp.get("batch_size")
    if samples is not None and isinstance(batch, int) and batch > samples:
        problems.append(Problem("batch_size", f"{batch} is more than the {samples} training samples"))
    note = data_guidance(samples)
    if note:
        problems.append(note)
    return problems
