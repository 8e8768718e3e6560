"""Messages the app broadcasts to the screens that listen (past-tense facts)."""

from __future__ import annotations

from textual.message import Message

from bailian_tui.core.monitor import Glance, Update


class JobPolled(Message):
    """The scheduler polled a watched job (new status and/or new log lines)."""

    def __init__(self, update: Update) -> None:
        super().__init__()
        self.update = update


class JobGlanced(Message):
    """The scheduler glanced at a running job nobody watches (its latest progress and loss)."""

    def __init__(self, glance: Glance) -> None:
        super().__init__()
        self.glance = glance
