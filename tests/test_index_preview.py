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


def _awkward_jsonl(path):
    """CRLF and LF lines, blank lines, multibyte UTF-8 everywhere, no final newline."""
    lines = []
    for i in range(300):
        record = json.dumps({"i": i, "text": "病人" * (i % 7) + "😀" * (i % 3)}, ensure_ascii=False)
        lines.append(record + ("\r\n" if i % 2 else "\n"))
        if i % 50 == 10:
            lines.append("\n" if i % 100 else "\r\n")  # blank lines, both kinds
    path.write_bytes("".join(lines).encode("utf-8").rstrip(b"\r\n"))
    return path


def test_index_built_by_the_helper_process_equals_the_in_thread_one(tmp_path, monkeypatch):
    import subprocess
    import sys
    from array import array

    import bailian_tui.core.data.index as index_mod

    path = _awkward_jsonl(tmp_path / "awkward.jsonl")
    monkeypatch.setattr(index_mod, "READ", 333)  # reads end inside CRLF pairs and multibyte characters
    in_thread = RecordSource(path)
    in_thread.build(helper=False)
    default = RecordSource(path)
    progress = []
    default.build(lambda done, total: progress.append(done))
    assert len(default) == len(in_thread) == 300 + 6
    assert [default.raw(i) for i in range(len(default))] == [in_thread.raw(i) for i in range(len(in_thread))]
    assert progress == sorted(progress) and progress[-1] == path.stat().st_size
    assert default.get(len(default) - 1).record["i"] == 299  # the last line, without a newline
    assert isinstance(default.get(11), Problem) and default.get(11).code == "blank"
    # The helper's own output, read as the app reads it, gives the offsets the thread finds after the start.
    start = 1000
    out = subprocess.run([sys.executable, "-I", "-S", "-c", index_mod._SCANNER, str(path), str(start), "333"],
                         capture_output=True, check=True).stdout
    offsets, position = array("Q"), 0
    while position < len(out):
        header = array("Q")
        header.frombytes(out[position:position + 16])
        offsets.frombytes(out[position + 16:position + 16 + header[0] * 8])
        position += 16 + header[0] * 8
    assert header[1] == path.stat().st_size
    expected = [in_thread.raw(i) for i in range(len(in_thread))]
    starts = [o for o in accumulate_starts(expected) if o > start]
    assert list(offsets) == starts


def accumulate_starts(raws: list[bytes]) -> list[int]:
    """Line starts after the first, from the lines' bytes (the last entry is where a final newline would put one)."""
    starts, position = [], 0
    for raw in raws:
        position += len(raw)
        starts.append(position)
    return starts[:-1] if not raws[-1].endswith(b"\n") else starts


def test_index_without_a_helper_process_scans_in_the_thread(tmp_path, monkeypatch):
    import sys

    import bailian_tui.core.data.index as index_mod

    path = _awkward_jsonl(tmp_path / "awkward.jsonl")
    monkeypatch.setattr(index_mod, "READ", 500)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python-here"))  # the helper cannot start
    source = RecordSource(path)
    source.build()
    assert len(source) == 306 and source.get(305).record["i"] == 299
