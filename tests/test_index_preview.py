from __future__ import annotations

import json

from bailian_tui.core.data import converters
from bailian_tui.core.data.index import RecordSource
from bailian_tui.core.data.preview import detect, preview
from bailian_tui.core.data.readers import Item, Problem
from tests.conftest import DATASETS, MAINLAND


def test_jsonl_index_reads_any_record_and_finds_text(tmp_path, monkeypatch):
    import bailian_tui.core.data.index as index_mod

    monkeypatch.setattr(index_mod, "READ", 1000)  # many reads, lines straddling them
    monkeypatch.setattr(index_mod, "CHUNK", 700)  # and search windows
    path = tmp_path / "x.jsonl"
    lines = [json.dumps({"i": i, "text": f"记录{i}"}, ensure_ascii=False) for i in range(500)]
    lines[250] = "{broken"
    path.write_text("\n".join(lines), encoding="utf-8")  # no final newline
    source = RecordSource(path)
    progress = []
    source.build(lambda done, total: progress.append(done))
    assert len(source) == 500 and source.done and progress[-1] == path.stat().st_size
    assert source.get(0).record == {"i": 0, "text": "记录0"}
    assert source.get(499).record["i"] == 499
    assert isinstance(source.get(250), Problem) and source.get(250).line == 251
    assert source.find("记录321") == 321
    assert source.find("记录10", start=400) == 10  # wraps around
    assert source.find("absent") is None
    assert source.index_of_line(42) == 41


def test_array_and_csv_sources():
    source = RecordSource(DATASETS / "ShareGPT/fastchat_dummy_conversation.json")
    source.build()
    assert len(source) == 50 and source.line_of(1) > source.line_of(0)
    assert source.index_of_line(source.line_of(7)) == 7
    csv = RecordSource(DATASETS / "Chinese-medical-dialogue/样例_内科5000-6000.head40.csv")
    csv.build()
    assert len(csv) == 40 and "department" in csv.get(0).record


def test_preview_runs_the_pipeline_on_one_record():
    source = RecordSource(MAINLAND)
    source.build()
    items = [source.get(i) for i in range(20)]
    converter = detect(items)
    assert converter.name == "medqa"
    shown = preview(items[0], converter, max_length=80)
    assert shown.converted["messages"][2]["content"] == "答案是 A. 吸入短效β2受体激动剂"
    assert len(shown.message_tokens) == 3 and shown.total_tokens > 0
    assert shown.too_long and any(f.code == "too-long" for f in shown.findings)
    wrong = preview(items[0], converters.get("alpaca"))
    assert wrong.converted is None and wrong.findings[0].code == "convert"
    assert not preview(Problem(3, "invalid JSON"), converter).ok
    assert preview(Item(1, items[0].record), converter).ok


def test_flagged_stats_and_describe_run_the_preview_pipeline(tmp_path):
    from bailian_tui.core.data.converters.chat import ChatOptions
    from bailian_tui.core.data.preview import converted_stats, flagged

    lines = MAINLAND.read_text(encoding="utf-8").splitlines()[:20]
    lines[3] = lines[3].replace('"answer_idx": "', '"answer_idx": "Z')
    lines[7] = "{broken"
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert RecordSource(path).describe() == (20, "medqa")
    source = RecordSource(path)
    source.build()
    medqa = converters.get("medqa")
    assert flagged(source, medqa, ChatOptions(), 8192) == [3, 7]
    from bailian_tui.core.data import tokens

    long = {i for i in range(20) if i not in (3, 7) and tokens.count(medqa.convert(source.get(i).record)) > 100}
    assert 0 < len(long) < 18
    assert flagged(source, medqa, ChatOptions(), 100) == sorted(long | {3, 7})
    stats = converted_stats(source, medqa, ChatOptions(), 8192)
    assert stats.samples == 18 and stats.roles == {"system": 18, "user": 18, "assistant": 18}
