"""Simulated time: real time scaled by ``speed``, or frozen and moved only by :meth:`advance` (tests)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta


class SimClock:
    def __init__(self, *, start: datetime | None = None, speed: float = 1.0, manual: bool = False) -> None:
        self.start = (start or datetime.now()).replace(microsecond=0)
        self.speed, self.manual = speed, manual
        self._t0 = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def t(self) -> float:
        """Seconds of simulated time since ``start``."""
        with self._lock:
            running = 0.0 if self.manual else (time.monotonic() - self._t0) * self.speed
            return self._offset + running

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def at(self, t: float) -> datetime:
        return self.start + timedelta(seconds=t)

    def stamp(self, t: float) -> str:
        """``2024-10-29 17:03:47`` as job and file objects show times."""
        return self.at(t).strftime("%Y-%m-%d %H:%M:%S")

    def log_stamp(self, t: float) -> str:
        """``2024-10-29 17:03:47,719`` as the training log's INFO lines show times."""
        moment = self.at(t)
        return moment.strftime("%Y-%m-%d %H:%M:%S") + f",{moment.microsecond // 1000:03d}"
