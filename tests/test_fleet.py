"""Two providers at once: one list of jobs, keys unique across providers, each within its own budget."""

from __future__ import annotations

import pytest

from bailian_tui.core import config
from bailian_tui.core.fleet import Fleet
from bailian_tui.core.platform import JobRequest
from bailian_tui.core.records import JobStatus
from bailian_tui.simulator import SimServer, SimState
from bailian_tui.simulator.openai_server import OpenAISimServer
from bailian_tui.simulator.openai_state import OpenAIState
from tests.conftest import TEST_KEY, no_sleep, write_chatml
from tests.test_monitor import FakeClock
from tests.test_openai_sim import openai_chat


@pytest.fixture
def two(clock, tmp_path):
    ds = SimServer(SimState(clock, api_key=TEST_KEY)).start()
    ds.state.config.epoch_seconds = 4.0
    ds.state.config.one_training_at_a_time = False
    oa = OpenAISimServer(OpenAIState(clock, api_key=TEST_KEY)).start()
    settings = config.load(env={"XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    settings.values["providers"] = [
        {"name": "bailian", "kind": "dashscope", "base_url": ds.base_url, "api_key": TEST_KEY,
         "requests_per_second": 2.0},
        {"name": "xpulink", "kind": "openai", "base_url": oa.base_url, "api_key": TEST_KEY,
         "requests_per_second": 1.0, "hyperparameters_form": "hyperparameters",
         "extra_hyperparameters": ["learning_rate", "lora_r", "lora_alpha", "lora_dropout"]},
    ]
    settings.values["paths.state_dir"] = str(tmp_path / "state")
    yield settings, ds, oa
    oa.stop()
    ds.stop()


async def test_a_mixed_watch_of_20_jobs_keeps_each_providers_budget(two, clock, tmp_path):
    settings, ds, oa = two
    fake = FakeClock(clock)
    fleet = Fleet(settings, clock=fake, sleep=fake.sleep, provider_kwargs={"sleep": no_sleep})
    bailian, xpulink = fleet.member("bailian"), fleet.member("xpulink")
    ds_file = (await bailian.service.upload(write_chatml(tmp_path / "d.jsonl"))).file
    oa_file = (await xpulink.service.upload(openai_chat(tmp_path / "o.jsonl"))).file
    keys = []
    for i in range(10):
        job = await bailian.service.create_job(JobRequest(model="qwen3-8b", training_file_ids=[ds_file.file_id],
                                                          hyper_parameters={"batch_size": 8, "n_epochs": 1}))
        keys.append(job.key)
        job = await xpulink.service.create_job(JobRequest(model="qwen3-32b", training_file_ids=[oa_file.file_id],
                                                          training_type="supervised",
                                                          hyper_parameters={"n_epochs": 1, "lora_r": 8}))
        keys.append(job.key)
    assert len(set(keys)) == 20 and sum(k.startswith("xpulink:") for k in keys) == 10
    fleet.restore_watch_list()  # created jobs are watched (stored), as after a restart
    before = {"bailian": ds.state.requests, "xpulink": oa.state.requests}
    end = fake.now + 60
    while fake.now < end:
        wait = await fleet.tick()
        if wait > 0:
            await fake.sleep(min(wait, 2.0))
    sent = {"bailian": ds.state.requests - before["bailian"], "xpulink": oa.state.requests - before["xpulink"]}
    assert sent["bailian"] <= 2.0 * 60 + 1 and sent["xpulink"] <= 1.0 * 60 + 1
    assert sent["bailian"] > 20 and sent["xpulink"] > 10  # both were really watched
    statuses = [w.job.status for m in fleet.members.values() for w in m.scheduler.jobs.values() if w.job]
    assert len(statuses) == 20 and JobStatus.SUCCEEDED in statuses
    rows = await fleet.job_rows()
    assert rows.errors == {} and len(rows.rows) == 20
    assert {r.job.provider for r in rows.rows} == {"bailian", "xpulink"} and all(r.ours for r in rows.rows)
    await fleet.aclose()


async def test_one_provider_down_still_lists_the_other(two, tmp_path):
    settings, ds, oa = two
    settings.values["providers"][1]["api_key"] = "sk-wrong-wrong-wrong"
    fleet = Fleet(settings, provider_kwargs={"sleep": no_sleep})
    rows = await fleet.job_rows()
    assert set(rows.errors) == {"xpulink"} and "HTTP 401" in rows.errors["xpulink"]
    member, job_id = fleet.resolve("xpulink:ftjob-x")
    assert member.name == "xpulink" and job_id == "ftjob-x"
    assert fleet.resolve("ft-123")[0].name == "bailian"  # a bare id is the default profile's
    await fleet.aclose()
