"""Every watched job at once: a grid of panels when there is room, a list and one panel when there is not."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import Static

from bailian_tui.tui.format import widget_id
from bailian_tui.tui.messages import JobPolled
from bailian_tui.tui.screens.base import BaseScreen
from bailian_tui.tui.widgets.job_panel import JobPanel

WIDE = 110  # columns from which panels sit two abreast


class WatchScreen(BaseScreen):
    TITLE_TEXT = "Watched jobs"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="watch-back", tooltip="Back to the job list"),
        Binding("tab", "focus_next", "Next job", id="watch-next", tooltip="Move to the next job's panel"),
        Binding("l,enter", "logs", "Log", id="watch-log", tooltip="Full log of the focused job"),
        Binding("x", "cancel_job", "Cancel", id="watch-cancel", tooltip="Cancel the focused job"),
        Binding("u", "unwatch", "Unwatch", id="watch-unwatch", tooltip="Stop watching the focused job"),
        Binding("c", "copy_model", "Copy model", id="watch-copy", tooltip="Copy the fine-tuned model id (OSC 52)"),
        Binding("D", "deploy", "Deploy", id="watch-deploy", tooltip="Deploy the focused job's fine-tuned model"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="watch-empty")
        yield Grid(id="watch-grid")

    def on_mount(self) -> None:
        self._stale: set[str] = set()
        self.app.job_listeners.add(self)
        self._sync_panels()
        self.set_interval(1.0, self._draw_stale)

    def on_unmount(self) -> None:
        self.app.job_listeners.discard(self)

    def on_resize(self) -> None:
        grid = self.query_one("#watch-grid", Grid)
        grid.set_class(self.size.width >= WIDE, "wide")

    def _sync_panels(self) -> None:
        scheduler = self.app.scheduler
        grid = self.query_one("#watch-grid", Grid)
        watched = scheduler.jobs if scheduler else {}
        present = {panel.job_id: panel for panel in grid.query(JobPanel)}
        for job_id, panel in present.items():
            if job_id not in watched:
                panel.remove()
        new = [JobPanel(job_id) for job_id in watched if job_id not in present]
        if new:
            grid.mount_all(new)
            for panel in new:
                panel.can_focus = True
        self.query_one("#watch-empty", Static).update(
            "" if watched else "No job is watched. In the job list, w marks a job to watch; jobs you create are "
                               "watched automatically.")
        grid.set_class(self.size.width >= WIDE, "wide")
        self.call_after_refresh(self._show_all)

    def _show_all(self) -> None:
        scheduler = self.app.scheduler
        for panel in self.query(JobPanel):
            watched = scheduler.jobs.get(panel.job_id) if scheduler else None
            if watched is not None:
                panel.show(watched)

    @on(JobPolled)
    def _polled(self, message: JobPolled) -> None:
        if not self.on_top:
            return  # keep polling, skip rendering what nobody sees
        watched = message.update.watched
        panels = list(self.query(f"#{widget_id('panel', watched.job_id)}").results(JobPanel))
        if not panels:
            self._sync_panels()
            return
        # Drawn by the next frame of _draw_stale: however fast polls arrive, a panel redraws at most once a
        # second, and panels off screen wait until they are scrolled into view.
        self._stale.add(watched.job_id)

    def _on_screen(self, panel: JobPanel) -> bool:
        grid = self.query_one("#watch-grid", Grid)
        return panel.region.overlaps(grid.region) if grid.region.area else True

    def _draw_stale(self) -> None:
        if not self._stale or not self.on_top:
            return
        scheduler = self.app.scheduler
        for panel in self.query(JobPanel):
            if panel.job_id in self._stale and self._on_screen(panel):
                self._stale.discard(panel.job_id)
                watched = scheduler.jobs.get(panel.job_id) if scheduler else None
                if watched is not None:
                    panel.show(watched)

    def _focused(self):
        focused = self.focused
        return focused if isinstance(focused, JobPanel) else next(iter(self.query(JobPanel)), None)

    def action_logs(self) -> None:
        panel = self._focused()
        if panel is not None:
            from bailian_tui.tui.screens.log import LogScreen

            self.app.push_screen(LogScreen(panel.job_id))

    def action_unwatch(self) -> None:
        panel = self._focused()
        if panel is not None:
            self.app.unwatch_job(panel.job_id)
            self._sync_panels()

    def action_copy_model(self) -> None:
        panel = self._focused()
        if panel is not None and panel.watched and panel.watched.job and panel.watched.job.finetuned_output:
            self.app.copy_to_clipboard(panel.watched.job.finetuned_output)
            self.notify(f"copied {panel.watched.job.finetuned_output}")

    def action_deploy(self) -> None:
        panel = self._focused()
        self.app.deploy_job(panel.watched.job if panel is not None and panel.watched else None)

    def action_cancel_job(self) -> None:
        panel = self._focused()
        if panel is None or panel.watched is None or panel.watched.job is None:
            return
        from bailian_tui.tui.screens.confirm import ConfirmScreen

        job = panel.watched.job
        if job.status.finished:
            self.notify(f"{job.job_id} is {job.status.value}", severity="warning")
            return

        async def cancel() -> None:
            from bailian_tui.core.errors import PlatformError

            service = await self.app.service()
            try:
                await self.app.call(service.platform.cancel_job(job.job_id))
            except PlatformError as err:
                self.notify(err.human(), severity="error", timeout=10)
                return
            self.app.scheduler.poll_soon(job.job_id)
            self.notify(f"cancelling {job.job_id}")

        self.app.push_screen(ConfirmScreen(f"Cancel job [b]{job.job_id}[/] ({job.model})?\n"
                                           "Tokens consumed so far are still billed.", "Cancel job"),
                             lambda yes: self.run_worker(cancel(), group="watch-cancel") if yes else None)
