"""The validator: one finding per problem, with severity, file:line, message and a fix hint.

:func:`check_record` judges one Bailian record (the preview calls it on the selected record);
:func:`core.data.scan.validate_file` runs it over a whole file on every core.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

ERROR, WARNING, INFO = "error", "warning", "info"
ROLES = ("system", "user", "assistant")
SPECIAL_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")
THINK_LAYOUT = re.compile(r"\A<think>\n.*?\n</think>\n\n(?!\s*\Z)", re.S)
MOJIBAKE = re.compile(r"[\u00c2-\u00ef][\u0080-\u00bf\u2018-\u203a\u0152-\u0178\u02c6\u02dc]")
MAX_FILE_BYTES = 300 * 1024 * 1024
# "建议训练数据不少于 1000 条" — the tuning guides' recommendation for SFT; fewer still runs.
RECOMMENDED_MIN_SAMPLES = 1000


@dataclass(frozen=True)
class Finding:
    severity: str
    line: int | None
    code: str
    message: str
    hint: str = ""

    def where(self, path: str) -> str:
        return f"{path}:{self.line}" if self.line else path

    def as_dict(self) -> dict:
        return asdict(self)


def _content_ok(content: Any, kind: str) -> bool:
    if isinstance(content, str):
        return bool(content.strip())
    if kind == "vl" and isinstance(content, list):
        return bool(content) and all(isinstance(p, dict) and ({"text", "image"} & set(p)) for p in content)
    return False


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return []


def looks_mojibake(text: str) -> bool:
    """UTF-8 bytes once decoded as Latin-1/CP1252 and saved again: 'ä½ å¥½' for '你好'."""
    if not MOJIBAKE.search(text):
        return False
    for codec in ("cp1252", "latin-1"):
        # Editors often turn the NBSP of a mangled byte into a space, so repair leniently and count.
        repaired = text.encode(codec, errors="ignore").decode("utf-8", errors="replace")
        cjk = sum(1 for ch in repaired if ord(ch) > 0x2E80 and ch != "\ufffd")
        if cjk >= 2 and cjk > repaired.count("\ufffd"):
            return True
    return False


def check_messages(messages: Any, line: int | None, kind: str, findings: list[Finding]) -> None:
    add = findings.append
    if not isinstance(messages, list):
        add(Finding(ERROR, line, "messages-not-list", "'messages' is not a list",
                    "each line needs {\"messages\": [{\"role\": …, \"content\": …}, …]}"))
        return
    if not messages:
        add(Finding(ERROR, line, "messages-empty", "'messages' is empty", "add the conversation"))
        return
    expected = "user"
    last_assistant = max((i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "assistant"),
                         default=-1)
    for index, message in enumerate(messages):
        n = index + 1
        if not isinstance(message, dict):
            add(Finding(ERROR, line, "message-not-object", f"message {n} is not an object",
                        "use {\"role\": …, \"content\": …}"))
            return
        role = message.get("role")
        if role not in ROLES:
            add(Finding(ERROR, line, "bad-role", f"message {n} has role '{role}'",
                        "roles are system, user or assistant only"))
            return
        for key in ("name", "weight"):
            if key in message:
                add(Finding(WARNING, line, "unsupported-key", f"message {n} has '{key}', which Bailian does not support",
                            f"remove '{key}' (OpenAI-only)"))
        if "loss_weight" in message:
            weight = message["loss_weight"]
            if role != "assistant" or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
                add(Finding(ERROR, line, "bad-loss-weight", f"message {n} has loss_weight {weight!r}",
                            "loss_weight is 0.0–1.0 on assistant turns only (invitation-only feature)"))
        content = message.get("content")
        if not _content_ok(content, kind):
            what = "empty" if content in ("", None) or (isinstance(content, str) and not content.strip()) \
                else f"a {type(content).__name__}"
            add(Finding(ERROR, line, "bad-content", f"message {n} ({role}) content is {what}",
                        "content must be a non-empty string"))
        for text in _texts(content):
            for token in SPECIAL_TOKENS:
                if token in text:
                    add(Finding(ERROR, line, "special-token", f"message {n} contains the literal {token}",
                                "remove Qwen special tokens from the text; the platform adds them"))
            if "<think>" in text or "</think>" in text:
                if role != "assistant":
                    add(Finding(ERROR, line, "think-role", f"message {n} ({role}) holds <think> content",
                                "thinking content belongs to the assistant"))
                elif index != last_assistant:
                    add(Finding(WARNING, line, "think-not-last", f"message {n}: <think> in a non-final assistant turn",
                                "only the last assistant turn of a thinking model is trained with its thoughts"))
                elif not THINK_LAYOUT.match(text):
                    add(Finding(ERROR, line, "think-layout", f"message {n}: <think> block breaks the documented layout",
                                "write <think>\\n…\\n</think>\\n\\n then the answer"))
            if looks_mojibake(text):
                add(Finding(WARNING, line, "mojibake", f"message {n} looks like mojibake (UTF-8 read as Latin-1)",
                            "re-export the source as UTF-8; the text reads e.g. 'ä½ å¥½' instead of '你好'"))
        if role == "system":
            if index != 0:
                add(Finding(ERROR, line, "system-not-first", f"message {n} is a system message",
                            "only the first message may be system"))
            continue
        if role != expected:
            add(Finding(ERROR, line, "order", f"message {n} is {role}, expected {expected}",
                        "user and assistant turns must alternate, starting with user"))
            return
        expected = "assistant" if role == "user" else "user"
    if kind in ("sft", "vl") and expected != "user":
        add(Finding(ERROR, line, "ends-with-user", "the conversation ends with a user turn",
                    "SFT samples must end with the assistant's answer"))
    if kind == "dpo" and expected != "assistant":
        add(Finding(ERROR, line, "dpo-prompt", "the DPO prompt must end with a user turn",
                    "move the last assistant answer into chosen/rejected"))


def check_record(record: Any, line: int | None, kind: str = "sft") -> list[Finding]:
    findings: list[Finding] = []
    if not isinstance(record, dict):
        findings.append(Finding(ERROR, line, "not-object", f"the line is a JSON {type(record).__name__}, not an object",
                                "each line must be one JSON object"))
        return findings
    if "messages" not in record:
        findings.append(Finding(ERROR, line, "no-messages", "missing 'messages'",
                                "convert the record first (bailian-tui convert) or add messages"))
        return findings
    check_messages(record["messages"], line, kind, findings)
    if kind == "dpo":
        for key in ("chosen", "rejected"):
            value = record.get(key)
            if not isinstance(value, dict):
                shape = "missing" if value is None else f"a {type(value).__name__}"
                findings.append(Finding(ERROR, line, "dpo-shape", f"'{key}' is {shape}",
                                        f"'{key}' must be one message object {{\"role\": \"assistant\", \"content\": …}}"))
            elif value.get("role") != "assistant" or not _content_ok(value.get("content"), kind):
                findings.append(Finding(ERROR, line, "dpo-shape", f"'{key}' must be an assistant message with content",
                                        "use {\"role\": \"assistant\", \"content\": \"…\"}"))
    return findings


def record_kind(record: Any) -> str:
    if isinstance(record, dict) and ("chosen" in record or "rejected" in record):
        return "dpo"
    if isinstance(record, dict) and isinstance(record.get("messages"), list):
        for message in record["messages"]:
            if isinstance(message, dict) and isinstance(message.get("content"), list):
                return "vl"
    return "sft"


# What can start a problem worth the full check: "<" (special tokens, <think>), the UTF-8 lead bytes of the
# Latin-1 letters that mojibake is made of, and, in an ASCII-escaped line, any \\u escape (which may hide
# either). Single-byte `in` tests are memchr-fast; a two-byte needle or a regex costs more than the rest.
def quick_ok(record: Any, raw: bytes | None = None) -> bool:
    """True only when a record is certainly clean; anything unusual goes to :func:`check_record`.

    Most lines of a real file are ordinary system/user/assistant string conversations: proving that takes
    a few dict lookups, where the full check costs several times more.
    """
    if type(record) is not dict or len(record) != 1:
        return False
    messages = record.get("messages")
    if type(messages) is not list or not messages:
        return False
    if raw is None or b"<" in raw or b"\xc2" in raw or b"\xc3" in raw:
        return False
    if raw.isascii() and b"\\u" in raw:
        return False
    expected = "user"
    for index, message in enumerate(messages):
        if type(message) is not dict or len(message) != 2:
            return False
        role, content = message.get("role"), message.get("content")
        if type(content) is not str or not content or content.isspace():
            return False
        if role == "system":
            if index:
                return False
        elif role == expected:
            expected = "assistant" if role == "user" else "user"
        else:
            return False
    return expected == "user" and raw is not None
