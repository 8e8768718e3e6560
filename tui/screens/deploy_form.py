"""Deploy a fine-tuned model: which one, capacity, plan, and a confirmation that says it bills."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from bailian_tui.tui.failures import FAILED
from bailian_tui.core.hyperparams import LORA_TYPES
from bailian_tui.core.records import JobStatus
from bailian_tui.tui.screens.confirm import ConfirmScreen

PLANS = [("lora — pay per token (LoRA-tuned models)", "lora"), ("compute units — bills per hour while running", "")]


class DeployScreen(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel", id="deploy-cancel", tooltip="Close without deploying")]

    def __init__(self, model: str | None = None, extra: list[str] | None = None) -> None:
        super().__init__()
        self.model = model
        self.extra = extra or []  # deployable models that are not job outputs (exported checkpoints)
        self.training_types: dict[str, str] = {}  # model → the training type of the job that made it

    def compose(self) -> ComposeResult:
        with Vertical(id="deploy"):
            yield Static("[b]Deploy a fine-tuned model[/]")
            with Horizontal(classes="form-row"):
                yield Label("model", classes="form-label")
                yield Select([], id="deploy-model", prompt="loading succeeded jobs…", compact=True)
            with Horizontal(classes="form-row"):
                yield Label("capacity", classes="form-label")
                yield Input("1", id="deploy-capacity", compact=True)
            with Horizontal(classes="form-row"):
                yield Label("plan", classes="form-label")
                yield Select(PLANS, value="lora", allow_blank=False, id="deploy-plan", compact=True)
            with Horizontal(classes="form-row"):
                yield Label("suffix (≤ 8, optional)", classes="form-label")
                yield Input("", id="deploy-suffix", compact=True)
            yield Static("", id="deploy-status")
            yield Button("Deploy…", id="deploy-go", variant="primary")

    def on_mount(self) -> None:
        self._load()

    @work(exclusive=True, group="deploy-models", exit_on_error=False)
    async def _load(self) -> None:
        status = self.query_one("#deploy-status", Static)
        rows = await self.app.run_core(lambda service: service.job_rows(),
                                       show=lambda err: status.update(Text(err.human(), style="red")))
        if rows is FAILED:
            return
        succeeded = [r.job for r in rows if r.job.finetuned_output and r.job.status is JobStatus.SUCCEEDED]
        self.training_types = {job.finetuned_output: job.training_type for job in succeeded}
        outputs = self.extra + [job.finetuned_output for job in succeeded]
        select = self.query_one("#deploy-model", Select)
        select.set_options([(name, name) for name in outputs])
        if self.model in outputs:
            select.value = self.model
        elif outputs:
            select.value = outputs[0]
        else:
            self.query_one("#deploy-status", Static).update("No succeeded job yet: nothing to deploy.")

    @on(Select.Changed, "#deploy-model")
    def _model_chosen(self, event: Select.Changed) -> None:
        """The plan follows how the model was trained: per-token for LoRA, compute units for full SFT."""
        training_type = self.training_types.get(str(event.value))
        if training_type is not None:
            self.query_one("#deploy-plan", Select).value = "lora" if training_type in LORA_TYPES else ""

    @on(Button.Pressed, "#deploy-go")
    def _go(self) -> None:
        model = self.query_one("#deploy-model", Select).value
        capacity = self.query_one("#deploy-capacity", Input).value.strip()
        if model == Select.NULL:
            self.query_one("#deploy-status", Static).update("[red]choose a model[/]")
            return
        if not capacity.isdigit() or not 0 < int(capacity) < 1000:
            self.query_one("#deploy-status", Static).update("[red]capacity is a whole number from 1 to 999[/]")
            return
        plan = self.query_one("#deploy-plan", Select).value or None
        suffix = self.query_one("#deploy-suffix", Input).value.strip() or None
        billing = "It is billed per token of use." if plan == "lora" else \
            f"It bills per hour for {capacity} unit(s) while it runs, used or not, until you delete it."
        self.app.push_screen(ConfirmScreen(f"Deploy [b]{model}[/] with capacity {capacity}?\n{billing}", "Deploy",
                                           danger=False),
                             lambda yes: self._deploy(str(model), int(capacity), plan, suffix) if yes else None)

    @work(exclusive=True, group="deploy", exit_on_error=False)
    async def _deploy(self, model: str, capacity: int, plan: str | None, suffix: str | None) -> None:
        status = self.query_one("#deploy-status", Static)
        status.update("deploying…")

        def refused(err) -> None:
            hint = " — deploy it again with a suffix" if err.status == 409 else ""
            status.update(Text(f"{err.human()}{hint}", style="red"))

        created = await self.app.run_core(
            lambda service: service.create_deployment(model, capacity, plan=plan, suffix=suffix), show=refused)
        if created is FAILED:
            return
        deployment = created.item
        self.notify(created.message or f"deploying {deployment.deployed_model} ({deployment.status.value})")
        self.dismiss(True)
