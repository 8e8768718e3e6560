"""MedQA multiple-choice records → Bailian ChatML SFT.

The default template reproduces the documented sample exactly (system prompt, ``选项：`` layout,
``答案是 X. text``); :data:`ENGLISH` suits the US split. Templates are plain data, overridable from YAML.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.data.errors import RecordError


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


def convert(record: dict, template: MedQATemplate = MedQATemplate()) -> dict:
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
    option_lines = "\n".join(template.option.format(letter=k, text=v) for k, v in options.items())
    return {"messages": [
        {"role": "system", "content": template.system},
        {"role": "user", "content": template.user.format(question=str(record["question"]).strip(),
                                                         options=option_lines)},
        {"role": "assistant", "content": template.answer.format(answer_idx=idx, answer=answer)},
    ]}
