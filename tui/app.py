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
        super().__init__()
        self.settings, self.open_path = settings, open_path
        self.current_service = None
        self._core_ready = asyncio.Event()
        self.scheduler = None
        self.fleet = None
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
        from bailian_tui.core import fleet as fleet_mod
        from bailian_tui.core.config import ConfigError

        # Every profile of the config (one, "bailian", when it has no providers: list): one service and one
        # scheduler facade for the screens, each provider polled within its own request budget.
        try:
            self.fleet, self.current_service, self.scheduler = fleet_mod.for_app(
                self.settings, on_update=self._job_polled,
                on_throttle=lambda name, seconds: self._throttled(seconds, name))
        except ConfigError as err:
            self.connection_problem = str(err)
            return
        self.fleet.restore_watch_list()  # the watch lists survive restarts
        self._core_ready.set()
        self._run_scheduler()

    def profile_label(self, object_id: str) -> str:
        """The badge of the profile an id belongs to (empty with a single profile)."""
        fleet = getattr(self, "fleet", None)
        if fleet is None or len(fleet.members) < 2:
            return ""
        member = self.current_service.routing.member_for_id(object_id)
        return member.profile.badge or member.name

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
        self.connection_problem = update.watched.error or ""
        for listener in list(self.job_listeners):
            listener.post_message(JobPolled(update))

    def _throttled(self, seconds: float, provider: str = "") -> None:
        where = f"{provider} " if provider else ""
        self.connection_problem = f"{where}throttled (429): polling paused {seconds:.0f} s"

    def watch_job(self, job_id: str) -> None:
        self.fleet.watch(job_id)

    def deploy_job(self, job) -> None:
        """Offer to deploy a job's fine-tuned model (from the job list or the watch view)."""
        if job is None or job.status is not JobStatus.SUCCEEDED or not job.finetuned_output:
            self.notify("only a succeeded job's model can be deployed", severity="warning")
            return
        routing = getattr(self.current_service, "routing", None)
        if routing is not None and not routing.capabilities_for(job.job_id).deployments:
            from bailian_tui.tui.screens.chat import ChatScreen

            routing.models[job.finetuned_output] = routing.member_for_id(job.job_id).name
            self.notify(f"{job.finetuned_output} is served directly, with no deployment step: try it here "
                        "(Deployments lists it to evaluate)", timeout=8)
            self.push_screen(ChatScreen(job.finetuned_output))
            return
        from bailian_tui.tui.screens.deploy_form import DeployScreen

        self.push_screen(DeployScreen(job.finetuned_output))

    def unwatch_job(self, job_id: str) -> None:
        self.fleet.unwatch(job_id)

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
        from bailian_tui.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen(self.screen))

    async def on_unmount(self) -> None:
        if self.current_service is not None:
            await self.fleet.aclose()
