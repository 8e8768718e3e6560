"""A job's whole log: follow mode, search, save to a file. Lines arrive incrementally, never re-downloaded."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Log, Static

from bailian_tui.tui.keymap import KEYMAP
from bailian_tui.core.errors import PlatformError
from bailian_tui.core.monitor import LogTail
from bailian_tui.tui.format import escape
from bailian_tui.tui.messages import JobPolled
from bailian_tui.tui.screens.base import BaseScreen
from bailian_tui.tui.screens.prompt import PromptScreen


class LogScreen(BaseScreen):
    TITLE_TEXT = "Log"
    BINDINGS = KEYMAP["log"]

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.follow = True
        self.needle = ""
        self.match_line = -1
        self.shown = 0

    def compose_body(self) -> ComposeResult:
        yield Static(f"[b]{escape(self.job_id)}[/] · follow on", id="log-info")
        yield Log(id="log", highlight=False, auto_scroll=True)

    def on_mount(self) -> None:
        self.app.job_listeners.add(self)
        self._load()

    def on_unmount(self) -> None:
        self.app.job_listeners.discard(self)

    def tail(self) -> LogTail:
        scheduler = self.app.scheduler
        watched = scheduler.jobs.get(self.job_id) if scheduler else None
        if watched is not None:
            return watched.tail
        if not hasattr(self, "_own_tail"):
            self._own_tail = LogTail(self.job_id)
        return self._own_tail

    @work(exclusive=True, group="log", exit_on_error=False)
    async def _load(self) -> None:
        service = await self.app.service()
        tail = self.tail()
        try:
            await self.app.call(tail.fetch(service.platform))
        except PlatformError as err:
            self.notify(err.human(), severity="error", timeout=10)
        self._append()

    @on(JobPolled)
    def _polled(self, message: JobPolled) -> None:
        if message.update.watched.job_id == self.job_id:
            self._append()

    def _append(self) -> None:
        tail = self.tail()
        log = self.query_one("#log", Log)
        # The tail keeps the newest lines only; show what arrived since the last look.
        fresh = tail.lines[-(tail.offset - self.shown):] if tail.offset > self.shown else []
        if fresh:
            log.write_lines(fresh, scroll_end=self.follow)
        self.shown = tail.offset
        self._info()

    def _info(self) -> None:
        state = "follow on" if self.follow else "follow off (F)"
        self.query_one("#log-info", Static).update(f"[b]{escape(self.job_id)}[/] · {self.shown:,} lines · {state}")

    def action_follow(self) -> None:
        self.follow = not self.follow
        log = self.query_one("#log", Log)
        log.auto_scroll = self.follow
        if self.follow:
            log.scroll_end(animate=False)
        self._info()

    def action_search(self) -> None:
        def go(answer: str | None) -> None:
            if answer:
                self.needle, self.match_line = answer, -1
                self.action_search_next()

        self.app.push_screen(PromptScreen("Find in the log", self.needle), go)

    def action_search_next(self) -> None:
        log = self.query_one("#log", Log)
        lines = log.lines
        for offset in range(1, len(lines) + 1):
            index = (self.match_line + offset) % len(lines) if lines else 0
            if self.needle and self.needle.lower() in lines[index].lower():
                self.match_line = index
                self.follow = False
                log.auto_scroll = False
                log.scroll_to(y=max(index - 2, 0), animate=False)
                self.query_one("#log-info", Static).update(
                    f"[b]{escape(self.job_id)}[/] · match at line {index + 1}")
                return
        self.notify(f"'{self.needle}' not found", severity="warning")

    def action_save(self) -> None:
        def save(answer: str | None) -> None:
            if not answer:
                return
            path = Path(answer).expanduser()
            try:
                path.write_text("\n".join(self.query_one("#log", Log).lines) + "\n", encoding="utf-8")
            except OSError as exc:
                self.notify(f"{path}: {exc.strerror}", severity="error")
                return
            self.notify(f"saved {self.shown:,} lines to {path}")

        self.app.push_screen(PromptScreen("Save the log to", f"{self.job_id}.log"), save)
