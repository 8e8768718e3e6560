"""New local run: one of the four Unsloth recipes, its fields with the course's defaults beside each, the
data file, and — on Ctrl+S — a generated run folder started detached on this machine's GPUs.

The screen is given a provider that offers local runs (``capabilities.export_formats``/``adopt``…; in
practice core.providers.local.LocalProvider) and a callback for the job it started, so the app decides
how to watch it. Every check is the core's (``Recipe.values``): what the form accepts is what the
generator writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select, Static

from bailian_tui.core.errors import PlatformError
from bailian_tui.core.local.recipes import RECIPES, RecipeError
from bailian_tui.core.platform import JobRequest

SAMPLES = {  # a shipped sample per recipe, offered when the data field is empty
    "sft-chatml": "Chinese-medical-dialogue/样例_内科5000-6000.head40.csv",
    "sft-alpaca": "Alpaca/alpaca_zh_demo.json",
    "vl-sft": "",
    "grpo-gsm8k": "GSM8K/train.jsonl",
}


class LocalRunScreen(ModalScreen):
    DEFAULT_CSS = """
    LocalRunScreen { align: center middle; }
    #local-run { width: 95%; height: 95%; padding: 0 1; border: thick $accent; background: $surface; }
    #local-where { height: auto; margin-bottom: 1; }
    #local-form { height: 1fr; }
    #local-form Select { width: 60; }
    #local-recipe-help { height: auto; margin: 0 0 1 0; padding-left: 0; }
    #local-form Input { width: 60; }
    #local-form Input.lf { width: 28; }
    #local-form .form-row { height: 1; }
    #local-form .form-label { width: 22; color: $text-muted; }
    #local-form .hp-note { width: 1fr; padding-left: 2; height: 1; }
    #local-form #local-recipe-help { height: auto; }
    #local-problems, #local-env { height: auto; max-height: 14; }
    #local-keys { height: 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("ctrl+s", "start", "Generate & start", id="local-start",
                tooltip="Write runs/NAME (script, config, data manifest) and start it detached"),
        Binding("ctrl+e", "check_env", "Check environment", id="local-check",
                tooltip="Ask the profile's Python what it has of unsloth, trl, torch and CUDA"),
        Binding("ctrl+d", "defaults", "Defaults", id="local-defaults", tooltip="Back to the recipe's defaults"),
        Binding("escape", "dismiss", "Close", id="local-close", tooltip="Close without starting anything"),
    ]

    def __init__(self, provider, datasets_root: Path | None = None,
                 on_created: Callable | None = None, create: Callable | None = None) -> None:
        super().__init__()
        self.provider = provider
        self.datasets_root = datasets_root
        self.on_created = on_created or (lambda job: None)
        self.create = create or provider.create_job  # the app passes its Service's create (intent + watch)

    def compose(self) -> ComposeResult:
        with Vertical(id="local-run"):
            yield Static(f"[b]New local run[/] · {escape(self.provider.info.label)} · python "
                         f"{escape(str(self.provider.python))} · runs in {escape(str(self.provider.runs_dir))}",
                         id="local-where")
            with VerticalScroll(id="local-form"):
                with Horizontal(classes="form-row"):
                    yield Label("recipe", classes="form-label")
                    yield Select([(r.title, r.name) for r in RECIPES.values()], value="sft-chatml",
                                 allow_blank=False, id="local-recipe", compact=True)
                yield Static("", id="local-recipe-help", classes="hp-note")
                with Horizontal(classes="form-row"):
                    yield Label("data file", classes="form-label")
                    yield Input("", id="local-data", compact=True)
                with Horizontal(classes="form-row", id="local-validation-row"):
                    yield Label("validation file", classes="form-label")
                    yield Input("", id="local-validation", placeholder="optional: eval loss on it", compact=True)
                with Horizontal(classes="form-row"):
                    yield Label("run name", classes="form-label")
                    yield Input("", id="local-name", placeholder="generated from the recipe and the time",
                                compact=True)
                yield Vertical(id="local-fields")
            yield Static("", id="local-problems")
            yield Static("", id="local-env")
            yield Static("[b]ctrl+s[/] generate & start · [b]ctrl+e[/] check environment · [b]ctrl+d[/] defaults · "
                         "[b]esc[/] close", id="local-keys")

    async def on_mount(self) -> None:
        await self._build()

    def recipe(self):
        value = self.query_one("#local-recipe", Select).value  # blank for a moment while the Select mounts
        return RECIPES.get(str(value), RECIPES["sft-chatml"])

    @on(Select.Changed, "#local-recipe")
    async def _recipe_changed(self) -> None:
        await self._build()

    async def _build(self) -> None:
        recipe = self.recipe()
        self.query_one("#local-recipe-help", Static).update(
            Text.assemble((recipe.description, ""), ("\ndata: ", "dim"), (recipe.data_hint, "italic")))
        sample = SAMPLES.get(recipe.name)
        data = self.query_one("#local-data", Input)
        data.placeholder = recipe.data_hint
        if self.datasets_root and sample and (not data.value or data.value.startswith(str(self.datasets_root))):
            data.value = str(self.datasets_root / sample)
        self.query_one("#local-validation-row").display = recipe.validation
        box = self.query_one("#local-fields", Vertical)
        await box.remove_children()
        rows = []
        for f in recipe.fields:
            default = f.default if not isinstance(f.default, str) else repr(f.default)[1:-1]
            note = Text.assemble(("default ", "dim"), (str(default), "bold"), (f" · {f.help}" if f.help else "", "dim"))
            rows.append(Horizontal(Label(f.label, classes="form-label"),
                                   Input(str(default), id=f"lf-{f.name}", classes="lf", compact=True),
                                   Static(note, classes="hp-note"), classes="form-row"))
        await box.mount_all(rows)
        self._check()

    def values(self) -> dict:
        out = {}
        known = {f.name: f for f in self.recipe().fields}
        for box in self.query("Input.lf").results(Input):
            name = box.id.removeprefix("lf-")
            if name not in known:
                continue  # a row of the previous recipe on its way out
            text = box.value
            field = known[name]
            if field.kind is str:  # the chat-template markers end in a newline, shown as \n
                text = text.replace("\\n", "\n").replace("\\t", "\t")
            out[name] = text
        return out

    @on(Input.Changed)
    def _check(self) -> list[str]:
        problems = []
        try:
            self.recipe().values(self.values())
        except RecipeError as err:
            problems = [f"{name}: {message}" for name, message in err.errors.items()]
        data = self.query_one("#local-data", Input).value.strip()
        if not data:
            problems.append("data file: choose the file to train on")
        elif not Path(data).expanduser().is_file():
            problems.append(f"data file: {data} does not exist")
        validation = self.query_one("#local-validation", Input).value.strip()
        if validation and self.recipe().validation and not Path(validation).expanduser().is_file():
            problems.append(f"validation file: {validation} does not exist")
        self.query_one("#local-problems", Static).update(
            Text("\n".join(problems), style="red") if problems else Text("ready: Ctrl+S generates the run folder "
                                                                          "and starts it", style="green"))
        return problems

    def action_defaults(self) -> None:
        for f in self.recipe().fields:
            self.query_one(f"#lf-{f.name}", Input).value = str(f.default) if not isinstance(f.default, str) \
                else repr(f.default)[1:-1]

    def action_start(self) -> None:
        if self._check():
            self.notify("fix the fields in red first", severity="warning")
            return
        self._start()

    @work(exclusive=True, group="local-start", exit_on_error=False)
    async def _start(self) -> None:
        recipe = self.recipe()
        values = recipe.values(self.values())
        validation = self.query_one("#local-validation", Input).value.strip() if recipe.validation else ""
        request = JobRequest(model=values.pop("model"), training_type=recipe.name, hyper_parameters=values,
                             training_file_ids=[str(Path(self.query_one("#local-data", Input).value.strip())
                                                    .expanduser())],
                             validation_file_ids=[str(Path(validation).expanduser())] if validation else [],
                             job_name=self.query_one("#local-name", Input).value.strip() or None)
        status = self.query_one("#local-problems", Static)
        status.update("generating the run folder and starting it…")
        try:
            job = await self.create(request)
        except PlatformError as err:
            status.update(Text(err.human(), style="red"))
            return
        self.notify(f"{job.job_id} started (pid {job.raw.get('pid')}) in {job.raw.get('run_dir')}",
                    title="local run")
        self.on_created(job)
        self.dismiss(job)

    def action_check_env(self) -> None:
        self.query_one("#local-env", Static).update("checking the environment (imports torch: a few seconds)…")
        self._check_env()

    @work(exclusive=True, group="local-env", exit_on_error=False)
    async def _check_env(self) -> None:
        try:
            report = await self.provider.check_environment(self.recipe().name)
        except PlatformError as err:
            self.query_one("#local-env", Static).update(Text(err.human(), style="red"))
            return
        lines = report.lines(self.recipe().needs)
        style = "green" if report.ready(self.recipe().needs) else "yellow"
        self.query_one("#local-env", Static).update(Text("\n".join(lines), style=style))
