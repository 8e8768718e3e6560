"""A job's whole log: follow mode, search, save to a file. Lines arrive incrementally, never re-downloaded."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Log, Static

from bailian_tui.tui.keymap import KEYMAP
from bailian_tui.core.monitor import LogTail
from bailian_tui.tui.format import escape
from bailian_tui.tui.messages import JobPolled
from bailian_tui.tui.screens.base import BaseScreen
from bailian_tui.tui.screens.confirm import ConfirmScreen
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
        self.saved_to: Path | None = None

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
        tail = self.tail()
        await self.app.run_core(lambda service: tail.fetch(service.platform))
        self._append()  # what the tail holds, even when this fetch failed

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
        if not self.needle:
            self.notify("/ finds text first", severity="warning")
            return
        needle = self.needle.lower()
        for offset in range(1, len(lines) + 1):
            index = (self.match_line + offset) % len(lines)
            if needle in lines[index].lower():
                wrapped = self.match_line >= 0 and index <= self.match_line
                self.match_line = index
                self.follow = False
                log.auto_scroll = False
                log.scroll_to(y=max(index - 2, 0), animate=False)
                where = f"match at line {index + 1:,}"
                if wrapped:  # past the last match: say so, or it looks like a new one
                    where += " · search wrapped to the top"
                    self.notify(f"search wrapped to the top: '{self.needle}' at line {index + 1:,}")
                self.query_one("#log-info", Static).update(f"[b]{escape(self.job_id)}[/] · {escape(where)}")
                return
        self.notify(f"'{self.needle}' not found", severity="warning")

    def save_folder(self) -> Path:
        """Where logs go unless a path says otherwise: the state folder's logs/, never the current directory."""
        return self.app.settings.state_dir / "logs"

    def action_save(self) -> None:
        folder = self.save_folder()

        def chosen(answer: str | None) -> None:
            if not answer or not answer.strip():
                return
            path = Path(answer.strip()).expanduser()
            if not path.is_absolute():
                path = folder / path  # a bare name lands next to the other saved logs
            if path.is_dir():
                path = path / f"{self.job_id}.log"
            if path.exists():
                self.app.push_screen(ConfirmScreen(f"{escape(str(path))} exists. Replace it?", "Replace"),
                                     lambda yes: self._write(path) if yes else
                                     self.notify("not saved: the file is unchanged", severity="warning"))
            else:
                self._write(path)

        default = folder / f"{self.job_id}.log"
        self.app.push_screen(PromptScreen("Save the log to (a bare name goes into " + str(folder) + ")",
                                          str(default)), chosen)

    def _write(self, path: Path) -> None:
        lines = list(self.query_one("#log", Log).lines)
        temporary = path.with_name(f".{path.name}.part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
            temporary.replace(path)  # all or nothing: never half a file under the name
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            self.notify(f"not saved: {path}: {exc.strerror or exc}", severity="error", timeout=15)
            return
        self.saved_to = path
        self.notify(f"saved {len(lines):,} lines to {path}", timeout=15)
