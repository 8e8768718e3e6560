"""Exact Qwen token counts, offline, with the BPE shipped in the dashscope package.

A sample is counted as it is trained: every message wrapped in ChatML
(``<|im_start|>{role}\\n{content}<|im_end|>\\n``). Byte-level BPE never makes more tokens than there are
UTF-8 bytes, so :func:`byte_bound` proves most samples short without tokenising them at all.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable

_lock = threading.Lock()
_encoding = None
HUGE = 200_000  # characters: longer texts are tokenised in pieces (tiktoken recursion limits)


def encoding():
    """The tiktoken Encoding behind ``dashscope.get_tokenizer("qwen-turbo")``, loaded once."""
    global _encoding
    with _lock:
        if _encoding is None:
            import dashscope

            _encoding = dashscope.get_tokenizer("qwen-turbo")._tokenizer
    return _encoding


def _texts(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return "" if content is None else str(content)


def chatml(record: Any) -> str:
    """The text a record trains on; for DPO, the prompt with the longer of its two answers."""
    if not isinstance(record, dict):
        return ""
    messages = record.get("messages") if isinstance(record.get("messages"), list) else []
    parts = [f"<|im_start|>{m.get('role')}\n{_texts(m.get('content'))}<|im_end|>\n"
             for m in messages if isinstance(m, dict)]
    answers = [record.get(k) for k in ("chosen", "rejected") if isinstance(record.get(k), dict)]
    if answers:
        longest = max((_texts(a.get("content")) for a in answers), key=len)
        parts.append(f"<|im_start|>assistant\n{longest}<|im_end|>\n")
    return "".join(parts)


def byte_bound(text: str) -> int:
    """An upper bound on the token count: one token per byte at worst."""
    return len(text.encode("utf-8"))


def count_text(text: str) -> int:
    enc = encoding()
    if len(text) <= HUGE:
        return len(enc.encode(text, allowed_special="all"))
    return sum(len(enc.encode(text[i:i + HUGE], allowed_special="all")) for i in range(0, len(text), HUGE))


def count(record: Any) -> int:
    return count_text(chatml(record))


def count_texts(texts: list[str], threads: int = 1) -> list[int]:
    """Counts for many texts; tiktoken releases the GIL, so threads use every core."""
    if any(len(t) > HUGE for t in texts):
        return [count_text(t) for t in texts]
    encoded = encoding().encode_batch(texts, num_threads=max(threads, 1), allowed_special="all")
    return [len(tokens) for tokens in encoded]


def per_message(record: Any) -> list[int]:
    """Tokens of each message as wrapped, for the preview's per-turn counts."""
    if not isinstance(record, dict):
        return []
    messages = [m for m in record.get("messages") or [] if isinstance(m, dict)]
    for key in ("chosen", "rejected"):
        if isinstance(record.get(key), dict):
            messages.append(record[key])
    return count_texts([f"<|im_start|>{m.get('role')}\n{_texts(m.get('content'))}<|im_end|>\n" for m in messages])


def under_limit(texts: Iterable[str], max_length: int) -> list[int | None]:
    """None where the byte bound already proves a text fits; the exact count elsewhere."""
    texts = list(texts)
    need = [i for i, t in enumerate(texts) if byte_bound(t) > max_length]
    result: list[int | None] = [None] * len(texts)
    if need:
        for index, value in zip(need, count_texts([texts[i] for i in need])):
            result[index] = value
    return result
