"""The new-job form: documented defaults and recommendations beside every field, checked as you type."""

from __future__ import annotations


import asyncio
from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, Select, Static

from bailian_tui.tui.keymap import KEYMAP
from bailian_tui.core import jobform
from bailian_tui.core.errors import PlatformError
from bailian_tui.core.hyperparams import PARAMS, PRESETS, SUPPORT_MATRIX, defaults_for
from bailian_tui.core.platform import JobRequest
from bailian_tui.core.providers import openai_hp
from bailian_tui.tui.failures import FAILED
from bailian_tui.tui.screens.base import BaseScreen
from bailian_tui.tui.screens.confirm import ConfirmScreen
from bailian_tui.tui.widgets.form import FieldInput, FieldRow, FormScroll, FormRow

NONE = "none"
# Rows the form mounts per slice after its first frame (~3 widgets each, ~5–8 ms of the event loop per row):
# small enough that a key pressed meanwhile waits a few milliseconds, not the whole form.
ROWS_PER_SLICE = 4
# The lines of the screen above and below the parameter rows at their first frame: header, connection line,
# place bar, provider/model/type/preset/file selects, the file line, a margin, help (2), problems, footer.
CHROME_LINES = 15


class NewJobScreen(BaseScreen):
    TITLE_TEXT = "New job"
    BINDINGS = KEYMAP["new-job"]

    def __init__(self) -> None:
        super().__init__()
        self.files: list = []  # remote files, newest first
        self.samples: int | None = None
        self.tokens: int | None = None
        self.dataset: str | None = None
        self._defaults: dict[str, str] = {}  # the default each shown field got: a different value was edited
        self.profiles: list = []  # every profile of the config; the form adapts to the chosen one
        self.profile = None  # the chosen profile (core.profiles.Profile); None before mount
        self._all_rows = False  # every field's row mounted (those below the fold and the hidden ones follow)
        self._laid_out = False  # ... and laid out (has a place on screen, which Textual's focus order uses)
        self._fields_for: tuple | None = None  # (profile, model, type) the fields were last filled for
        self._rows: dict[str, FieldRow] = {}  # by id: row-<name> (DashScope fields), oarow-<name> (OpenAI-compatible)

    # -- layout ----------------------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        models = list(SUPPORT_MATRIX)
        from bailian_tui.core.config import ConfigError
        from bailian_tui.core.profiles import default_profile, profiles

        try:
            self.profiles = profiles(self.app.settings)
            self.profile = default_profile(self.app.settings, self.profiles)
        except ConfigError:
            self.profiles, self.profile = [], None
        with FormScroll(id="job-form"):
            with FormRow("provider", classes="form-row" + ("" if len(self.profiles) > 1 else " hidden"),
                         id="row-provider"):
                yield Select([(p.label, p.name) for p in self.profiles] or [("default", "default")],
                             value=self.profile.name if self.profile else "default", allow_blank=False,
                             id="job-provider", compact=True)
            with FormRow("model", classes="form-row"):
                yield Select([(m, m) for m in models], value="qwen3-8b", allow_blank=False, id="job-model",
                             compact=True)
            with FormRow("training type", classes="form-row"):
                yield Select([("sft", "sft")], id="job-type", allow_blank=False, compact=True)
            with FormRow("preset", classes="form-row"):
                yield Select([(NONE, NONE)] + [(name, name) for name in PRESETS], value=NONE, allow_blank=False,
                             id="job-preset", compact=True)
            with FormRow("training file", classes="form-row"):
                yield Select([], id="job-train", prompt="choose an uploaded file", compact=True)
            with FormRow("validation file", classes="form-row"):
                yield Select([], id="job-valid", prompt="none: split automatically", compact=True)
            yield Static("", id="job-file-info")
            # Every field is built once and only shown or hidden when the model or type changes: switching is
            # instant, and what was typed survives where it still applies. The first frame holds the rows that fit
            # on screen; the rest — below the fold, or hidden by this model and type (LoRA) or profile — are built
            # as the form fills them and mounted in their places after that frame (`_mount_rest`).
            with Vertical(id="job-params"):
                if not self.openai:
                    shown = [p for p in PARAMS if p.applies_to("sft", "qwen3-8b")]
                    yield from (self._param_row(p) for p in shown[:self._rows_that_fit()])
            # OpenAI-compatible profiles: the standard's fields and the extension the profile declares.
            with Vertical(id="job-oa-params", classes="" if self.openai else "hidden"):
                if self.openai:
                    yield from (self._oa_row(param) for param in openai_hp.PARAMS)
        yield Static("", id="job-help")
        yield Static("", id="job-problems")
        with VerticalScroll(id="job-preview", classes="hidden"):
            yield Static("", id="job-preview-text")

    def _rows_that_fit(self) -> int:
        """How many parameter rows the form's first frame can show at the terminal's height (8 at 80×24 with the
        provider row, 9 without): the others wait for the first frame (each row is 3 widgets Textual composes,
        styles and lays out: ~5–8 ms)."""
        return max(3, self.app.size.height - CHROME_LINES)

    def _param_row(self, param) -> FieldRow:
        row = FieldRow(param.name, FieldInput(id=f"hp-{param.name}", classes="hp"), Static("", classes="hp-note"),
                       classes="form-row", id=f"row-{param.name}")
        self._rows[row.id] = row
        return row

    def _oa_row(self, param) -> FieldRow:
        note = Text.assemble(("typical ", "dim"), (param.typical, "bold"), (" · ", "dim"), (param.advice, "green"))
        row = FieldRow(param.name, FieldInput(id=f"oa-{param.name}", classes="hp"), Static(note, classes="hp-note"),
                       classes="form-row", id=f"oarow-{param.name}")
        self._rows[row.id] = row
        return row

    class FormComplete(Message):
        """Every field's row is mounted: the form is whole (its first frame holds only the rows that fit)."""

    @property
    def form_complete(self) -> bool:
        """Whether every field's row is mounted (public: tests and callers wait on `FormComplete`)."""
        return self._all_rows and self._laid_out

    def on_mount(self) -> None:
        self._set_types()
        # The remote file list once the first frame is painted: its answer (two option lists rebuilt, the fields
        # refilled) otherwise lands while the form is being built and delays that frame.
        self.app.after_switch_paint(self._load_files)
        self._mount_rest()

    @work(group="job-rows", exit_on_error=False)
    async def _mount_rest(self) -> None:
        """After the first frame, the rows it did not hold — below the fold, or hidden by this model, type or
        profile — mounted in their places a few at a time, each slice once the previous one is mounted and on
        screen: a key pressed meanwhile is handled between slices (and mounts the rest first: `on_key`)."""
        while not self._all_rows and self.is_attached:
            await self._next_refresh()
            if self._all_rows:
                break
            mounting: list = []
            self._mount_missing(ROWS_PER_SLICE, mounting)
            for done in mounting:
                await done
        await self._next_refresh()
        self._laid_out = True

    async def _next_refresh(self) -> None:
        """Until the screen has refreshed (laid out and painted what changed)."""
        refreshed = asyncio.get_running_loop().create_future()
        self.call_after_refresh(lambda: refreshed.done() or refreshed.set_result(None))
        await refreshed

    def _mount_missing(self, limit: int | None = None, mounting: list | None = None) -> bool:
        """Mount rows not yet mounted, in form order, building the rows no one asked for yet (hidden until a
        switch shows them); at most `limit` rows (their mounts appended to `mounting`). True while some remain."""
        mounting = [] if mounting is None else mounting
        mounted = 0
        for box_id, prefix, params, build in (("#job-params", "row", PARAMS, self._param_row),
                                              ("#job-oa-params", "oarow", openai_hp.PARAMS, self._oa_row)):
            box = self.query_one(box_id, Vertical)
            previous, run = None, []
            for param in params:
                row = self._rows.get(f"{prefix}-{param.name}")
                if row is None:
                    row = build(param)
                    row.display = False
                if row.parent is None:  # built, not mounted
                    if limit is not None and mounted + len(run) >= limit:
                        break
                    run.append(row)
                    continue
                if run:
                    mounting.append(self._mount_run(box, run, previous))
                    mounted, run = mounted + len(run), []
                previous = row
            if run:
                mounting.append(self._mount_run(box, run, previous))
                mounted += len(run)
            if limit is not None and mounted >= limit:
                return True
        self._all_rows = True
        self.post_message(self.FormComplete())
        return False

    @staticmethod
    def _mount_run(box: Vertical, rows: list, previous):
        """Rows that follow one another in the form, mounted after the last mounted row before them."""
        if previous is not None:
            return box.mount(*rows, after=previous)
        if box.children:
            return box.mount(*rows, before=0)
        return box.mount(*rows)

    def on_key(self, event) -> None:
        """A key pressed before the form is whole and laid out mounts the rest first, and Tab / Shift+Tab move in
        form order: Textual orders focus by position on screen, which rows not yet laid out do not have."""
        if self._laid_out:
            return
        if not self._all_rows:
            self._mount_missing()
            self.call_after_refresh(self._mark_laid_out)
        if event.key not in ("tab", "shift+tab"):
            return
        order = [select for select in self.query(Select) if select.parent.display]
        for box_id, prefix, params in (("#job-params", "row", PARAMS), ("#job-oa-params", "oarow", openai_hp.PARAMS)):
            if self.query_one(box_id).display:
                order += [row.input for p in params if (row := self._rows.get(f"{prefix}-{p.name}")) and row.display]
        if self.focused in order:
            step = 1 if event.key == "tab" else -1
            index = order.index(self.focused) + step
            if 0 <= index < len(order):
                event.stop()
                event.prevent_default()
                self.set_focus(order[index])

    def _mark_laid_out(self) -> None:
        self._laid_out = True

    def _row(self, row_id: str) -> FieldRow:
        """A field's row (kept by id: the form asks for its rows on every check). A row not built yet is built now
        — its input and note can be set before it is mounted, in its place, by `_mount_rest`."""
        if row_id not in self._rows:
            prefix, name = row_id.split("-", 1)
            if prefix == "oarow":
                self._oa_row(openai_hp.PARAMS_BY_NAME[name])
            else:
                from bailian_tui.core.hyperparams import PARAMS_BY_NAME

                self._param_row(PARAMS_BY_NAME[name])
            # (Never after the form is whole: `_mount_missing` builds every row before it says so.)
        return self._rows[row_id]

    # -- model, type, params -----------------------------------------------------------------------------

    def model(self) -> str:
        return str(self.query_one("#job-model", Select).value)

    def training_type(self) -> str:
        value = self.query_one("#job-type", Select).value
        return str(value) if value != Select.NULL else ("supervised" if self.openai else "sft")

    @property
    def openai(self) -> bool:
        return self.profile is not None and self.profile.kind == "openai"

    def _profile_files(self) -> list:
        """The remote files of the chosen profile (ids of profiles other than the default read name:id)."""
        if not self.profiles or self.profile is None:
            return self.files
        others = [p.name for p in self.profiles if p.name != self.profiles_default]
        if self.profile.name == self.profiles_default:
            return [f for f in self.files if not any(f.file_id.startswith(f"{n}:") for n in others)]
        return [f for f in self.files if f.file_id.startswith(f"{self.profile.name}:")]

    @property
    def profiles_default(self) -> str:
        from bailian_tui.core.profiles import default_profile

        return default_profile(self.app.settings, self.profiles).name if self.profiles else ""

    @on(Select.Changed, "#job-provider")
    def _provider_changed(self, event: Select.Changed) -> None:
        chosen = next((p for p in self.profiles if p.name == event.value), None)
        if chosen is None or chosen is self.profile:
            return
        if chosen.kind == "local":  # a local run is a recipe, not a hosted job: its own form
            self.app.open_local_run(chosen.name)
            event.select.value = self.profile.name if self.profile else event.select.value
            return
        self.profile = chosen
        model = self.query_one("#job-model", Select)
        if self.openai:
            names = list(chosen.models) or ["qwen3-32b"]
            model.set_options([(m, m) for m in names])
            model.value = names[0]
            presets = list(openai_hp.PRESETS)
        else:
            model.set_options([(m, m) for m in SUPPORT_MATRIX])
            model.value = "qwen3-8b"
            presets = list(PRESETS)
        preset = self.query_one("#job-preset", Select)
        preset.set_options([(NONE, NONE)] + [(name, name) for name in presets])
        preset.value = NONE
        self.query_one("#job-params").set_class(self.openai, "hidden")
        self.query_one("#job-oa-params").set_class(not self.openai, "hidden")
        self._set_file_options()
        self._set_types()

    def _set_types(self) -> None:
        if self.openai:
            select = self.query_one("#job-type", Select)
            current = select.value
            select.set_options([("supervised", "supervised"), ("dpo", "dpo")])
            select.value = current if current in ("supervised", "dpo") else "supervised"
            self._build_oa_params()
            return
        types = sorted(SUPPORT_MATRIX[self.model()], key=["sft", "efficient_sft", "dpo_full", "dpo_lora",
                                                          "cpt"].index)
        select = self.query_one("#job-type", Select)
        current = select.value
        with self.prevent(Select.Changed):  # the fields are built right below, once
            select.set_options([(t, t) for t in types])
            select.value = current if current in types else types[0]
        self._build_params()

    @on(Select.Changed, "#job-model")
    def _model_changed(self) -> None:
        if self._fields_for != self._choice():  # not the echo of a value the form set itself
            self._set_types()

    @on(Select.Changed, "#job-type")
    def _type_changed(self) -> None:
        if self._fields_for != self._choice():
            self._build_params()

    def _choice(self) -> tuple:
        return self.profile.name if self.profile else "", self.model(), self.training_type()

    def _oa_allowed(self) -> tuple[str, ...]:
        return openai_hp.allowed_names(self.profile.extra_hyperparameters if self.profile else ())

    def _build_oa_params(self) -> None:
        """An OpenAI-compatible profile's fields: the documented preset for the file's size fills them
        (XPULink's three presets by sample count), the profile decides which names may be sent."""
        self._fields_for = self._choice()
        allowed = self._oa_allowed()
        name, preset = openai_hp.preset_for(self.samples or 0, allowed) if self.samples else ("", {})
        for param in openai_hp.PARAMS:
            row = self._row(f"oarow-{param.name}")
            row.display = param.name in allowed
            box = row.input
            default = str(preset.get(param.name, "auto" if param.auto else ""))
            if not box.value or box.value == self._defaults.get(f"oa-{param.name}"):
                box.value = default
            self._defaults[f"oa-{param.name}"] = default
        if name:
            self.query_one("#job-preset", Select).value = name
            self.query_one("#job-help", Static).update(
                f"{self.samples} samples: the documented preset for {name} samples is applied · over-fitting? "
                + ", then ".join(openai_hp.OVERFITTING_REMEDIES))
        self._check()

    def _build_params(self) -> None:
        if self.openai:
            self._build_oa_params()
            return
        """Show the fields of this model and type. A value the person typed stays if it is still valid;
        fields left at their default take the new default (or the values last used for this model/type)."""
        self._fields_for = self._choice()
        training_type, model = self.training_type(), self.model()
        remembered = {}
        if self.app.service_ready:
            remembered = self.app.current_service.store.pref("new-job", {}).get(f"{model}/{training_type}", {})
        defaults = defaults_for(training_type, model)
        recommended = jobform.recommended(training_type, model, self.samples, {}, self._has_validation())
        kept, reset = [], []
        with self.prevent(Input.Changed):  # one check at the end, not one per field filled in
            self._fill_params(training_type, model, remembered, defaults, recommended, kept, reset)
        if kept or reset:
            parts = [f"kept {', '.join(kept)}"] if kept else []
            parts += [f"reset {', '.join(reset)}"] if reset else []
            note = f"{model} / {training_type}: " + "; ".join(parts)
            self.query_one("#job-help", Static).update(Text(note, style="yellow" if reset else ""))
            if reset:
                self.notify(note, severity="warning")
        self._check()

    def _fill_params(self, training_type: str, model: str, remembered: dict, defaults: dict, recommended: dict,
                     kept: list, reset: list) -> None:
        for param in PARAMS:
            applies = param.applies_to(training_type, model)
            if not applies:
                if f"row-{param.name}" in self._rows:  # not built yet: nothing to hide
                    self._rows[f"row-{param.name}"].display = False
                self._defaults.pop(param.name, None)
                continue
            row = self._row(f"row-{param.name}")
            row.display = True
            box = row.input
            new_default = str(remembered.get(param.name, defaults[param.name]))
            old_default = self._defaults.get(param.name)
            if old_default is not None and box.value != old_default:
                problem = self._problem_with(param.name, box.value, model, training_type)
                if problem:
                    reset.append(f"{param.name} ({problem})")
                    box.value = new_default
                else:
                    kept.append(param.name)
            else:
                box.value = new_default
            self._defaults[param.name] = new_default
            row.show_note(Text.assemble(
                ("default ", "dim"), (f"{defaults[param.name]}", "bold"), (" · recommended ", "dim"),
                (str(recommended.get(param.name, param.recommended)), "bold green")))

    @staticmethod
    def _problem_with(name: str, value: str, model: str, training_type: str) -> str:
        try:
            typed = jobform.coerce(name, value)
        except ValueError as err:
            return str(err)
        problems = [p for p in jobform.check(model, training_type, {name: typed}) if p.field == name and p.blocking]
        lr_order = name == "learning_rate" and any(p.field == name for p in
                                                   jobform.check(model, training_type, {name: typed}))
        return problems[0].message if problems else ("off the order for this type" if lr_order else "")

    def _has_validation(self) -> bool:
        return self.query_one("#job-valid", Select).value != Select.NULL

    def raw_hyper_parameters(self) -> dict[str, str]:
        """What the person typed in every field this model and type show; the profile's review types and
        checks it (``jobform.review``, or ``openai_hp`` on an OpenAI-compatible profile)."""
        if self.openai:
            return {name: self._row(f"oarow-{name}").input.value for name in self._oa_allowed()}
        training_type, model = self.training_type(), self.model()
        return {p.name: self._row(f"row-{p.name}").input.value for p in PARAMS
                if p.applies_to(training_type, model)}

    def hyper_parameters(self) -> tuple[dict, list]:
        if self.openai:
            return openai_hp.prepare(self.raw_hyper_parameters())  # an empty field is not sent
        return jobform.prepare(self.raw_hyper_parameters())

    def _fill(self, values: dict) -> None:
        from bailian_tui.core.hyperparams import PARAMS_BY_NAME

        prefix, known = ("oarow", openai_hp.PARAMS_BY_NAME) if self.openai else ("row", PARAMS_BY_NAME)
        for name, value in values.items():
            if name in known:
                self._row(f"{prefix}-{name}").input.value = str(value)

    def action_recommended(self) -> None:
        if self.openai:
            name, values = openai_hp.preset_for(self.samples or 0, self._oa_allowed())
            self._fill(values)
            self.notify(f"the documented preset for {name} samples applied")
            return
        hp, _ = self.hyper_parameters()
        values = jobform.recommended(self.training_type(), self.model(), self.samples, hp, self._has_validation())
        self._fill(values)
        fitted = f" (batch_size {values['batch_size']} fits {self.samples} samples)" if self.samples else ""
        self.notify(f"recommended values applied{fitted}")

    def action_defaults(self) -> None:
        if self.openai:
            self._fill({p.name: "auto" if p.auto else "" for p in openai_hp.PARAMS})
            return
        self._fill(defaults_for(self.training_type(), self.model()))

    @on(Select.Changed, "#job-preset")
    def _preset(self, event: Select.Changed) -> None:
        if self.openai:
            if event.value in openai_hp.PRESETS:
                values = dict(openai_hp.PRESETS[event.value])
                values["lora_alpha"] = 2 * values["lora_r"]
                allowed = self._oa_allowed()
                self._fill({k: v for k, v in values.items() if k in allowed})
            return
        if event.value in PRESETS:
            preset = PRESETS[event.value]
            if "lora_rank" in preset and self.training_type() not in ("efficient_sft", "dpo_lora"):
                types = SUPPORT_MATRIX[self.model()]
                if "efficient_sft" in types:
                    self.query_one("#job-type", Select).value = "efficient_sft"
                    self.call_after_refresh(lambda: self._fill(preset))
                    return
            self._fill(preset)

    # -- files and estimate ----------------------------------------------------------------------------

    @work(exclusive=True, group="job-files", exit_on_error=False)
    async def _load_files(self) -> None:
        files = await self.app.run_core(lambda service: service.platform.all_files(), timeout=5)
        if files is FAILED:
            return
        self.files = files
        self._set_file_options()
        wanted = getattr(self, "_select_after_load", None)
        if wanted in {f.file_id for f in self.files}:
            self.query_one("#job-train", Select).value = wanted
            self._select_after_load = None
        self._build_params()

    def _set_file_options(self) -> None:
        options = [(f"{f.name} · {f.file_id}", f.file_id) for f in self._profile_files()]
        self.query_one("#job-train", Select).set_options(options)
        self.query_one("#job-valid", Select).set_options(options)
        self._show_file_info()

    def action_upload(self) -> None:
        from bailian_tui.tui.screens.prompt import PromptScreen
        from bailian_tui.tui.screens.upload import UploadScreen

        def chosen(path: str | None) -> None:
            if not path:
                return
            local = Path(path).expanduser()
            if not local.is_file():
                self.notify(f"{local}: no such file", severity="error")
                return
            self.app.push_screen(UploadScreen(local, int(self.app.settings.get("validation.max_length")),
                                              profile=self.profile.name if self.profile else None),
                                 lambda file_id: self._uploaded(file_id) if file_id else None)

        self.app.push_screen(PromptScreen("Local Bailian JSONL to upload", "", "path/to/train.jsonl"), chosen)

    def _uploaded(self, file_id: str) -> None:
        self._select_after_load = file_id
        self._load_files()

    def _show_file_info(self) -> None:
        """The chosen files' ids in full (the select cuts them), with what is known of the training file."""
        names = {f.file_id: f.name for f in self.files}
        parts = []
        for label, select_id in (("training", "#job-train"), ("validation", "#job-valid")):
            value = self.query_one(select_id, Select).value
            if value != Select.NULL:
                parts.append(f"{label}: {value} ({names.get(str(value), '?')})")
        if self.samples is not None:
            parts.append(f"{self.samples:,} samples" + (f", {self.tokens:,} tokens" if self.tokens else ""))
        self.query_one("#job-file-info", Static).update(Text(" · ".join(parts), style="dim"))

    @on(Select.Changed, "#job-train")
    def _training_file(self, event: Select.Changed) -> None:
        self.samples = self.tokens = self.dataset = None
        if event.value != Select.NULL and self.app.service_ready:
            service = self.app.current_service
            upload = (service.upload_record(str(event.value)) if hasattr(service, "upload_record")
                      else service.store.upload_for_file_id(str(event.value)))
            if upload and Path(upload.path).exists():
                self.dataset = upload.path
                self._count(upload.path)
        self._show_file_info()
        self._check()

    @work(thread=True, exclusive=True, group="job-count", exit_on_error=False)
    def _count(self, path: str) -> None:
        from bailian_tui.core.data.scan import stats_of, validate_file

        scan = validate_file(path, exact=True)
        self.app.call_from_thread(self._counted, path, scan.samples, stats_of(scan).total)

    def _counted(self, path: str, samples: int, tokens: int) -> None:
        if path == self.dataset:
            self.samples, self.tokens = samples, tokens
            self._show_file_info()
            self._build_params()

    # -- checking and preview --------------------------------------------------------------------------

    @on(Input.Changed, "Input.hp")
    def _typed(self) -> None:
        self._check()

    def on_descendant_focus(self, event) -> None:
        widget = event.widget
        if isinstance(widget, Input) and widget.id and widget.id.startswith("oa-"):
            param = openai_hp.PARAMS_BY_NAME[widget.id.removeprefix("oa-")]
            self.query_one("#job-help", Static).update(
                f"[b]{param.name}[/] — typical {param.typical}: {param.advice}"
                + (" [dim](XPULink's extension)[/]" if param.extension else " [dim](the OpenAI standard)[/]"))
        elif isinstance(widget, Input) and widget.id and widget.id.startswith("hp-"):
            from bailian_tui.core.hyperparams import PARAMS_BY_NAME

            param = PARAMS_BY_NAME[widget.id.removeprefix("hp-")]
            self.query_one("#job-help", Static).update(f"[b]{param.name}[/] — {param.help} [dim]({param.source})[/]")

    def request(self) -> tuple[JobRequest | None, list[jobform.Problem]]:
        train = self.query_one("#job-train", Select).value
        valid = self.query_one("#job-valid", Select).value
        if self.openai:
            hp, problems = openai_hp.prepare(self.raw_hyper_parameters())
            problems += openai_hp.check(hp, allowed=self._oa_allowed(), samples=self.samples,
                                        method=self.training_type())
        else:
            hp, problems = jobform.review(self.model(), self.training_type(), self.raw_hyper_parameters(),
                                          train_samples=self.samples, has_validation=valid != Select.NULL)
        if train == Select.NULL:
            problems.insert(0, jobform.Problem("training file",
                                               "choose an uploaded file (upload one from Datasets: u)"))
        if train == Select.NULL:
            return None, problems
        return JobRequest(model=self.model(), training_file_ids=[str(train)],
                          validation_file_ids=[str(valid)] if valid != Select.NULL else [],
                          training_type=self.training_type(), hyper_parameters=hp), problems

    def _check(self) -> None:
        request, problems = self.request()
        text = Text()
        for problem in problems:
            text.append(f"{'✗' if problem.blocking else '!'} {problem.field}: {problem.message}\n",
                        style="red" if problem.blocking else "yellow")
        estimate = self._estimate(request)
        if estimate:
            text.append(f"cost: {estimate.formula}\n", style="bold")
        elif self.dataset and self.tokens is None:
            text.append("counting tokens of the training file…\n", style="dim")
        elif request is not None:
            text.append("cost: unknown (the file was not uploaded from here, so its tokens are not known)\n",
                        style="dim")
        if not problems and request is not None:
            text.append("ready: ctrl+s creates the job", style="green")
        self.query_one("#job-problems", Static).update(text)
        preview = self.query_one("#job-preview-text", Static)
        if request is not None and self.openai:
            import json

            from bailian_tui.core.providers.openai_compat import build_body

            try:
                body = json.dumps(build_body(request, form=self.profile.hyperparameters_form,
                                             metadata=self.profile.metadata, label=self.profile.label),
                                  ensure_ascii=False, indent=2)
            except PlatformError as err:
                body = err.message
            preview.update(Text.assemble((f"request body (POST {self.profile.base_url}/fine_tuning/jobs)\n", "bold"),
                                         body))
        elif request is not None:
            preview.update(Text.assemble(("request body\n", "bold"), jobform.body_json(request),
                                         ("\n\nequivalent command\n", "bold"), jobform.command_line(request)))

    def _estimate(self, request):
        if request is None or self.tokens is None:
            return None
        from bailian_tui.core.data.cost import Estimate, estimate

        if self.openai:
            epochs = request.hyper_parameters.get("n_epochs")
            price, example, currency = self.profile.unit_price(self.model(), self.app.settings)
            if not price:
                return None  # no price table for this profile: say unknown rather than 0
            return Estimate(self.tokens, epochs if isinstance(epochs, int) else 3, price, currency, example,
                            self.model())
        return estimate(self.tokens, int(request.hyper_parameters.get("n_epochs", 1)), self.model(),
                        self.app.settings)

    def action_back(self) -> None:
        preview = self.query_one("#job-preview", VerticalScroll)
        if self.focused is preview:
            self.action_toggle_preview()
        else:
            super().action_back()

    def action_toggle_preview(self) -> None:
        preview = self.query_one("#job-preview", VerticalScroll)
        preview.toggle_class("hidden")
        if preview.has_class("hidden"):
            self.query_one("#job-form").focus()
        else:
            preview.focus()  # arrows and PgUp/PgDn scroll it; Esc or ctrl+t again goes back

    # -- submit ----------------------------------------------------------------------------------------

    def action_submit(self) -> None:
        request, problems = self.request()
        blocking = [p for p in problems if p.blocking]
        if request is None or blocking:
            self.notify(f"not created: {blocking[0].field}: {blocking[0].message}" if blocking else "incomplete",
                        severity="error")
            return
        estimate = self._estimate(request)
        cost = estimate.formula if estimate else "unknown (token count not available for this file)"
        where = (f" on [b]{escape(self.profile.label)}[/]" if self.profile is not None and len(self.profiles) > 1
                 else "")
        self.app.push_screen(ConfirmScreen(f"Create a [b]{escape(request.training_type)}[/] job on "
                                           f"[b]{escape(request.model)}[/]{where}?\n"
                                           f"Billed by tokens: {cost}", "Create", danger=False),
                             lambda yes: self._create(request) if yes else None)

    @work(exclusive=True, group="job-create", exit_on_error=False)
    async def _create(self, request: JobRequest) -> None:
        def create(service):
            if hasattr(service, "fleet") and self.profile is not None:
                return service.create_job_outcome(request, dataset=self.dataset, profile=self.profile.name)
            return service.create_job_outcome(request, dataset=self.dataset)

        created = await self.app.run_core(create, timeout=15)
        if created is FAILED:
            return
        service = self.app.current_service
        job = created.item
        remembered = service.store.pref("new-job", {})
        prefix = f"{self.profile.name}/" if self.openai else ""  # DashScope keys stay as they were
        remembered[f"{prefix}{request.model}/{request.training_type}"] = request.hyper_parameters
        service.store.set_pref("new-job", remembered)
        self.app.watch_job(job.job_id)
        self.notify(created.message or f"created {job.job_id} ({job.status.value}); it is watched (j, then v)")
        self.app.switch_mode("jobs")
