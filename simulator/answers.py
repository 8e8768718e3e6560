"""Deterministic answers for simulated models.

A tuned model repeats what it was trained on when asked a training prompt verbatim. For a multiple-choice
question it picks an option from a hash of (model, question): when the simulator knows the right answer
(``SimState.knowledge``, loaded from the MedQA samples in demo mode) a tuned model is right with
probability ``TUNED_ACCURACY`` and a base model with ``BASE_ACCURACY``, otherwise any letter is equally
likely. :func:`choose` is public so that tests can work out the accuracy an evaluation must report.
"""

from __future__ import annotations

import hashlib
import re

TUNED_ACCURACY = 0.8
BASE_ACCURACY = 0.5

OPTION_RE = re.compile(r"^\s*([A-E])\s*[.．、:：)]\s*(.+?)\s*$", re.M)


def question_key(text: str) -> str:
    """The question stem: text before the first option line, without a trailing "选项：" label."""
    match = OPTION_RE.search(text)
    stem = text[: match.start()] if match else text
    lines = [ln for ln in stem.strip().splitlines() if ln.strip()]
    if lines and lines[-1].strip().endswith((":", "：")) and len(lines) > 1:
        lines = lines[:-1]
    return " ".join(" ".join(lines).split())


def options_of(text: str) -> dict[str, str]:
    return {letter: body for letter, body in OPTION_RE.findall(text)}


def _fraction(model: str, key: str) -> tuple[float, int]:
    digest = int(hashlib.sha256(f"{model}\n{key}".encode()).hexdigest(), 16)
    return (digest % 10_000) / 10_000, digest // 10_000


def choose(model: str, tuned: bool, question: str, letters: list[str], correct: str | None) -> str:
    letters = sorted(letters)
    fraction, spread = _fraction(model, question)
    if correct in letters:
        if fraction < (TUNED_ACCURACY if tuned else BASE_ACCURACY):
            return correct
        wrong = [x for x in letters if x != correct]
        return wrong[spread % len(wrong)]
    return letters[spread % len(letters)]


def reply(model: str, tuned: bool, memory: dict[str, str], knowledge: dict[str, str],
          messages: list[dict]) -> str:
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    if isinstance(content, list):
        content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    text = str(content or "")
    if text.strip() in memory:
        return memory[text.strip()]
    options = options_of(text)
    if len(options) >= 2:
        key = question_key(text)
        letter = choose(model, tuned, key, list(options), knowledge.get(key))
        if tuned:
            return f"答案是 {letter}. {options[letter]}"
        return f"根据题干分析，最可能的答案是 {letter}（{options[letter]}）。"
    if not text.strip():
        return "请问有什么可以帮您？"
    return f"（{model} 模拟回答）关于「{text.strip()[:60]}」：这是模拟服务生成的确定性回答，用于演示与测试。"
