"""Every fine-tune job, merged with the local store; mark jobs to watch, cancel, delete, read logs."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Input

from bailian_tui.tui.keymap import KEYMAP
from bailian_tui.tui.widgets.tables import Table, selected_key
from bailian_tui.core.records import JobStatus
from bailian_tui.tui import format as fmt
from bailian_tui.tui.failures import FAILED
from bailian_tui.tui.messages import JobGlanced, JobPolled
from bailian_tui.tui.screens.base import BaseScreen
from bailian_tui.tui.screens.confirm import ConfirmScreen

SORTS = ("created", "status", "model")
# Status, progress and loss sit right after the id so that a narrow terminal keeps them in view; a new
# column (a provider, say) goes after them.
COLUMNS = ("", "job id", "status", "progress", "loss", "model", "type", "created", "elapsed", "dataset")


def progress_cells(job, metrics) -> tuple[str, str]:
    """The progress and loss cells of one job from what its log said (a watched tail or a glance)."""
    if metrics is None:
        return "", ""
    if metrics.step is not None and not job.status.finished:
        shown = f"{metrics.step}/{metrics.total_steps or '?'}"
    else:
        shown = f"{metrics.progress:.0%}" if metrics.progress is not None else ""
    return shown, f"{metrics.latest_loss:.4f}" if metrics.latest_loss is not None else ""


def elapsed(job) -> str:
    if job.created_at is None:
        return "-"
    end = job.ended_at or fmt.now()
    seconds = int((end - job.created_at).total_seconds())
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


class JobsScreen(BaseScreen):
    TITLE_TEXT = "Jobs"
    BINDINGS = KEYMAP["jobs"]
    REFRESH_SECONDS = 5.0

    class JobsRefreshed(Message):
        def __init__(self, rows: list) -> None:
            super().__init__()
            self.rows = rows

    def __init__(self) -> None:
        super().__init__()
        self.rows: list = []
        self.sort_by = "created"
        self.text_filter = ""
        self._timer = None
        self._stale = False
        self.badges: dict[str, str] = {}
        self.columns = list(COLUMNS)

    AUTO_FOCUS = "#jobs"

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="filter: id, model, status, dataset…", id="jobs-filter-input", classes="hidden")
        yield Table(id="jobs", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        from bailian_tui.core.config import ConfigError
        from bailian_tui.core.profiles import profiles

        try:  # with more than one profile each row says where the job runs (its id is unique on its own)
            self.badges = {p.name: p.badge or p.name for p in profiles(self.app.settings)}
        except ConfigError:
            self.badges = {}
        columns = list(COLUMNS)
        if self.app.several_profiles():
            columns.insert(columns.index("loss") + 1, "provider")
        self.columns = columns
        self.query_one("#jobs", DataTable).add_columns(*columns)
        self.app.job_listeners.add(self)
        self.query_one("#jobs", DataTable).focus()
        self._refresh_jobs()

    def on_unmount(self) -> None:
        self.app.job_listeners.discard(self)

    def on_screen_resume(self) -> None:
        # What changed while away is shown right after the first frame, which shows the table as it was left
        # (from the table's caches: no cell rendered). When rows came or went, or the order changed, catching
        # up re-renders every visible cell (~25–35 ms of the loop): not before the screen is back.
        if self._stale:
            self.app.after_switch_paint(self._catch_up)
        if self.focused is None:
            self.query_one("#jobs", DataTable).focus()

    @work(exclusive=True, group="jobs", exit_on_error=False)
    async def _refresh_jobs(self) -> None:
        try:
            # Every page spends the one request budget. A passing fault is the connection line's to say (the next
            # round tries again); anything else — a 401/403, a refusal — is said here, in full, with the hint.
            rows = await self.app.run_core(lambda service: service.job_rows(pace=self._pace()), title="jobs",
                                           timeout=30, background=True)
            if rows is not FAILED:
                if self.app.scheduler is not None:  # running jobs nobody watches: latest progress and loss too
                    self.app.scheduler.glance(r.job.job_id for r in rows if r.job.status is JobStatus.RUNNING)
                self.post_message(self.JobsRefreshed(rows))
        finally:
            if self._timer is not None:  # exactly one pending refresh, however often we are asked
                self._timer.stop()
            self._timer = self.set_timer(self.REFRESH_SECONDS, self._refresh_jobs)

    def _pace(self):
        return self.app.scheduler.pace if self.app.scheduler is not None else None

    @on(JobsRefreshed)
    def _got_jobs(self, message: JobsRefreshed) -> None:
        self.rows = message.rows
        if self.on_top:
            self._render_rows()
        else:
            self._stale = True

    @on(JobPolled)
    def _polled(self, message: JobPolled) -> None:
        if self.on_top:
            self._render_rows()
        else:
            self._stale = True  # keep polling, skip rendering what nobody sees; catch up on resume

    @on(JobGlanced)
    def _glanced(self, message: JobGlanced) -> None:
        """One job's cells, not the whole table: glances arrive up to once a second."""
        if not self.on_top:
            self._stale = True
            return
        glance = message.glance
        table = self.query_one("#jobs", DataTable)
        row = next((r for r in self.rows if r.job.job_id == glance.job_id), None)
        if row is None or glance.job_id not in table.rows:
            return
        progress, loss = progress_cells(row.job, glance.metrics)
        for label, value in (("progress", progress), ("loss", loss)):
            column = next(k for k, c in table.columns.items() if str(c.label) == label)
            table.update_cell(glance.job_id, column, value, update_width=True)

    def _catch_up(self) -> None:
        if self._stale and self.on_top:
            self._render_rows()

    def _render_rows(self) -> None:
        self._stale = False
        table = self.query_one("#jobs", DataTable)
        key = selected_key(table)
        scheduler = self.app.scheduler
        watched = scheduler.jobs if scheduler else {}
        rows = [r for r in self.rows if self._matches(r)]
        if self.sort_by == "status":
            rows.sort(key=lambda r: r.job.status.value)
        elif self.sort_by == "model":
            rows.sort(key=lambda r: r.job.model)
        else:
            rows.sort(key=lambda r: r.job.created_at or datetime.min, reverse=True)
        wanted: dict[str, list] = {}  # job id → cells, in display order; a job listed twice is shown once
        for row in rows:
            job = row.job
            if job.job_id in wanted:  # a server listing one job twice must not crash the table
                continue
            live = watched.get(job.job_id)
            if live is not None and live.job is not None:
                job = live.job
            if live is not None:
                metrics = live.tail.metrics
            else:
                glance = scheduler.glances.get(job.job_id) if scheduler else None
                metrics = glance.metrics if glance is not None else None
            shown, loss = progress_cells(job, metrics)
            row_cells = [Text("●", style="cyan") if live is not None else "", job.job_id,
                         fmt.status_badge(job.status.value), shown, loss, job.model, job.training_type,
                         fmt.ago(job.created_at), elapsed(job),
                         fmt.middle(fmt.local_name(row.dataset), 28) if row.dataset else ""]
            if "provider" in self.columns:
                row_cells.insert(self.columns.index("provider"), self.badges.get(job.provider, job.provider))
            wanted[row.job.job_id] = fmt.cells(*row_cells)
        self._update_table(table, wanted, key)

    def _update_table(self, table: DataTable, wanted: dict[str, list], key: str | None) -> None:
        """Make the table show ``wanted`` by changing it in place, row by row (keyed by job id): rows gone are
        removed, changed cells updated, new rows added, then the order set. The job under the cursor stays
        under it, on the same line of the screen — a refresh never throws the view back to the top."""
        line = table.cursor_row - table.scroll_y  # where the cursor's job sits on screen
        for row_key in [k for k in table.rows if k.value not in wanted]:
            table.remove_row(row_key)
        columns = list(table.columns)
        for job_id, cells in wanted.items():
            if job_id not in table.rows:
                table.add_row(*cells, key=job_id)
                continue
            for column, value in zip(columns, cells):
                if table.get_cell(job_id, column) != value:
                    table.update_cell(job_id, column, value, update_width=True)
        order = {job_id: n for n, job_id in enumerate(wanted)}
        if [r.key.value for r in table.ordered_rows] != list(order):
            by_id = next(k for k, column in table.columns.items() if str(column.label) == "job id")
            table.sort(by_id, key=lambda cell: order[str(cell)])
        if key is not None and key in wanted:
            index = table.get_row_index(key)
            table.move_cursor(row=index, scroll=False)
            target = max(0, index - line)
            table.scroll_to(y=target, animate=False, immediate=True)
            if table.scroll_y != target:  # rows just added are not measured yet: once they are
                self.call_after_refresh(table.scroll_to, y=target, animate=False, immediate=True)

    def _matches(self, row) -> bool:
        if not self.text_filter:
            return True
        haystack = " ".join([row.job.job_id, row.job.model, row.job.status.value, row.job.training_type,
                             row.dataset or "", row.job.provider, self.badges.get(row.job.provider, "")]).lower()
        return self.text_filter.lower() in haystack

    def selected(self):
        key = selected_key(self.query_one("#jobs", DataTable))
        return next((r.job for r in self.rows if r.job.job_id == key), None)

    # -- actions ---------------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self._refresh_jobs()

    def action_sort(self) -> None:
        self.sort_by = SORTS[(SORTS.index(self.sort_by) + 1) % len(SORTS)]
        self.notify(f"sorted by {self.sort_by}")
        self._render_rows()

    def action_filter(self) -> None:
        box = self.query_one("#jobs-filter-input", Input)
        box.remove_class("hidden")
        box.focus()

    @on(Input.Changed, "#jobs-filter-input")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.text_filter = event.value
        self._render_rows()

    @on(DataTable.RowSelected, "#jobs")
    def _row_chosen(self) -> None:
        self.action_logs()  # Enter on a row: DataTable owns the key, so the screen listens to its message

    def action_back(self) -> None:
        box = self.query_one("#jobs-filter-input", Input)
        if self.focused is box:
            if not box.value:
                box.add_class("hidden")
            self.query_one("#jobs", DataTable).focus()
        elif self.text_filter:
            box.value = ""
            box.add_class("hidden")
            self.text_filter = ""
            self._render_rows()
        else:
            super().action_back()

    @on(Input.Submitted, "#jobs-filter-input")
    def _filter_done(self, event: Input.Submitted) -> None:
        if not event.value:
            event.input.add_class("hidden")
        self.query_one("#jobs", DataTable).focus()

    def action_toggle_watch(self) -> None:
        job = self.selected()
        if job is None or self.app.scheduler is None:
            return
        if job.job_id in self.app.scheduler.jobs:
            self.app.unwatch_job(job.job_id)
            self.notify(f"stopped watching {job.job_id}")
        else:
            self.app.watch_job(job.job_id)
            self.notify(f"watching {job.job_id} (v shows every watched job)")
        self._render_rows()

    def action_watch_view(self) -> None:
        from bailian_tui.tui.screens.watch import WatchScreen

        self.app.push_screen(WatchScreen())

    def action_logs(self) -> None:
        job = self.selected()
        if job is not None:
            from bailian_tui.tui.screens.log import LogScreen

            self.app.push_screen(LogScreen(job.job_id))

    def action_copy_model(self) -> None:
        job = self.selected()
        if job is not None and job.finetuned_output:
            self.app.copy_to_clipboard(job.finetuned_output)
            self.notify(f"copied {job.finetuned_output}")

    def action_deploy(self) -> None:
        self.app.deploy_job(self.selected())

    def action_checkpoints(self) -> None:
        job = self.selected()
        if job is not None:
            from bailian_tui.tui.screens.checkpoints import CheckpointsScreen

            self.app.push_screen(CheckpointsScreen(job.job_id))

    def action_pause_resume(self) -> None:
        job = self.selected()
        if job is None:
            return
        routing = getattr(self.app.current_service, "routing", None)
        if routing is None or not routing.capabilities_for(job.job_id).pause:
            self.notify("this job's provider does not offer pause/resume", severity="warning")
            return
        if job.status not in (JobStatus.RUNNING, JobStatus.PAUSED):
            self.notify(f"{job.job_id} is {job.status.value}: only a running job pauses", severity="warning")
            return
        self._act(job.job_id, "resume" if job.status is JobStatus.PAUSED else "pause")

    def action_cancel_job(self) -> None:
        job = self.selected()
        if job is None:
            return
        if job.status.finished:
            self.notify(f"{job.job_id} is {job.status.value}: nothing to cancel", severity="warning")
            return
        self.app.push_screen(ConfirmScreen(f"Cancel job [b]{job.job_id}[/] ({job.model}, {job.status.value})?\n"
                                           "Tokens consumed so far are still billed.", "Cancel job"),
                             lambda yes: self._act(job.job_id, "cancel") if yes else None)

    def action_delete_job(self) -> None:
        job = self.selected()
        if job is None:
            return
        if not job.status.finished:
            self.notify("a job can be deleted once it has ended; cancel it first", severity="warning")
            return
        self.app.push_screen(ConfirmScreen(f"Delete job [b]{job.job_id}[/] ({job.model}, {job.status.value})?\n"
                                           "Its record and logs go; a deployed model stays.", "Delete job"),
                             lambda yes: self._act(job.job_id, "delete") if yes else None)

    @work(group="job-actions", exit_on_error=False)
    async def _act(self, job_id: str, what: str) -> None:
        if await self.app.run_core(lambda service: getattr(service.platform, f"{what}_job")(job_id)) is FAILED:
            return
        if what == "delete":
            self.app.unwatch_job(job_id)
        else:  # cancel, pause, resume: see the new status soon
            self.app.scheduler.poll_soon(job_id)
        self.notify(f"{what} {job_id}: done")
        self._refresh_jobs()
