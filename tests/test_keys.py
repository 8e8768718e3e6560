"""Every key does what the footer says, from every place; Esc leaves inputs; the palette finds every action."""

from __future__ import annotations

from textual.command import CommandList, CommandPalette
from textual.widgets import DataTable, Input, TextArea

from bailian_tui.tui.keymap import KEYMAP, PLACES, key_label, keys_label
from bailian_tui.tui.screens.jobs import COLUMNS
from bailian_tui.tui.widgets.records import RecordList
from tests.test_app_demo import wait_for

PLACE_KEYS = {key for key, _, _ in PLACES.values()} | {"question_mark", "q"}
DIALOGS = {"checkpoints"}  # modal: they hide the place keys on purpose


def test_every_binding_has_an_id_a_human_label_and_a_tooltip():
    for screen, bindings in KEYMAP.items():
        for binding in bindings:
            assert binding.id and binding.tooltip and binding.key_display, (screen, binding)
    assert keys_label("right_square_bracket,f3") == "] F3"
    assert [key_label(k) for k in ("delete", "ctrl+r", "question_mark", "escape", "D")] == \
        ["Del", "Ctrl+R", "?", "Esc", "D"]


def test_one_verb_per_key_across_screens():
    verbs: dict[str, tuple[str, str]] = {}
    for screen, bindings in KEYMAP.items():
        for binding in bindings:
            for key in binding.key.split(","):
                verb = binding.description.split()[0]
                seen = verbs.setdefault(key, (verb, screen))
                assert seen[0] == verb, f"{key_label(key)} means {seen[0]} on {seen[1]} but {verb} on {screen}"


def test_no_screen_and_no_widget_takes_a_place_key():
    for screen, bindings in KEYMAP.items():
        if screen != "app":
            taken = {k for b in bindings for k in b.key.split(",")} & PLACE_KEYS
            assert not taken, (screen, taken)
    assert not {k for b in RecordList.BINDINGS for k in b.key.split(",")} & PLACE_KEYS


async def _place(app, pilot, mode: str):
    await pilot.press(PLACES[mode][0])
    await wait_for(lambda: app.current_mode == mode, pilot)
    await pilot.pause(0.1)


async def test_every_footer_key_runs_its_action_on_every_place(manual_demo):
    """With each focusable widget of each place focused in turn, every key of the screen and the app is the
    screen's or the app's binding (no widget shadows it); pressing each footer key runs its action."""
    app, _, _ = manual_demo
    async with app.run_test(size=(120, 40)) as pilot:
        await app.service()
        for mode in PLACES:
            await _place(app, pilot, mode)
            screen = app.screen
            ours = [*screen.BINDINGS, *KEYMAP["app"]]
            widgets = [w for w in screen.focus_chain if not isinstance(w, (Input, TextArea))]
            for widget in [None, *widgets]:
                screen.set_focus(widget)
                for binding in ours:
                    for key in binding.key.split(","):
                        active = screen.active_bindings.get(key)
                        assert active is not None and active.binding.id == binding.id, \
                            f"{mode}: {key_label(key)} is taken by {active and active.node} when {widget} has focus"
            screen.set_focus(None)
            ran: list[str] = []
            for binding in screen.BINDINGS:
                if not binding.show:
                    continue
                name = binding.action.split("(")[0]
                setattr(screen, f"action_{name}", lambda *_, name=name: ran.append(name))
                await pilot.press(binding.key.split(",")[0])
                assert ran and ran[-1] == name, f"{mode}: {key_label(binding.key)} did not run {name}"
        # The place keys themselves, each pressed from a different place (the checks above cover the rest).
        modes = list(PLACES)
        for mode, following in zip(modes, modes[1:] + modes[:1]):
            await _place(app, pilot, mode)
            await pilot.press(PLACES[following][0])
            await wait_for(lambda: app.current_mode == following, pilot)


async def test_escape_leaves_an_input_first_then_the_screen(manual_demo):
    app, _, _ = manual_demo
    async with app.run_test(size=(80, 24)) as pilot:
        await app.service()
        await _place(app, pilot, "new-job")
        box = app.screen.query_one("#hp-batch_size", Input)
        box.focus()
        await pilot.pause()
        before = box.value
        await pilot.press("ctrl+b", "ctrl+o")  # Defaults / Upload: neither edits the text any more
        await wait_for(lambda: type(app.screen).__name__ == "PromptScreen", pilot)
        await pilot.press("escape")
        await wait_for(lambda: app.current_mode == "new-job" and app.screen.TITLE_TEXT == "New job", pilot)
        assert box.value == before
        box.focus()
        await pilot.press("end", "j")  # in a text field a letter is text
        assert box.value == before + "j" and app.current_mode == "new-job"
        await pilot.press("escape")
        assert app.screen.focused is None and app.current_mode == "new-job"
        await pilot.press("j")
        await wait_for(lambda: app.current_mode == "jobs", pilot)
        # The Jobs filter: Esc leaves the box, a second Esc clears the filter.
        table = app.screen.query_one("#jobs", DataTable)
        await wait_for(lambda: table.row_count == 7, pilot)
        await pilot.press("slash", *"RUNNING")
        await wait_for(lambda: table.row_count < 7, pilot)
        await pilot.press("escape")
        assert app.screen.focused is table
        await pilot.press("escape")
        await wait_for(lambda: table.row_count == 7, pilot)


async def test_enter_and_k_in_jobs(manual_demo):
    """Enter opens the log (DataTable owns Enter, the screen hears its RowSelected); k no longer opens
    checkpoints: K does."""
    app, _, _ = manual_demo
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#jobs", DataTable)
        await wait_for(lambda: table.row_count == 7, pilot)
        await pilot.press("k")
        assert app.screen.TITLE_TEXT == "Jobs"
        await pilot.press("enter")
        await wait_for(lambda: app.screen.TITLE_TEXT == "Log", pilot)
        await pilot.press("escape")
        await pilot.press("K")
        await wait_for(lambda: type(app.screen).__name__ == "CheckpointsScreen", pilot)


async def test_record_list_j_goes_to_jobs(manual_demo):
    app, _, _ = manual_demo
    async with app.run_test(size=(80, 24)) as pilot:
        await _place(app, pilot, "datasets")
        app.screen.query_one(RecordList).focus()
        await pilot.press("j")
        await wait_for(lambda: app.current_mode == "jobs", pilot)


async def test_palette_finds_the_actions_of_the_screen_under_it(manual_demo):
    app, _, _ = manual_demo
    async with app.run_test(size=(120, 40)) as pilot:
        await app.service()
        for mode, word in (("deployments", "scale"), ("datasets", "convert"), ("jobs", "cancel")):
            await _place(app, pilot, mode)
            await pilot.press("ctrl+p")
            await wait_for(lambda: isinstance(app.screen, CommandPalette), pilot)
            await pilot.press(*word)
            results = app.screen.query_one(CommandList)
            await wait_for(lambda: results.option_count > 0, pilot)
            prompts = [str(results.get_option_at_index(i).prompt) for i in range(results.option_count)]
            assert any(word in p.lower() for p in prompts), (mode, prompts)
            await pilot.press("escape")
            await wait_for(lambda: not isinstance(app.screen, CommandPalette), pilot)


async def test_help_shows_human_key_names(manual_demo):
    app, _, _ = manual_demo
    async with app.run_test(size=(120, 40)) as pilot:
        await _place(app, pilot, "datasets")
        await pilot.press("question_mark")
        table = app.screen.query_one("#help-keys", DataTable)
        keys = {str(table.get_row_at(i)[0]) for i in range(table.row_count)}
        assert "] F3" in keys and "?" in keys and not any("_" in k for k in keys)


def test_status_column_comes_early():
    assert COLUMNS.index("status") < COLUMNS.index("model") and COLUMNS.index("job id") == 1


def test_statuses_stay_distinct_with_16_colours_and_without_colour():
    """Waiting, running, done, failed and stopping land on different 16-colour entries (queued jobs never look
    failed), and each status carries its own glyph for NO_COLOR and monochrome terminals."""
    from rich.color import ColorSystem
    from rich.style import Style

    from bailian_tui.tui.format import STATUS_STYLES, status_badge

    def entry(status: str) -> int:
        return Style.parse(STATUS_STYLES[status][1]).color.downgrade(ColorSystem.STANDARD).number

    assert entry("QUEUING") == entry("PENDING") == 11  # bright yellow
    assert len({entry(s) for s in ("QUEUING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELING")}) == 5
    glyphs = {str(status_badge(s)).split()[0] for s in ("QUEUING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED")}
    assert len(glyphs) == 5
