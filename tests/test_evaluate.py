"""Evaluation against deterministic simulated models: the accuracy they imply, resumable, headless."""

from __future__ import annotations

import json

import pytest

from bailian_tui.core.data.convert import convert_file
from bailian_tui.core.evaluate import evaluate, load_questions, parse_letter, read_results, results_path, wilson
from bailian_tui.core.platform import JobRequest
from bailian_tui.simulator import answers
from bailian_tui.simulator.answers import question_key
from bailian_tui.simulator.demo import load_knowledge
from tests.conftest import DATASETS, write_chatml


@pytest.fixture
def split(tmp_path):
    out = tmp_path / "mainland_4opt_test.jsonl"
    convert_file(DATASETS / "MedQA/questions/Mainland/4_options/test.jsonl", out)
    return out


async def deployed_model(platform, clock, tmp_path) -> str:
    remote = await platform.upload_file(write_chatml(tmp_path / "t.jsonl"))
    job = await platform.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file_id],
                                               hyper_parameters={"batch_size": 8}))
    clock.advance(300)
    output = (await platform.get_job(job.job_id)).finetuned_output
    deployment = await platform.create_deployment(output, 1)
    clock.advance(60)
    return deployment.deployed_model


def expected_accuracy(split, model: str, tuned: bool, knowledge: dict) -> float:
    questions = load_questions(split)
    right = 0
    for q in questions:
        text = q.messages[-1]["content"]
        key = question_key(text)
        right += answers.choose(model, tuned, key, list(q.letters), knowledge.get(key)) == q.answer
    return right / len(questions)


def test_letter_parsing_and_interval():
    assert parse_letter("答案是 D. 24小时内") == "D"
    assert parse_letter("The answer is (b)".replace("(b)", "(B)")) == "B"
    assert parse_letter("根据题干分析，最可能的答案是 C（HCV）。") == "C"
    assert parse_letter("I am not sure.") is None
    low, high = wilson(8, 10)
    assert 0.49 < low < 0.5 and 0.94 < high < 0.95


async def test_accuracy_is_what_the_deterministic_answers_imply(platform, clock, tmp_path, sim, split):
    load_knowledge(sim.state, DATASETS)
    model = await deployed_model(platform, clock, tmp_path)
    summary = await evaluate(platform, split, [model, "qwen3-8b"])
    tuned, base = summary.scores
    assert tuned.answered == base.answered == 12 and tuned.unparseable == base.unparseable == 0
    assert tuned.accuracy == expected_accuracy(split, model, True, sim.state.knowledge)
    assert base.accuracy == expected_accuracy(split, "qwen3-8b", False, sim.state.knowledge)
    rows = read_results(results_path(split, [model, "qwen3-8b"]))
    differ = {i for i in range(12) if rows[(i, model)]["chosen"] != rows[(i, "qwen3-8b")]["chosen"]}
    assert set(summary.disagreements) == differ
    saved = json.loads(results_path(split, [model, "qwen3-8b"]).with_suffix(".summary.json").read_text())
    assert saved["models"][0]["accuracy"] == round(tuned.accuracy, 4)


async def test_resume_never_asks_twice(platform, clock, tmp_path, sim, split):
    load_knowledge(sim.state, DATASETS)
    asked = 0

    def stop_after_five() -> bool:
        return len(sim.state.generations) >= 5

    first = await evaluate(platform, split, ["qwen3-8b"], concurrency=1, cancelled=stop_after_five)
    asked = len(sim.state.generations)
    assert first.scores[0].answered == asked < 12
    # A crash mid-write leaves a cut line: it is asked again, not trusted.
    path = results_path(split, ["qwen3-8b"])
    path.write_bytes(path.read_bytes() + b'{"index": 11, "mod')
    second = await evaluate(platform, split, ["qwen3-8b"], concurrency=3)
    assert second.scores[0].answered == 12
    prompts = [messages for _, messages in sim.state.generations]
    assert len(prompts) == len(set(prompts)) == 12


async def test_unknown_model_is_reported_after_the_first_failure_and_not_asked_again(platform, sim, split):
    asked = platform.stats.requests
    summary = await evaluate(platform, split, ["no-such-model", "qwen3-8b"], concurrency=1)
    gone, base = summary.scores
    assert platform.stats.requests - asked == 1 + 12  # one question to the missing model, then it stops
    assert (gone.answered, gone.errors, gone.not_asked, gone.missing) == (0, 1, 11, 12)
    assert gone.stopped and "no-such-model" in gone.stopped and gone.error_messages == [gone.stopped]
    assert base.answered == 12 and base.missing == 0 and not base.error_messages
    assert not summary.complete
    assert not read_results(results_path(split, ["no-such-model", "qwen3-8b"])).get((0, "no-such-model"))
    saved = json.loads(results_path(split, ["no-such-model", "qwen3-8b"]).with_suffix(".summary.json").read_text())
    assert saved["complete"] is False
    assert saved["models"][0]["errors"] == 1 and saved["models"][0]["not_asked"] == 11
    assert "no-such-model" in saved["models"][0]["error_messages"][0]


async def test_every_failed_request_counts_and_a_rerun_asks_those_again(platform, sim, split):
    sim.state.config.rate_500 = 1.0  # every request fails, transiently: none is a reason to stop asking
    first = await evaluate(platform, split, ["qwen3-8b"], concurrency=2, limit=4)
    score = first.scores[0]
    assert (score.answered, score.errors, score.not_asked, score.stopped) == (0, 4, 0, None)
    assert len(score.error_messages) == 1 and "500" in score.error_messages[0]
    sim.state.config.rate_500 = 0.0
    second = await evaluate(platform, split, ["qwen3-8b"], limit=4)
    assert second.scores[0].answered == 4 and second.complete
