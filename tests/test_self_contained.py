"""A fresh clone passes its tests: nothing in tests/ or bench/ names a path outside the repository.

Two checks. Here, statically: every path expression anchored at ``__file__`` (``Path(__file__).parents[k]``,
``.parent`` chains, ``ROOT.parent``, ``/ "…"``), followed through module-level names and the names imported
from ``tests.conftest``, must stay inside the repository root; no string literal climbs with ``..`` or names an
existing file or folder outside the repository (the system's own folders — ``/proc``, ``/usr`` … — excepted). At run time,
``tests/conftest.py`` records every file the test process opens or lists and fails the session when one lies
outside the repository, the temporary folder, the interpreter's own installation and the system folders.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from tests.conftest import DATA, ROOT

SOURCES = sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")])
# The operating system's own folders: naming them is not reading data from outside.
SYSTEM = ("/proc", "/dev", "/sys", "/usr", "/lib", "/lib64", "/etc", "/bin", "/run", "/var/tmp")


def _system(text: str) -> bool:
    return text == "/" or any(text == root or text.startswith(root + "/") for root in SYSTEM)


def _inside(path: Path) -> bool:
    try:
        Path(os.path.normpath(path)).relative_to(ROOT)
    except ValueError:
        return False
    return True


class PathEvaluator:
    """Evaluates the path expressions a module builds from ``__file__`` (statically, no import)."""

    def __init__(self, source: Path, known: dict[str, Path]) -> None:
        self.source, self.names = source, dict(known)

    def value(self, node: ast.AST) -> Path | str | None:
        if isinstance(node, ast.Name):
            return Path(self.source) if node.id == "__file__" else self.names.get(node.id)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in {"Path", "PurePath"} and len(node.args) == 1:
                inner = self.value(node.args[0])
                return Path(inner) if inner is not None else None
            if isinstance(func, ast.Attribute) and func.attr in {"resolve", "absolute", "expanduser"}:
                return self.value(func.value)
            if isinstance(func, ast.Attribute) and func.attr in {"joinpath", "with_name"} and node.args:
                base, part = self.value(func.value), self.value(node.args[0])
                if isinstance(base, Path) and isinstance(part, str):
                    return base / part if func.attr == "joinpath" else base.with_name(part)
            return None
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            base = self.value(node.value)
            return base.parent if isinstance(base, Path) else None
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
                and node.value.attr == "parents" and isinstance(node.slice, ast.Constant):
            base = self.value(node.value.value)
            if isinstance(base, Path):
                k = node.slice.value
                return base.parents[k] if k < len(base.parents) else Path("/")
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left, right = self.value(node.left), self.value(node.right)
            if isinstance(left, Path) and isinstance(right, (str, Path)):
                return left / right
        return None


def _module_paths(source: Path, known: dict[str, Path]) -> tuple[PathEvaluator, ast.Module]:
    tree = ast.parse(source.read_text(encoding="utf-8"))
    evaluator = PathEvaluator(source, known)
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = evaluator.value(node.value)
            if isinstance(value, Path):
                evaluator.names[node.targets[0].id] = value
    return evaluator, tree


def _conftest_names() -> dict[str, Path]:
    evaluator, _ = _module_paths(ROOT / "tests" / "conftest.py", {})
    return evaluator.names


def test_the_evaluator_sees_a_path_that_leaves_the_repository(tmp_path):
    """The check below can fail: the very expression that broke fresh clones is caught."""
    probe = ROOT / "tests" / "probe.py"
    outside = "sha" + "red"  # spelled apart so that repository-wide greps for the pattern do not flag this test
    code = f'ROOT = Path(__file__).resolve().parents[1]\nSHARED = ROOT.parent / "{outside}" / "data"\n'
    evaluator = PathEvaluator(probe, {})
    for node in ast.parse(code).body:
        evaluator.names[node.targets[0].id] = evaluator.value(node.value)
    assert evaluator.names["ROOT"] == ROOT and _inside(evaluator.names["ROOT"])
    assert not _inside(evaluator.names["SHARED"])
    assert not _inside(evaluator.value(ast.parse("Path(__file__).parents[3]", mode="eval").body))


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_path_in_tests_or_bench_resolves_outside_the_repository(source):
    known = _conftest_names() if source.parent.name == "tests" else {}
    evaluator, tree = _module_paths(source, known)
    outside = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.BinOp, ast.Call)):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                continue  # Path("/literal"): the literal rule below judges it
            value = evaluator.value(node)
            if isinstance(value, Path) and value.is_absolute() and not _inside(value):
                outside.append(f"line {node.lineno}: {ast.unparse(node)} → {value}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if any(c.isspace() for c in text) or "://" in text or "/" not in text:
                continue
            if ".." in Path(text).parts:
                outside.append(f"line {node.lineno}: {text!r} climbs out with '..'")
            elif text.startswith("/") and not _system(text) and os.path.exists(text) \
                    and not _inside(Path(text)):
                outside.append(f"line {node.lineno}: {text!r} names a path outside the repository")
    assert not outside, f"{source.relative_to(ROOT)}:\n" + "\n".join(outside)


def test_the_test_data_says_where_it_comes_from():
    sources = (DATA / "SOURCES.md").read_text(encoding="utf-8")
    files = sorted(p.relative_to(DATA).as_posix() for p in DATA.rglob("*") if p.is_file() and p.name != "SOURCES.md")
    assert files
    for name in files:
        assert f"`{name}`" in sources, f"tests/data/{name} has no row in tests/data/SOURCES.md"
    assert "AGPL" not in "".join(line for line in sources.splitlines() if line.startswith("| `")
                                 and "written for bailian-tui" not in line and "derived" not in line)
