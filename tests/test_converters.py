"""Every converter reproduces its expected output on real excerpts (datasets/ and tests/data/, see SOURCES.md)."""

from __future__ import annotations

import json

import pytest

from bailian_tui.core.data import converters
from bailian_tui.core.data.converters import medqa
from bailian_tui.core.data.converters.chat import ChatOptions
from bailian_tui.core.data.errors import RecordError
from bailian_tui.core.data.readers import Item, read_items
from tests.conftest import DATA, DATASETS, MAINLAND

MEDQA_SYSTEM = "你是一个专业的医学助手，擅长回答医学选择题。请根据题目和选项，给出正确答案。"


def first_records(path, n=3):
    return [i for i in read_items(path) if isinstance(i, Item)][:n]


def convert_path(path, fmt=None, options=ChatOptions()):
    items = [i for i in read_items(path) if isinstance(i, Item)]
    converter = converters.get(fmt) if fmt else converters.detect([i.record for i in items[:50]])
    return converter, [converter.convert(i.record, options) for i in items]


def test_medqa_mainland_matches_the_documented_sample():
    converter, out = convert_path(MAINLAND)
    assert converter.name == "medqa" and len(out) == 100
    assert out[0] == {"messages": [
        {"role": "system", "content": MEDQA_SYSTEM},
        {"role": "user", "content": "支气管哮喘急性发作时首选的药物是（　　）。\n\n选项：\n"
                                    "A. 吸入短效β2受体激动剂\nB. 口服抗生素\nC. 口服抗组胺药\nD. 静脉补液"},
        {"role": "assistant", "content": "答案是 A. 吸入短效β2受体激动剂"}]}
    assert out[2]["messages"][2]["content"] == "答案是 B. 3.9～6.1mmol/L"


def test_medqa_us_five_options_and_english_template():
    _, out = convert_path(DATASETS / "MedQA/questions/US/test.jsonl", options=ChatOptions(template=medqa.ENGLISH))
    user = out[0]["messages"][1]["content"]
    assert user.startswith("A junior orthopaedic surgery resident")
    assert user.endswith("E. Refuse to dictate the operative report")
    assert "\n\nOptions:\nA. Disclose the error to the patient but leave it out of the operative report\n" in user
    assert out[0]["messages"][2]["content"] == \
        "The answer is C. Tell the attending that he cannot fail to disclose this mistake"


def test_medqa_us_four_options_ignores_extra_keys():
    _, out = convert_path(DATA / "MedQA/questions/US/4_options/phrases_no_exclude_test.jsonl", "medqa")
    assert len(out) == 40 and all(len(r["messages"]) == 3 for r in out)
    assert all("E. " not in r["messages"][1]["content"].split("选项：")[1] for r in out)


def test_medqa_template_from_yaml(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text('system: ""\nanswer: "{answer_idx}"\n', encoding="utf-8")
    template = medqa.load_template(path)
    record = {"question": "Q?", "options": {"A": "x", "B": "y"}, "answer_idx": "B"}
    assert medqa.convert(record, ChatOptions(template=template)) == {"messages": [
        {"role": "user", "content": "Q?\n\n选项：\nA. x\nB. y"}, {"role": "assistant", "content": "B"}]}


@pytest.mark.parametrize("record, message", [
    ({"question": "Q", "options": {"A": "x"}, "answer_idx": "C"}, "answer_idx 'C' is not among the options A"),
    ({"question": "Q", "options": ["x", "y"], "answer_idx": "A"}, "'options' is a list"),
    ({"options": {"A": "x"}, "answer_idx": "A"}, "missing key 'question'"),
])
def test_medqa_bad_records(record, message):
    with pytest.raises(RecordError, match=message):
        medqa.convert(record)


def test_alpaca():
    path = DATASETS / "Alpaca/alpaca_en_demo.json"
    converter, out = convert_path(path)
    assert converter.name == "alpaca" and len(out) == 50
    first = first_records(path, 1)[0].record
    assert out[0] == {"messages": [{"role": "user", "content": "Describe a process of making crepes."},
                                   {"role": "assistant", "content": first["output"]}]}
    with_input = [(r, i.record) for r, i in zip(out, first_records(path, 50)) if i.record["input"]]
    assert len(with_input) == 20
    converted, raw = with_input[0]
    assert converted["messages"][0]["content"] == raw["instruction"] + "\n\n" + raw["input"]


def test_sharegpt_json_and_jsonl():
    converter, out = convert_path(DATASETS / "ShareGPT/fastchat_dummy_conversation.json")
    assert converter.name == "sharegpt" and len(out) == 50
    assert out[0]["messages"][0] == {"role": "user", "content": "Who are you?"}
    assert {m["role"] for r in out for m in r["messages"]} <= {"user", "assistant"}
    converter, out = convert_path(DATASETS / "ShareGPT/medicalgpt_medical_sft.jsonl")
    assert converter.name == "sharegpt" and len(out) == 30
    raw = json.loads((DATASETS / "ShareGPT/medicalgpt_medical_sft.jsonl").read_text().splitlines()[0])
    assert [m["content"] for m in out[0]["messages"]] == [t["value"] for t in raw["conversations"]]


def test_sharegpt_tool_calls_are_refused_per_record():
    _, items = None, first_records(DATA / "LLaMA-Factory/glaive_toolcall_en_demo.json", 20)
    failures = 0
    for item in items:
        try:
            converters.get("sharegpt").convert(item.record, ChatOptions())
        except RecordError as err:
            failures += 1
            assert "function_call" in err.message or "observation" in err.message
    assert failures == 8


def test_openai_messages_are_normalised():
    record = {"messages": [{"role": "system", "content": "s", "name": "x"},
                           {"role": "user", "content": [{"type": "text", "text": "hi "}, {"type": "text", "text": "there"}]},
                           {"role": "assistant", "content": "ok", "weight": 1, "loss_weight": 0.5}]}
    assert converters.get("messages").convert(record, ChatOptions()) == {"messages": [
        {"role": "system", "content": "s"}, {"role": "user", "content": "hi there"},
        {"role": "assistant", "content": "ok", "loss_weight": 0.5}]}


def test_gsm8k_keeps_the_final_answer_and_drops_calculator_notes():
    converter, out = convert_path(DATASETS / "GSM8K/train.jsonl")
    assert converter.name == "gsm8k" and len(out) == 30
    assert out[0] == {"messages": [
        {"role": "user", "content": "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
                                    "clips in May. How many clips did Natalia sell altogether in April and May?"},
        {"role": "assistant", "content": "Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips "
                                         "altogether in April and May.\n#### 72"}]}
    kept = converters.get("gsm8k").convert(first_records(DATASETS / "GSM8K/train.jsonl")[0].record,
                                           ChatOptions(keep_calculator=True))
    assert "<<48/2=24>>" in kept["messages"][1]["content"]


def test_gbk_medical_dialogue_csv():
    path = DATASETS / "Chinese-medical-dialogue/样例_内科5000-6000.head40.csv"
    converter, out = convert_path(path)
    assert converter.name == "csv_qa" and len(out) == 40
    raw = path.read_bytes().decode("gbk").splitlines()[1]
    department, title, ask, answer = raw.split(",", 3)
    assert out[0] == {"messages": [{"role": "user", "content": ask.strip()},
                                   {"role": "assistant", "content": answer.strip()}]}


def test_csv_with_quoted_newlines_keeps_line_numbers():
    path = DATASETS / "Chinese-medical-dialogue/样例_内科5000-6000.records1001-1020.csv"
    items = [i for i in read_items(path) if isinstance(i, Item)]
    assert len(items) == 20
    text = path.read_bytes().decode("gbk")
    assert any("\n" in v for i in items for v in i.record.values())
    for item in items:
        assert text.splitlines()[item.line - 1].startswith(item.record["department"])


def test_csv_column_mapping():
    record = {"问题": "头疼怎么办", "回答": "多休息", "备注": "x"}
    assert converters.detect([record]).name == "csv_qa"
    assert converters.get("csv_qa").convert(record, ChatOptions(system="你是医生"))["messages"] == [
        {"role": "system", "content": "你是医生"}, {"role": "user", "content": "头疼怎么办"},
        {"role": "assistant", "content": "多休息"}]
    with pytest.raises(RecordError, match="no question/answer columns"):
        converters.get("csv_qa").convert({"a": 1, "b": 2}, ChatOptions())


@pytest.mark.parametrize("path, n", [
    (DATA / "LLaMA-Factory/dpo_en_demo.json", 30),
    (DATASETS / "DPO/dpo_zh_demo.json", 20),
    (DATASETS / "DPO/medicalgpt_dpo_zh.jsonl", 30),
    (DATA / "MedicalGPT_14f6229c/dpo_zh_500.jsonl", 50),
    (DATA / "hh-rlhf/harmless_base_test.jsonl", 100),
], ids=lambda value: value.name if hasattr(value, "name") else str(value))
def test_dpo_sources(path, n):
    converter, out = convert_path(path)
    assert converter.name == "dpo" and len(out) == n
    for record in out:
        assert record["messages"][-1]["role"] == "user"
        assert record["chosen"]["role"] == record["rejected"]["role"] == "assistant"
        assert isinstance(record["chosen"]["content"], str)


def test_dpo_exact_records():
    _, out = convert_path(DATASETS / "DPO/medicalgpt_dpo_zh.jsonl")
    raw = json.loads((DATASETS / "DPO/medicalgpt_dpo_zh.jsonl").read_text().splitlines()[0])
    assert out[0] == {"messages": [{"role": "user", "content": raw["conversations"][0]["value"]}],
                      "chosen": {"role": "assistant", "content": raw["chosen"]},
                      "rejected": {"role": "assistant", "content": raw["rejected"]}}
    _, hh = convert_path(DATA / "hh-rlhf/harmless_base_test.jsonl")
    first = json.loads((DATA / "hh-rlhf/harmless_base_test.jsonl").read_text().splitlines()[0])
    assert hh[0]["messages"][0]["role"] == "user"
    assert first["chosen"].rstrip().endswith(hh[0]["chosen"]["content"])
