"""Evaluate a deployed model against a base model on a test split, and browse where they disagree."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Input, Label, ProgressBar, Static

from bailian_tui.core.data.errors import DataFileError
from bailian_tui.tui.failures import FAILED
from bailian_tui.tui.screens.base import BaseScreen
from bailian_tui.tui.widgets.tables import Table


class EvaluateScreen(BaseScreen):
    TITLE_TEXT = "Evaluate"
    BINDINGS = [Binding("escape", "close", "Back", id="eval-back", tooltip="Back (a run stops; it resumes later)")]

    def __init__(self, model: str, baseline: str) -> None:
        super().__init__()
        self.model, self.baseline = model, baseline
        self.running = False
        self.stop = False
        self.rows: dict = {}
        self.questions: list = []

    def compose_body(self) -> ComposeResult:
        default = self.app.datasets_root() / "MedQA" / "questions" / "Mainland" / "4_options" / "test.jsonl"
        with Horizontal(classes="form-row"):
            yield Label("test split", classes="form-label")
            yield Input(str(default), id="eval-split", compact=True)
        with Horizontal(classes="form-row"):
            yield Label("model", classes="form-label")
            yield Input(self.model, id="eval-model", compact=True)
        with Horizontal(classes="form-row"):
            yield Label("baseline", classes="form-label")
            yield Input(self.baseline, id="eval-baseline", compact=True)
        with Horizontal(id="eval-run-row"):
            yield ProgressBar(id="eval-progress", show_eta=True)
            yield Button("Run", id="eval-run", variant="primary")
        yield Table(id="eval-scores", cursor_type="row")
        yield Table(id="eval-disagree", cursor_type="row")
        yield Static("", id="eval-question")

    def on_mount(self) -> None:
        self.query_one("#eval-scores", DataTable).add_columns("model", "answered", "accuracy", "95% CI", "unparseable")
        self.query_one("#eval-disagree", DataTable).add_columns("line", "answer", "model chose", "baseline chose")

    @on(Button.Pressed, "#eval-run")
    def _run(self) -> None:
        if self.running:
            return
        self.running, self.stop = True, False
        self._evaluate(Path(self.query_one("#eval-split", Input).value).expanduser(),
                       [self.query_one("#eval-model", Input).value.strip(),
                        self.query_one("#eval-baseline", Input).value.strip()])

    @work(exclusive=True, group="evaluate", exit_on_error=False)
    async def _evaluate(self, split: Path, models: list[str]) -> None:
        from bailian_tui.core.evaluate import evaluate, load_questions, read_results, results_path

        bar = self.query_one("#eval-progress", ProgressBar)

        async def run(service):
            converted = await self._converted(split)
            summary = await evaluate(service.platform, converted, models, concurrency=4,
                                     progress=lambda done, total: bar.update(total=total, progress=done),
                                     cancelled=lambda: self.stop)
            return converted, summary, load_questions(converted)

        try:
            # Each model's failed requests are counted in its own score (core.evaluate), so the run says nothing
            # about the connection either way: the connection line is left as it was.
            outcome = await self.app.run_core(run, connection=False)
        except DataFileError as err:
            self.notify(str(err), severity="error", timeout=10)
            outcome = FAILED
        self.running = False
        if outcome is FAILED:
            return
        split, summary, self.questions = outcome
        self.rows = read_results(results_path(split, models))
        scores = self.query_one("#eval-scores", DataTable)
        scores.clear()
        for score in summary.scores:
            low, high = score.interval
            scores.add_row(score.model, str(score.answered), f"{score.accuracy:.1%}", f"{low:.1%} – {high:.1%}",
                           str(score.unparseable))
        table = self.query_one("#eval-disagree", DataTable)
        table.clear()
        for index in summary.disagreements:
            q = self.questions[index]
            table.add_row(str(q.line), q.answer, str(self.rows.get((index, models[0]), {}).get("chosen")),
                          str(self.rows.get((index, models[1]), {}).get("chosen")), key=str(index))
        self.notify(f"{len(summary.disagreements)} disagreements; results saved next to the split")

    async def _converted(self, split: Path) -> Path:
        """A raw MedQA split is converted first (into the …_BaiLian folder), as the browser would."""
        from bailian_tui.core.data.convert import convert_file, default_output
        from bailian_tui.core.evaluate import load_questions

        try:
            load_questions(split)
            return split
        except DataFileError:
            target = default_output(split)
            report = await asyncio.to_thread(convert_file, split, target)
            if not report.outputs:
                raise DataFileError(str(split), "could not be converted", "convert it in the Datasets screen")
            return Path(report.outputs[0])

    @on(DataTable.RowHighlighted, "#eval-disagree")
    def _question(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is None or event.row_key.value is None:
            return
        q = self.questions[int(event.row_key.value)]
        replies = [self.rows.get((q.index, m), {}).get("reply", "") for m in
                   (self.query_one("#eval-model", Input).value.strip(),
                    self.query_one("#eval-baseline", Input).value.strip())]
        self.query_one("#eval-question", Static).update(Text.assemble(
            (q.messages[-1]["content"] + "\n", ""), ("model: ", "bold"), (replies[0] + "\n", "cyan"),
            ("baseline: ", "bold"), (replies[1], "magenta")))

    def action_close(self) -> None:
        self.stop = True
        self.app.pop_screen()
