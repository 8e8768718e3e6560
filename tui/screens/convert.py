"""Convert and validate a whole file from the browser: progress, cancel, then a report to walk."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, ProgressBar, Static

from bailian_tui.core.data.convert import ConvertReport, convert_file
from bailian_tui.core.data.errors import DataFileError
from bailian_tui.tui.format import local_name, local_text, safe_highlighter
from bailian_tui.tui.widgets.tables import Table


class ConvertScreen(ModalScreen[tuple[str | None, int | None] | None]):
    BINDINGS = [Binding("escape", "close", "Close", id="convert-close", tooltip="Cancel a run, or close")]

    def __init__(self, source: Path, output: Path, converter, options, max_length: int) -> None:
        super().__init__()
        self.source, self.output, self.converter = source, output, converter
        self.options, self.max_length = options, max_length
        self.running = False
        self.cancel_requested = False
        self.report: ConvertReport | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="convert"):
            yield Static(Text.assemble(("Convert", "bold"), f" {local_name(self.source)} · {self.converter.name} → "
                                       f"{self.converter.kind} · max_length {self.max_length}"), id="convert-title")
            yield Input(str(self.output), id="convert-output", highlighter=safe_highlighter())
            with Horizontal(classes="buttons"):
                yield ProgressBar(id="convert-progress", show_eta=False)
                yield Button("Run (enter)", id="convert-run", variant="primary")
            yield Static("", id="convert-summary")
            yield Table(id="convert-findings", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#convert-findings", DataTable).add_columns("line", "severity", "finding")
        self.query_one("#convert-run", Button).focus()

    @on(Input.Submitted, "#convert-output")
    @on(Button.Pressed, "#convert-run")
    def _run(self) -> None:
        if self.running:
            return
        self.running, self.cancel_requested = True, False
        self.query_one("#convert-summary", Static).update("converting…")
        self._convert(Path(self.query_one("#convert-output", Input).value).expanduser())

    @work(thread=True, exclusive=True, group="convert", exit_on_error=False)
    def _convert(self, output: Path) -> None:
        def progress(done: int, total: int) -> None:
            self.app.call_from_thread(self.query_one("#convert-progress", ProgressBar).update,
                                      total=total, progress=done)

        try:
            report = convert_file(self.source, output, format=self.converter.name, options=self.options,
                                  max_length=self.max_length, progress=progress,
                                  cancelled=lambda: self.cancel_requested)
        except DataFileError as err:
            self.app.call_from_thread(self._failed, str(err))
            return
        self.app.call_from_thread(self._done, report)

    def _failed(self, message: str) -> None:
        self.running = False
        self.query_one("#convert-summary", Static).update(Text(local_text(message), style="bold red"))

    def _done(self, report: ConvertReport) -> None:
        self.running, self.report = False, report
        if report.cancelled:
            summary = "[yellow]cancelled[/] — nothing was written"
        elif report.outputs:
            summary = Text.assemble((f"wrote {report.written:,} records", "green"),
                                    f" to {', '.join(local_text(o) for o in report.outputs)}"
                                    f" · {report.too_long} longer than max_length")
        else:
            summary = f"[b red]{report.errors} errors — nothing was written[/] (enter on a finding shows its record)"
        self.query_one("#convert-summary", Static).update(summary)
        table = self.query_one("#convert-findings", DataTable)
        table.clear()
        for finding in report.findings[:5000]:
            table.add_row(str(finding.line or ""), finding.severity,
                          Text(local_text(f"{finding.message} — {finding.hint}")), key=str(finding.line or 0))
        if report.findings:
            table.focus()

    @on(DataTable.RowSelected, "#convert-findings")
    def _jump(self, event: DataTable.RowSelected) -> None:
        line = int(event.row_key.value or 0)
        output = self.report.outputs[0] if self.report and self.report.outputs else None
        self.dismiss((output, line or None))

    def action_close(self) -> None:
        if self.running:
            self.cancel_requested = True
            return
        output = self.report.outputs[0] if self.report and self.report.outputs else None
        self.dismiss((output, None))
