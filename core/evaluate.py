"""Multiple-choice evaluation of a model (and a baseline) on a converted test split.

Each record of the split is a Bailian SFT sample whose last assistant turn holds the right answer
("答案是 D. …" / "The answer is D. …"). The prompt (every message before it) goes to the model; the chosen
option letter is parsed from the reply. Results are appended to a JSONL file as they arrive, one line per
(question, model), so an interrupted run resumes without asking any question twice; the summary reports
accuracy with a 95 % Wilson interval and the number of unparseable replies.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import orjson

from bailian_tui.core.data.errors import DataFileError
from bailian_tui.core.errors import PlatformError

LETTER = r"([A-E])"
PATTERNS = [
    re.compile(r"答案(?:是|为)?\s*[:：]?\s*\(?" + LETTER + r"\b"),
    re.compile(r"(?:answer|option)\s*(?:is|:)?\s*\(?" + LETTER + r"\b", re.I),
    re.compile(r"正确答案(?:是|为)?\s*[:：]?\s*" + LETTER),
    re.compile(r"选\s*" + LETTER),
    re.compile(r"^\s*\(?" + LETTER + r"[\.\)．、:：\s]", re.M),
]


def parse_letter(text: str, letters: str = "ABCDE") -> str | None:
    for pattern in PATTERNS:
        match = pattern.search(text or "")
        if match and match.group(1) in letters:
            return match.group(1)
    return None


@dataclass(frozen=True)
class Question:
    index: int
    line: int
    messages: list[dict]
    answer: str
    letters: str


def load_questions(path: str | Path) -> list[Question]:
    path = Path(path)
    questions = []
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise DataFileError(str(path), f"cannot be read ({exc.strerror})") from None
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            record = orjson.loads(raw)
            messages = record["messages"]
            answer = parse_letter(messages[-1]["content"])
        except (orjson.JSONDecodeError, KeyError, TypeError, IndexError):
            raise DataFileError(str(path), "is not a converted test split", "convert the split first "
                                "(bailian-tui convert …_test.jsonl)", line=number) from None
        if messages[-1].get("role") != "assistant" or answer is None:
            raise DataFileError(str(path), "the last assistant turn names no option letter",
                                "evaluate a converted multiple-choice split", line=number)
        letters = "".join(sorted(set(re.findall(r"^([A-E])[\.．、]", messages[-2]["content"], re.M)))) or "ABCDE"
        questions.append(Question(len(questions), number, messages[:-1], answer, letters))
    if not questions:
        raise DataFileError(str(path), "holds no questions")
    return questions


def wilson(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    if total == 0:
        return 0.0, 0.0
    p = correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


KEEP_MESSAGES = 5
_REQUEST_ID = re.compile(r",?\s*request_id [\w-]+")
# Answers that mean "this model cannot answer at all": stop asking it after the first one.
MODEL_GONE_CODES = {"Model.NotExist", "ModelNotFound", "Model.NotFound", "NotFound", "Model.AccessDenied",
                    "AccessDenied.Unpurchased", "ModelNotDeployed", "model_not_found"}


def model_unusable(err: PlatformError, model: str) -> bool:
    """The model does not exist, is not deployed (or not serving yet), or the key may not use it.

    Every further question would fail the same way, so the run stops asking this model. Transient
    failures (timeouts, 429, 5xx) are not this: those questions count as errors and a rerun asks again.
    """
    if err.status in (401, 403, 404) or (err.code or "") in MODEL_GONE_CODES:
        return True
    return err.status == 400 and model in str(err)


@dataclass
class ModelScore:
    model: str
    answered: int = 0
    correct: int = 0
    unparseable: int = 0
    errors: int = 0  # requests that failed in this run
    not_asked: int = 0  # questions skipped because the model cannot answer (see ``stopped``)
    error_messages: list[str] = field(default_factory=list)  # the first distinct messages, in order
    stopped: str | None = None  # why the run stopped asking this model

    @property
    def missing(self) -> int:
        """Questions with no answer from this model (failed or not asked)."""
        return self.errors + self.not_asked

    def note_error(self, message: str) -> None:
        """Count it; keep it when it says something new (the request id alone is not new)."""
        self.errors += 1
        key = _REQUEST_ID.sub("", message)
        if len(self.error_messages) < KEEP_MESSAGES and all(_REQUEST_ID.sub("", m) != key
                                                            for m in self.error_messages):
            self.error_messages.append(message)

    @property
    def accuracy(self) -> float:
        return self.correct / self.answered if self.answered else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.correct, self.answered)


@dataclass
class Summary:
    split: str
    questions: int
    scores: list[ModelScore]
    disagreements: list[int] = field(default_factory=list)  # question indices where the models differ

    @property
    def complete(self) -> bool:
        """Every question was put to every model and answered (parseable or not)."""
        return all(s.answered == self.questions and not s.missing for s in self.scores)

    def as_dict(self) -> dict:
        return {"split": self.split, "questions": self.questions, "disagreements": len(self.disagreements),
                "complete": self.complete,
                "models": [{**asdict(s), "accuracy": round(s.accuracy, 4),
                            "ci95": [round(x, 4) for x in s.interval]} for s in self.scores]}


def results_path(split: Path, models: list[str]) -> Path:
    safe = "_vs_".join(re.sub(r"[^A-Za-z0-9._-]+", "-", m) for m in models)
    return split.with_name(f"{split.stem}.eval.{safe}.jsonl")


def read_results(path: Path) -> dict[tuple[int, str], dict]:
    done: dict[tuple[int, str], dict] = {}
    if path.exists():
        for raw in path.read_bytes().splitlines():
            try:
                row = orjson.loads(raw)
                done[(int(row["index"]), str(row["model"]))] = row
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # a line cut by an interruption: asked again
    return done


async def evaluate(platform, split: str | Path, models: list[str], *, concurrency: int = 4,
                   progress: Callable[[int, int], None] | None = None,
                   cancelled: Callable[[], bool] = lambda: False, limit: int | None = None) -> Summary:
    split = Path(split)
    questions = load_questions(split)[:limit]
    out = results_path(split, models)
    done = read_results(out)
    todo = [(q, m) for q in questions for m in models if (q.index, m) not in done]
    total, finished = len(questions) * len(models), len(questions) * len(models) - len(todo)
    if progress:
        progress(finished, total)
    semaphore = asyncio.Semaphore(max(1, concurrency))
    lock = asyncio.Lock()
    failures = {m: ModelScore(m) for m in models}  # errors of this run, per model
    with open(out, "ab") as sink:

        async def ask(question: Question, model: str) -> None:
            nonlocal finished
            if cancelled():
                return
            async with semaphore:
                if cancelled():
                    return
                if failures[model].stopped is not None:
                    async with lock:
                        failures[model].not_asked += 1
                        finished += 1
                        if progress:
                            progress(finished, total)
                    return
                try:
                    reply = await platform.chat(model, question.messages, temperature=0.0, seed=1234)
                    text, error = reply.content, None
                except PlatformError as err:
                    text, error = "", err.human()
                    failures[model].note_error(error)
                    if failures[model].stopped is None and model_unusable(err, model):
                        failures[model].stopped = error
            chosen = parse_letter(text, question.letters)
            row = {"index": question.index, "line": question.line, "model": model, "answer": question.answer,
                   "chosen": chosen, "correct": chosen == question.answer, "reply": text, "error": error}
            async with lock:
                if error is None:  # errors are not recorded: a resumed run asks again
                    sink.write(orjson.dumps(row) + b"\n")
                    sink.flush()
                    done[(question.index, model)] = row
                finished += 1
                if progress:
                    progress(finished, total)

        await asyncio.gather(*(ask(q, m) for q, m in todo))
    summary = summarise(split, questions, models, done)
    for score in summary.scores:
        failed = failures[score.model]
        score.errors, score.not_asked = failed.errors, failed.not_asked
        score.error_messages, score.stopped = failed.error_messages, failed.stopped
    summary_path = out.with_suffix(".summary.json")
    summary_path.write_text(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    return summary


def summarise(split: Path, questions: list[Question], models: list[str], done: dict) -> Summary:
    scores = []
    for model in models:
        score = ModelScore(model)
        for q in questions:
            row = done.get((q.index, model))
            if row is None:
                continue
            score.answered += 1
            score.correct += bool(row["correct"])
            score.unparseable += row["chosen"] is None
        scores.append(score)
    disagreements = []
    if len(models) > 1:
        for q in questions:
            chosen = {done[(q.index, m)]["chosen"] for m in models if (q.index, m) in done}
            if len(chosen) > 1:
                disagreements.append(q.index)
    return Summary(str(split), len(questions), scores, disagreements)
