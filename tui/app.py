"""The Textual app: thin. It owns the settings and the connection to the core; screens own the rest."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Awaitable, TypeVar

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive

from bailian_tui.core.config import Settings
from bailian_tui.core.errors import PlatformError
from bailian_tui.tui.commands import AppCommands
from bailian_tui.tui.screens.files import FilesScreen
from bailian_tui.tui.screens.help import HelpScreen
from bailian_tui.tui.screens.jobs import JobsScreen
from bailian_tui.tui.screens.datasets import DatasetsScreen
from bailian_tui.tui.screens.new_job import NewJobScreen
from bailian_tui.tui.screens.deployments import DeploymentsScreen

T = TypeVar("T")


class BailianApp(App):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses may live anywhere
    TITLE = "bailian-tui"
    COMMANDS = App.COMMANDS | {AppCommands}
    MODES = {"datasets": DatasetsScreen, "files": FilesScreen, "new-job": NewJobScreen, "jobs": JobsScreen,
             "deployments": DeploymentsScreen}
    DEFAULT_MODE = "jobs"
    PLACES = {  # mode: (key, title, what it is for)
        "datasets": ("d", "Datasets", "browse local data, preview its conversion, validate, upload"),
        "files": ("f", "Files", "remote files, quota, delete"),
        "new-job": ("n", "New job", "hyperparameters and job creation"),
        "jobs": ("j", "Jobs", "every job, live"),
        "deployments": ("p", "Deployments", "deploy, scale, try, evaluate"),
    }
    BINDINGS = [
        *[Binding(key, f"switch_mode('{mode}')", title, id=f"go-{mode}", tooltip=help_text)
          for mode, (key, title, help_text) in PLACES.items()],
        Binding("question_mark", "help", "Help", id="help", tooltip="Every key that works here"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Leave bailian-tui"),
    ]

    connection_problem: reactive[str] = reactive("")

    def __init__(self, settings: Settings, open_path: Path | None = None) -> None:
        super().__init__()
        self.settings, self.open_path = settings, open_path
        self.current_service = None
        self._core_ready = asyncio.Event()
        self.scheduler = None
        self.job_listeners: set = set()

    @property
    def service_ready(self) -> bool:
        return self.current_service is not None

    def on_mount(self) -> None:
        self._end_on_signals()
        if self.open_path is not None:
            self.switch_mode("datasets")
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
            if signum is None:
                continue
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
                                   on_update=self._job_polled, on_throttle=self._throttled)
        for job_id in store.watched():  # the watch list survives restarts
            self.scheduler.watch(job_id)
        self._core_ready.set()
        self._run_scheduler()

    @work(group="scheduler", exit_on_error=False)
    async def _run_scheduler(self) -> None:
        await self.scheduler.run()

    def _job_polled(self, update) -> None:
        from bailian_tui.tui.messages import JobPolled

        if update.finished_now:
            job = update.watched.job
            self.bell()
            if job.status.value == "SUCCEEDED":
                self.notify(f"{job.job_id} succeeded → {job.finetuned_output}", title="job finished", timeout=15)
            else:
                self.notify(f"{job.job_id} {job.status.value}: {job.message or ''}", title="job finished",
                            severity="error" if job.status.value == "FAILED" else "warning", timeout=15)
        self.connection_problem = update.watched.error or ""
        for listener in list(self.job_listeners):
            listener.post_message(JobPolled(update))

    def _throttled(self, seconds: float) -> None:
        self.connection_problem = f"throttled (429): polling paused {seconds:.0f} s"

    def watch_job(self, job_id: str) -> None:
        self.scheduler.watch(job_id)
        self.current_service.store.watch(job_id)

    def deploy_job(self, job) -> None:
        """Offer to deploy a job's fine-tuned model (from the job list or the watch view)."""
        if job is None or job.status.value != "SUCCEEDED" or not job.finetuned_output:
            self.notify("only a succeeded job's model can be deployed", severity="warning")
            return
        from bailian_tui.tui.screens.deploy_form import DeployScreen

        self.push_screen(DeployScreen(job.finetuned_output))

    def unwatch_job(self, job_id: str) -> None:
        self.scheduler.unwatch(job_id)
        self.current_service.store.unwatch(job_id)

    async def service(self):
        await self._core_ready.wait()
        return self.current_service

    async def call(self, operation: Awaitable[T]) -> T:
        """Run a core call and keep the connection line honest: offline while calls fail, back when one works."""
        try:
            result = await operation
        except PlatformError as err:
            if err.connection_lost or (err.status or 0) >= 500:
                self.connection_problem = err.human()
            raise
        self.connection_problem = ""
        return result

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.screen))

    async def on_unmount(self) -> None:
        if self.current_service is not None:
            await self.current_service.platform.aclose()
            self.current_service.store.close()
