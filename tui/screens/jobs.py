"""Every fine-tune job, merged with what the local store knows (which dataset it came from)."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from core.errors import PlatformError
from tui.format import ago, status_text
from tui.screens.base import BaseScreen


class JobsScreen(BaseScreen):
    TITLE_TEXT = "Jobs"
    BINDINGS = [Binding("r", "refresh", "Refresh", id="jobs-refresh", tooltip="Fetch the job list now")]
    REFRESH_SECONDS = 5.0

    class JobsRefreshed(Message):
        def __init__(self, rows: list) -> None:
            super().__init__()
            self.rows = rows

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="jobs", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#jobs", DataTable).add_columns("job id", "model", "type", "status", "created", "dataset")
        self._refresh_jobs()

    @work(exclusive=True, group="jobs", exit_on_error=False)
    async def _refresh_jobs(self) -> None:
        try:
            service = await self.app.service()
            rows = await self.app.call(service.job_rows())
        except PlatformError:
            pass  # the connection line says so; the next round tries again
        else:
            self.post_message(self.JobsRefreshed(rows))
        finally:
            self.set_timer(self.REFRESH_SECONDS, self._refresh_jobs)

    @on(JobsRefreshed)
    def _show_jobs(self, message: JobsRefreshed) -> None:
        table = self.query_one("#jobs", DataTable)
        cursor = table.cursor_row
        table.clear()
        for row in message.rows:
            job = row.job
            table.add_row(job.job_id, job.model, job.training_type, status_text(job.status.value),
                          ago(job.created_at), Path(row.dataset).name if row.dataset else "", key=job.job_id)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))

    def action_refresh(self) -> None:
        self._refresh_jobs()
