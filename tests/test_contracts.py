"""Each side's rules against the reference, independently: the client (core) and the simulator never
check each other. The tables in tests/data/reference are transcriptions of the project's references."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from bailian_tui.core import hyperparams, jobform
from bailian_tui.core.providers import openai_hp
from bailian_tui.simulator import dashscope_contract, openai_contract

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "data" / "reference"
DS = json.loads((REF / "dashscope.json").read_text(encoding="utf-8"))
OA = json.loads((REF / "openai.json").read_text(encoding="utf-8"))


def _matrix(table) -> dict[str, set[str]]:
    return {model: set(types) for model, types in table.items()}


@pytest.mark.parametrize("side", ["client", "simulator"])
def test_support_matrix_is_the_references(side):
    table = hyperparams.SUPPORT_MATRIX if side == "client" else dashscope_contract.SUPPORT_MATRIX
    assert _matrix(table) == _matrix(DS["support_matrix"])


def test_client_defaults_are_the_references():
    for name, value in DS["defaults"].items():
        assert hyperparams.PARAMS_BY_NAME[name].default == value, name
    for name in DS["lora_only"]:
        assert hyperparams.PARAMS_BY_NAME[name].only_types == hyperparams.LORA_TYPES, name


def test_simulator_defaults_are_the_references():
    lora = dashscope_contract.defaults_for("efficient_sft")
    full = dashscope_contract.defaults_for("sft")
    for name, value in DS["defaults"].items():
        assert lora[name] == value, name
    assert not set(DS["lora_only"]) & set(full)


@pytest.mark.parametrize("split", [jobform.split_counts, dashscope_contract.split_counts], ids=["client", "simulator"])
def test_split_rule_is_the_references(split):
    for case in DS["split_cases"]:
        hp = {"split": case["split"], "max_split_val_dataset_sample": case["cap"]}
        assert split(case["samples"], hp, case["validation_files"]) == (case["train"], case["validation"]), case


def test_openai_simulator_knows_the_standard_and_xpulinks_names():
    assert set(openai_contract.STANDARD_HP) == set(OA["standard_hyperparameters"])
    assert set(openai_contract.XPULINK_HP) == set(OA["xpulink_hyperparameters"])
    assert set(openai_contract.STATUSES) == set(OA["statuses"])
    for name, (low, high) in OA["typical"].items():  # every documented typical value is accepted
        b_low, b_high, _ = openai_contract.BOUNDS[name]
        assert b_low <= low and high <= b_high, name


def test_openai_client_guidance_is_the_references():
    assert openai_hp.PRESETS == OA["presets"]
    for samples, name in OA["preset_cases"]:
        assert openai_hp.preset_name(samples) == name
    names = set(OA["xpulink_hyperparameters"]) | set(OA["standard_hyperparameters"])
    assert set(openai_hp.PARAMS_BY_NAME) == names
    for name, (low, high) in OA["typical"].items():
        param = openai_hp.PARAMS_BY_NAME[name]
        assert param.low <= low and high <= param.high, name  # typical values never warn
    guide = OA["minimum_data"]
    assert (openai_hp.MIN_EFFECT, openai_hp.MIN_RECOMMENDED, openai_hp.MIN_IDEAL) == (
        guide["effect"], guide["recommended"], guide["ideal"])


def test_the_simulator_imports_nothing_from_the_client():
    """It is a server with its own contract: a wrong rule in core must not be agreed with by its backend."""
    offenders = []
    for path in sorted((ROOT / "simulator").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.startswith(("bailian_tui.core", "bailian_tui.tui", "core.", "tui.")):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert offenders == []


def test_the_demos_seeded_data_is_what_the_clients_converter_uploads():
    from bailian_tui.core.data.converters import medqa
    from bailian_tui.simulator import demo

    raw = (ROOT / "datasets/MedQA/questions/Mainland/4_options/dev.jsonl").read_text(encoding="utf-8")
    records = [json.loads(line) for line in raw.splitlines() if line.strip()]
    assert [json.loads(line) for line in demo.medqa_chatml_lines(records)] == [medqa.convert(r) for r in records]
