"""Deployments: list, deploy a fine-tuned model, watch it come up, scale, delete, try it, evaluate it."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Static

from bailian_tui.tui.keymap import KEYMAP
from bailian_tui.tui.widgets.tables import Table, selected_key
from bailian_tui.tui.failures import FAILED
from bailian_tui.tui import format as fmt
from bailian_tui.tui.screens.base import BaseScreen
from bailian_tui.tui.screens.confirm import ConfirmScreen
from bailian_tui.tui.screens.prompt import PromptScreen

SETTLING_REFRESH, IDLE_REFRESH = 3.0, 15.0


class DeploymentsScreen(BaseScreen):
    TITLE_TEXT = "Deployments"
    BINDINGS = KEYMAP["deployments"]

    class Refreshed(Message):
        def __init__(self, deployments: list) -> None:
            super().__init__()
            self.deployments = deployments

    def __init__(self) -> None:
        super().__init__()
        self.deployments: dict[str, object] = {}
        self.several = False  # more than one profile: a provider column
        self._timer = None

    def compose_body(self) -> ComposeResult:
        yield Table(id="deployments", cursor_type="row", zebra_stripes=True)
        yield Static("", id="dep-detail")

    def on_mount(self) -> None:
        columns = ["deployed model", "base model", "status", "capacity", "ready", "plan", "charge", "created",
                   "updated"]
        self.several = self.app.several_profiles()
        if self.several:
            columns.append("provider")
        self.query_one("#deployments", DataTable).add_columns(*columns)
        self._refresh()

    @work(exclusive=True, group="deployments", exit_on_error=False)
    async def _refresh(self) -> None:
        settling = False

        async def fetch(service) -> list:
            if self.app.scheduler is not None:
                await self.app.scheduler.pace()
            deployments = await service.platform.all_deployments()
            if hasattr(service.platform, "served_models"):  # OpenAI-compatible: served with no deployment
                deployments = deployments + await service.platform.served_models()
            return deployments

        # A passing fault is the connection line's to say; a refusal (a 401, a 4xx) shows under the table.
        deployments = await self.app.run_core(fetch, background=True, show=lambda err: self.query_one(
            "#dep-detail", Static).update(Text(err.human(), style="red")))
        if deployments is not FAILED:
            settling = any(d.status.settling for d in deployments)
            self.post_message(self.Refreshed(deployments))
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(SETTLING_REFRESH if settling else IDLE_REFRESH, self._refresh)

    @on(Refreshed)
    def _show(self, message: Refreshed) -> None:
        table = self.query_one("#deployments", DataTable)
        current = self.selected()
        self.deployments = {d.deployed_model: d for d in message.deployments}
        table.clear()
        for d in self.deployments.values():  # by id: a repeated id never reaches the table twice
            row = [d.deployed_model, d.base_model or "", fmt.status_badge(d.status.value), str(d.capacity),
                   str(d.ready_capacity) if d.ready_capacity is not None else "-", d.plan or "-",
                   d.charge_type or "", fmt.ago(d.created_at), fmt.ago(d.updated_at)]
            if self.several:
                row.append(self.app.profile_label(f"{d.provider}:x") if d.provider else "")
            table.add_row(*fmt.cells(*row), key=d.deployed_model)
        if current is not None and current.deployed_model in self.deployments:
            table.move_cursor(row=table.get_row_index(current.deployed_model))
        if not message.deployments:
            self.query_one("#dep-detail", Static).update("No deployment yet: a deploys a succeeded job's model.")

    @on(DataTable.RowHighlighted, "#deployments")
    def _detail(self, event: DataTable.RowHighlighted) -> None:
        d = self.deployments.get(event.row_key.value) if event.row_key else None
        if d is not None and d.plan == "served directly":
            self.query_one("#dep-detail", Static).update(
                f"[b]{d.deployed_model}[/] · base {d.base_model} · served directly by {d.provider}: no deployment "
                "step, nothing to scale or delete, billed per token of use — t tries it, e evaluates it")
        elif d is not None:
            billing = "bills while it runs" if d.plan != "lora" else "billed per token of use"
            self.query_one("#dep-detail", Static).update(
                Text.assemble((d.deployed_model, "bold"), f" · model {d.model_name} · base {d.base_model} · "
                              f"{d.status.value} · {d.ready_capacity}/{d.capacity} ready · "
                              f"plan {d.plan or 'compute units'} ({billing})"))

    def selected(self):
        return self.deployments.get(selected_key(self.query_one("#deployments", DataTable)))

    # -- actions ---------------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self._refresh()

    def action_copy(self) -> None:
        d = self.selected()
        if d is not None:
            self.app.copy_to_clipboard(d.deployed_model)
            self.notify(f"copied {d.deployed_model}")

    def action_deploy(self) -> None:
        from bailian_tui.tui.screens.deploy_form import DeployScreen

        self.app.push_screen(DeployScreen(), lambda done: self._refresh() if done else None)

    def _direct(self, d) -> bool:
        if d is not None and d.plan == "served directly":
            self.notify(f"{d.deployed_model} is served directly by {d.provider}: there is no deployment to change",
                        severity="warning")
            return True
        return False

    def action_scale(self) -> None:
        d = self.selected()
        if d is None or self._direct(d):
            return

        def answered(text: str | None) -> None:
            if text is None:
                return
            if not text.strip().isdigit():
                self.notify("capacity is a whole number", severity="error")
                return
            self._scale(d.deployed_model, int(text))

        self.app.push_screen(PromptScreen(f"New capacity for {d.deployed_model} (now {d.capacity})", str(d.capacity)),
                             answered)

    @work(group="dep-actions", exit_on_error=False)
    async def _scale(self, name: str, capacity: int) -> None:
        if await self.app.run_core(lambda service: service.platform.scale_deployment(name, capacity)) is FAILED:
            return
        self.notify(f"scaling {name} to {capacity}")
        self._refresh()

    def action_undeploy(self) -> None:
        d = self.selected()
        if d is None or self._direct(d):
            return
        self.app.push_screen(ConfirmScreen(f"Delete the deployment [b]{d.deployed_model}[/]?\n"
                                           "It stops serving (and billing); the fine-tuned model itself stays.",
                                           "Delete"),
                             lambda yes: self._undeploy(d.deployed_model) if yes else None)

    @work(group="dep-actions", exit_on_error=False)
    async def _undeploy(self, name: str) -> None:
        if await self.app.run_core(lambda service: service.platform.delete_deployment(name)) is FAILED:
            return
        self.notify(f"deleting {name}")
        self._refresh()

    def action_try_it(self) -> None:
        from bailian_tui.tui.screens.chat import ChatScreen

        d = self.selected()
        self.app.push_screen(ChatScreen(d.deployed_model if d is not None else "qwen-plus"))

    def action_evaluate(self) -> None:
        from bailian_tui.tui.screens.evaluate import EvaluateScreen

        d = self.selected()
        if d is None:
            self.notify("select a deployment to evaluate", severity="warning")
            return
        self.app.push_screen(EvaluateScreen(d.deployed_model, d.base_model or "qwen-plus"))
