"""core/ never imports the UI, checked by importing every module in a clean interpreter."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

from bailian_tui import core
from tests.conftest import ROOT


def test_core_imports_no_ui():
    modules = [m.name for m in pkgutil.walk_packages(core.__path__, "bailian_tui.core.")]
    assert len(modules) > 10
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules) +
            "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual' or m.startswith('bailian_tui.tui'))\n"
            "print(bad)\nsys.exit(1 if bad else 0)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_core_source_never_names_the_ui():
    for path in (ROOT / "core").rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            assert not stripped.startswith(("import textual", "from textual", "import bailian_tui.tui", "from bailian_tui.tui", "from bailian_tui import tui")), path


def test_one_import_root_and_every_package_folder_is_shipped():
    """The distribution installs only `bailian_tui`; every folder with an __init__.py under a mapped
    folder is listed in pyproject.toml (else a wheel install would miss it)."""
    tomllib = __import__("tomllib") if sys.version_info >= (3, 11) else __import__("tomli")
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    mapping, listed = setup["package-dir"], set(setup["packages"])
    assert all(name == "bailian_tui" or name.startswith("bailian_tui.") for name in listed | set(mapping))
    expected = set()
    for root_name, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            expected.add(".".join((root_name, *rel)))
    assert expected == listed


def test_no_generic_top_level_import_in_source():
    for folder in ("core", "tui", "simulator", "bailian_tui", "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                stripped = line.strip()
                for name in ("core", "tui", "simulator"):
                    assert not stripped.startswith((f"from {name}.", f"import {name}.", f"from {name} ",
                                                    f"import {name}")), f"{path}:{number}: {line}"


def test_headless_cli_never_imports_textual():
    """The headless CLI starts fast and runs where Textual could not: only `bailian-tui [PATH]` loads it."""
    code = ("import sys\nfrom bailian_tui.cli import main\nfrom bailian_tui.cli import app, data, output, remote\n"
            "app.build_parser()\ncode = main(['capability', '--model', 'qwen3-8b', '--json'])\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual' or m.startswith('bailian_tui.tui'))\n"
            "print(bad)\nsys.exit(1 if bad or code else 0)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={"XDG_CONFIG_HOME": "/nonexistent", "PATH": ""})
    assert done.returncode == 0, done.stdout + done.stderr
