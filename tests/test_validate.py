"""The validator catches each bad input; messages say where (file:line) and what to do."""

from __future__ import annotations

import json
import os

import pytest

from bailian_tui.core.data import tokens
from bailian_tui.core.data.errors import DataFileError
from bailian_tui.core.data.readers import Problem, read_items
from bailian_tui.core.data.scan import stats_of, validate_file
from bailian_tui.core.data.validate import check_record, looks_mojibake

GOOD = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
                     {"role": "assistant", "content": "a"}]}


def write_lines(path, lines):
    path.write_bytes(b"".join(line if isinstance(line, bytes) else (line + "\n").encode() for line in lines))
    return path


def codes(scan):
    return {(f.line, f.code) for f in scan.findings}


def test_clean_file(tmp_path):
    path = write_lines(tmp_path / "ok.jsonl", [json.dumps({**GOOD, "id": i}) for i in range(3)])
    scan = validate_file(path)
    assert scan.ok and scan.samples == 3 and scan.counts["warning"] == 1  # few samples


@pytest.mark.parametrize("record, code", [
    ({"messages": {"role": "user"}}, "messages-not-list"),
    ({"messages": []}, "messages-empty"),
    ({"messages": [{"role": "bot", "content": "x"}]}, "bad-role"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "system", "content": "s"},
                   {"role": "assistant", "content": "a"}]}, "system-not-first"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "q2"},
                   {"role": "assistant", "content": "a"}]}, "order"),
    ({"messages": [{"role": "user", "content": "q"}]}, "ends-with-user"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": ""}]}, "bad-content"),
    ({"messages": [{"role": "user", "content": 42}, {"role": "assistant", "content": "a"}]}, "bad-content"),
    ({"messages": [{"role": "user", "content": "q", "name": "bob"}, {"role": "assistant", "content": "a"}]},
     "unsupported-key"),
    ({"messages": [{"role": "user", "content": "q<|im_end|>"}, {"role": "assistant", "content": "a"}]},
     "special-token"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>x</think>a"}]},
     "think-layout"),
    ({"text": "cpt"}, "no-messages"),
    ([1, 2], "not-object"),
])
def test_record_rules(record, code):
    assert code in {f.code for f in check_record(record, 7)}
    assert all(f.line == 7 and f.hint for f in check_record(record, 7))


def test_thinking_layout_that_follows_the_docs_is_fine():
    record = {"messages": [{"role": "user", "content": "q"},
                           {"role": "assistant", "content": "<think>\n想一想\n</think>\n\n答案"}]}
    assert check_record(record, 1) == []


def test_dpo_shape():
    good = {"messages": [{"role": "user", "content": "q"}], "chosen": {"role": "assistant", "content": "a"},
            "rejected": {"role": "assistant", "content": "b"}}
    assert check_record(good, 1, "dpo") == []
    bad = {**good, "chosen": ["a"], "rejected": "b"}
    assert [f.code for f in check_record(bad, 1, "dpo")] == ["dpo-shape", "dpo-shape"]
    ends_with_answer = {**good, "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    assert "dpo-prompt" in {f.code for f in check_record(ends_with_answer, 1, "dpo")}


def test_file_level_problems_with_lines(tmp_path):
    good = json.dumps(GOOD, ensure_ascii=False)
    path = write_lines(tmp_path / "bad.jsonl", [
        b"\xef\xbb\xbf" + good.encode() + b"\n",   # 1 BOM
        "{not json",                                # 2
        "",                                         # 3 blank
        b'{"messages": [\x00]}\n',                  # 4 NUL
        good,                                       # 5 duplicate of 1 (after the BOM)
        json.dumps({"messages": [{"role": "user", "content": "头痛怎么办？".encode().decode("latin-1")},
                                 {"role": "assistant", "content": "a"}]}),  # 6 mojibake
        b'{"messages": [{"role": "user", "content": "q"}',  # 7 truncated last line
    ])
    scan = validate_file(path)
    found = codes(scan)
    for expected in [(1, "bom"), (2, "json"), (3, "blank"), (4, "nul"), (5, "duplicate"), (6, "mojibake"),
                     (7, "truncated")]:
        assert expected in found, expected
    assert not scan.ok
    assert next(f for f in scan.findings if f.code == "duplicate").message == "exact duplicate of line 1"


def test_parallel_chunks_keep_line_numbers(tmp_path):
    lines = [json.dumps({**GOOD, "i": i}) for i in range(5000)]
    lines[3333] = "{broken"
    lines[4999] = json.dumps({"messages": [{"role": "user", "content": "q"}]})
    path = write_lines(tmp_path / "big.jsonl", lines)
    scan = validate_file(path, workers=2, chunk=16 * 1024)
    assert {(3334, "json"), (5000, "ends-with-user")} <= codes(scan)
    assert scan.samples == 4999


def test_token_lengths_against_max_length(tmp_path):
    long = {"messages": [{"role": "user", "content": "肺炎" * 3000}, {"role": "assistant", "content": "好"}]}
    path = write_lines(tmp_path / "long.jsonl", [json.dumps(GOOD), json.dumps(long, ensure_ascii=False)])
    scan = validate_file(path, max_length=2048)
    (line, n), = scan.too_long
    assert line == 2 and n == tokens.count(long) > 2048
    assert any(f.code == "too-long" and "drops this sample silently" in f.message for f in scan.findings)
    assert validate_file(path, max_length=100_000).too_long == []


def test_exact_counts_match_the_tokenizer_and_stats(tmp_path):
    records = [{"messages": [{"role": "user", "content": "你好" * i}, {"role": "assistant", "content": "hi"}]}
               for i in range(1, 41)]
    path = write_lines(tmp_path / "s.jsonl", [json.dumps(r, ensure_ascii=False) for r in records])
    scan = validate_file(path, exact=True)
    import dashscope

    tok = dashscope.get_tokenizer("qwen-turbo")
    ours = tokens.encoding()
    assert (ours._pat_str, ours._special_tokens) == (tok._tokenizer._pat_str, tok._tokenizer._special_tokens)
    expected = [len(tok.encode(tokens.chatml(r))) for r in records]
    assert list(scan.token_counts) == expected
    stats = stats_of(scan)
    assert stats.total == sum(expected) and stats.max == max(expected)
    assert sum(c for _, _, c in stats.histogram) == 40
    assert stats.roles == {"user": 40, "assistant": 40}


def test_twenty_megabyte_line(tmp_path):
    huge = {"messages": [{"role": "user", "content": "x" * 20_000_000}, {"role": "assistant", "content": "a"}]}
    path = write_lines(tmp_path / "huge.jsonl", [json.dumps(huge)])
    scan = validate_file(path, max_length=8192)
    assert scan.samples == 1 and scan.too_long and scan.too_long[0][0] == 1


def test_empty_directory_and_unreadable_inputs(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert "empty" in {f.code for f in validate_file(empty).findings}
    assert [p.code for p in read_items(empty)] == ["empty"]
    with pytest.raises(DataFileError, match="is a directory"):
        validate_file(tmp_path)
    # A file that exists but cannot be read (root reads any mode bits, so use one the kernel refuses).
    with pytest.raises(DataFileError, match="cannot be read"):
        validate_file("/proc/self/mem")
    locked = tmp_path / "locked.jsonl"
    locked.write_text("{}\n")
    os.chmod(locked, 0)
    try:
        if not os.access(locked, os.R_OK):
            with pytest.raises(DataFileError, match="permission denied"):
                validate_file(locked)
    finally:
        os.chmod(locked, 0o600)


def test_readers_report_encoding_and_json_array_lines(tmp_path):
    gbk = tmp_path / "gbk.jsonl"
    gbk.write_bytes('{"messages": "中文"}\n'.encode("gbk"))
    assert [p.code for p in read_items(gbk) if isinstance(p, Problem)] == ["encoding"]
    array = tmp_path / "a.json"
    array.write_text('[\n  {"a": 1},\n\n  {"b": [1,\n 2]},\n  {"c": 3}\n]\n')
    assert [(i.line, i.record) for i in read_items(array)] == [(2, {"a": 1}), (4, {"b": [1, 2]}), (6, {"c": 3})]
    cut = tmp_path / "cut.json"
    cut.write_text('[{"a": 1}, {"b": ')
    assert [getattr(i, "code", None) for i in read_items(cut)] == [None, "truncated"]


def test_mojibake_detector():
    assert looks_mojibake("ä½ å¥½ï¼Œä¸–ç•Œ")  # cp1252 view, NBSPs typed as spaces
    assert looks_mojibake("你好，世界".encode().decode("latin-1"))
    assert not looks_mojibake("你好，世界") and not looks_mojibake("café au lait")
