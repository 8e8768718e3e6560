"""Exact Qwen token counts, offline, with the BPE shipped in the dashscope package.

A sample is counted as it is trained: every message wrapped in ChatML
(``<|im_start|>{role}\\n{content}<|im_end|>\\n``). Byte-level BPE never makes more tokens than there are
UTF-8 bytes, so :func:`byte_bound` proves most samples short without tokenising them at all.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_encoding = None
HUGE = 200_000  # characters: longer texts are tokenised in pieces (tiktoken recursion limits)


# The split pattern and special tokens of dashscope/tokenizers/qwen_tokenizer.py, repeated here so that
# counting needs only tiktoken and the vocabulary file the dashscope package ships: importing dashscope
# and building its QwenTokenizer (which keeps two extra copies of the vocabulary in Python dicts) costs
# ~125 MB of memory; this costs ~55 MB. tests/test_validate.py checks both give the same tokens.
PAT_STR = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
           r"""\s*[\r\n]+|\s+(?!\S)|\s+""")
SPECIAL_START_ID = 151643
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>") + tuple(f"<|extra_{i}|>" for i in range(205))


def vocabulary_file() -> str:
    import importlib.util
    import os

    spec = importlib.util.find_spec("dashscope")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the dashscope package is not installed (pip install -e .)")
    return os.path.join(list(spec.submodule_search_locations)[0], "resources", "qwen.tiktoken")


def loaded() -> bool:
    """Whether counting is instant (the vocabulary is in memory) or would first load it (~0.3 s)."""
    return _encoding is not None


def encoding():
    """The Qwen BPE of ``dashscope.get_tokenizer("qwen-turbo")`` as a tiktoken Encoding, loaded once."""
    global _encoding
    with _lock:
        if _encoding is None:
            import tiktoken
            from tiktoken.load import load_tiktoken_bpe

            ranks = load_tiktoken_bpe(vocabulary_file())
            specials = {token: SPECIAL_START_ID + i for i, token in enumerate(SPECIAL_TOKENS)}
            _encoding = tiktoken.Encoding("qwen", pat_str=PAT_STR, mergeable_ranks=ranks, special_tokens=specials)
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


def line_bound_holds(raw_line: bytes, max_length: int) -> bool:
    """True when a JSON line of ChatML provably trains on at most ``max_length`` tokens.

    Every content byte appears at least once in the line (JSON escapes only lengthen it), and each
    message's ChatML wrapping (≤ 6 tokens) is paid for by the ≥ 28 bytes of its JSON object.
    """
    return len(raw_line) <= max_length


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
    if threads <= 1 or any(len(t) > HUGE for t in texts):
        # One by one: encode_batch starts a thread pool on every call (~2 ms, and a thread that wants the GIL),
        # which the preview paid on every move in the record list for a handful of messages.
        return [count_text(t) for t in texts]
    encoded = encoding().encode_batch(texts, num_threads=threads, allowed_special="all")
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
