"""The four local recipes: each generated script compiles, imports without torch/unsloth, and its data part
runs for real on the shipped samples — ChatML through a real tokenizer's chat template, Alpaca with EOS, VL
conversations with their images, GRPO prompts and reward functions on real GSM8K answers."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bailian_tui.core.data.errors import DataFileError
from bailian_tui.core.local.recipes import RECIPES, RecipeError, RunFolder, RunSpec, create_run, train_command
from tests.conftest import DATASETS
from tests.test_vl import make_xlsx

# The Qwen2/2.5 ChatML template in Jinja, as tokenizer_config.json carries it (tools branch left out).
QWEN_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")


@pytest.fixture(scope="module")
def tokenizer():
    """A real transformers tokenizer (no torch): a tiny word-level vocabulary with Qwen's chat template."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<|im_start|>": 1, "<|im_end|>": 2, "<|endoftext|>": 3}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|im_end|>", unk_token="<unk>",
                                   pad_token="<|endoftext|>", chat_template=QWEN_TEMPLATE)


def load_script(folder: RunFolder):
    """Import a generated train.py as a module, as a test would import any file."""
    name = f"generated_{folder.name.replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(name, folder.script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def heavy_modules_loaded() -> set[str]:
    return {m for m in ("torch", "unsloth", "trl", "vllm") if m in sys.modules}


def test_every_recipe_documents_its_fields_and_defaults():
    assert set(RECIPES) == {"sft-chatml", "sft-alpaca", "vl-sft", "grpo-gsm8k"}
    for recipe in RECIPES.values():
        names = [f.name for f in recipe.fields]
        assert len(names) == len(set(names)), recipe.name
        for wanted in ("load_in_4bit", "lora_r", "lora_alpha", "lora_dropout", "max_seq_length",
                       "per_device_train_batch_size", "gradient_accumulation_steps", "warmup_steps", "max_steps",
                       "num_train_epochs", "learning_rate", "optim", "lr_scheduler_type", "seed"):
            assert wanted in names, (recipe.name, wanted)
        recipe.values({})  # the defaults pass their own checks
    # The course scripts' settings, field by field.
    medical, alpaca, vl, grpo = (RECIPES[n].defaults() for n in ("sft-chatml", "sft-alpaca", "vl-sft", "grpo-gsm8k"))
    assert (medical["num_train_epochs"], medical["max_steps"], medical["max_chars"], medical["output_name"]) == \
        (3, -1, 200, "lora_model_medical")
    assert (alpaca["max_steps"], alpaca["output_name"], alpaca["prompt_style"]) == (60, "lora_model", "alpaca")
    assert (vl["lora_r"], vl["lora_alpha"], vl["max_steps"], vl["per_device_train_batch_size"],
            vl["gradient_accumulation_steps"], vl["finetune_vision_layers"], vl["finetune_language_layers"]) == \
        (16, 16, 30, 2, 4, True, True)
    assert (grpo["max_steps"], grpo["num_generations"], grpo["max_prompt_length"], grpo["use_vllm"],
            grpo["output_name"]) == (250, 6, 256, True, "grpo_saved_lora")


def test_chatml_from_the_medical_csv_uses_the_models_chat_template(tmp_path, tokenizer):
    source = DATASETS / "Chinese-medical-dialogue/样例_内科5000-6000.head40.csv"  # GBK, as published
    folder = create_run(RunSpec("sft-chatml", source, "medical", tmp_path, {"max_steps": 5}))
    manifest = json.loads(folder.manifest.read_text(encoding="utf-8"))["train"]
    assert manifest["converted_from"] == "csv_qa" and manifest["records"] == 40 and len(manifest["sha256"]) == 64
    assert manifest["used"] == "data/train.jsonl" and (folder.path / "data/train.jsonl").is_file()
    compile(folder.script.read_text(encoding="utf-8"), str(folder.script), "exec")
    before = heavy_modules_loaded()
    script = load_script(folder)
    assert heavy_modules_loaded() == before  # torch/unsloth/trl are imported inside train() only
    assert script.CONFIG["max_steps"] == 5 and script.CONFIG["recipe"] == "sft-chatml"
    conversations = script.load_conversations(script.in_run_dir(script.CONFIG["data"]))
    assert len(conversations) == 40
    rows = script.format_dataset(conversations, tokenizer)
    kept = [c for c in conversations if all(len(m["content"]) <= 200 for m in c if m["role"] != "system")]
    assert len(rows) == len(kept)  # the course's ≤ 200-character filter (these 40 all pass it)
    script.CONFIG["max_chars"] = 60  # CONFIG is the one place to edit: a tighter filter drops the long ones
    shorter = [c for c in conversations if all(len(m["content"]) <= 60 for m in c if m["role"] != "system")]
    assert 0 < len(script.format_dataset(conversations, tokenizer)) == len(shorter) < 40
    first = kept[0]
    user = next(m["content"] for m in first if m["role"] == "user")
    answer = next(m["content"] for m in first if m["role"] == "assistant")
    assert rows[0]["text"] == tokenizer.apply_chat_template(first, tokenize=False)
    assert f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n{answer}<|im_end|>\n" in rows[0]["text"]
    assert "### 问题" not in rows[0]["text"]  # no hand-made prompt


def test_chatml_already_converted_is_read_in_place_with_a_validation_split(tmp_path, chatml, tokenizer):
    folder = create_run(RunSpec("sft-chatml", chatml, "inplace", tmp_path / "runs", {"max_chars": 0},
                                validation=chatml))
    config = folder.config()
    assert config["data"] == str(chatml.resolve()) and config["validation"] == str(chatml.resolve())
    assert not (folder.path / "data").exists()  # nothing copied
    script = load_script(folder)
    rows = script.format_dataset(script.load_conversations(Path(config["data"])), tokenizer)
    assert len(rows) == 40 and rows[0]["text"].startswith("<|im_start|>system\n你是一个助手<|im_end|>")


def test_alpaca_prompt_with_eos_and_the_chat_template_variant(tmp_path, tokenizer):
    source = DATASETS / "Alpaca/alpaca_en_demo.json"  # one JSON array
    records = json.loads(source.read_text(encoding="utf-8"))
    folder = create_run(RunSpec("sft-alpaca", source, "alpaca", tmp_path))
    script = load_script(folder)
    loaded = script.load_alpaca(Path(folder.config()["data"]))
    rows = script.format_dataset(loaded, tokenizer)
    assert len(rows) == len(records) == 50
    r = records[0]
    assert rows[0]["text"] == script.ALPACA_PROMPT.format(r["instruction"], r.get("input", ""), r["output"]) + "<|im_end|>"
    assert "### Instruction:\n" + r["instruction"] in rows[0]["text"]
    chat = create_run(RunSpec("sft-alpaca", source, "alpaca-chat", tmp_path, {"prompt_style": "chat_template"}))
    rows = load_script(chat).format_dataset(loaded, tokenizer)
    assert rows[0]["text"].startswith("<|im_start|>system\n") and f"<|im_start|>assistant\n{r['output']}" in rows[0]["text"]


def test_vl_from_the_excel_sheet_with_images(tmp_path):
    (tmp_path / "img").mkdir()
    for name in ("odometer.png", "plate.png"):
        (tmp_path / "img" / name).write_bytes(b"\x89PNG fake " + name.encode())
    sheet = tmp_path / "qwen-vl-train.xlsx"
    make_xlsx(sheet, [["id", "prompt", "image", "response"],
                      ["1", "请从图中提取关键信息", "img/odometer.png", "里程 35,120 公里"],
                      ["2", "车牌号是多少？", "img/plate.png", "京A12345"]])
    folder = create_run(RunSpec("vl-sft", sheet, "car", tmp_path / "runs"))
    manifest = json.loads(folder.manifest.read_text(encoding="utf-8"))["train"]
    assert manifest["converted_from"] == "vl" and manifest["records"] == 2
    script = load_script(folder)
    samples = script.load_samples(script.in_run_dir(script.CONFIG["data"]))
    user, assistant = samples[0]["messages"]
    assert user["role"] == "user" and user["content"][0] == {"type": "text", "text": "请从图中提取关键信息"}
    image = Path(user["content"][1]["image"])
    assert user["content"][1]["type"] == "image" and image.is_file() and image.read_bytes().endswith(b"odometer.png")
    assert assistant == {"role": "assistant", "content": [{"type": "text", "text": "里程 35,120 公里"}]}
    # The packed zip the Datasets screen writes is read the same way.
    packed = tmp_path / "runs/car/data/train"
    zipped = tmp_path / "vl.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        for path in packed.rglob("*"):
            archive.write(path, path.relative_to(packed).as_posix())
    again = create_run(RunSpec("vl-sft", zipped, "car-zip", tmp_path / "runs"))
    assert len(load_script(again).load_samples(again.path / "data/train/data.jsonl")) == 2
    done = subprocess.run([sys.executable, str(again.script), "prepare"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "2 samples, every image found" in done.stdout, done.stderr


def test_grpo_prompts_and_rewards_on_real_gsm8k_answers(tmp_path):
    source = DATASETS / "GSM8K/train.jsonl"
    folder = create_run(RunSpec("grpo-gsm8k", source, "r1", tmp_path))
    script = load_script(folder)
    questions = script.load_questions(source)
    raw = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(questions) == len(raw) == 30
    assert questions[0]["prompt"][0] == {"role": "system", "content": script.SYSTEM_PROMPT}
    assert questions[0]["prompt"][1]["content"] == raw[0]["question"] and questions[0]["answer"] == "72"
    for q, record in zip(questions, raw):
        assert q["answer"] == record["answer"].split("####")[-1].strip().replace(",", "")
        good = [script.reference_completion(q, "step one\nstep two")]
        scores = {f.__name__: f(prompts=[q["prompt"]], completions=good, answer=[q["answer"]])[0]
                  for f in script.REWARD_FUNCS}
        assert scores == {"xmlcount_reward_func": 0.5, "soft_format_reward_func": 0.5,
                          "strict_format_reward_func": 0.5, "int_reward_func": 0.5 if q["answer"].isdigit() else 0.0,
                          "correctness_reward_func": 2.0}, (q["answer"], scores)
    q = questions[0]
    wrong = [[{"role": "assistant", "content": "<reasoning>\nguess\n</reasoning>\n<answer>\n71\n</answer>\n"}]]
    assert script.correctness_reward_func([q["prompt"]], wrong, [q["answer"]]) == [0.0]
    assert script.int_reward_func(wrong) == [0.5]
    sloppy = [[{"role": "assistant", "content": "The answer is <answer>72</answer> trailing"}]]
    assert script.strict_format_reward_func(sloppy) == [0.0] and script.soft_format_reward_func(sloppy) == [0.0]
    assert script.correctness_reward_func([q["prompt"]], sloppy, ["72"]) == [2.0]  # extracted despite the format
    assert script.xmlcount_reward_func(sloppy) == [0.0]
    done = subprocess.run([sys.executable, str(folder.script), "prepare", "-n", "1"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "30 questions" in done.stdout and "'correctness_reward_func': 2.0" in done.stdout


def test_training_without_unsloth_fails_clearly_and_multi_gpu_goes_through_accelerate_or_torchrun(tmp_path):
    folder = create_run(RunSpec("grpo-gsm8k", DATASETS / "GSM8K/train.jsonl", "nogpu", tmp_path))
    done = subprocess.run([sys.executable, str(folder.script), "train"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "No module named 'unsloth'" in done.stderr
    python = "/envs/unsloth/bin/python"
    assert train_command(folder, python) == [python, "-u", str(folder.script), "train"]
    assert train_command(folder, python, 4) == [python, "-m", "accelerate.commands.launch", "--num_processes=4",
                                                str(folder.script), "train"]
    assert train_command(folder, python, 2, "torchrun")[:4] == [python, "-m", "torch.distributed.run",
                                                               "--nproc_per_node=2"]
    text = folder.script.read_text(encoding="utf-8")
    assert "accelerate launch train.py train" in text and "def export(" in text and "gguf_q4_k_m" in text


def test_bad_values_and_data_leave_nothing_behind(tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(RecipeError) as err:
        create_run(RunSpec("sft-alpaca", DATASETS / "Alpaca/alpaca_en_demo.json", "x", runs,
                           {"lora_r": "sixteen", "learning_rate": -1, "optim": "adam?", "bogus": 1}))
    assert set(err.value.errors) == {"lora_r", "learning_rate", "optim", "bogus"}
    with pytest.raises(RecipeError, match="prompt \\+ completion"):
        RECIPES["grpo-gsm8k"].values({"max_prompt_length": 900, "max_completion_length": 900})
    with pytest.raises(DataFileError) as err:  # GSM8K is not Alpaca
        create_run(RunSpec("sft-alpaca", DATASETS / "GSM8K/train.jsonl", "x", runs))
    assert "train.jsonl:1" in str(err.value) and "alpaca" in str(err.value)
    with pytest.raises(RecipeError, match="name"):
        create_run(RunSpec("sft-alpaca", DATASETS / "Alpaca/alpaca_en_demo.json", "bad/name", runs))
    assert list(runs.iterdir()) == []  # no partial run folder, no temp folder
    create_run(RunSpec("sft-alpaca", DATASETS / "Alpaca/alpaca_en_demo.json", "once", runs))
    with pytest.raises(RecipeError, match="already exists"):
        create_run(RunSpec("sft-alpaca", DATASETS / "Alpaca/alpaca_en_demo.json", "once", runs))
    assert [p.name for p in runs.iterdir()] == ["once"]


def test_trainer_arguments_follow_the_installed_versions_names(tmp_path):
    """TRL renamed max_seq_length → max_length, transformers evaluation_strategy → eval_strategy: the script
    passes whichever name the installed class takes (classes stand in for TRL's here: no torch)."""
    folder = create_run(RunSpec("sft-chatml", DATASETS / "Alpaca/alpaca_en_demo.json", "names", tmp_path,
                                {"max_steps": 5}))
    script = load_script(folder)

    class NewTRL:
        def __init__(self, max_length=None, eval_strategy=None, dataset_text_field=None, **rest):
            self.seen = dict(max_length=max_length, eval_strategy=eval_strategy, text=dataset_text_field, **rest)

    class OldTRL:
        def __init__(self, max_seq_length=None, evaluation_strategy=None, **rest):
            self.seen = dict(max_seq_length=max_seq_length, evaluation_strategy=evaluation_strategy, **rest)

    new = script.config_of(NewTRL, max_seq_length=2048, eval_strategy="steps", dataset_text_field="text",
                           **script.trainer_arguments())
    assert new.seen["max_length"] == 2048 and new.seen["eval_strategy"] == "steps" and new.seen["max_steps"] == 5
    old = script.config_of(OldTRL, max_seq_length=1024, eval_strategy="steps")
    assert old.seen == {"max_seq_length": 1024, "evaluation_strategy": "steps"}
    assert script.trainer_arguments()["output_dir"] == str(folder.path / "checkpoints")


def test_prepare_renders_the_medical_data_with_a_model_folders_tokenizer(tmp_path, tokenizer):
    """`python train.py prepare` as a user runs it, CONFIG['model'] a local folder (as on the course's box)."""
    model = tmp_path / "models/Qwen2.5-7B-Instruct"
    tokenizer.save_pretrained(model)
    folder = create_run(RunSpec("sft-chatml", DATASETS / "Chinese-medical-dialogue/样例_内科5000-6000.head40.csv",
                                "prepared", tmp_path / "runs", {"model": str(model)}))
    done = subprocess.run([sys.executable, str(folder.script), "prepare", "-n", "1"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("40 conversations kept (max_chars=200)")
    assert "<|im_start|>user\n" in done.stdout and "<|im_start|>assistant\n" in done.stdout
    offline = create_run(RunSpec("sft-alpaca", DATASETS / "Alpaca/alpaca_en_demo.json", "offline", tmp_path / "runs",
                                 {"model": str(tmp_path / "no-such-model")}))
    failed = subprocess.run([sys.executable, str(offline.script), "prepare"], capture_output=True, text=True,
                            timeout=120)
    assert failed.returncode == 1 and "cannot load the tokenizer of" in failed.stderr
    assert "Traceback" not in failed.stderr
