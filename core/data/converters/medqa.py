"""MedQA multiple-choice records → Bailian ChatML SFT.

The default template reproduces the documented sample exactly (system prompt, ``选项：`` layout,
``答案是 X. text``); :data:`ENGLISH` suits the US split. Templates are plain data, overridable from YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bailian_tui.core.data.errors import RecordError


@dataclass(frozen=True)
class MedQATemplate:
    system: str = "你是一个专业的医学助手，擅长回答医学选择题。请根据题目和选项，给出正确答案。"
    user: str = "{question}\n\n选项：\n{options}"
    option: str = "{letter}. {text}"
    answer: str = "答案是 {answer_idx}. {answer}"


ENGLISH = MedQATemplate(
    system="You are a professional medical assistant who answers medical multiple-choice questions. "
           "Read the question and the options, then give the correct answer.",
    user="{question}\n\nOptions:\n{options}",
    answer="The answer is {answer_idx}. {answer}",
)


def convert(record: dict, options: Any = None) -> dict:
    template = options if isinstance(options, MedQATemplate) else getattr(options, "template", None)
    template = template or MedQATemplate()
    if not isinstance(record, dict):
        raise RecordError("the record is not an object", "each line must be a JSON object")
    for key in ("question", "options", "answer_idx"):
        if key not in record:
            raise RecordError(f"missing key '{key}'", "MedQA records need question, options and answer_idx")
    options = record["options"]
    if isinstance(options, list):
        raise RecordError("'options' is a list", "give options as an object {\"A\": …, \"B\": …}")
    if not isinstance(options, dict) or not options:
        raise RecordError("'options' must be a non-empty object", "give options as {\"A\": …, \"B\": …}")
    idx = str(record["answer_idx"]).strip()
    if idx not in options:
        raise RecordError(f"answer_idx '{idx}' is not among the options {', '.join(options)}",
                          "fix answer_idx to one of the option letters")
    answer = record.get("answer") or options[idx]
    if template.option == "{letter}. {text}":  # the default layout, without str.format per option
        option_lines = "\n".join([f"{k}. {v}" for k, v in options.items()])
    else:
        option_lines = "\n".join([template.option.format(letter=k, text=v) for k, v in options.items()])
    messages = [{"role": "system", "content": template.system}] if template.system else []
    return {"messages": messages + [
        {"role": "user", "content": template.user.format(question=str(record["question"]).strip(),
                                                         options=option_lines)},
        {"role": "assistant", "content": template.answer.format(answer_idx=idx, answer=answer)},
    ]}


def load_template(path) -> MedQATemplate:
    """A template from YAML: any of system, user, option, answer; the rest keep their defaults."""
    import yaml

    from bailian_tui.core.data.errors import DataFileError

    try:
        data = yaml.safe_load(open(path, encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DataFileError(str(path), f"cannot be read as YAML ({exc.__class__.__name__})") from None
    unknown = set(data) - {"system", "user", "option", "answer"}
    if not isinstance(data, dict) or unknown:
        raise DataFileError(str(path), f"unknown template keys: {', '.join(sorted(unknown))}",
                            "use system, user, option and answer")
    return MedQATemplate(**{**MedQATemplate().__dict__, **data})
