"""Background imports that step aside while the user is pressing keys.

The app loads the SDKs, opens the providers and imports the places' screens in a worker thread after the first
frame (`BailianApp._load_core`): ~1–1.5 s of Python that holds the GIL. A key pressed meanwhile got the GIL only
in turns (Python hands it over every 5 ms switch interval), so a 15 ms move in the record list took 35–140 ms —
in tmux traces of `bailian-tui BIG.jsonl`, every move slower than 35 ms fell in that second of loading, and every
move after it took 18–20 ms.

An import is made of many small module imports. `ImportYield` wraps the `import` statement: in the threads that
enter it, an import of a module not loaded yet first waits while the user is active (a key, a click or a scroll
in the last `quiet` seconds): the loading pauses between modules and resumes once the keys stop. Other threads
pay one function call per `import` statement. It gives up waiting after `most` seconds in all, so a key held
down for ever delays the SDK by at most that much. (Not an import-system finder: finders are asked under the
interpreter's global import lock, so a finder that waits would stop every other thread's imports — the event
loop's included — for as long.)
"""

from __future__ import annotations

import builtins
import sys
import threading
import time
from contextlib import contextmanager


class ImportYield:
    def __init__(self, quiet: float = 0.2, most: float = 5.0) -> None:
        self.quiet = quiet  # the user is active until this long after their last input
        self.most = most  # the longest the imports wait in all
        self.waited = 0.0  # how long they have waited so far
        self._last_input = float("-inf")  # time.monotonic() of the last key, click or scroll
        self._threads: set[int] = set()
        self._installed = 0
        self._lock = threading.Lock()
        self._original = builtins.__import__

    def user_input(self) -> None:
        """Called on the event loop for every key, click and scroll."""
        self._last_input = time.monotonic()

    def stop_waiting(self) -> None:
        """From now on no import waits (the app is ending)."""
        self.most = 0.0

    @property
    def active_until(self) -> float:
        """When the user stops counting as active (time.monotonic()), if no other input comes."""
        return self._last_input + self.quiet

    @contextmanager
    def applied(self):
        """Imports made in this thread inside the block wait while the user is active."""
        ident = threading.get_ident()
        with self._lock:
            self._threads.add(ident)
            if not self._installed:
                self._original = builtins.__import__
                builtins.__import__ = self._import
            self._installed += 1
        try:
            yield self
        finally:
            with self._lock:
                self._threads.discard(ident)
                self._installed -= 1
                if not self._installed and builtins.__import__ == self._import:
                    builtins.__import__ = self._original

    @property
    def installed(self) -> bool:
        return builtins.__import__ == self._import

    def _import(self, name, globals=None, locals=None, fromlist=(), level=0):
        if name not in sys.modules and threading.get_ident() in self._threads:
            self._wait()
        return self._original(name, globals, locals, fromlist, level)

    def _wait(self) -> None:
        while self.waited < self.most:
            left = self.active_until - time.monotonic()
            if left <= 0:
                return
            pause = min(left, self.most - self.waited)
            time.sleep(pause)  # releases the GIL: the key's handler and its frame run meanwhile
            self.waited += pause
