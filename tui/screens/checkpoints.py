"""A job's checkpoints with their metrics: export one as a model, deploy an exported one."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from bailian_tui.tui.keymap import KEYMAP
from bailian_tui.tui.widgets.tables import Table, selected_key
from bailian_tui.core.records import JobStatus
from bailian_tui.tui.failures import FAILED
from bailian_tui.tui.format import cells, escape
from bailian_tui.tui.screens.prompt import PromptScreen


class CheckpointsScreen(ModalScreen[None]):
    BINDINGS = KEYMAP["checkpoints"]

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.checkpoints: dict = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="checkpoints"):
            yield Static(f"[b]Checkpoints of {escape(self.job_id)}[/] — E exports, D deploys an exported one",
                         id="ckpt-title")
            yield Table(id="ckpt-table", cursor_type="row")
            yield Static("", id="ckpt-status")

    def on_mount(self) -> None:
        self.query_one("#ckpt-table", DataTable).add_columns("checkpoint", "step", "saved", "status", "model",
                                                             "train loss", "eval loss")
        self._load()

    def _metrics(self) -> dict[int, tuple[float | None, float | None]]:
        scheduler = self.app.scheduler
        watched = scheduler.jobs.get(self.job_id) if scheduler else None
        if watched is None:
            return {}
        metrics = watched.tail.metrics
        loss = {int(p.step): p.value for p in metrics.loss}
        evals = {int(p.step): p.value for p in metrics.eval_loss}
        return {step: (loss.get(step), evals.get(step)) for step in set(loss) | set(evals)}

    @work(exclusive=True, group="ckpt", exit_on_error=False)
    async def _load(self) -> None:
        status = self.query_one("#ckpt-status", Static)
        checkpoints = await self.app.run_core(lambda service: service.platform.list_checkpoints(self.job_id),
                                              show=lambda err: status.update(Text(err.human(), style="red")))
        if checkpoints is FAILED:
            return
        metrics = self._metrics()
        table = self.query_one("#ckpt-table", DataTable)
        table.clear()
        self.checkpoints = {c.checkpoint: c for c in checkpoints}
        for c in checkpoints:
            loss, evaluation = metrics.get(c.step or -1, (None, None))
            if c.checkpoint in table.rows:  # a checkpoint listed twice is shown once
                continue
            if c.metrics:  # OpenAI-compatible: each checkpoint carries its own metrics
                loss = c.metrics.get("train_loss", loss)
                evaluation = c.metrics.get("valid_loss", c.metrics.get("full_valid_loss", evaluation))
            table.add_row(*cells(c.checkpoint, str(c.step or ""),
                                 c.created_at.strftime("%m-%d %H:%M") if c.created_at else "", c.status,
                                 c.model_name or "", f"{loss:.4f}" if loss is not None else "",
                                 f"{evaluation:.4f}" if evaluation is not None else ""), key=c.checkpoint)
        status.update("" if checkpoints else "No checkpoint saved yet (sft and efficient_sft save them).")

    @on(DataTable.RowHighlighted, "#ckpt-table")
    def _detail(self, event: DataTable.RowHighlighted) -> None:
        """The whole model id of the checkpoint under the cursor (the table cuts it on a narrow terminal)."""
        c = self.checkpoints.get(event.row_key.value) if event.row_key else None
        if c is not None:
            self.query_one("#ckpt-status", Static).update(Text.assemble(
                (c.checkpoint, "bold"), f" · {c.status or '-'} · model {c.model_name or '(not exported yet)'}"))

    def _selected(self):
        return self.checkpoints.get(selected_key(self.query_one("#ckpt-table", DataTable)))

    def action_refresh(self) -> None:
        self._load()

    def _served_directly(self) -> bool:
        routing = getattr(self.app.current_service, "routing", None)
        return routing is not None and routing.capabilities_for(self.job_id).checkpoint_chat

    def action_export(self) -> None:
        checkpoint = self._selected()
        if checkpoint is None:
            return
        if self._served_directly():
            self.notify(f"{checkpoint.model_name} needs no export: D tries it directly", severity="warning")
            return
        self.app.push_screen(PromptScreen(f"Model name for {checkpoint.checkpoint}",
                                          f"{self.job_id}-{checkpoint.checkpoint}"),
                             lambda name: self._export(checkpoint.checkpoint, name) if name else None)

    @work(group="ckpt-export", exit_on_error=False)
    async def _export(self, checkpoint: str, name: str) -> None:
        if await self.app.run_core(
                lambda service: service.platform.export_checkpoint(self.job_id, checkpoint, name)) is FAILED:
            return
        self.notify(f"exporting {checkpoint} as {name}")
        self._load()

    def action_deploy(self) -> None:
        checkpoint = self._selected()
        if checkpoint is not None and checkpoint.model_name and self._served_directly():
            from bailian_tui.tui.screens.chat import ChatScreen

            self.app.current_service.routing.models[checkpoint.model_name] = \
                self.app.current_service.routing.member_for_id(self.job_id).name
            self.app.push_screen(ChatScreen(checkpoint.model_name))  # a checkpoint is a chat model there
            return
        if checkpoint is None or not checkpoint.model_name or JobStatus.parse(checkpoint.status) is not JobStatus.SUCCEEDED:
            self.notify("export the checkpoint first and wait until it is SUCCEEDED", severity="warning")
            return
        from bailian_tui.tui.screens.deploy_form import DeployScreen

        self.app.push_screen(DeployScreen(checkpoint.model_name, extra=[checkpoint.model_name]))
