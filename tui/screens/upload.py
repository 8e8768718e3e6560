"""Upload a converted file: validated first (errors block, warnings ask), deduplicated by content."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, ProgressBar, Static

from bailian_tui.core.data.scan import Scan, validate_file
from bailian_tui.tui.failures import FAILED
from bailian_tui.core.safetext import clean
from bailian_tui.tui.format import local_name, local_text
from bailian_tui.tui.widgets.tables import Table


class UploadScreen(ModalScreen[str | None]):
    """States: validating → (blocked | confirm warnings) → (offer existing) → uploading → done."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="upload-close", tooltip="Close (an upload under way continues)"),
        Binding("y", "proceed", "Upload", id="upload-yes", tooltip="Upload (despite warnings / again)"),
        Binding("enter", "use_existing", "Use existing", id="upload-reuse", tooltip="Use the file already uploaded",
                priority=True),
        Binding("c", "copy", "Copy id", id="upload-copy", tooltip="Copy the file_id (OSC 52)"),
    ]

    def __init__(self, path: Path, max_length: int, profile: str | None = None) -> None:
        super().__init__()
        self.path, self.max_length = path, max_length
        self.profile = profile  # the provider profile to upload to (None: the default one)
        self.state = "validating"
        self.file_id: str | None = None
        self.existing = None

    def compose(self) -> ComposeResult:
        with Vertical(id="upload"):
            yield Static(f"[b]Upload[/] {escape(local_text(self.path))}", id="upload-title")  # a name like train[v2]
            yield Static("validating every record…", id="upload-status")
            yield ProgressBar(id="upload-progress", show_eta=True)
            yield Table(id="upload-findings", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#upload-findings", DataTable).add_columns("line", "severity", "finding")
        self._validate()

    def _status(self, text: str) -> None:
        self.query_one("#upload-status", Static).update(text)

    @work(thread=True, exclusive=True, group="upload-validate", exit_on_error=False)
    def _validate(self) -> None:
        def progress(done: int, total: int) -> None:
            self.app.call_from_thread(self.query_one("#upload-progress", ProgressBar).update,
                                      total=total, progress=done)

        scan = validate_file(self.path, max_length=self.max_length, progress=progress)
        self.app.call_from_thread(self._validated, scan)

    def _validated(self, scan: Scan) -> None:
        table = self.query_one("#upload-findings", DataTable)
        for finding in scan.findings[:2000]:
            table.add_row(str(finding.line or ""), finding.severity, Text(local_text(f"{finding.message} — {finding.hint}")))
        if scan.errors:
            self.state = "blocked"
            self._status(f"[b red]Upload blocked:[/] {scan.errors} errors in {scan.samples:,} records. "
                         "Fix them (the browser's c converts and shows each one) and try again.")
            return
        warnings = scan.counts["warning"]
        if warnings:
            self.state = "confirm"
            self._status(f"[yellow]{warnings} warnings[/] in {scan.samples:,} records "
                         f"({len(scan.too_long)} longer than max_length will be dropped by the platform). "
                         "Upload anyway? [b]y[/] uploads, escape cancels.")
            return
        self._check_existing()

    def action_proceed(self) -> None:
        if self.state == "confirm":
            self._check_existing()
        elif self.state == "existing":
            self._upload(force=True)

    @work(exclusive=True, group="upload", exit_on_error=False)
    async def _check_existing(self) -> None:
        self.state = "checking"
        self._status("looking for an identical upload…")
        existing = await self.app.run_core(lambda service: service.existing_upload(self.path, **self._where(service)),
                                           show=self._failed)
        if existing is FAILED:
            return
        self.existing = existing
        if self.existing is not None:
            self.state = "existing"
            self._status(f"These exact bytes are already uploaded as [b]{self.existing.file_id}[/] "
                         f"({escape(self.existing.name)}). [b]enter[/] uses it, [b]y[/] uploads again.")
            return
        self._upload(force=True)  # just looked: no identical upload to reuse

    def action_use_existing(self) -> None:
        if self.state == "existing" and self.existing is not None:
            self._finish(self.existing.file_id, reused=True)

    @work(exclusive=True, group="upload", exit_on_error=False)
    async def _upload(self, force: bool) -> None:
        self.state = "uploading"
        self._status("uploading…")
        bar = self.query_one("#upload-progress", ProgressBar)
        result = await self.app.run_core(lambda service: service.upload(
            self.path, force=force, on_progress=lambda sent, total: bar.update(total=total, progress=sent),
            **self._where(service)), show=self._failed)
        if result is FAILED:
            return
        self._finish(result.file.file_id, reused=result.reused)

    def _where(self, service) -> dict:
        """The profile chosen for this upload, when the service has several."""
        return {"profile": self.profile} if self.profile and hasattr(service, "fleet") else {}

    def _failed(self, err) -> None:
        self.state = "failed"
        self._status(f"[b red]{escape(err.human())}[/]")

    def _finish(self, file_id: str, reused: bool) -> None:
        self.state, self.file_id = "done", file_id
        how = "reusing" if reused else "uploaded as"
        self._status(f"[b green]{how} {escape(file_id)}[/] — [b]c[/] copies it (works over SSH), escape closes.")
        self.notify(f"{local_name(self.path)}: {clean(file_id)}", markup=False)

    def action_copy(self) -> None:
        if self.file_id:
            self.app.copy_to_clipboard(self.file_id)
            self.notify(f"copied {clean(self.file_id)}", markup=False)

    def action_close(self) -> None:
        self.dismiss(self.file_id)
