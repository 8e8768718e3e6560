"""Local profiles in the config, the on-demand environment check and the optional GPU stats."""

from __future__ import annotations

import sys

import pytest

from bailian_tui.core import config, profiles
from bailian_tui.core.config import ConfigError
from bailian_tui.core.local import envcheck, gpu
from bailian_tui.core.providers.local import LocalProvider


def settings_with(tmp_path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return config.load(path, env={"BAILIAN_TUI_STATE_DIR": str(tmp_path / "state")})


async def test_a_local_profile_beside_a_cloud_one(tmp_path):
    python = tmp_path / "unsloth-env/bin/python"
    settings = settings_with(tmp_path, f"""
providers:
  - name: bailian
    kind: dashscope
  - name: gpu
    kind: local
    python: {python}
    runs_dir: {tmp_path / 'runs'}
    gpus: 2
    launcher: torchrun
""")
    every = profiles.profiles(settings, env={})
    local = next(p for p in every if p.kind == "local")
    assert (local.name, local.python, local.runs_dir, local.gpus, local.launcher, local.badge) == \
        ("gpu", str(python), str(tmp_path / "runs"), 2, "torchrun", "GPU")
    provider = profiles.open_provider(local, settings)
    assert isinstance(provider, LocalProvider) and provider.info.kind == "local"
    assert provider.capabilities.training_types == ("sft-chatml", "sft-alpaca", "vl-sft", "grpo-gsm8k")
    assert not provider.capabilities.remote_files and provider.capabilities.adopt
    row = next(r for r in profiles.describe(settings, env={}) if r["kind"] == "local")
    assert row["key"] == "none needed" and str(python) in row["base_url"]
    await provider.aclose()


@pytest.mark.parametrize("entry, message", [
    ("kind: local", "needs python"),
    ("kind: local\n    python: /x/python\n    gpus: 0", "gpus"),
    ("kind: local\n    python: /x/python\n    launcher: mpirun", "launcher"),
    ("kind: local\n    python: /x/python\n    base_url: http://x", "no base_url"),
])
def test_bad_local_profiles_say_which_key(tmp_path, entry, message):
    settings = settings_with(tmp_path, f"providers:\n  - name: gpu\n    {entry}\n")
    with pytest.raises(ConfigError, match=message) as err:
        profiles.profiles(settings, env={})
    assert "providers[0]" in str(err.value)


def test_stand_in_profile_defaults_to_this_python(tmp_path):
    settings = settings_with(tmp_path, "providers:\n  - name: demo-gpu\n    kind: local\n    stand_in: true\n")
    (local,) = profiles.profiles(settings, env={})
    assert local.python == sys.executable and local.stand_in


async def test_environment_check_reports_what_is_missing():
    report = await envcheck.check(sys.executable)  # the test venv: no torch, no unsloth
    text = "\n".join(report.lines())
    assert not report.ready() and report.version
    assert "✗ unsloth missing" in text and "✗ torch missing" in text and "✗ CUDA: torch missing" in text
    assert f"install with: {sys.executable} -m pip install unsloth" in text
    assert report.packages["transformers"]  # what is there is reported with its version
    gone = await envcheck.check("/nonexistent/bin/python")
    assert not gone.ready() and "no such executable" in gone.lines()[1] and len(gone.lines()) == 2


def test_gpu_stats_are_optional():
    """Without nvidia-ml-py or without a GPU (this machine) the list is empty and nothing raises."""
    stats = gpu.gpu_stats({1})
    assert isinstance(stats, list)
    line = gpu.GpuStat(0, "NVIDIA A10", 6 * 1024 ** 3, 24 * 1024 ** 3, 87, 5 * 1024 ** 3).line()
    assert line == "GPU0 NVIDIA A10: 87% · 6.0/24.0 GiB (run 5.0)"
