"""Deployments in the app: deploy → RUNNING on the simulator clock, scale, delete, try it, evaluate."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Select

from tests.test_app_demo import wait_for


def status_of(table: DataTable, key: str) -> str:
    return str(table.get_row_at(table.get_row_index(key))[2]).split()[-1]


async def test_deploy_scale_delete(manual_demo):
    app, server, clock = manual_demo
    async with app.run_test(size=(120, 40)) as pilot:
        await app.service()
        await pilot.press("p")
        table = app.screen.query_one("#deployments", DataTable)
        await wait_for(lambda: table.row_count == 1, pilot)
        await pilot.press("D")
        select = app.screen.query_one("#deploy-model", Select)
        await wait_for(lambda: select.value != Select.NULL, pilot)
        model = str(select.value)
        app.screen.query_one("#deploy-suffix", Input).value = "v2"
        await pilot.click("#deploy-go")
        assert "bills" in str(app.screen.query_one("#confirm-question").render()) or \
            "billed" in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("y")
        name = f"{model}-v2"
        await wait_for(lambda: name in server.state.deployments, pilot)
        screen = app.screen
        screen.action_refresh()
        await wait_for(lambda: table.row_count == 2 and status_of(table, name) == "PENDING", pilot)
        clock.advance(30)
        screen.action_refresh()
        await wait_for(lambda: status_of(table, name) == "RUNNING", pilot)
        table.move_cursor(row=table.get_row_index(name))
        await pilot.press("S")
        box = app.screen.query_one("#prompt-input", Input)
        box.value = "3"
        await pilot.press("enter")
        await wait_for(lambda: server.state.deployments[name].target_capacity == 3, pilot)
        clock.advance(10)
        screen.action_refresh()
        await wait_for(lambda: str(table.get_row_at(table.get_row_index(name))[3]) == "3", pilot)
        await pilot.press("delete")
        assert name in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("y")
        await wait_for(lambda: server.state.deployments.get(name) is None or
                       server.state.deployments[name].status == "DELETING", pilot)
        clock.advance(10)
        screen.action_refresh()
        await wait_for(lambda: table.row_count == 1, pilot)


async def test_try_it_chat_round_trip_and_errors_inline(manual_demo):
    app, server, clock = manual_demo
    async with app.run_test(size=(120, 40)) as pilot:
        await app.service()
        await pilot.press("p")
        table = app.screen.query_one("#deployments", DataTable)
        await wait_for(lambda: table.row_count == 1, pilot)
        await pilot.press("t")
        await pilot.press(*"你好", "enter")
        log = app.screen.query_one("#chat-log")
        await wait_for(lambda: len(log.children) == 2 and "…" != str(log.children[1].render()), pilot)
        await wait_for(lambda: "模拟" in str(log.children[1].render()), pilot)
        assert len(app.screen.history) == 2
        app.screen.query_one("#chat-model", Input).value = "no-such-model"
        app.screen.query_one("#chat-input", Input).focus()
        await pilot.press(*"hi", "enter")
        await wait_for(lambda: len(log.children) == 4 and "Model.NotExist" in str(log.children[3].render()), pilot)
        assert len(app.screen.history) == 2


async def test_evaluate_in_the_app(manual_demo, tmp_path):
    app, server, clock = manual_demo
    async with app.run_test(size=(120, 40)) as pilot:
        await app.service()
        await pilot.press("p")
        table = app.screen.query_one("#deployments", DataTable)
        await wait_for(lambda: table.row_count == 1, pilot)
        clock.advance(60)
        await pilot.press("e")
        raw = tmp_path / "MedQA" / "test.jsonl"
        raw.parent.mkdir(parents=True)
        import shutil

        from tests.conftest import DATASETS

        shutil.copy(DATASETS / "MedQA/questions/Mainland/4_options/test.jsonl", raw)
        app.screen.query_one("#eval-split", Input).value = str(raw)
        await pilot.click("#eval-run")
        scores = app.screen.query_one("#eval-scores", DataTable)
        await wait_for(lambda: scores.row_count == 2, pilot, timeout=20)
        assert [str(scores.get_row_at(i)[1]) for i in range(2)] == ["12", "12"]
        assert (tmp_path / "MedQA_BaiLian" / "test.jsonl").exists()  # converted on the way, input untouched


async def test_checkpoints_export_and_deploy_from_the_job_list(manual_demo):
    app, server, clock = manual_demo
    async with app.run_test(size=(120, 40)) as pilot:
        await app.service()
        table = app.screen.query_one("#jobs", DataTable)
        await wait_for(lambda: table.row_count == 7, pilot)
        succeeded = [i for i in range(table.row_count) if str(table.get_row_at(i)[2]).endswith("SUCCEEDED")]
        table.move_cursor(row=succeeded[-1])
        await pilot.press("K")
        ckpts = app.screen.query_one("#ckpt-table", DataTable)
        await wait_for(lambda: ckpts.row_count == 3, pilot)
        await pilot.press("E")
        await pilot.press("enter")
        job_id = app.screen.job_id
        await wait_for(lambda: any(j.exports for j in server.state.jobs.values()), pilot)
        clock.advance(10)
        await pilot.press("r")
        await wait_for(lambda: "SUCCEEDED" in str(ckpts.get_row_at(0)[3]), pilot)
        await pilot.press("D")
        select = app.screen.query_one("#deploy-model", Select)
        await wait_for(lambda: select.value == f"{job_id}-checkpoint-{str(ckpts.get_row_at(0)[1])}", pilot)
        await pilot.click("#deploy-go")
        await pilot.press("y")
        await wait_for(lambda: len(server.state.deployments) == 2, pilot)
