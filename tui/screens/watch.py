"""Every watched job at once: a grid of panels when there is room; below WIDE columns a compact list, one
line per job, with the current job's panel under it. Tab/arrows move between jobs and every action acts on
the current one, which is drawn with an accent border (and a cursor in the list)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import DataTable, Static

from bailian_tui.core.monitor import Watched
from bailian_tui.tui import format as fmt
from bailian_tui.tui.keymap import KEYMAP
from bailian_tui.tui.messages import JobPolled
from bailian_tui.tui.screens.base import BaseScreen
from bailian_tui.tui.widgets.job_panel import JobPanel
from bailian_tui.tui.widgets.tables import Table

WIDE = 110  # columns from which panels sit two abreast and the compact list is not needed
SPARKS = "▁▂▃▄▅▆▇█"
# The compact list's columns; one more (a provider, say) is one more entry here and in list_row().
LIST_COLUMNS = ("job id", "status", "done", "step", "loss", "trend", "last log line")


def bar(progress: float | None, width: int = 6) -> str:
    if progress is None:
        return "·" * width
    filled = round(progress * width)
    return "█" * filled + "░" * (width - filled)


def sparkline(values: list[float], width: int = 6) -> str:
    values = values[-width:]
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(SPARKS[min(int((v - low) / span * (len(SPARKS) - 1) + 0.5), len(SPARKS) - 1)] for v in values)


def list_row(job_id: str, watched: Watched | None, log_width: int) -> tuple:
    if watched is None or watched.job is None:
        return Text(job_id), Text("… waiting", style="dim"), bar(None), "", "", "", ""
    job, metrics = watched.job, watched.tail.metrics
    step = f"{metrics.step}/{metrics.total_steps or '?'}" if metrics.step is not None else ""
    loss = f"{metrics.latest_loss:.4f}" if metrics.latest_loss is not None else ""
    last = watched.error or (watched.tail.lines[-1] if watched.tail.lines else "")
    return (Text(job_id), fmt.status_badge(job.status), bar(metrics.progress), step, loss,
            sparkline([p.value for p in metrics.loss]), Text(fmt.middle(last.strip(), max(log_width, 8)), style="dim"))


class JobList(Table, can_focus=False):
    """One line per watched job. Never focused: the screen owns the keys, the list shows where you are."""


class WatchScreen(BaseScreen):
    TITLE_TEXT = "Watched jobs"
    BINDINGS = KEYMAP["watch"]

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []
        self.current: str | None = None
        self._stale: set[str] = set()
        self._list_stale = False

    def compose_body(self) -> ComposeResult:
        yield Static("", id="watch-empty")
        yield JobList(id="watch-list", cursor_type="row")
        yield Grid(id="watch-grid")

    def on_mount(self) -> None:
        self.query_one("#watch-list", DataTable).add_columns(*LIST_COLUMNS)
        self.app.job_listeners.add(self)
        self._sync_panels()
        self.set_interval(1.0, self._draw_stale)

    def on_unmount(self) -> None:
        self.app.job_listeners.discard(self)

    @property
    def drawn(self) -> bool:
        """Every poll that arrived for a panel in view has been drawn (draws are batched once a second)."""
        return not self._list_stale and not any(p.job_id in self._stale and self._on_screen(p)
                                                for p in self.query(JobPanel))

    @property
    def compact(self) -> bool:
        return self.size.width < WIDE

    def on_resize(self) -> None:
        self._layout()

    def _layout(self) -> None:
        compact = self.compact
        grid = self.query_one("#watch-grid", Grid)
        grid.set_class(not compact, "wide")
        grid.set_class(compact, "compact")
        self.query_one("#watch-list", DataTable).display = compact and bool(self.order)
        for panel in self.query(JobPanel):
            panel.display = not compact or panel.job_id == self.current
            panel.set_class(panel.job_id == self.current, "-current")
        self._draw_list()

    def _sync_panels(self) -> None:
        scheduler = self.app.scheduler
        grid = self.query_one("#watch-grid", Grid)
        watched = scheduler.jobs if scheduler else {}
        present = {panel.job_id: panel for panel in grid.query(JobPanel)}
        for job_id, panel in present.items():
            if job_id not in watched:
                panel.remove()
        self.order = list(watched)
        new = [JobPanel(job_id) for job_id in self.order if job_id not in present]
        if new:
            grid.mount_all(new)
        if self.current not in self.order:
            self.current = self.order[0] if self.order else None
        self.query_one("#watch-empty", Static).update(
            "" if watched else "No job is watched. In the job list, w marks a job to watch; jobs you create are "
                               "watched automatically.")
        self._layout()
        self.call_after_refresh(self._show_all)

    def _show_all(self) -> None:
        scheduler = self.app.scheduler
        for panel in self.query(JobPanel):
            watched = scheduler.jobs.get(panel.job_id) if scheduler else None
            if watched is not None:
                panel.show(watched)
        self._draw_list()

    def _draw_list(self) -> None:
        table = self.query_one("#watch-list", DataTable)
        if not table.display:
            return
        scheduler = self.app.scheduler
        # What is left for the last log line: the other columns at their widest, each padded by 2.
        longest = max((len(job_id) for job_id in self.order), default=20)
        fixed = longest + len("✓ SUCCEEDED") + 6 + len("999/999") + 6 + 6 + 2 * len(LIST_COLUMNS) + 2
        table.clear()
        for job_id in self.order:
            table.add_row(*list_row(job_id, scheduler.jobs.get(job_id) if scheduler else None,
                                    self.size.width - fixed), key=job_id)
        if self.current in self.order:
            table.move_cursor(row=self.order.index(self.current), animate=False)

    @on(JobPolled)
    def _polled(self, message: JobPolled) -> None:
        if not self.on_top:
            return  # keep polling, skip rendering what nobody sees
        watched = message.update.watched
        if watched.job_id not in self.order:
            self._sync_panels()
            return
        # Drawn by the next frame of _draw_stale: however fast polls arrive, a panel redraws at most once a
        # second, and panels off screen wait until they are scrolled into view.
        self._stale.add(watched.job_id)
        self._list_stale = True

    def _on_screen(self, panel: JobPanel) -> bool:
        if not panel.display:
            return False
        grid = self.query_one("#watch-grid", Grid)
        return panel.region.overlaps(grid.region) if grid.region.area else True

    def _draw_stale(self) -> None:
        if not self.on_top:
            return
        if self._list_stale:
            self._list_stale = False
            self._draw_list()
        if not self._stale:
            return
        scheduler = self.app.scheduler
        for panel in self.query(JobPanel):
            if panel.job_id in self._stale and self._on_screen(panel):
                self._stale.discard(panel.job_id)
                watched = scheduler.jobs.get(panel.job_id) if scheduler else None
                if watched is not None:
                    panel.show(watched)

    # -- moving between jobs ---------------------------------------------------------------------------

    def _move(self, step: int) -> None:
        if not self.order:
            return
        index = self.order.index(self.current) if self.current in self.order else 0
        self.current = self.order[(index + step) % len(self.order)]
        self._layout()
        panel = self._panel()
        if panel is not None:
            self._stale.add(panel.job_id)
            self._draw_stale()
            self.query_one("#watch-grid", Grid).scroll_to_widget(panel, animate=False)

    @on(DataTable.RowSelected, "#watch-list")
    def _clicked(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value in self.order and event.row_key.value != self.current:
            self._move(self.order.index(event.row_key.value) - self.order.index(self.current))

    def action_next_job(self) -> None:
        self._move(1)

    def action_previous_job(self) -> None:
        self._move(-1)

    def _panel(self) -> JobPanel | None:
        return next((p for p in self.query(JobPanel) if p.job_id == self.current), None)

    def current_job(self):
        panel = self._panel()
        return panel.watched.job if panel is not None and panel.watched else None

    # -- actions on the current job --------------------------------------------------------------------

    def action_logs(self) -> None:
        if self.current is not None:
            from bailian_tui.tui.screens.log import LogScreen

            self.app.push_screen(LogScreen(self.current))

    def action_unwatch(self) -> None:
        if self.current is not None:
            self.app.unwatch_job(self.current)
            self.notify(f"stopped watching {self.current}")
            self._sync_panels()

    def action_copy_model(self) -> None:
        job = self.current_job()
        if job is not None and job.finetuned_output:
            self.app.copy_to_clipboard(job.finetuned_output)
            self.notify(f"copied {job.finetuned_output}")

    def action_deploy(self) -> None:
        self.app.deploy_job(self.current_job())

    def action_cancel_job(self) -> None:
        job = self.current_job()
        if job is None:
            return
        from bailian_tui.tui.screens.confirm import ConfirmScreen

        if job.status.finished:
            self.notify(f"{job.job_id} is {job.status.value}: nothing to cancel", severity="warning")
            return

        async def cancel() -> None:
            from bailian_tui.tui.failures import FAILED

            if await self.app.run_core(lambda service: service.platform.cancel_job(job.job_id)) is FAILED:
                return
            self.app.scheduler.poll_soon(job.job_id)
            self.notify(f"cancelling {job.job_id}")

        self.app.push_screen(ConfirmScreen(f"Cancel job [b]{job.job_id}[/] ({job.model})?\n"
                                           "Tokens consumed so far are still billed.", "Cancel job"),
                             lambda yes: self.run_worker(cancel(), group="watch-cancel") if yes else None)
