"""The Textual-private names the app relies on, each still there in the installed Textual.

Speed work on issue 12 reaches into Textual where its public API has no door (docs/design.md, "Where the app
reaches into Textual"). Each use is guarded or falls back to Textual's own behaviour, so a Textual that renamed
one would not crash — it would quietly be slow again, or (for the two unguarded ScrollView calls) fail on the
first record shown. pyproject.toml pins the minor version these were read from; this test is what makes a
Textual upgrade say which of them moved, instead of leaving it to a benchmark to notice.
"""

from __future__ import annotations

import importlib

import pytest
from textual.app import App
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.widgets import DataTable

# (where the name lives, the name, who uses it)
REGISTER = [
    (App, "_begin_batch", "tui/app.py: switch_mode holds a return's repaint only until its ScreenResume"),
    (App, "_end_batch", "tui/app.py: (the pair of _begin_batch)"),
    (App, "_batch_count", "tui/app.py: repaint once the last hold is released"),
    (App, "_css_update_count", "tui/screens/base.py: a screen built away starts with current styles"),
    (Screen, "_css_update_count", "tui/screens/base.py: (the screen's side of the counter)"),
    (ScrollView, "_scroll_update", "tui/widgets/records.py, conversation.py: a new height without a layout pass"),
    (DataTable, "_update_dimensions", "tui/widgets/tables.py: caches cleared when columns are re-measured"),
    (DataTable, "_clear_caches", "tui/widgets/tables.py"),
    (DataTable, "_get_offsets", "tui/widgets/tables.py: a changed cell leaves only its row's lines"),
]
# Attributes DataTable sets on its instances (not on the class).
TABLE_INSTANCE = ["_data", "_row_locations", "_column_locations", "_cell_render_cache", "_row_render_cache",
                  "_line_cache", "_row_renderable_cache", "_update_count"]
MODULE_NAMES = [("textual.widgets._data_table", "default_cell_formatter", "tui/widgets/tables.py: cell widths")]


@pytest.mark.parametrize("owner, name, user", REGISTER, ids=[f"{o.__name__}.{n}" for o, n, _ in REGISTER])
def test_class_names_exist(owner, name, user):
    assert hasattr(owner, name) or name in _instance_names(owner), f"{owner.__name__}.{name} is gone ({user})"


def test_datatable_instance_caches_exist():
    table = DataTable()
    missing = [name for name in TABLE_INSTANCE if not hasattr(table, name)]
    assert not missing, f"DataTable no longer has {missing} (tui/widgets/tables.py: in-place cell updates)"


@pytest.mark.parametrize("module, name, user", MODULE_NAMES)
def test_module_names_exist(module, name, user):
    assert hasattr(importlib.import_module(module), name), f"{module}.{name} is gone ({user})"


def _instance_names(owner) -> set[str]:
    """Names set in __init__ (the CSS counter is one): made on a bare instance, outside any app."""
    if owner is App:
        return set(vars(App()))
    if owner is Screen:
        return set(vars(Screen()))
    return set()
