"""Table helpers every list screen shares."""

from __future__ import annotations

from textual.widgets import DataTable


class Table(DataTable):
    """A DataTable whose columns never show cut to their header's width after rows arrive.

    DataTable sizes its auto-width columns on its next idle after ``add_row``, but its line caches are keyed
    by the table's update count, not by the column widths: a frame painted between ``add_row`` and that idle
    caches every line at the header widths, and the later resize paints those cached lines again — ids cut
    to ``6513270`` until something else clears the caches. Textual's full restyles used to clear them by
    accident; the screens no longer restyle what did not change (tui/screens/base.py), which exposed it
    (Files, 1 run in ~6). So the caches go whenever the dimensions are recomputed.
    """

    def _update_dimensions(self, new_rows) -> None:  # Textual-private hook, guarded: see the docstring
        super()._update_dimensions(new_rows)
        clear = getattr(self, "_clear_caches", None)
        if clear is not None:
            clear()


def selected_key(table: DataTable) -> str | None:
    """The key of the row under the cursor, or None for an empty table."""
    if not table.row_count:
        return None
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
