"""The Textual app: thin. It owns the settings and the connection to the core; screens own the rest."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Awaitable, TypeVar

from textual import work
from textual.app import App
from textual.reactive import reactive

from bailian_tui.core.config import Settings
from bailian_tui.core.errors import PlatformError
from bailian_tui.core.records import JobStatus
from bailian_tui.tui.commands import AppCommands
from bailian_tui.tui.keymap import KEYMAP, PLACES

T = TypeVar("T")


def _screen(module: str, name: str):
    from importlib import import_module

    return getattr(import_module(f"bailian_tui.tui.screens.{module}"), name)


class BailianApp(App):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses may live anywhere
    TITLE = "bailian-tui"
    COMMANDS = App.COMMANDS | {AppCommands}
    # Screens are imported on first visit: the first frame needs only the Jobs screen.
    MODES = {"datasets": lambda: _screen("datasets", "DatasetsScreen")(),
             "files": lambda: _screen("files", "FilesScreen")(),
             "new-job": lambda: _screen("new_job", "NewJobScreen")(),
             "jobs": lambda: _screen("jobs", "JobsScreen")(),
             "deployments": lambda: _screen("deployments", "DeploymentsScreen")()}
    DEFAULT_MODE = "jobs"
    PLACES = PLACES
    BINDINGS = KEYMAP["app"]

    connection_problem: reactive[str] = reactive("")

    def __init__(self, settings: Settings, open_path: Path | None = None) -> None:
        if open_path is not None:
            # `bailian-tui FILE` starts on Datasets: composing the job list first only to leave it cost ~0.3 s.
            self.DEFAULT_MODE = "datasets"
        super().__init__()
        self.settings, self.open_path = settings, open_path
        self.current_service = None
        self._core_ready = asyncio.Event()
        self._core_started = False
        self.scheduler = None
        self.job_listeners: set = set()

    @property
    def service_ready(self) -> bool:
        return self.current_service is not None

    def on_mount(self) -> None:
        self._end_on_signals()
        if not self.settings.api_key:  # say so at once, before anything tries the network
            from bailian_tui.tui.screens.no_key import NoKeyScreen

            self.push_screen(NoKeyScreen(self.settings))

    def first_screen_painted(self) -> None:
        """Start loading the SDK and the tokenizer once the first frame is on screen: their imports hold the
        GIL, so started earlier they would delay that frame by half a second."""
        if not self._core_started:
            self._core_started = True
            self._load_core()

    def _end_on_signals(self) -> None:
        """SIGINT/SIGTERM/SIGHUP (a dropped SSH connection) end the app the normal way — terminal restored,
        exit code 128 + signal (docs/signals.md). Not in headless runs (Pilot tests)."""
        import signal
        import threading

        if self.is_headless or threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            signum = getattr(signal, name, None)
            if signum is None or signal.getsignal(signum) == signal.SIG_IGN:
                continue  # ignored by whoever started us (nohup, a background job): keep it so
            try:
                loop.add_signal_handler(signum, self.exit, None, 128 + signum)
            except (NotImplementedError, RuntimeError, ValueError):
                continue

    def datasets_root(self) -> Path:
        """The browser's folder: PATH from the command line, else paths.datasets_dir, else the samples."""
        from bailian_tui.simulator.demo import datasets_root

        if self.open_path is not None:
            return self.open_path if self.open_path.is_dir() else self.open_path.parent
        configured = self.settings.get("paths.datasets_dir")
        return Path(configured).expanduser() if configured else datasets_root()

    @work(thread=True, group="startup", exit_on_error=False)
    def _load_core(self) -> None:
        # Importing the SDK takes ~0.5 s and loading the tokenizer ~0.3 s: both happen here, off the event
        # loop, so neither the first frame nor the first preview waits for them.
        import dashscope.v2  # noqa: F401

        self.call_from_thread(self._connect)
        from bailian_tui.core.data import tokens

        tokens.encoding()

    def _connect(self) -> None:
        from bailian_tui.core.platform import Platform
        from bailian_tui.core.service import Service
        from bailian_tui.core.store import Store

        from bailian_tui.core.monitor import Scheduler

        store = Store(self.settings.state_dir / "state.db", endpoint=self.settings.base_url or "default")
        self.current_service = Service(Platform.from_settings(self.settings), store)
        self.scheduler = Scheduler(self.current_service.platform,
                                   requests_per_second=self.settings.get("polling.requests_per_second"),
                                   on_update=self._job_polled, on_throttle=self._throttled,
                                   on_glance=self._job_glanced)
        for job_id in store.watched():  # the watch list survives restarts
            self.scheduler.watch(job_id)
        self._core_ready.set()
        self._run_scheduler()
        if store.open_intents():  # only when a crash or a kill left a create open
            self._settle_intents()

    @work(group="intents", exit_on_error=False)
    async def _settle_intents(self) -> None:
        """Creates left open by a crash or a kill: find what they made, in the background, and say so."""
        try:
            messages = await self.current_service.reconcile_intents()
        except PlatformError:
            return  # the next identical create settles them first anyway
        for message in messages:
            self.notify(message, title="interrupted create", timeout=15)

    @work(group="scheduler", exit_on_error=False)
    async def _run_scheduler(self) -> None:
        await self.scheduler.run()

    def _job_polled(self, update) -> None:
        from bailian_tui.tui.messages import JobPolled

        if update.finished_now:
            job = update.watched.job
            self.bell()
            if job.status is JobStatus.SUCCEEDED:
                self.notify(f"{job.job_id} succeeded → {job.finetuned_output}", title="job finished", timeout=15)
            else:
                self.notify(f"{job.job_id} {job.status.value}: {job.message or ''}", title="job finished",
                            severity="error" if job.status is JobStatus.FAILED else "warning", timeout=15)
        if update.watched.error_kind != "job":  # one job's 404 marks that job, not the connection
            self.connection_problem = update.watched.error or ""
        for listener in list(self.job_listeners):
            listener.post_message(JobPolled(update))

    def _job_glanced(self, glance) -> None:
        from bailian_tui.tui.messages import JobGlanced

        for listener in list(self.job_listeners):
            listener.post_message(JobGlanced(glance))

    def _throttled(self, seconds: float) -> None:
        self.connection_problem = f"throttled (429): polling paused {seconds:.0f} s"

    def watch_job(self, job_id: str) -> None:
        self.scheduler.watch(job_id)
        self.current_service.store.watch(job_id)

    def deploy_job(self, job) -> None:
        """Offer to deploy a job's fine-tuned model (from the job list or the watch view)."""
        if job is None or job.status is not JobStatus.SUCCEEDED or not job.finetuned_output:
            self.notify("only a succeeded job's model can be deployed", severity="warning")
            return
        from bailian_tui.tui.screens.deploy_form import DeployScreen

        self.push_screen(DeployScreen(job.finetuned_output))

    def unwatch_job(self, job_id: str) -> None:
        self.scheduler.unwatch(job_id)
        self.current_service.store.unwatch(job_id)

    async def service(self):
        if not self.settings.api_key:  # nothing to connect with: fail at once, never retry for seconds
            raise PlatformError("no API key: set DASHSCOPE_API_KEY, or run bailian-tui --demo", code="NoApiKey")
        await self._core_ready.wait()
        return self.current_service

    async def call(self, operation: Awaitable[T]) -> T:
        """Run a core call and keep the connection line honest: offline while calls fail, back when one works."""
        try:
            result = await operation
        except PlatformError as err:
            if err.connection_lost or (err.status or 0) >= 500 or err.status in (401, 403):
                self.connection_problem = err.human()
            raise
        self.connection_problem = ""
        return result

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = True) -> None:
        """Every notification carries names, ids or errors from a server: shown as plain text, never as markup.

        ``markup`` is ignored on purpose (``Widget.notify`` always passes True): no notification of the app
        uses markup, and a server's ``[/]`` must not crash it nor a ``[link=…]`` turn into a link.
        """
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def action_help(self) -> None:
        from bailian_tui.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen(self.screen))

    async def on_unmount(self) -> None:
        if self.current_service is not None:
            await self.current_service.platform.aclose()
            self.current_service.store.close()
