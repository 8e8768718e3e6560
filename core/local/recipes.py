"""The four local recipes as data (fields, documented defaults) and the generator of a run folder.

Each recipe is one of the course's Unsloth scripts made into a table of fields with the defaults those
scripts used, so the form can show a default beside every field and the generated script stays the
script a user would have written by hand — readable, self-contained, editable:

    runs/NAME/
        train.py           the script (CONFIG at the top; `prepare`, `train`, `export` sub-commands)
        config.json        the same values, for the app
        data.json          data manifest: source file, its sha256/size/records, what the script reads
        data/              the converted data when the source needed converting (ChatML / VL zip)
        train.log          stdout and stderr of the run (written once launched)
        trainer_state.json kept current by the script at every log
        checkpoints/       the Trainer's checkpoints; NAME's adapter in ./<output_name>/

Nothing here imports torch or unsloth. The data part of every generated script runs without them.
"""

from __future__ import annotations

import hashlib
import json
import os
import pprint
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bailian_tui.core.data.errors import DataFileError

TEMPLATES = Path(__file__).with_name("templates")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")  # also a widget id: no dots
OPTIMIZERS = ("adamw_8bit", "paged_adamw_8bit", "adamw_torch", "adamw_torch_fused", "adafactor", "sgd")
SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "constant", "constant_with_warmup", "polynomial")


class RecipeError(ValueError):
    """A value the form or the CLI must show next to the field it concerns."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: type  # int | float | bool | str
    default: Any
    help: str
    section: str = "training"  # model | lora | training | data | output
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, value: Any) -> Any:
        """The typed value of what a form or a command line gave; ValueError with a readable reason."""
        if value is None or value == "":
            return self.default
        if self.kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if self.kind is int:
            try:
                whole = not isinstance(value, bool) and float(value) == int(float(value))
            except (TypeError, ValueError, OverflowError):
                whole = False
            if not whole:
                raise ValueError("expected a whole number")
            parsed: Any = int(float(value))
        elif self.kind is float:
            try:
                parsed = float(value)
            except (TypeError, ValueError):
                raise ValueError("expected a number (like 2e-4 or 0.1)") from None
            if parsed != parsed or parsed in (float("inf"), float("-inf")):
                raise ValueError("expected a finite number")
        else:
            parsed = str(value).strip()
        if self.choices and parsed not in self.choices:
            raise ValueError(f"choose one of {', '.join(map(str, self.choices))}")
        if self.minimum is not None and parsed < self.minimum:
            raise ValueError(f"at least {self.minimum:g}")
        if self.maximum is not None and parsed > self.maximum:
            raise ValueError(f"at most {self.maximum:g}")
        return parsed


def _common(model: str, *, r: int = 16, alpha: int = 16, seq: int = 2048, batch: int = 2, accum: int = 4,
            warmup: int = 5, steps: int = 60, epochs: float = 1, lr: float = 2e-4, optim: str = "adamw_8bit",
            scheduler: str = "linear", decay: float = 0.01, output: str = "lora_model",
            save_steps: int = 500) -> list[Field]:
    return [
        Field("model", "Model", str, model, "Hugging Face id or local folder (the course: "
              "/root/autodl-tmp/models/Qwen/…)", "model"),
        Field("load_in_4bit", "4-bit", bool, True, "load the base in 4-bit (QLoRA): a 7B fits a 16 GB T4", "model"),
        Field("max_seq_length", "Max seq length", int, seq, "tokens per sample; longer ones are cut", "model",
              minimum=64, maximum=131072),
        Field("lora_r", "LoRA r", int, r, "adapter rank: 8–128; higher learns more, costs more memory", "lora",
              minimum=1, maximum=1024),
        Field("lora_alpha", "LoRA alpha", int, alpha, "scaling; usually r or 2·r", "lora", minimum=1, maximum=4096),
        Field("lora_dropout", "LoRA dropout", float, 0.0, "0 is optimised by Unsloth", "lora", minimum=0, maximum=0.9),
        Field("per_device_train_batch_size", "Batch / GPU", int, batch, "samples per GPU per step", minimum=1,
              maximum=1024),
        Field("gradient_accumulation_steps", "Grad accum", int, accum, "effective batch = batch × accum × GPUs",
              minimum=1, maximum=1024),
        Field("warmup_steps", "Warm-up steps", int, warmup, "steps of linear learning-rate warm-up", minimum=0),
        Field("max_steps", "Max steps", int, steps, "stop after this many steps; -1: use epochs", minimum=-1),
        Field("num_train_epochs", "Epochs", float, epochs, "passes over the data when max steps is -1",
              minimum=0.01, maximum=1000),
        Field("learning_rate", "Learning rate", float, lr, "2e-4 for LoRA SFT; lower for long runs", minimum=1e-8,
              maximum=1.0),
        Field("optim", "Optimiser", str, optim, "8-bit AdamW saves memory", choices=OPTIMIZERS),
        Field("lr_scheduler_type", "Scheduler", str, scheduler, "learning-rate schedule after warm-up",
              choices=SCHEDULERS),
        Field("weight_decay", "Weight decay", float, decay, "L2 regularisation", minimum=0, maximum=1),
        Field("seed", "Seed", int, 3407, "Unsloth's usual seed", minimum=0),
        Field("logging_steps", "Log every", int, 1, "steps between loss lines (the chart's resolution)", minimum=1),
        Field("save_steps", "Save every", int, save_steps, "steps between checkpoints", minimum=1),
        Field("output_name", "Adapter folder", str, output, "where the LoRA adapter is saved in the run folder",
              "output"),
    ]


def _replace(fields: list[Field], **changes: dict) -> list[Field]:
    from dataclasses import replace

    return [replace(f, **changes[f.name]) if f.name in changes else f for f in fields]


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    description: str
    template: str
    data_hint: str
    fields: tuple[Field, ...]
    needs: tuple[str, ...] = ("unsloth", "trl", "torch", "transformers", "datasets")
    validation: bool = False  # takes an optional validation file (eval loss)

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default for f in self.fields}

    def values(self, given: dict[str, Any] | None = None) -> dict[str, Any]:
        """Every field typed and checked; unknown names and bad values raise RecipeError (all at once)."""
        given = dict(given or {})
        errors: dict[str, str] = {}
        known = {f.name for f in self.fields}
        for name in given:
            if name not in known:
                errors[name] = f"not a field of {self.name}; known: {', '.join(sorted(known))}"
        values: dict[str, Any] = {}
        for f in self.fields:
            try:
                values[f.name] = f.parse(given.get(f.name))
            except (TypeError, ValueError) as err:
                errors[f.name] = str(err)
        if not errors and self.name == "grpo-gsm8k":
            if values["max_prompt_length"] + values["max_completion_length"] > values["max_seq_length"]:
                errors["max_completion_length"] = "prompt + completion length must fit in max seq length"
        if not errors and values["max_steps"] == 0:
            errors["max_steps"] = "0 steps would train nothing; -1 means: use epochs"
        if not NAME.match(str(values.get("output_name", "x"))):
            errors["output_name"] = "letters, digits, _ - only (a folder name)"
        if errors:
            raise RecipeError(errors)
        return values


RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("sft-chatml", "Text SFT (ChatML, chat template)",
           "Qwen2.5-7B-Instruct, 4-bit + LoRA on our converted ChatML (e.g. the medical-dialogue CSVs); each "
           "conversation rendered with the model's chat template. The course's medical script: 3 epochs, "
           "question/answer ≤ 200 characters, adapter lora_model_medical.",
           "sft_chatml.py.in", "ChatML JSONL, or anything `bailian-tui convert` reads (CSV Q&A, ShareGPT, …)",
           tuple(_replace(_common("Qwen/Qwen2.5-7B-Instruct", steps=-1, epochs=3, output="lora_model_medical"))
                 + [Field("max_chars", "Max Q/A chars", int, 200, "drop conversations whose question or answer is "
                          "longer (the course: 200); 0 keeps all", "data", minimum=0),
                    Field("train_on_responses_only", "Loss on answers only", bool, False,
                          "mask the user turns (Unsloth train_on_responses_only)", "data"),
                    Field("instruction_part", "User turn marker", str, "<|im_start|>user\n",
                          "where a user turn starts in the chat template (Qwen)", "data"),
                    Field("response_part", "Answer marker", str, "<|im_start|>assistant\n",
                          "where an answer starts in the chat template (Qwen)", "data"),
                    Field("eval_steps", "Eval every", int, 50, "steps between eval-loss lines (with a validation "
                          "file)", minimum=1)]),
           validation=True),
    Recipe("sft-alpaca", "Text SFT (Alpaca)",
           "Qwen2.5-7B-Instruct, 4-bit + LoRA on instruction/input/output records with the course's Alpaca "
           "prompt and EOS; max_steps 60, adapter lora_model; export to 16/4-bit or GGUF afterwards.",
           "sft_alpaca.py.in", "Alpaca JSON array or JSONL (instruction, input, output)",
           tuple(_common("Qwen/Qwen2.5-7B-Instruct", steps=60, output="lora_model")
                 + [Field("prompt_style", "Prompt", str, "alpaca", "alpaca: the course's ### Instruction/Input/"
                          "Response prompt + EOS; chat_template: the model's template", "data",
                          choices=("alpaca", "chat_template")),
                    Field("eval_steps", "Eval every", int, 50, "steps between eval-loss lines (with a validation "
                          "file)", minimum=1)]),
           validation=True),
    Recipe("vl-sft", "Vision-language SFT",
           "Qwen2.5-VL-3B-Instruct with FastVisionModel, LoRA r=16 alpha=16 on vision and language layers, "
           "UnslothVisionDataCollator; max_steps 30, batch 2, grad-accum 4; adapter car_insurance_lora_model.",
           "vl_sft.py.in", "VL .zip from `bailian-tui convert`, or the Excel/CSV/JSONL sheet (id, prompt, "
                           "image, response) it reads",
           tuple(_replace(_common("Qwen/Qwen2.5-VL-3B-Instruct", steps=30, output="car_insurance_lora_model"),
                          load_in_4bit={"default": True})
                 + [Field("finetune_vision_layers", "Vision layers", bool, True, "LoRA on the vision tower", "lora"),
                    Field("finetune_language_layers", "Language layers", bool, True, "LoRA on the language model",
                          "lora"),
                    Field("finetune_attention_modules", "Attention", bool, True, "LoRA on attention", "lora"),
                    Field("finetune_mlp_modules", "MLP", bool, True, "LoRA on the MLPs", "lora")]),
           needs=("unsloth", "trl", "torch", "transformers", "PIL")),
    Recipe("grpo-gsm8k", "GRPO reasoning (GSM8K)",
           "Qwen2.5-7B-Instruct, 4-bit + LoRA r=64 with vLLM generation; GRPO rewards for correctness (2.0), "
           "an integer answer (0.5), strict and soft <reasoning>/<answer> format (0.5 each) and the XML tag "
           "count; max_steps 250, 6 generations, prompts ≤ 256 tokens; save_lora grpo_saved_lora.",
           "grpo_gsm8k.py.in", "GSM8K JSONL (question, answer ending in #### N)",
           tuple(_replace(_common("Qwen/Qwen2.5-7B-Instruct", r=64, alpha=64, seq=1024, batch=1, accum=1,
                                  steps=250, lr=5e-6, optim="paged_adamw_8bit", scheduler="cosine", decay=0.1,
                                  output="grpo_saved_lora", save_steps=250),
                          lora_alpha={"help": "the course: equal to r"},
                          per_device_train_batch_size={"help": "prompts per GPU per step (each gets num "
                                                               "generations completions)"},
                          warmup_steps={"default": 0, "help": "unused: GRPO warms up by ratio"})
                 + [Field("use_vllm", "vLLM generation", bool, True, "fast_inference: generate with vLLM "
                          "(needs vllm in the environment)", "model"),
                    Field("gpu_memory_utilization", "vLLM GPU share", float, 0.5, "GPU memory vLLM may take; "
                          "lower it when out of memory", "model", minimum=0.05, maximum=0.95),
                    Field("num_generations", "Generations", int, 6, "completions sampled per prompt", minimum=2,
                          maximum=64),
                    Field("max_prompt_length", "Max prompt", int, 256, "prompt tokens", minimum=16),
                    Field("max_completion_length", "Max completion", int, 200, "completion tokens", minimum=16),
                    Field("warmup_ratio", "Warm-up ratio", float, 0.1, "share of steps for warm-up", minimum=0,
                          maximum=1),
                    Field("adam_beta1", "Adam β1", float, 0.9, "", minimum=0, maximum=0.9999),
                    Field("adam_beta2", "Adam β2", float, 0.99, "", minimum=0, maximum=0.99999),
                    Field("max_grad_norm", "Max grad norm", float, 0.1, "gradient clipping", minimum=0)]),
           needs=("unsloth", "trl", "torch", "transformers", "datasets", "vllm")),
)}


# -- the run folder -------------------------------------------------------------------------------------


@dataclass
class RunSpec:
    """What the form or the CLI asks for: a recipe, its values, the data, a name and where runs live."""

    recipe: str
    data: Path
    name: str
    runs_dir: Path
    values: dict[str, Any] = field(default_factory=dict)
    validation: Path | None = None


@dataclass(frozen=True)
class RunFolder:
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    script = property(lambda self: self.path / "train.py")
    config_file = property(lambda self: self.path / "config.json")
    manifest = property(lambda self: self.path / "data.json")
    log = property(lambda self: self.path / "train.log")
    trainer_state = property(lambda self: self.path / "trainer_state.json")

    def config(self) -> dict:
        return json.loads(self.config_file.read_text(encoding="utf-8"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _first_record(path: Path) -> dict | None:
    from bailian_tui.core.data.readers import Item, read_items

    items = read_items(path)
    try:
        for item in items:
            if isinstance(item, Item):
                return item.record if isinstance(item.record, dict) else None
    finally:
        close = getattr(items, "close", None)
        if close:
            close()
    return None


def _convert(source: Path, destination: Path, fmt: str | None = None) -> dict:
    from bailian_tui.core.data.convert import convert_file

    report = convert_file(source, destination, format=fmt)
    errors = [f for f in report.findings if f.severity == "error"]
    if not report.outputs or errors:
        first = errors[0] if errors else None
        where = f"{source}:{first.line}" if first and first.line else str(source)
        raise DataFileError(where, first.message if first else "could not be converted",
                            "fix that record, or convert the file in the Datasets screen and pick the result")
    if len(report.outputs) > 1:
        raise DataFileError(str(source), "converts to more than one file (over 300 MB)",
                            "split the data and start one run per part")
    return {"converted_from": report.format, "records": report.written}


def _prepare_data(recipe: Recipe, source: Path, stage: Path, role: str) -> dict:
    """Bring one data file into the shape the recipe's script reads; return its manifest entry."""
    from bailian_tui.core.data.converters import detect

    if not source.is_file():
        raise DataFileError(str(source), "no such file", "pick an existing data file")
    entry: dict[str, Any] = {"source": str(source.resolve()), "sha256": _sha256(source),
                             "size": source.stat().st_size}
    data_dir = stage / "data"
    if recipe.name == "vl-sft":
        data_dir.mkdir(exist_ok=True)
        target = data_dir / role
        if source.suffix.lower() == ".zip":
            packed = source
        else:
            packed = stage / f".{role}.zip"
            entry.update(_convert(source, packed, "vl"))
        try:
            with zipfile.ZipFile(packed) as archive:
                if "data.jsonl" not in archive.namelist():
                    raise DataFileError(str(source), "has no data.jsonl at its root",
                                        "pack it with bailian-tui convert … out.zip")
                for member in archive.namelist():  # never write outside the folder (zip slip)
                    if member.startswith("/") or ".." in Path(member).parts:
                        raise DataFileError(str(source), f"holds an unsafe path {member!r}", "re-pack the zip")
                archive.extractall(target)
        except zipfile.BadZipFile:
            raise DataFileError(str(source), "is not a zip archive", "pack it with bailian-tui convert") from None
        if packed != source:
            packed.unlink()
        entry["records"] = sum(1 for line in (target / "data.jsonl").read_bytes().splitlines() if line.strip())
        entry["used"] = f"data/{role}/data.jsonl"
        return entry
    first = _first_record(source)
    if first is None:
        raise DataFileError(str(source), "holds no records", "pick a file with data")
    kind = detect([first])
    wanted = {"sft-chatml": "messages", "sft-alpaca": "alpaca", "grpo-gsm8k": "gsm8k"}[recipe.name]
    if kind is not None and kind.name == wanted and (wanted != "messages" or source.suffix.lower() == ".jsonl"):
        entry["used"] = str(source.resolve())  # already the right shape: read in place, never copied
        entry["records"] = _count_records(source)
        return entry
    if recipe.name != "sft-chatml":
        found = kind.name if kind else "no known format"
        raise DataFileError(f"{source}:1", f"is {found}, not {wanted}", f"this recipe reads {recipe.data_hint}")
    data_dir.mkdir(exist_ok=True)
    entry.update(_convert(source, data_dir / f"{role}.jsonl"))
    entry["used"] = f"data/{role}.jsonl"
    return entry


def _count_records(path: Path) -> int:
    from bailian_tui.core.data.readers import Item, read_items

    return sum(1 for item in read_items(path) if isinstance(item, Item))


def render_script(recipe: Recipe, config: dict, generated: str) -> str:
    text = (TEMPLATES / recipe.template).read_text(encoding="utf-8")
    common = (TEMPLATES / "_common.py.in").read_text(encoding="utf-8")
    block = "CONFIG = " + pprint.pformat(config, width=100, sort_dicts=False)
    return (text.replace("# @@CONFIG@@", block).replace("# @@COMMON@@\n", common)
            .replace("@@GENERATED@@", generated).replace("@@OUTPUT@@", str(config["output_name"])))


def create_run(spec: RunSpec) -> RunFolder:
    """Write ``runs_dir/NAME`` whole or not at all: a bad value or data file leaves nothing behind."""
    from bailian_tui import __version__

    recipe = RECIPES.get(spec.recipe)
    if recipe is None:
        raise RecipeError({"recipe": f"unknown recipe {spec.recipe!r}; known: {', '.join(RECIPES)}"})
    if not NAME.match(spec.name):
        raise RecipeError({"name": "letters, digits, _ - only, up to 64 characters (a folder name)"})
    values = recipe.values(spec.values)
    runs_dir = Path(spec.runs_dir).expanduser().resolve()
    final = runs_dir / spec.name
    if final.exists():
        raise RecipeError({"name": f"{final} already exists; pick another name"})
    if spec.validation is not None and not recipe.validation:
        raise RecipeError({"validation": f"{recipe.name} takes no validation file"})
    runs_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{spec.name}.", dir=runs_dir))
    try:
        manifest = {"train": _prepare_data(recipe, Path(spec.data).expanduser(), stage, "train")}
        if spec.validation is not None:
            manifest["validation"] = _prepare_data(recipe, Path(spec.validation).expanduser(), stage, "validation")
        now = datetime.now()
        config = {"recipe": recipe.name, **values, "data": manifest["train"]["used"]}
        if recipe.validation:
            config["validation"] = manifest["validation"]["used"] if "validation" in manifest else ""
        generated = f"{__version__} on {now:%Y-%m-%d %H:%M}, recipe {recipe.name}"
        (stage / "train.py").write_text(render_script(recipe, config, generated), encoding="utf-8")
        (stage / "config.json").write_text(json.dumps({**config, "created_at": now.isoformat(timespec="seconds")},
                                                      ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        (stage / "data.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                         encoding="utf-8")
        os.chmod(stage, 0o755)
        os.rename(stage, final)  # atomic: the folder appears complete
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return RunFolder(final)


def train_command(folder: RunFolder, python: str, gpus: int = 1, launcher: str = "accelerate") -> list[str]:
    """The command line of a training run: plain python on one GPU; accelerate / torchrun on several."""
    script = str(folder.script)
    if gpus <= 1:
        return [python, "-u", script, "train"]
    if launcher == "torchrun":
        return [python, "-m", "torch.distributed.run", f"--nproc_per_node={gpus}", script, "train"]
    return [python, "-m", "accelerate.commands.launch", f"--num_processes={gpus}", script, "train"]


def export_command(folder: RunFolder, python: str, fmt: str) -> list[str]:
    return [python, "-u", str(folder.script), "export", "--format", fmt]
