"""The headless dataset commands, run as a user runs them: a real process, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bailian_tui.core.data.convert import convert_file
from tests.conftest import DATASETS, MAINLAND, ROOT


def cli(*args, cwd=ROOT):
    env = {**os.environ, "XDG_CONFIG_HOME": "/nonexistent", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "bailian_tui", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def test_convert_validate_stats_estimate(tmp_path):
    out = tmp_path / "m.jsonl"
    done = cli("convert", MAINLAND, out)
    assert done.returncode == 0 and "converted 100 of 100 records (medqa → sft)" in done.stdout
    assert "Traceback" not in done.stderr
    assert cli("validate", out).returncode == 0
    report = json.loads(cli("validate", out, "--json").stdout)
    assert report["samples"] == 100 and report["errors"] == 0
    stats = json.loads(cli("stats", out, "--json").stdout)
    assert stats["samples"] == 100 and stats["p50"] <= stats["p95"] <= stats["max"]
    estimate = json.loads(cli("estimate", out, "--epochs", "3", "--model", "qwen3-8b", "--json").stdout)
    assert estimate["tokens"] == stats["total"] and estimate["billed_tokens"] == 3 * stats["total"]
    assert estimate["unit_price_per_1k"] == 0.006 and not estimate["example_price"]
    example = json.loads(cli("estimate", out, "--epochs", "1", "--model", "unknown-model", "--json").stdout)
    assert example["unit_price_per_1k"] == 0.002 and example["example_price"]
    assert "example price" in example["formula"]


def test_validate_exits_1_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "q"}]}\n{oops\n')
    done = cli("validate", bad)
    assert done.returncode == 1
    assert f"{bad}:1: error: the conversation ends with a user turn" in done.stdout
    assert f"{bad}:2: error: invalid JSON" in done.stdout


def test_bad_inputs_exit_nonzero_without_output_or_traceback(tmp_path):
    source = tmp_path / "medqa.jsonl"
    lines = [json.dumps({"question": "Q", "options": {"A": "x", "B": "y"}, "answer_idx": "A"})] * 3
    lines.append(json.dumps({"question": "Q", "options": {"A": "x"}, "answer_idx": "E"}))
    source.write_text("\n".join(lines) + "\n")
    before = source.read_bytes()
    out = tmp_path / "out.jsonl"
    done = cli("convert", source, out, "--format", "medqa")
    assert done.returncode == 1 and not out.exists()
    assert f"{source}:4: error: answer_idx 'E' is not among the options A" in done.stdout
    assert not list(tmp_path.glob(".out.jsonl.*"))  # no temp file left behind
    assert source.read_bytes() == before
    done = cli("convert", source, out, "--format", "medqa", "--skip-bad")
    assert done.returncode == 0 and len(out.read_text().splitlines()) == 3
    for args in (["convert", tmp_path, out], ["validate", tmp_path / "absent.jsonl"], ["convert", source, source]):
        done = cli(*args)
        assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.startswith("bailian-tui: ")
    assert source.read_bytes() == before


def test_convert_refuses_unknown_format(tmp_path):
    source = tmp_path / "x.jsonl"
    source.write_text('{"foo": 1}\n')
    done = cli("convert", source, tmp_path / "o.jsonl")
    assert done.returncode == 2 and "--format" in done.stderr


def test_batch_convert(tmp_path):
    done = cli("batch-convert", "--src", DATASETS / "MedQA/questions", "--dst", tmp_path, "--json")
    rows = json.loads(done.stdout)
    converted = {os.path.basename(r["output"]) for r in rows if r["status"] == "converted"}
    assert converted == {"mainland_4opt_train.jsonl", "mainland_4opt_dev.jsonl", "mainland_4opt_test.jsonl",
                         "taiwan_test.jsonl", "us_4opt_test.jsonl"}
    assert {r["status"] for r in rows} == {"converted", "skipped"}
    us = json.loads((tmp_path / "us_4opt_test.jsonl").read_text().splitlines()[0])
    assert us["messages"][2]["content"].startswith("The answer is ")
    human = cli("batch-convert", "--src", DATASETS / "MedQA/questions", "--dst", tmp_path)
    assert "skipped" in human.stdout and human.returncode == 0


def test_output_over_the_limit_is_split_at_record_boundaries(tmp_path):
    source = MAINLAND
    report = convert_file(source, tmp_path / "m.jsonl", split_limit=12_000)
    assert len(report.outputs) > 2
    assert report.outputs[0].endswith("m_part1.jsonl")
    total = 0
    for name in report.outputs:
        data = open(name, "rb").read()
        assert len(data) <= 12_000 and data.endswith(b"\n")
        total += sum(1 for line in data.splitlines() if json.loads(line))
    assert total == 100


def test_parallel_conversion_matches_sequential_and_keeps_line_numbers(tmp_path, monkeypatch):
    from bailian_tui.core.data import convert

    source = tmp_path / "big.jsonl"
    base = MAINLAND.read_text(encoding="utf-8").splitlines()
    lines = [line for _ in range(30) for line in base]  # 3000 records
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sequential = convert_file(source, tmp_path / "seq.jsonl")
    monkeypatch.setattr(convert, "PARALLEL_FROM", 0)
    monkeypatch.setattr(convert, "CHUNK_BYTES", 64 * 1024)
    parallel = convert_file(source, tmp_path / "par.jsonl", workers=2)
    assert (tmp_path / "par.jsonl").read_bytes() == (tmp_path / "seq.jsonl").read_bytes()
    assert parallel.written == sequential.written == 3000
    lines[2222] = '{"question": "Q", "options": {"A": "x"}, "answer_idx": "Z"}'
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    failed = convert_file(source, tmp_path / "bad.jsonl", workers=2)
    assert not failed.outputs and not (tmp_path / "bad.jsonl").exists()
    assert [f.line for f in failed.findings if f.severity == "error"] == [2223]
    split = convert_file(source, tmp_path / "split.jsonl", workers=2, skip_bad=True, split_limit=200_000)
    assert len(split.outputs) > 1 and split.written == 2999
    assert sum(len(open(p, "rb").read().splitlines()) for p in split.outputs) == 2999


def test_medqa_template_is_a_flag_of_convert_and_batch_convert(tmp_path):
    source = DATASETS / "MedQA/questions/Mainland/4_options/dev.jsonl"
    english = tmp_path / "en.jsonl"
    assert cli("convert", source, english, "--template", "english").returncode == 0
    first = json.loads(english.read_text().splitlines()[0])["messages"]
    assert first[0]["content"].startswith("You are a professional medical assistant")
    assert first[2]["content"].startswith("The answer is ")
    done = cli("batch-convert", "--src", DATASETS / "MedQA/questions", "--dst", tmp_path / "zh", "--template",
               "chinese", "--json")
    assert done.returncode == 0, done.stderr
    us = json.loads((tmp_path / "zh/us_4opt_test.jsonl").read_text().splitlines()[0])
    assert us["messages"][2]["content"].startswith("答案是 ")
    bad = cli("convert", source, tmp_path / "x.jsonl", "--template", "klingon")
    assert bad.returncode == 2 and "--template klingon" in bad.stderr and not (tmp_path / "x.jsonl").exists()


def test_stats_estimate_validate_refuse_a_raw_file_and_say_how_to_convert_it(tmp_path):
    raw = tmp_path / "medqa.jsonl"
    raw.write_bytes(MAINLAND.read_bytes())
    before = raw.read_bytes()
    for command in (["stats", raw], ["estimate", raw, "--epochs", "1"], ["validate", raw]):
        done = cli(*command)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "is raw medqa data" in done.stderr and "Traceback" not in done.stderr
        assert f"bailian-tui convert {raw} " in done.stderr and "0 tokens" not in done.stdout
        machine = json.loads(cli(*command, "--json").stdout)
        assert "not Bailian ChatML" in machine["error"]
    assert raw.read_bytes() == before
    # The command it names works, and then the numbers come.
    target = machine["error"].rsplit(" ", 1)[1]
    assert cli("convert", raw, target).returncode == 0
    assert json.loads(cli("stats", target, "--json").stdout)["total"] > 0
