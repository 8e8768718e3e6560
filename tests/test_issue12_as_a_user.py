"""Issue 12's numbered problems replayed as a user meets them: keys pressed, then what the terminal shows.

Each test leans only on what a person sees or does — keys, the text and colours drawn on screen (the screenshot
the terminal would get), the simulator's own record of what was created — and on widget ids that have not
changed, so the same test runs against the app as it was when the issue was filed and as it is now
(docs/issue12-verification.md has the results of both).
"""

from __future__ import annotations

import html
import re

from textual.widgets import DataTable, Input, Select

from tests.conftest import DATASETS, settle
from tests.test_app_demo import wait_for

FINISHED = ("SUCCEEDED", "FAILED", "CANCELED")


def runs(app) -> list[tuple[float, str, str | None]]:
    """Every run of text on screen as (line, text, colour), read from the screenshot the terminal would get."""
    svg = app.export_screenshot()
    fills = dict(re.findall(r"\.(terminal-\d+-r\d+) \{ fill: (#[0-9a-fA-F]{6})", svg))
    return [(float(y), html.unescape(text).replace("\xa0", " "), fills.get(cls))
            for cls, y, text in re.findall(r'<text class="(terminal-\d+-r\d+)" x="[\d.]+" y="([\d.]+)"[^>]*>([^<]*)</text>',
                                           svg)]


def screen_text(app) -> str:
    """The screen as lines of text."""
    lines: dict[float, list[str]] = {}
    for y, text, _ in runs(app):
        lines.setdefault(y, []).append(text)
    return "\n".join("".join(parts).rstrip() for _, parts in sorted(lines.items()))


def row_with(table: DataTable, word: str) -> int:
    return next(i for i in range(table.row_count) if any(word in str(cell) for cell in table.get_row_at(i)))


def key_for(screen, action: str) -> str:
    """The key the screen's footer and help give for an action (whatever it is in this version)."""
    return next(b for b in screen.BINDINGS if b.action == action).key.split(",")[0]


async def jobs_listed(app, pilot) -> DataTable:
    table = app.screen.query_one("#jobs", DataTable)
    await wait_for(lambda: table.row_count == 7, pilot)
    return table


# -- 1. the watch view: Tab moves between jobs, and actions act on the job Tab moved to -------------------

async def test_1_tab_moves_to_the_next_watched_job_and_x_asks_about_that_one(manual_demo):
    app, server, _ = manual_demo
    async with app.run_test(size=(80, 24)) as pilot:
        table = await jobs_listed(app, pilot)
        going = [i for i in range(table.row_count)
                 if not any(str(cell).endswith(FINISHED) for cell in table.get_row_at(i))]
        assert len(going) >= 2
        ids = []
        for index in going[:2]:  # watch two unfinished jobs with w, as a user does
            table.move_cursor(row=index)
            ids.append(next(job_id for job_id in server.state.jobs if job_id in map(str, table.get_row_at(index))))
            await pilot.press("w")
        await wait_for(lambda: all(app.scheduler.jobs[i].job is not None for i in ids), pilot)
        await pilot.press("v")
        await wait_for(lambda: app.screen.TITLE_TEXT != "Jobs", pilot)
        await settle(pilot)

        async def cancel_asks_about() -> str:
            await pilot.press("x")
            await wait_for(lambda: app.screen.query("#confirm-question"), pilot)
            question = str(app.screen.query_one("#confirm-question").render())
            await pilot.press("n")
            await wait_for(lambda: not app.screen.query("#confirm-question"), pilot)
            return next(i for i in ids if i in question)

        first = await cancel_asks_about()
        await pilot.press("tab")
        second = await cancel_asks_about()
        assert second != first, "after Tab, x still offers to cancel the first job"


# -- 3. keys: what the footer says is what the key does, from every widget -----------------------------------

async def test_3_escape_leaves_the_field_and_j_then_goes_to_jobs(manual_demo):
    app, _, _ = manual_demo
    async with app.run_test(size=(80, 24)) as pilot:
        await app.service()
        await pilot.press("n")
        await wait_for(lambda: app.screen.query("#hp-batch_size"), pilot)
        box = app.screen.query_one("#hp-batch_size", Input)
        box.focus()
        await pilot.pause()
        before = box.value
        await pilot.press("escape", "j")
        await wait_for(lambda: app.screen.TITLE_TEXT == "Jobs", pilot, timeout=3)
        assert box.value == before, "j was typed into batch_size"


async def test_3_the_footer_keys_of_the_form_work_inside_a_field_and_never_edit_it(manual_demo):
    app, _, _ = manual_demo
    async with app.run_test(size=(80, 24)) as pilot:
        await app.service()
        await pilot.press("n")
        await wait_for(lambda: app.screen.query("#hp-batch_size"), pilot)
        screen = app.screen
        box = screen.query_one("#hp-batch_size", Input)
        upload = next(b for b in screen.BINDINGS if b.id == "job-upload")  # whatever key the footer shows
        box.focus()
        await pilot.press("end")
        before = box.value
        await pilot.press(upload.key.split(",")[0])
        await wait_for(lambda: app.screen is not screen, pilot, timeout=3)  # the upload prompt opened
        assert box.value == before, f"{upload.key} (footer: {upload.description}) edited the field"


async def test_3_one_key_deploys_in_jobs_and_in_deployments(manual_demo):
    app, _, _ = manual_demo
    async with app.run_test(size=(120, 40)) as pilot:
        table = await jobs_listed(app, pilot)
        table.move_cursor(row=row_with(table, "SUCCEEDED"))
        deploy = key_for(app.screen, "deploy")
        await pilot.press(deploy)
        await wait_for(lambda: app.screen.query("#deploy-model"), pilot, timeout=3)
        await pilot.press("escape")
        await wait_for(lambda: app.screen.TITLE_TEXT == "Jobs", pilot)
        await pilot.press("p")
        await wait_for(lambda: app.screen.TITLE_TEXT == "Deployments", pilot)
        await pilot.press(deploy)  # the same key on the other screen
        await wait_for(lambda: app.screen.query("#deploy-model"), pilot, timeout=3)


# -- 4. the demo's own file goes through the form with recommended values -----------------------------------

async def test_4_demo_file_submits_after_ctrl_r_and_the_preview_takes_focus(manual_demo, tmp_path):
    app, server, _ = manual_demo
    from bailian_tui.core.data.convert import convert_file

    converted = tmp_path / "train.jsonl"
    convert_file(DATASETS / "MedQA/questions/Mainland/4_options/train.jsonl", converted)
    async with app.run_test(size=(80, 24)) as pilot:
        service = await app.service()
        uploaded = await service.upload(converted)
        await pilot.press("n")
        screen = app.screen
        await wait_for(lambda: screen.TITLE_TEXT == "New job" and len(screen.files) == 4, pilot)
        screen.query_one("#job-train", Select).value = uploaded.file.file_id
        problems = screen.query_one("#job-problems")
        await wait_for(lambda: "must be more than batch_size 16" in str(problems.render()), pilot)
        await pilot.press("ctrl+r")
        await wait_for(lambda: "ready" in str(problems.render()), pilot, timeout=3)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert screen.focused is not None and screen.focused.id == "job-preview", "the preview cannot be focused"
        await pilot.press("escape")
        jobs_before = len(server.state.jobs)
        await pilot.press("ctrl+s", "y")
        await wait_for(lambda: len(server.state.jobs) == jobs_before + 1, pilot)


async def test_4_an_edited_value_survives_a_switch_of_training_type(manual_demo):
    app, _, _ = manual_demo
    async with app.run_test(size=(120, 40)) as pilot:
        await app.service()
        await pilot.press("n")
        await wait_for(lambda: app.screen.query("#hp-n_epochs"), pilot)
        screen = app.screen
        screen.query_one("#hp-n_epochs", Input).value = "5"
        await pilot.pause()
        screen.query_one("#job-type", Select).value = "efficient_sft"
        await wait_for(lambda: screen.query("#hp-lora_rank"), pilot)
        await settle(pilot)
        assert screen.query_one("#hp-n_epochs", Input).value == "5", "n_epochs was thrown away by the switch"


async def test_4_deploying_a_full_sft_model_does_not_default_to_the_lora_plan(manual_demo):
    app, server, _ = manual_demo
    async with app.run_test(size=(120, 40)) as pilot:
        table = await jobs_listed(app, pilot)
        full = [job_id for job_id, job in server.state.jobs.items()
                if job.status == "SUCCEEDED" and job.training_type == "sft"]
        assert full, "the demo has a succeeded full-SFT job"
        table.move_cursor(row=row_with(table, full[0]))
        await pilot.press("D")
        await wait_for(lambda: app.screen.query("#deploy-plan"), pilot, timeout=3)
        await settle(pilot)
        assert app.screen.query_one("#deploy-plan", Select).value != "lora"


# -- 5. narrow terminals keep what matters -------------------------------------------------------------------

async def test_5_at_60x20_every_job_shows_its_status_and_its_whole_id(manual_demo):
    app, server, _ = manual_demo
    async with app.run_test(size=(60, 20)) as pilot:
        await jobs_listed(app, pilot)
        await settle(pilot)
        text = screen_text(app)
        for job_id, job in server.state.jobs.items():
            line = next((line for line in text.splitlines() if job_id in line), None)
            assert line is not None, f"{job_id} is cut or missing at 60 columns"
            assert job.status in line, f"{job_id}: its status {job.status} is off screen at 60 columns"


async def test_5_at_80x24_the_running_job_shows_progress_and_loss(manual_demo):
    app, server, clock = manual_demo
    async with app.run_test(size=(80, 24)) as pilot:
        await jobs_listed(app, pilot)
        running = next(job_id for job_id, job in server.state.jobs.items() if job.status == "RUNNING")
        clock.advance(30)  # some steps logged
        await pilot.press("r")

        def running_line() -> str:
            return next((line for line in screen_text(app).splitlines() if running in line), "")

        # progress as a step count or a percentage, and the latest loss, on the running job's line
        await wait_for(lambda: re.search(r"\d+/\d+|\d+%", running_line()) and re.search(r"\d\.\d{4}", running_line()),
                       pilot)


async def test_5_at_80x24_the_place_keys_show_on_every_place(manual_demo):
    app, _, _ = manual_demo
    async with app.run_test(size=(80, 24)) as pilot:
        await app.service()
        for key, title in (("d", "Datasets"), ("f", "Files"), ("n", "New job"), ("p", "Deployments"), ("j", "Jobs")):
            await pilot.press(key)
            await wait_for(lambda: app.screen.TITLE_TEXT == title, pilot)
            await pilot.pause()
            text = screen_text(app)
            missing = [k for k in ("d", "f", "n", "j", "p") if not re.search(rf"(^|\s){k} \w", text, re.M)]
            assert not missing, f"{title}: the place keys {missing} are not on screen at 80x24"


async def test_5_long_file_names_keep_both_ends_in_the_tree(manual_demo):
    """The two CSV samples differ only near the end of their names: at 80x24 the tree must tell them apart."""
    app, _, _ = manual_demo
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d")
        await wait_for(lambda: app.screen.TITLE_TEXT == "Datasets", pilot)
        await settle(pilot)
        tree = app.screen.query_one("#tree")
        tree.focus()
        for _ in range(12):  # down to the folder, as a user would, and open it
            if "Chinese-medical-dialogue" in str(tree.cursor_node.label):
                break
            await pilot.press("down")
        await pilot.press("enter")
        await wait_for(lambda: sum("样例" in line for line in screen_text(app).splitlines()) == 2, pilot)
        names = [line for line in screen_text(app).splitlines() if "样例" in line]
        assert all(".csv" in name for name in names), f"the ends of the names are cut: {names}"
        assert names[0] != names[1], names


async def test_5_a_checkpoint_model_id_is_shown_whole_at_80x24(manual_demo):
    app, server, clock = manual_demo
    async with app.run_test(size=(80, 24)) as pilot:
        table = await jobs_listed(app, pilot)
        table.move_cursor(row=max(i for i in range(table.row_count)
                                  if any(str(c).endswith("SUCCEEDED") for c in table.get_row_at(i))))
        await pilot.press(key_for(app.screen, "checkpoints"))
        await wait_for(lambda: app.screen.query("#ckpt-table") and app.screen.query_one("#ckpt-table").row_count, pilot)
        await pilot.press(key_for(app.screen, "export"), "enter")  # export the first one under the proposed name
        await wait_for(lambda: any(j.exports for j in server.state.jobs.values()), pilot)
        clock.advance(10)
        await pilot.press("r")
        model = next(name for j in server.state.jobs.values() for name, _ in j.exports.values())
        await wait_for(lambda: model in screen_text(app), pilot)


# -- 6. sixteen colours: a queued job never looks failed ----------------------------------------------------

async def test_6_with_16_colours_queued_running_done_and_failed_look_different(manual_demo):
    from tests.test_snapshots import Sixteen

    demo, _, _ = manual_demo
    app = Sixteen(demo.settings)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await jobs_listed(app, pilot)
        table.move_cursor(row=row_with(table, "CANCELED"))  # the cursor's highlight away from the rows compared
        await settle(pilot)
        colours: dict[str, set] = {}
        for _, text, colour in runs(app):
            for status in ("QUEUING", "RUNNING", "SUCCEEDED", "FAILED"):
                if re.search(rf"\b{status}\b", text):
                    colours.setdefault(status, set()).add(colour)
        assert all(len(c) == 1 for c in colours.values()) and len(colours) == 4, colours
        queued, failed = colours["QUEUING"], colours["FAILED"]
        assert queued != failed, "queued and failed jobs share a colour"
        reds = {"#800000", "#ff0000", "#cd0000", "#ee0000", "#c00000"}  # red and bright red of common palettes
        assert not (queued & reds), f"a queued job is drawn in red ({queued})"
        assert len(set().union(*colours.values())) == 4, colours
