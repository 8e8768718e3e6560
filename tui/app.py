"""The Textual app: thin. Screens and widgets own their handlers; this wires settings to the core."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from core.config import Settings
from core.errors import PlatformError
from tui.format import ago, status_text


class BailianApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "bailian-tui"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit", tooltip="Leave bailian-tui"),
        Binding("r", "refresh", "Refresh", id="refresh", tooltip="Fetch the job list now"),
    ]

    class JobsRefreshed(Message):
        def __init__(self, rows: list) -> None:
            super().__init__()
            self.rows = rows

    def __init__(self, settings: Settings, open_path: Path | None = None) -> None:
        super().__init__()
        self.settings, self.open_path = settings, open_path
        self.service = None
        self.refresh_seconds = 3.0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self.settings.where(), id="connection")
        yield DataTable(id="jobs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "demo" if self.settings.demo else self.settings.region
        table = self.query_one("#jobs", DataTable)
        table.add_columns("job id", "model", "type", "status", "created", "dataset")
        self._connect()

    @work(exclusive=True, group="connect", exit_on_error=False)
    async def _connect(self) -> None:
        from core.platform import Platform
        from core.service import Service
        from core.store import Store

        store = Store(self.settings.state_dir / "state.db", endpoint=self.settings.base_url or "default")
        self.service = Service(Platform.from_settings(self.settings), store)
        self._refresh_jobs()

    @work(exclusive=True, group="jobs", exit_on_error=False)
    async def _refresh_jobs(self) -> None:
        try:
            rows = await self.service.job_rows()
        except PlatformError as err:
            self.query_one("#connection", Static).update(f"[b red]offline[/] {err.human()}")
        else:
            self.post_message(self.JobsRefreshed(rows))
        finally:
            self.set_timer(self.refresh_seconds, self._refresh_jobs)

    @on(JobsRefreshed)
    def _show_jobs(self, message: JobsRefreshed) -> None:
        self.query_one("#connection", Static).update(self.settings.where())
        table = self.query_one("#jobs", DataTable)
        table.clear()
        for row in message.rows:
            job = row.job
            table.add_row(job.job_id, job.model, job.training_type, status_text(job.status.value),
                          ago(job.created_at), Path(row.dataset).name if row.dataset else "", key=job.job_id)

    def action_refresh(self) -> None:
        if self.service is not None:
            self._refresh_jobs()

    async def on_unmount(self) -> None:
        if self.service is not None:
            await self.service.platform.aclose()
            self.service.store.close()
