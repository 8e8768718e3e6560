"""Table helpers every list screen shares."""

from __future__ import annotations

from textual.widgets import DataTable

try:  # how DataTable turns a value into what it measures and draws (Textual-private: without it, no in-place path)
    from textual.widgets._data_table import default_cell_formatter
except ImportError:  # pragma: no cover - a Textual without it
    default_cell_formatter = None

# DataTable's caches that one changed cell is taken out of (Textual-private: checked, see Table.update_cell).
_SCOPED_CACHES = ("_data", "_row_locations", "_column_locations", "_cell_render_cache", "_row_render_cache",
                  "_line_cache", "_row_renderable_cache", "_update_count", "_get_offsets")


class Table(DataTable):
    """A DataTable that repaints only what changed, and never shows columns cut to their header's width.

    **Changed cells.** DataTable keys every render cache (cells, rows, lines) by its update count, and
    ``update_cell`` bumps that count: one changed cell re-renders every visible cell on the next frame. The job
    list changes a few cells at a time — a running job's elapsed time, a young job's "12s ago", a glance's
    progress and loss — so each refresh, and each return to the screen, re-rendered ~140 cells (~30–60 ms of
    the event loop on the 2-core machine, before the returning screen's first frame). Here a cell whose new
    value fits its column's width is changed in place: the caches lose only that cell, its row's lines are
    repainted, the rest of the table is served from cache. A value wider than its column takes DataTable's own
    path (the column grows, everything re-renders). A column does not shrink when one cell gets narrower
    (DataTable would re-measure it): widths that only grow do not make the table jump as seconds tick.

    **Columns cut to the header.** DataTable sizes its auto-width columns on its next idle after ``add_row``,
    but its line caches are keyed by the table's update count, not by the column widths: a frame painted
    between ``add_row`` and that idle caches every line at the header widths, and the later resize paints those
    cached lines again — ids cut to ``6513270`` until something else clears the caches. Textual's full restyles
    used to clear them by accident; the screens no longer restyle what did not change (tui/screens/base.py),
    which exposed it (Files, 1 run in ~6). So the caches go whenever the dimensions are recomputed.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._stale_cells: set = set()  # (row key, column key) changed in place since the last paint
        self._scoped_updates = default_cell_formatter is not None and all(hasattr(self, n) for n in _SCOPED_CACHES)

    def update_cell(self, row_key, column_key, value, *, update_width: bool = False) -> None:
        from textual.widgets.data_table import ColumnKey, RowKey

        row_key = RowKey(row_key) if isinstance(row_key, str) else row_key
        column_key = ColumnKey(column_key) if isinstance(column_key, str) else column_key
        if not (self._scoped_updates and row_key in self._row_locations and column_key in self._column_locations):
            super().update_cell(row_key, column_key, value, update_width=update_width)  # (raises for a bad key)
            return
        row, column = self.rows[row_key], self.columns[column_key]
        if row.height != 1 or (update_width and self._width_of(value) > column.content_width):
            super().update_cell(row_key, column_key, value, update_width=update_width)
            return
        self._data[row_key][column_key] = value
        row_index = self._row_locations.get(row_key)
        self._row_renderable_cache.discard((self._update_count, row_index))
        self._stale_cells.add((row_key, column_key))
        self.refresh_row(row_index)

    def _width_of(self, value) -> int:
        """The width DataTable itself would give the value (the same formatter and measure)."""
        from textual.render import measure

        return measure(self.app.console, default_cell_formatter(value, wrap=False, height=1), 1)

    def _drop_stale_cells(self) -> None:
        """Take the cells changed in place out of the render caches (once per paint, not once per cell)."""
        cells, self._stale_cells = self._stale_cells, set()
        rows = {row for row, _ in cells}
        for key in [k for k in self._cell_render_cache.keys() if (k[0], k[1]) in cells]:
            self._cell_render_cache.discard(key)
        for key in [k for k in self._row_render_cache.keys() if k[0] in rows]:
            self._row_render_cache.discard(key)
        for key in list(self._line_cache.keys()):
            try:
                row = self._get_offsets(key[0])[0]
            except (LookupError, IndexError):
                continue
            if row in rows:
                self._line_cache.discard(key)

    def render_lines(self, crop):
        if self._stale_cells:
            self._drop_stale_cells()
        return super().render_lines(crop)

    def _update_dimensions(self, new_rows) -> None:  # Textual-private hook, guarded: see the docstring
        super()._update_dimensions(new_rows)
        clear = getattr(self, "_clear_caches", None)
        if clear is not None:
            clear()
            self._stale_cells.clear()


def selected_key(table: DataTable) -> str | None:
    """The key of the row under the cursor, or None for an empty table."""
    if not table.row_count:
        return None
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
