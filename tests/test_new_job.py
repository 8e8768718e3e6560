"""The new-job form: documented defaults, the support matrix, checks as typed, exactly one job created."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Input, Select

from bailian_tui.core.hyperparams import PARAMS, defaults_for
from tests.conftest import DATASETS, settle
from tests.test_app_demo import wait_for


@pytest.fixture
def form_app(manual_demo):
    app, server, _ = manual_demo
    return app, server


def problems_text(app) -> str:
    return str(app.screen.query_one("#job-problems").render())


async def open_form(app, pilot):
    await app.service()
    await pilot.press("n")
    await wait_for(lambda: app.screen.TITLE_TEXT == "New job" and len(app.screen.files) == 3, pilot)
    await settle(pilot, "job-params", "job-files", "job-count")


async def test_defaults_and_recommendations_match_the_documented_table(form_app):
    app, _ = form_app
    async with app.run_test(size=(120, 40)) as pilot:
        await open_form(app, pilot)
        screen = app.screen
        defaults = defaults_for("sft", "qwen3-8b")
        for param in PARAMS:
            box = screen.query_one(f"#hp-{param.name}", Input)
            if param.applies_to("sft", "qwen3-8b"):
                assert box.parent.display and box.value == str(defaults[param.name]), param.name
            else:
                assert not box.parent.display, param.name  # LoRA fields only for LoRA types
        assert "recommended 8192" in str(screen.query_one("#hp-max_length").parent.query_one(".hp-note").render())
        await pilot.press("ctrl+r")
        assert screen.query_one("#hp-max_length", Input).value == "8192"
        assert screen.query_one("#hp-n_epochs", Input).value == "3"
        screen.query_one("#job-type", Select).value = "efficient_sft"
        await wait_for(lambda: screen.query_one("#row-lora_rank").display, pilot)
        assert screen.query_one("#hp-learning_rate", Input).value == "0.0001"


async def test_support_matrix_limits_training_types(form_app):
    app, _ = form_app
    async with app.run_test(size=(120, 40)) as pilot:
        await open_form(app, pilot)
        screen = app.screen
        def types() -> list[str]:  # what the user can pick: the entries of the type list
            overlay = screen.query_one("#job-type", Select).query_one("SelectOverlay")  # the list the user picks from
            shown = [str(overlay.get_option_at_index(i).prompt) for i in range(overlay.option_count)]
            return [t for t in shown if t in {"sft", "efficient_sft", "dpo_full", "dpo_lora", "cpt"}]
        assert types() == ["sft", "efficient_sft", "dpo_full", "dpo_lora"]
        screen.query_one("#job-model", Select).value = "qwen3.5-plus-2026-02-15"
        await wait_for(lambda: types() == ["sft"], pilot)
        screen.query_one("#job-model", Select).value = "qwen2.5-7b-instruct"
        await wait_for(lambda: "cpt" in types(), pilot)


async def test_invalid_value_blocks_and_submit_creates_exactly_one_job(form_app, tmp_path):
    app, server = form_app
    async with app.run_test(size=(120, 40)) as pilot:
        # Upload a converted file through the app's service so the form knows its tokens.
        from bailian_tui.core.data.convert import convert_file

        converted = tmp_path / "train.jsonl"
        convert_file(DATASETS / "MedQA/questions/Mainland/4_options/train.jsonl", converted)
        service = await app.service()
        uploaded = await service.upload(converted)
        await pilot.press("n")
        screen = app.screen
        await wait_for(lambda: screen.TITLE_TEXT == "New job" and len(screen.files) == 4, pilot)
        screen.query_one("#job-train", Select).value = uploaded.file.file_id
        await wait_for(lambda: "cost:" in problems_text(app) and "×" in problems_text(app), pilot)
        await settle(pilot, "job-params", "job-files", "job-count")
        screen.query_one("#hp-batch_size", Input).value = "32"
        await wait_for(lambda: "must be more than batch_size 32" in problems_text(app), pilot)
        jobs_before = len(server.state.jobs)
        await pilot.press("ctrl+s")
        assert len(server.state.jobs) == jobs_before and type(app.screen).__name__ == "NewJobScreen"
        screen.query_one("#hp-batch_size", Input).value = "oops"
        await wait_for(lambda: "batch_size" in problems_text(app), pilot)
        screen.query_one("#hp-batch_size", Input).value = "8"
        await wait_for(lambda: "ready" in problems_text(app), pilot)
        await pilot.press("ctrl+s")
        assert "Billed by tokens" in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("y")
        await wait_for(lambda: len(server.state.jobs) == jobs_before + 1, pilot)
        await wait_for(lambda: app.screen.TITLE_TEXT == "Jobs", pilot)
        newest = max(server.state.jobs.values(), key=lambda j: j.created)
        assert newest.job_id in app.scheduler.jobs and newest.hyper_parameters["batch_size"] == 8
        assert service.store.pref("new-job")["qwen3-8b/sft"]["batch_size"] == 8


async def test_upload_on_the_spot_selects_the_new_file(form_app, tmp_path):
    app, server = form_app
    from bailian_tui.core.data.convert import convert_file

    converted = tmp_path / "spot.jsonl"
    convert_file(DATASETS / "MedQA/questions/Mainland/4_options/train.jsonl", converted)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_form(app, pilot)
        await pilot.press("ctrl+o")
        app.screen.query_one("#prompt-input", Input).value = str(converted)
        await pilot.press("enter")
        await wait_for(lambda: getattr(app.screen, "state", "") == "confirm", pilot)
        await pilot.press("y")
        await wait_for(lambda: getattr(app.screen, "state", "") == "done", pilot)
        await pilot.press("escape")
        form = app.screen
        await wait_for(lambda: len(form.files) == 4 and form.query_one("#job-train", Select).value != Select.NULL,
                       pilot)
        assert server.state.files[str(form.query_one("#job-train", Select).value)].name == "spot.jsonl"


async def test_demo_file_submits_with_recommended_values(form_app, tmp_path):
    """The demo path: the shipped MedQA sample, converted and uploaded; ctrl+r fits batch_size to its 20
    records (16 after the split), the preview shows the dashscope line, the file id is on screen."""
    app, server = form_app
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
        await wait_for(lambda: "must be more than batch_size 16" in problems_text(app), pilot)
        assert uploaded.file.file_id in str(screen.query_one("#job-file-info").render())
        await pilot.press("ctrl+r")
        await wait_for(lambda: "ready" in problems_text(app), pilot)
        assert screen.query_one("#hp-batch_size", Input).value == "8"
        await pilot.press("ctrl+t")
        preview = screen.query_one("#job-preview")
        assert screen.focused is preview and "dashscope" in str(screen.query_one("#job-preview-text").render())
        await pilot.press("end")
        assert preview.scroll_y == preview.max_scroll_y
        await pilot.press("escape")  # closes the preview, stays on the form
        assert preview.has_class("hidden") and app.screen is screen
        jobs_before = len(server.state.jobs)
        await pilot.press("ctrl+s", "y")
        await wait_for(lambda: len(server.state.jobs) == jobs_before + 1, pilot)


async def test_typed_values_survive_a_type_switch(form_app):
    app, _ = form_app
    async with app.run_test(size=(120, 40)) as pilot:
        await open_form(app, pilot)
        screen = app.screen
        screen.query_one("#hp-n_epochs", Input).value = "5"
        screen.query_one("#hp-learning_rate", Input).value = "3e-6"
        screen.query_one("#job-type", Select).value = "efficient_sft"
        await wait_for(lambda: screen.query_one("#row-lora_rank").display, pilot)
        assert screen.query_one("#hp-n_epochs", Input).value == "5"  # kept: still valid
        assert screen.query_one("#hp-learning_rate", Input).value == "0.0001"  # reset: off the LoRA order
        help_text = str(screen.query_one("#job-help").render())
        assert "kept n_epochs" in help_text and "reset learning_rate" in help_text


async def test_deploy_plan_follows_the_training_type(form_app):
    app, server = form_app
    async with app.run_test(size=(120, 40)) as pilot:
        await app.service()
        await pilot.press("p")
        await wait_for(lambda: app.screen.TITLE_TEXT == "Deployments", pilot)
        await pilot.press("D")
        select = app.screen.query_one("#deploy-model", Select)
        await wait_for(lambda: select.value != Select.NULL, pilot)
        types = {j.finetuned_output: j.training_type for j in server.state.jobs.values() if j.status == "SUCCEEDED"}
        for model, training_type in types.items():
            select.value = model
            await pilot.pause()
            plan = app.screen.query_one("#deploy-plan", Select).value
            assert plan == ("lora" if training_type in ("efficient_sft", "dpo_lora") else ""), (model, training_type)


CASES = [  # (training type, values typed into the form): what the form shows, jobs create must do the same
    ("sft", {"batch_size": "16"}),  # 20 samples → 16 after the validation split: not more than batch_size
    ("sft", {"learning_rate": "0.01"}),  # off the full-parameter order
    ("sft", {"n_epochs": "0"}),  # out of range
    ("sft", {"data_augmentation": "true", "augmentation_types": ""}),  # mixed training with no type
    ("efficient_sft", {"learning_rate": "1e-6"}),  # off the LoRA order
    ("sft", {"batch_size": "8", "learning_rate": "1e-5"}),  # fine: both accept
]


def typed_in_form(screen, training_type: str) -> dict[str, str]:
    """Every field the form shows for this model and type, as the person sees it (text)."""
    return {p.name: screen.query_one(f"#hp-{p.name}", Input).value for p in PARAMS
            if p.applies_to(training_type, screen.model())}


async def test_jobs_create_refuses_what_the_form_refuses(form_app, tmp_path):
    """The same request, typed into the form and written as job.yaml for `jobs create`: the same verdict."""
    import os
    import subprocess
    import sys

    import yaml

    from bailian_tui.core.data.convert import convert_file
    from bailian_tui.simulator.demo import DEMO_KEY
    from tests.conftest import ROOT

    app, server = form_app
    converted = tmp_path / "train.jsonl"
    convert_file(DATASETS / "MedQA/questions/Mainland/4_options/train.jsonl", converted)  # 20 samples
    env = {**os.environ, "DASHSCOPE_HTTP_BASE_URL": server.base_url, "DASHSCOPE_API_KEY": DEMO_KEY,
           "XDG_CONFIG_HOME": str(tmp_path / "cli-cfg"), "BAILIAN_TUI_STATE_DIR": str(tmp_path / "cli-state")}
    async with app.run_test(size=(120, 40)) as pilot:
        service = await app.service()
        uploaded = await service.upload(converted)
        await pilot.press("n")
        screen = app.screen
        await wait_for(lambda: screen.TITLE_TEXT == "New job" and len(screen.files) == 4, pilot)
        await settle(pilot, "job-params", "job-files", "job-count")
        screen.query_one("#job-train", Select).value = uploaded.file.file_id
        await wait_for(lambda: screen.samples == 20, pilot)
        verdicts = []
        for training_type, typed in CASES:
            screen.query_one("#job-type", Select).value = training_type
            await settle(pilot, "job-params")
            screen.action_defaults()
            for name, value in typed.items():
                screen.query_one(f"#hp-{name}", Input).value = value
            await settle(pilot)
            _, problems = screen.request()
            form_refuses = sorted({p.field for p in problems if p.blocking})
            spec = tmp_path / f"job-{len(verdicts)}.yaml"
            spec.write_text(yaml.safe_dump({"model": screen.model(), "training_type": training_type,
                                            "training_files": [str(converted)],
                                            "hyper_parameters": typed_in_form(screen, training_type)}),
                            encoding="utf-8")
            done = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "bailian_tui", "jobs", "create", str(spec)],
                capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
            cli_refuses = sorted({line.split(": error: ", 1)[1].split(":", 1)[0]
                                  for line in done.stderr.splitlines() if ": error: " in line})
            assert "Traceback" not in done.stderr
            assert cli_refuses == form_refuses, (training_type, typed, done.stderr)
            if form_refuses:
                assert done.returncode == 1 and "pass --yes" not in done.stderr
            else:
                assert "pass --yes" in done.stderr  # accepted; only the confirmation is missing
            verdicts.append(bool(form_refuses))
    assert verdicts == [True, True, True, True, True, False]


def queue_keys(app, *keys: str) -> None:
    """Keys typed before the app has answered the first: all queued at once."""
    from textual import events

    for key in keys:
        app.post_message(events.Key(key, key if len(key) == 1 else None))


async def test_keys_pressed_on_arrival_find_the_whole_form(form_app):
    """At 80×24 the form's first frame holds only the rows that fit; the rest mount after it, a few per frame.
    A key pressed at once on arrival — Tab from the last row of that first frame — goes to the next field below
    the fold, in order (not back to the top), and what is typed there is checked like any field."""
    from textual import events

    app, _ = form_app
    fields = [p.name for p in PARAMS if p.applies_to("sft", "qwen3-8b")]
    arrival: dict = {}

    def on_arrival() -> None:  # the first frame is on screen: focus its last field and press Tab
        screen = app.screen
        shown = [box.id.removeprefix("hp-") for box in screen.query(Input) if box.id.startswith("hp-")]
        screen.set_focus(screen.query_one(f"#hp-{shown[-1]}", Input))
        arrival.update(shown=shown, complete=screen.form_complete, focused=screen.focused)
        queue_keys(app, "tab")

    def hook(message) -> None:
        screen = app.screen_stack[-1] if app.screen_stack else None
        if type(screen).__name__ == "NewJobScreen" and isinstance(message, events.ScreenResume) and not arrival:
            arrival["resumed"] = True
            screen.call_after_refresh(on_arrival)

    async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
        await app.service()
        await pilot.press("n")
        await wait_for(lambda: "shown" in arrival, pilot)
        screen = app.screen
        await settle(pilot, "job-rows", "job-params", "job-files", "job-count")
        shown = arrival["shown"]
        assert not arrival["complete"] and len(shown) < len(fields)  # the Tab came before the rest was mounted
        assert shown == fields[:len(shown)]
        assert screen.form_complete and [b.id for b in screen.query(Input) if b.id.startswith("hp-")][:len(fields)]
        below = screen.query_one(f"#hp-{fields[len(shown)]}", Input)
        assert screen.focused is below  # the next field, below the fold
        await pilot.press("ctrl+a", "x")  # Input: select all, replace
        await wait_for(lambda: below.id.removeprefix("hp-") in problems_text(app), pilot)  # checked as typed
