"""The converter registry and format auto-detection.

A converter turns one source record into one Bailian record (SFT ``{"messages": …}`` or DPO
``{"messages", "chosen", "rejected"}``) or raises :class:`~core.data.errors.RecordError`. The same
function serves the preview of one record and the conversion of a whole file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from bailian_tui.core.data.converters import chat, dpo, medqa, vl


@dataclass(frozen=True)
class Converter:
    name: str
    kind: str  # sft | dpo | vl
    description: str
    detect: Callable[[dict], bool]
    convert: Callable[..., dict]


def _has(*keys: str) -> Callable[[dict], bool]:
    return lambda r: all(k in r for k in keys)


def _is_dpo(r: dict) -> bool:
    return ("chosen" in r and "rejected" in r) or "response_chosen" in r


CONVERTERS: dict[str, Converter] = {c.name: c for c in (
    Converter("dpo", "dpo", "preference pairs (Bailian, ShareGPT, MedicalGPT, hh-rlhf) → DPO ChatML", _is_dpo,
              dpo.from_dpo),
    Converter("vl", "vl", "image understanding rows (prompt, image, response) → VL ChatML in a .zip",
              lambda r: any(k in r for k in vl.IMAGE_KEYS) and any(k in r for k in vl.RESPONSE_KEYS), vl.from_vl),
    Converter("messages", "sft", "OpenAI/ChatML messages, normalised", _has("messages"), chat.from_messages),
    Converter("medqa", "sft", "MedQA multiple choice (question, options, answer_idx)",
              _has("question", "options", "answer_idx"), medqa.convert),
    Converter("sharegpt", "sft", "ShareGPT conversations (from/value)", _has("conversations"), chat.from_sharegpt),
    Converter("alpaca", "sft", "Alpaca (instruction, input, output)", _has("instruction", "output"),
              chat.from_alpaca),
    Converter("gsm8k", "sft", "GSM8K (question, answer ending in #### N)",
              lambda r: "question" in r and "####" in str(r.get("answer", "")), chat.from_gsm8k),
    Converter("csv_qa", "sft", "question/answer table (ask/answer, question/answer, 问题/回答, title)",
              lambda r: any(c in r for c in chat.QUESTION_COLUMNS) and any(c in r for c in chat.ANSWER_COLUMNS),
              chat.from_csv_qa),
)}


def detect(sample: list[Any]) -> Converter | None:
    """The converter that fits most of the first records (ties go to the order above)."""
    votes: dict[str, int] = {}
    for record in sample:
        if not isinstance(record, dict):
            continue
        for converter in CONVERTERS.values():
            if converter.detect(record):
                votes[converter.name] = votes.get(converter.name, 0) + 1
                break
    if not votes:
        return None
    return CONVERTERS[max(votes, key=lambda name: (votes[name], -list(CONVERTERS).index(name)))]


def get(name: str) -> Converter:
    if name not in CONVERTERS:
        raise KeyError(f"unknown format '{name}'; known: {', '.join(CONVERTERS)}")
    return CONVERTERS[name]
