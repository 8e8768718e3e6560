"""Local state in SQLite (WAL): uploads by content hash, the jobs we created and from what, the watch list.

Every remote write is recorded here first as an intent, then completed with the result, so that a crash
or a timeout between the two can be reconciled with what the server holds. Rows are scoped by
``endpoint`` (the base URL) so that a simulator's ids never mix with the real service's.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    id INTEGER PRIMARY KEY,
    endpoint TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    file_id TEXT NOT NULL,
    uploaded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_by_hash ON uploads(endpoint, sha256);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    endpoint TEXT NOT NULL,
    request TEXT NOT NULL,
    dataset TEXT,
    state TEXT NOT NULL,          -- intent | created | failed
    job_id TEXT,
    error TEXT,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_id ON jobs(endpoint, job_id);
CREATE TABLE IF NOT EXISTS watch (
    endpoint TEXT NOT NULL,
    job_id TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (endpoint, job_id)
);
CREATE TABLE IF NOT EXISTS local_runs (   -- runs on this machine (core.local): the folder holds the rest
    profile TEXT NOT NULL,
    name TEXT NOT NULL,
    run_dir TEXT NOT NULL,
    recipe TEXT,
    pid INTEGER,
    start_ticks INTEGER,          -- /proc/PID/stat field 22: tells our process from a later one with its PID
    started_at TEXT,
    adopted INTEGER NOT NULL DEFAULT 0,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (profile, name)
);
CREATE TABLE IF NOT EXISTS intents (
    id INTEGER PRIMARY KEY,
    endpoint TEXT NOT NULL,
    kind TEXT NOT NULL,           -- job | upload | deployment
    key TEXT NOT NULL,            -- what makes two requests "the same" (request body, file hash…)
    request TEXT NOT NULL,        -- what is needed to find the result later (name, size, ids seen before…)
    state TEXT NOT NULL,          -- pending | created | failed | unknown | absent
    result_id TEXT,
    error TEXT,
    at REAL NOT NULL              -- unix time the create was sent
);
CREATE INDEX IF NOT EXISTS intents_by_key ON intents(endpoint, kind, key, state);
CREATE TABLE IF NOT EXISTS prefs (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")


@dataclass(frozen=True)
class Upload:
    path: str
    sha256: str
    size: int
    file_id: str
    uploaded_at: str


@dataclass(frozen=True)
class JobRecord:
    intent_id: int
    request: dict
    dataset: str | None
    state: str
    job_id: str | None
    error: str | None
    recorded_at: str


@dataclass(frozen=True)
class LocalRunRecord:
    name: str
    run_dir: str
    recipe: str | None
    pid: int | None
    start_ticks: int | None
    started_at: str | None
    adopted: bool


@dataclass(frozen=True)
class Intent:
    """A billed create written down before it was sent; ``state`` says what became of it."""

    intent_id: int
    kind: str
    key: str
    request: dict
    state: str
    result_id: str | None
    error: str | None
    at: float

    @property
    def open(self) -> bool:
        """Not known to have made something nor to have made nothing."""
        return self.state in ("pending", "unknown")


class Store:
    def __init__(self, path: str | Path, endpoint: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.endpoint = endpoint
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, args: tuple = ()) -> int:
        with self._lock:
            with self._db:  # one transaction per write: all of it lands or none of it does
                return self._db.execute(sql, args).lastrowid or 0

    def _rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- uploads ---------------------------------------------------------------------------------------

    def record_upload(self, path: str | Path, sha256: str, size: int, file_id: str) -> None:
        self._write("INSERT INTO uploads(endpoint, path, sha256, size, file_id, uploaded_at) VALUES (?,?,?,?,?,?)",
                    (self.endpoint, str(Path(path).resolve()), sha256, size, file_id, _now()))

    def uploads_of(self, sha256: str) -> list[Upload]:
        rows = self._rows("SELECT path, sha256, size, file_id, uploaded_at FROM uploads "
                          "WHERE endpoint=? AND sha256=? ORDER BY id DESC", (self.endpoint, sha256))
        return [Upload(*row) for row in rows]

    def upload_for_file_id(self, file_id: str) -> Upload | None:
        rows = self._rows("SELECT path, sha256, size, file_id, uploaded_at FROM uploads "
                          "WHERE endpoint=? AND file_id=? ORDER BY id DESC LIMIT 1", (self.endpoint, file_id))
        return Upload(*rows[0]) if rows else None

    def all_uploads(self) -> list[Upload]:
        rows = self._rows("SELECT path, sha256, size, file_id, uploaded_at FROM uploads WHERE endpoint=? "
                          "ORDER BY id DESC", (self.endpoint,))
        return [Upload(*row) for row in rows]

    def forget_upload(self, file_id: str) -> None:
        self._write("DELETE FROM uploads WHERE endpoint=? AND file_id=?", (self.endpoint, file_id))

    # -- jobs ------------------------------------------------------------------------------------------

    def job_intent(self, request: dict, dataset: str | None) -> int:
        return self._write("INSERT INTO jobs(endpoint, request, dataset, state, recorded_at) VALUES (?,?,?,?,?)",
                           (self.endpoint, json.dumps(request, ensure_ascii=False), dataset, "intent", _now()))

    def job_created(self, intent_id: int, job_id: str) -> None:
        self._write("UPDATE jobs SET state='created', job_id=?, error=NULL WHERE id=?", (job_id, intent_id))

    def job_failed(self, intent_id: int, error: str) -> None:
        self._write("UPDATE jobs SET state='failed', error=? WHERE id=?", (error, intent_id))

    def job_records(self) -> list[JobRecord]:
        rows = self._rows("SELECT id, request, dataset, state, job_id, error, recorded_at FROM jobs "
                          "WHERE endpoint=? ORDER BY id DESC", (self.endpoint,))
        return [JobRecord(r[0], json.loads(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]

    def dataset_of(self, job_id: str) -> str | None:
        rows = self._rows("SELECT dataset FROM jobs WHERE endpoint=? AND job_id=? LIMIT 1", (self.endpoint, job_id))
        return rows[0][0] if rows else None

    # -- intents of billed creates (jobs, uploads, deployments) ------------------------------------------

    def intent(self, kind: str, key: str, request: dict) -> int:
        import time

        return self._write("INSERT INTO intents(endpoint, kind, key, request, state, at) VALUES (?,?,?,?,?,?)",
                           (self.endpoint, kind, key, json.dumps(request, ensure_ascii=False), "pending",
                            time.time()))

    def settle(self, intent_id: int, state: str, result_id: str | None = None, error: str | None = None) -> None:
        self._write("UPDATE intents SET state=?, result_id=?, error=? WHERE id=?", (state, result_id, error, intent_id))

    def open_intents(self, kind: str | None = None, key: str | None = None) -> list[Intent]:
        sql = "SELECT id, kind, key, request, state, result_id, error, at FROM intents WHERE endpoint=? " \
              "AND state IN ('pending', 'unknown')"
        args: list = [self.endpoint]
        if kind is not None:
            sql += " AND kind=?"
            args.append(kind)
        if key is not None:
            sql += " AND key=?"
            args.append(key)
        rows = self._rows(sql + " ORDER BY id", tuple(args))
        return [Intent(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7]) for r in rows]

    def intents(self) -> list[Intent]:
        rows = self._rows("SELECT id, kind, key, request, state, result_id, error, at FROM intents "
                          "WHERE endpoint=? ORDER BY id", (self.endpoint,))
        return [Intent(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7]) for r in rows]

    # -- watch list ------------------------------------------------------------------------------------

    def watch(self, job_id: str) -> None:
        self._write("INSERT OR IGNORE INTO watch(endpoint, job_id, added_at) VALUES (?,?,?)",
                    (self.endpoint, job_id, _now()))

    def unwatch(self, job_id: str) -> None:
        self._write("DELETE FROM watch WHERE endpoint=? AND job_id=?", (self.endpoint, job_id))

    def watched(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT job_id FROM watch WHERE endpoint=? ORDER BY added_at",
                                         (self.endpoint,))]

    # -- local runs (not scoped by endpoint: they live on this machine, under a local profile) ---------------

    def record_local_run(self, profile: str, name: str, run_dir: str | Path, *, recipe: str | None = None,
                         pid: int | None = None, start_ticks: int | None = None, started_at: str | None = None,
                         adopted: bool = False) -> None:
        self._write("INSERT INTO local_runs(profile, name, run_dir, recipe, pid, start_ticks, started_at, adopted, "
                    "recorded_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(profile, name) DO UPDATE SET "
                    "run_dir=excluded.run_dir, recipe=excluded.recipe, pid=excluded.pid, "
                    "start_ticks=excluded.start_ticks, started_at=excluded.started_at, adopted=excluded.adopted",
                    (profile, name, str(run_dir), recipe, pid, start_ticks, started_at, int(adopted), _now()))

    def local_runs(self, profile: str) -> list[LocalRunRecord]:
        rows = self._rows("SELECT name, run_dir, recipe, pid, start_ticks, started_at, adopted FROM local_runs "
                          "WHERE profile=? ORDER BY recorded_at DESC, name", (profile,))
        return [LocalRunRecord(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6])) for r in rows]

    def forget_local_run(self, profile: str, name: str) -> None:
        self._write("DELETE FROM local_runs WHERE profile=? AND name=?", (profile, name))

    # -- preferences (last-used form values…) -----------------------------------------------------------

    def set_pref(self, key: str, value: Any) -> None:
        self._write("INSERT INTO prefs(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (key, json.dumps(value, ensure_ascii=False)))

    def pref(self, key: str, default: Any = None) -> Any:
        rows = self._rows("SELECT value FROM prefs WHERE key=?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def integrity_ok(self) -> bool:
        return self._rows("PRAGMA integrity_check")[0][0] == "ok"
