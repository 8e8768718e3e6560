from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from bailian_tui.core.platform import JobRequest
from bailian_tui.core.service import Service
from bailian_tui.core.store import Store, sha256_of
from tests.conftest import ROOT, write_chatml


def test_round_trip_and_endpoint_scoping(tmp_path):
    store = Store(tmp_path / "s.db", endpoint="http://a")
    store.record_upload(tmp_path / "x.jsonl", "abc", 10, "file-1")
    store.watch("ft-1")
    intent = store.job_intent({"model": "qwen3-8b"}, "datasets/x.jsonl")
    store.job_created(intent, "ft-1")
    other = Store(tmp_path / "s.db", endpoint="http://b")
    assert other.uploads_of("abc") == [] and other.watched() == []
    assert [u.file_id for u in store.uploads_of("abc")] == ["file-1"]
    assert store.dataset_of("ft-1") == "datasets/x.jsonl" and store.watched() == ["ft-1"]
    store.set_pref("form", {"n_epochs": 3})
    assert store.pref("form") == {"n_epochs": 3}


WRITER = """
import sys
from bailian_tui.core.store import Store
store = Store(sys.argv[1], endpoint="e")
i = 0
while True:
    store.record_upload("/tmp/x", f"h{i}", i, f"f{i}")
    print(i, flush=True)
    i += 1
"""


def test_survives_being_killed_mid_write(tmp_path):
    db = tmp_path / "state.db"
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True,
                             cwd=ROOT)
    acknowledged = -1
    deadline = time.monotonic() + 30
    while acknowledged < 200 and time.monotonic() < deadline:
        acknowledged = int(child.stdout.readline())
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    store = Store(db, endpoint="e")
    assert store.integrity_ok()
    count = len(store.all_uploads())
    assert count >= acknowledged + 1  # every write the child reported as done is there


async def test_upload_dedupes_identical_content(platform, sim, tmp_path):
    service = Service(platform, Store(tmp_path / "s.db", endpoint=sim.base_url))
    first = await service.upload(write_chatml(tmp_path / "a.jsonl"))
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes((tmp_path / "a.jsonl").read_bytes())
    again = await service.upload(copy)
    assert again.reused and again.file.file_id == first.file.file_id and len(sim.state.files) == 1
    forced = await service.upload(copy, force=True)
    assert not forced.reused and len(sim.state.files) == 2
    await platform.delete_file(first.file.file_id)
    await platform.delete_file(forced.file.file_id)
    fresh = await service.upload(copy)  # the remote copies are gone: upload again, forget the stale ids
    assert not fresh.reused and len(sim.state.files) == 1
    assert sha256_of(copy) == fresh.sha256


async def test_job_intent_is_recorded_before_and_completed_after(platform, sim, tmp_path):
    store = Store(tmp_path / "s.db", endpoint=sim.base_url)
    service = Service(platform, store)
    remote = await service.upload(write_chatml(tmp_path / "a.jsonl"))
    job = await service.create_job(JobRequest(model="qwen3-8b", training_file_ids=[remote.file.file_id]),
                                   dataset=str(tmp_path / "a.jsonl"))
    (record,) = store.job_records()
    assert (record.state, record.job_id) == ("created", job.job_id)
    assert record.request["job_name"] == job.job_name
    assert store.watched() == [job.job_id]
    rows = await service.job_rows()
    assert rows[0].ours and rows[0].dataset.endswith("a.jsonl")
    with pytest.raises(Exception):
        await service.create_job(JobRequest(model="qwen3-8b", training_file_ids=["missing"]))
    assert store.job_records()[0].state == "failed" and "not found" in store.job_records()[0].error
