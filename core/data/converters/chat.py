"""Conversation-shaped sources: OpenAI/ChatML ``messages``, ShareGPT ``conversations``, Alpaca, GSM8K, CSV Q&A."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bailian_tui.core.data.errors import RecordError

SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "chatgpt": "assistant", "bing": "assistant", "bard": "assistant", "model": "assistant",
                  "system": "system"}
CALCULATOR = re.compile(r"<<[^<>]*>>")


@dataclass(frozen=True)
class ChatOptions:
    system: str | None = None  # added as the first message when the source has none
    question_column: str | None = None  # CSV: which column is the user's turn
    answer_column: str | None = None
    keep_calculator: bool = False  # GSM8K: keep the <<48/2=24>> annotations
    template: Any = None  # MedQA: a MedQATemplate (None: the documented default)


def _text(value, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # OpenAI content parts
        parts = [p.get("text") for p in value if isinstance(p, dict) and p.get("type", "text") == "text"]
        if all(isinstance(p, str) for p in parts) and parts:
            return "".join(parts)
    raise RecordError(f"{what} is {type(value).__name__}, not text", "content must be a string")


def _with_system(messages: list[dict], system: str | None) -> dict:
    if system and (not messages or messages[0]["role"] != "system"):
        messages.insert(0, {"role": "system", "content": system})
    return {"messages": messages}


def from_messages(record: dict, options: ChatOptions = ChatOptions()) -> dict:
    raw = record.get("messages")
    if not isinstance(raw, list):
        raise RecordError("'messages' is not a list", "each line needs {\"messages\": [ … ]}")
    messages = []
    for index, message in enumerate(raw):
        if not isinstance(message, dict):
            raise RecordError(f"message {index + 1} is not an object", "use {\"role\": …, \"content\": …}")
        role = SHAREGPT_ROLES.get(str(message.get("role", "")).lower(), message.get("role"))
        out = {"role": role, "content": _text(message.get("content"), f"message {index + 1} content")}
        if "loss_weight" in message and role == "assistant":
            out["loss_weight"] = message["loss_weight"]
        messages.append(out)  # OpenAI's name/weight are dropped: Bailian does not support them
    return _with_system(messages, options.system)


def sharegpt_turns(turns: list, what: str = "turn") -> list[dict]:
    """ShareGPT ``{from, value}`` (or ``{role, content}``) turns as ChatML messages."""
    messages = []
    for index, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise RecordError(f"{what} {index + 1} is not an object", "use {\"from\": …, \"value\": …}")
        speaker = str(turn.get("from", turn.get("role", ""))).lower()
        role = SHAREGPT_ROLES.get(speaker)
        if role is None:
            raise RecordError(f"{what} {index + 1} is from '{speaker}'",
                              "Bailian ChatML has only system/user/assistant; drop tool-call records")
        messages.append({"role": role, "content": _text(turn.get("value", turn.get("content")),
                                                        f"{what} {index + 1} value")})
    return messages


def from_sharegpt(record: dict, options: ChatOptions = ChatOptions()) -> dict:
    turns = record.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise RecordError("'conversations' is missing or empty", "ShareGPT records need a conversations list")
    return _with_system(sharegpt_turns(turns), record.get("system") or options.system)


def from_alpaca(record: dict, options: ChatOptions = ChatOptions()) -> dict:
    if "instruction" not in record or "output" not in record:
        raise RecordError("missing 'instruction' or 'output'", "Alpaca records need instruction and output")
    messages = []
    for pair in record.get("history") or []:
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            messages += [{"role": "user", "content": _text(pair[0], "history question")},
                         {"role": "assistant", "content": _text(pair[1], "history answer")}]
    instruction = _text(record["instruction"], "instruction").strip()
    extra = record.get("input")
    prompt = f"{instruction}\n\n{_text(extra, 'input').strip()}" if extra else instruction
    messages += [{"role": "user", "content": prompt},
                 {"role": "assistant", "content": _text(record["output"], "output")}]
    return _with_system(messages, record.get("system") or options.system)


def from_gsm8k(record: dict, options: ChatOptions = ChatOptions()) -> dict:
    answer = _text(record.get("answer"), "answer")
    if "####" not in answer:
        raise RecordError("the answer has no '#### N' final line", "GSM8K answers end with #### and the number")
    if not options.keep_calculator:
        answer = CALCULATOR.sub("", answer)
    return _with_system([{"role": "user", "content": _text(record.get("question"), "question").strip()},
                         {"role": "assistant", "content": answer}], options.system)


QUESTION_COLUMNS = ("ask", "question", "问题", "问", "instruction", "prompt", "title")
ANSWER_COLUMNS = ("answer", "回答", "答", "response", "output")


def csv_columns(record: dict, options: ChatOptions) -> tuple[str, str]:
    question = options.question_column or next((c for c in QUESTION_COLUMNS if c in record), None)
    answer = options.answer_column or next((c for c in ANSWER_COLUMNS if c in record), None)
    if question not in record or answer not in record:
        raise RecordError(f"no question/answer columns among {', '.join(map(str, record))}",
                          "map them with --question-column and --answer-column")
    return question, answer


def from_csv_qa(record: dict, options: ChatOptions = ChatOptions()) -> dict:
    question_col, answer_col = csv_columns(record, options)
    question = (record.get(question_col) or "").strip()
    if not question and "title" in record:  # a dialogue row with only a title still asks something
        question = (record.get("title") or "").strip()
    return _with_system([{"role": "user", "content": question},
                         {"role": "assistant", "content": (record.get(answer_col) or "").strip()}],
                        options.system)
