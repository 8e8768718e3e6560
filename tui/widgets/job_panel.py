"""One watched job: status, progress, loss curves and the tail of its log."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from bailian_tui.core.monitor import Watched
from bailian_tui.core.records import JobStatus
from bailian_tui.tui.format import escape, status_badge, widget_id
from bailian_tui.tui.widgets.chart import render_chart


class JobPanel(Vertical):
    def __init__(self, job_id: str, **kwargs) -> None:
        super().__init__(id=widget_id("panel", job_id), classes="job-panel", **kwargs)
        self.job_id = job_id
        self.border_title = escape(job_id)
        self.watched: Watched | None = None

    def compose(self) -> ComposeResult:
        yield Static("waiting for the first poll…", classes="panel-status")
        yield ProgressBar(total=1.0, show_eta=False, classes="panel-progress")
        yield Static("", classes="panel-chart")
        yield Static("", classes="panel-log")

    def show(self, watched: Watched) -> None:
        self.watched = watched
        job, metrics = watched.job, watched.tail.metrics
        status = Text.assemble(status_badge(job.status) if job else Text("?"), f"  {job.model if job else ''}")
        if metrics.step is not None:
            status.append(f"  step {metrics.step}/{metrics.total_steps or '?'}")
        if metrics.epoch is not None:
            status.append(f"  epoch {metrics.epoch:g}")
        if metrics.consumed_tokens:
            status.append(f"  {metrics.consumed_tokens:,} tokens")
        if job and job.finetuned_output:
            status.append(f"\n→ {job.finetuned_output}", style="bold green")
            routing = getattr(self.app.current_service, "routing", None)
            direct = routing is not None and not routing.capabilities_for(self.job_id).deployments
            # An OpenAI-compatible model is served as it is: D opens try-it instead of a deployment.
            status.append("  (c copies · D tries it, served directly)" if direct else "  (c copies · D deploys)",
                          style="dim")
        if job and job.message and job.status is JobStatus.FAILED:
            status.append(f"\n{job.message}", style="red")
        if metrics.eval_loss_rising:
            status.append("\nvalidation loss rising: over-fitting? (x cancels)", style="bold yellow")
        if watched.error:
            status.append(f"\n{watched.error}", style="red")
        gpu = getattr(self.app, "gpu_lines", {}).get(self.job_id)  # local runs, where NVML finds a GPU
        if gpu and job is not None and not job.status.finished:
            status.append("\n" + " · ".join(gpu), style="cyan")
        self.query_one(".panel-status", Static).update(status)
        self.query_one(".panel-progress", ProgressBar).update(progress=metrics.progress or 0.0)
        chart = self.query_one(".panel-chart", Static)
        width = max(chart.size.width or self.size.width - 2, 20)
        # Before the first layout the size is 0: the stylesheet's height is the size it will have.
        rows = chart.size.height or (chart.styles.height.cells if chart.styles.height else None) or 10
        height = max(min(rows - 2, 10), 3)
        chart.update(render_chart([("loss", metrics.loss, "•", "#20e0e0"), ("eval", metrics.eval_loss, "×", "#e040e0")],
                                  width, height, x_label=metrics.x_axis))
        log = self.query_one(".panel-log", Static)
        lines = max(log.size.height, 3)
        width = max(log.size.width, 40)
        log.update(Text("\n".join(line if len(line) <= width else line[: width - 1] + "…"
                                  for line in watched.tail.lines[-lines:]), style="dim"))

    def on_resize(self) -> None:
        if self.watched is not None:
            self.show(self.watched)  # the chart and the log tail are cut to the panel's size
