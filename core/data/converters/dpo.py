"""Preference data → Bailian DPO ChatML: ``messages`` ending with a user turn, ``chosen``/``rejected`` objects."""

from __future__ import annotations

import re

from bailian_tui.core.data.converters.chat import ChatOptions, _text, sharegpt_turns
from bailian_tui.core.data.errors import RecordError

HH_TURN = re.compile(r"\n\n(Human|Assistant): ")


def _answer(value, what: str) -> dict:
    if isinstance(value, dict):
        return {"role": "assistant", "content": _text(value.get("content", value.get("value")), what)}
    return {"role": "assistant", "content": _text(value, what)}


def _turns(turns, what: str) -> list[dict]:
    if not isinstance(turns, list):
        raise RecordError(f"'{what}' is not a list", "give the prompt turns as a list")
    return sharegpt_turns(turns, f"{what} turn")


def _hh(transcript: str) -> list[dict]:
    parts = HH_TURN.split("\n\n" + transcript.lstrip("\n") if not transcript.startswith("\n\n") else transcript)
    messages = []
    for speaker, text in zip(parts[1::2], parts[2::2]):
        messages.append({"role": "user" if speaker == "Human" else "assistant", "content": text.strip()})
    return messages


def from_dpo(record: dict, options: ChatOptions = ChatOptions()) -> dict:
    if "messages" in record:  # already Bailian/OpenAI shaped
        prompt = _turns(record["messages"], "messages")
        chosen, rejected = _answer(record.get("chosen"), "chosen"), _answer(record.get("rejected"), "rejected")
    elif "conversations" in record:  # LLaMA-Factory / MedicalGPT
        prompt = _turns(record["conversations"], "conversations")
        chosen, rejected = _answer(record.get("chosen"), "chosen"), _answer(record.get("rejected"), "rejected")
    elif "response_chosen" in record:  # older MedicalGPT: system/history/question
        prompt = []
        for pair in record.get("history") or []:
            prompt += [{"role": "user", "content": _text(pair[0], "history")},
                       {"role": "assistant", "content": _text(pair[1], "history")}]
        prompt.append({"role": "user", "content": _text(record.get("question"), "question")})
        if record.get("system"):
            prompt.insert(0, {"role": "system", "content": record["system"]})
        chosen = _answer(record["response_chosen"], "response_chosen")
        rejected = _answer(record.get("response_rejected"), "response_rejected")
    elif isinstance(record.get("chosen"), str) and isinstance(record.get("rejected"), str):  # hh-rlhf
        good, bad = _hh(record["chosen"]), _hh(record["rejected"])
        if not good or good[-1]["role"] != "assistant" or not bad or bad[-1]["role"] != "assistant":
            raise RecordError("the transcripts do not end with an Assistant turn", "check the Human/Assistant text")
        if good[:-1] != bad[:-1]:
            raise RecordError("chosen and rejected differ before their last turn",
                              "DPO needs one shared prompt and two final answers")
        prompt, chosen, rejected = good[:-1], good[-1], bad[-1]
    else:
        raise RecordError("no preference pair found", "DPO records need chosen and rejected answers")
    if options.system and (not prompt or prompt[0]["role"] != "system"):
        prompt.insert(0, {"role": "system", "content": options.system})
    return {"messages": prompt, "chosen": chosen, "rejected": rejected}
