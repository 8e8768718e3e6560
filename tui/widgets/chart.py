"""A small line chart in text: train loss and validation loss over steps, readable in any terminal."""

from __future__ import annotations

from rich.text import Text

from bailian_tui.core.logparse import Point


def render_chart(series: list[tuple[str, list[Point], str, str]], width: int, height: int,
                 x_label: str = "step") -> Text:
    """``series``: (label, points, mark, style). Axes: step or epoch (x) and value (y), min/max labelled."""
    points = [p for _, pts, _, _ in series for p in pts]
    text = Text()
    if not points or width < 12 or height < 3:
        text.append("no loss reported yet", style="dim")
        return text
    label_width = 7
    plot_width = max(width - label_width - 1, 4)
    xs = [p.step for p in points]
    ys = [p.value for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if y1 - y0 < 1e-9:
        y0, y1 = y0 - 0.5, y1 + 0.5
    if x1 - x0 < 1e-9:
        x1 = x0 + 1
    grid: list[list[tuple[str, str]]] = [[(" ", "")] * plot_width for _ in range(height)]
    for _, pts, mark, style in series:
        for p in pts:
            col = round((p.step - x0) / (x1 - x0) * (plot_width - 1))
            row = height - 1 - round((p.value - y0) / (y1 - y0) * (height - 1))
            grid[row][col] = (mark, style)
    for r, row in enumerate(grid):
        label = f"{y1:.3g}" if r == 0 else f"{y0:.3g}" if r == height - 1 else ""
        text.append(f"{label:>{label_width}}│", style="dim")
        for char, style in row:
            text.append(char, style=style)
        text.append("\n")
    text.append(" " * label_width + "└" + f"{x_label} {x0:g}".ljust(plot_width - len(f"{x1:g}")) + f"{x1:g}\n", style="dim")
    text.append(" " * label_width + "  ")
    for label, pts, mark, style in series:
        if pts:
            text.append(f"{mark} {label} {pts[-1].value:.4f}   ", style=style)
    return text
