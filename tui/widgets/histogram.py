"""A token-length histogram drawn with block characters, with the max_length line marked."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from bailian_tui.core.data.scan import Stats

BARS = " ▁▂▃▄▅▆▇█"


class Histogram(Static):
    def show(self, stats: Stats, height: int = 6) -> None:
        counts = [c for _, _, c in stats.histogram]
        peak = max(counts, default=0) or 1
        text = Text()
        text.append(f"{stats.samples} samples · {stats.total:,} tokens · mean {stats.mean:.0f} · p50 {stats.p50} · "
                    f"p95 {stats.p95} · max {stats.max} · {stats.too_long} over max_length {stats.max_length} · "
                    f"{stats.duplicates} duplicates\n", style="bold")
        for level in range(height, 0, -1):
            for (low, high, count) in stats.histogram:
                fill = count / peak * height - (level - 1)
                char = BARS[max(0, min(8, round(fill * 8)))] if fill > 0 else " "
                over = low > stats.max_length
                text.append(char * 5 + " ", style="red" if over else "cyan")
            text.append("\n")
        for low, _, _ in stats.histogram:
            text.append(f"{low:<6}"[:6], style="dim")
        text.append("\n" + "  ".join(f"{k}: {v}" for k, v in sorted(stats.roles.items())), style="dim")
        self.update(text)
