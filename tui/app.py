"""The Textual app: thin. It owns the settings and the connection to the core; screens own the rest."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

from textual import events, work
from textual.app import App
from textual.reactive import reactive

from bailian_tui.core.config import Settings
from bailian_tui.core.errors import OutcomeUnknown, PlatformError
from bailian_tui.core.records import JobStatus
from bailian_tui.tui.failures import FAILED, Failed, passing, says_offline
from bailian_tui.tui.commands import AppCommands
from bailian_tui.tui.keymap import KEYMAP, PLACES
from bailian_tui.tui.yielding import ImportYield

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
        self._gc_frozen = False  # the start-up load is frozen (see _load_core)
        self.scheduler = None
        self.fleet = None
        self.gpu_lines: dict[str, list[str]] = {}  # watched local runs: GPU lines (NVML, when available)
        self.job_listeners: set = set()
        self._switch_hold: list[float] | None = None  # see switch_mode
        self._after_paint: list | None = None  # callbacks for after the switched-to screen's first frame
        self._first_visit_release = None  # ends the repaint hold of a switch to a screen not built yet
        self.import_yield = ImportYield()  # start-up's imports pause while the user presses keys (see _load_core)

    def user_active(self) -> bool:
        """A key, a click or a scroll came in the last moments (`ImportYield.quiet`, 0.2 s): the user is moving
        about, and background work that can wait does."""
        import time

        return time.monotonic() < self.import_yield.active_until

    @property
    def service_ready(self) -> bool:
        return self.current_service is not None

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)):
            self.import_yield.user_input()
        await super().on_event(event)

    def on_mount(self) -> None:
        self._end_on_signals()
        if not self.settings.api_key:  # say so at once, before anything tries the network
            from bailian_tui.tui.screens.no_key import NoKeyScreen

            self.push_screen(NoKeyScreen(self.settings))

    # Textual's switch_mode holds every repaint for a fixed 50 ms (`delay_update`, "to mask a brief
    # transition"), and the frame it renders meanwhile is dropped: on a return, whose screen is built and has
    # only its ScreenResume to run, those 50 ms were most of the time from the key to the screen (tmux traces:
    # ~9 ms of work, then the wait). A return holds the repaint only until the screen has handled its
    # ScreenResume, then paints once. A first visit keeps Textual's delay (its screen is still being composed).
    # Work a screen can leave until after that first frame goes through `after_switch_paint`.
    SWITCH_HOLD_SECONDS = 0.05

    def switch_mode(self, mode: str):
        holds: list[float] = []  # what delay_update was asked for during this switch
        self._switch_hold = holds if mode != self.current_mode else None
        try:
            result = super().switch_mode(mode)
        finally:
            self._switch_hold = None
        if holds:
            screen, later = self.screen, []
            self._after_paint = later
            released = False

            def release() -> None:
                nonlocal released
                if released:
                    return
                released = True
                if self._after_paint is later:
                    self._after_paint = None
                self._end_batch()  # Textual-private, the pair of the _begin_batch in delay_update below
                if not self._batch_count:
                    self.screen.refresh()  # the current one (a later switch may have ended its hold first)
                for callback in later:  # run once the frame just asked for is painted
                    screen.call_after_refresh(callback)

            if screen.is_mounted:  # a return: its ScreenResume is queued before this callback
                screen.call_later(release)
            else:  # a first visit: released when the screen has mounted and filled itself (`screen_ready`)
                self._first_visit_release = release
            # Textual's own delay stays as the backstop (a first visit, or a screen that never runs the callback).
            self.set_timer(self.SWITCH_HOLD_SECONDS, release, name="switch_hold")
        return result

    def delay_update(self, delay: float = 0.05) -> None:
        holds = getattr(self, "_switch_hold", None)
        # Not switch_mode's (the command palette's, say), or a Textual without the batch pair: Textual's way.
        if holds is None or not (hasattr(self, "_begin_batch") and hasattr(self, "_end_batch")):
            super().delay_update(delay)
            return
        self._begin_batch()  # released by switch_mode above
        holds.append(delay)

    def screen_ready(self, screen) -> None:
        """A place's screen, built by a first visit, has mounted and run its on_mount: end the switch's repaint
        hold now. Held by Textual's 50 ms timer, the screen's first complete frame (the new-job form: ~150 ms of
        building) was rendered, dropped because the hold was still on, and rendered again once the overdue timer
        ran — after whatever the screen started meanwhile (~60 ms more on New job, in-app)."""
        release, self._first_visit_release = getattr(self, "_first_visit_release", None), None
        if release is not None and screen is self.screen:
            release()

    def after_switch_paint(self, callback) -> None:
        """Run ``callback`` once the current screen has painted its first frame after a switch to it (after the
        next paint when no switch is holding the repaint: a screen popped back, say)."""
        if self._after_paint is not None:
            self._after_paint.append(callback)
        else:
            self.screen.call_after_refresh(callback)

    def first_screen_painted(self) -> None:
        """Start loading the SDK and the tokenizer once the first frame is on screen: their imports hold the
        GIL, so started earlier they would delay that frame by half a second."""
        if not self._core_started:
            self._core_started = True
            self._load_core()
        elif self._gc_frozen and self.screen_stack and self.screen is self.screen_stack[0]:
            # A place's screen, just built, lives as long as the app: its widgets join what the collector
            # skips. Left in, every full collection walked them (85–120 ms with the loop stopped, in tmux traces
            # of the screen tour: the return it landed on took ~0.1 s). Pushed screens (a log, a dialog) come
            # and go, and are not frozen.
            import gc

            gc.freeze()

    def _end_on_signals(self) -> None:
        """SIGINT/SIGTERM/SIGHUP (a dropped SSH connection) end the app the normal way — terminal restored,
        exit code 128 + signal (docs/signals.md). Not in headless runs (Pilot tests)."""
        import signal
        import threading

        if self.is_headless or threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        # A plain handler, not loop.add_signal_handler: when the terminal is gone (SSH dropped, tmux
        # kill-session) Textual's output thread dies on the first failed write, its bounded queue fills and
        # the event loop blocks for ever in the next write — an asyncio handler would then never run and the
        # app would live on as an orphan, deaf to SIGTERM. A plain handler still runs in the main thread
        # (a blocked lock wait is interrupted for it): it asks the loop to exit the normal way (terminal
        # restored) and arms a last-resort exit in case that way is blocked.
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            signum = getattr(signal, name, None)
            if signum is None or signal.getsignal(signum) == signal.SIG_IGN:
                continue  # ignored by whoever started us (nohup, a background job): keep it so
            try:
                signal.signal(signum, lambda sig, _frame: self._signalled(loop, 128 + sig))
            except (OSError, RuntimeError, ValueError):
                continue

    # How long an exit asked for by a signal may take before the process ends without Textual's shutdown.
    SIGNAL_EXIT_GRACE = 3.0

    def _signalled(self, loop: asyncio.AbstractEventLoop, code: int) -> None:
        import os
        import threading

        if not getattr(self, "_exit_armed", False):
            self._exit_armed = True
            # The store commits each change as it is made, temp files carry our pid (swept once we are gone),
            # workers die with us (PDEATHSIG) and the demo simulators end when their stdin pipe closes: a
            # hard exit here loses nothing but the terminal restore, which a gone terminal does not need.
            timer = threading.Timer(self.SIGNAL_EXIT_GRACE, os._exit, (code,))
            timer.daemon = True
            timer.start()
        try:
            loop.call_soon_threadsafe(self.exit, None, code)
        except RuntimeError:  # the loop is already closed: we are on the way out
            pass

    def datasets_root(self) -> Path:
        """The browser's folder: PATH from the command line, else paths.datasets_dir, else the samples."""
        from bailian_tui.simulator.demo import datasets_root

        if self.open_path is not None:
            return self.open_path if self.open_path.is_dir() else self.open_path.parent
        configured = self.settings.get("paths.datasets_dir")
        return Path(configured).expanduser() if configured else datasets_root()

    @work(thread=True, group="startup", exit_on_error=False)
    def _load_core(self) -> None:
        # Its imports hold the GIL for ~1–1.5 s: each module waits while the user is pressing keys (a move in
        # the record list of `bailian-tui BIG.jsonl` took 35–140 ms during this second, 18–20 ms after it).
        with self.import_yield.applied():
            self._load_core_now()

    def _load_core_now(self) -> None:
        # Importing the SDKs (dashscope ~0.5 s, openai ~1 s: an XPULink profile), opening the providers (an
        # SSL context each) and loading the tokenizer (~0.3 s) all happen here, off the event loop: neither the
        # first frame nor a key press waits for them. Only what touches the app's state runs on the loop.
        from bailian_tui.core import fleet as fleet_mod
        from bailian_tui.core.config import ConfigError
        from bailian_tui.core.data import tokens

        if self.open_path is not None:  # a file to look at: its preview counts tokens before any job is listed
            tokens.encoding()
        import dashscope.v2  # noqa: F401

        # Every profile of the config (one, "bailian", when it has no providers: list): one service and one
        # scheduler facade for the screens, each provider polled within its own request budget.
        try:
            made = fleet_mod.for_app(self.settings, on_update=self._job_polled,
                                     on_throttle=lambda name, seconds: self._throttled(seconds, name),
                                     on_glance=self._job_glanced)
        except ConfigError as err:
            self.call_from_thread(setattr, self, "connection_problem", str(err))
            return
        self.call_from_thread(self._connect, *made)
        tokens.encoding()
        # The places' screens, imported here rather than on the first visit (Datasets' alone took ~65 ms of it).
        from importlib import import_module

        for module in ("datasets", "new_job", "files", "deployments"):
            import_module(f"bailian_tui.tui.screens.{module}")
        # What is loaded now (the SDK, the tokenizer, Textual, the first screen: ~170k objects) lives as long as
        # the app. Left to the collector, every full collection walks it all again — 0.1–0.3 s with the event
        # loop stopped, at whatever screen visit happens to trip it. Frozen, collections see only what is new.
        import gc

        gc.freeze()
        self._gc_frozen = True

    def _connect(self, fleet, service, scheduler) -> None:
        self.fleet, self.current_service, self.scheduler = fleet, service, scheduler
        self.fleet.restore_watch_list()  # the watch lists survive restarts
        self._core_ready.set()
        self._run_scheduler()
        if any(m.provider.capabilities.gpu_stats for m in self.fleet.members.values()):
            self.set_interval(2.0, self._sample_gpus)
        if self.settings.demo:
            self._seed_local_demo()
        if any(m.service.reconciles and m.service.store.open_intents() for m in self.fleet.members.values()):
            self._settle_intents()  # only when a crash or a kill left a create open

    @work(thread=True, group="gpu", exclusive=True, exit_on_error=False)
    def _sample_gpus(self) -> None:
        """GPU memory/utilisation for watched local runs (NVML, when installed and a GPU is there)."""
        lines: dict[str, list[str]] = {}
        for key in list(self.scheduler.jobs):
            member, job_id = self.fleet.resolve(key)
            if member.provider.capabilities.gpu_stats:
                stats = member.provider.gpu_stats(job_id)
                if stats:
                    lines[key] = [s.line() for s in stats]
        self.gpu_lines = lines

    @work(group="local-demo", exit_on_error=False)
    async def _seed_local_demo(self) -> None:
        """Demo mode: a finished local run and one training live (stand-in trainer), watched like the rest."""
        from bailian_tui.core.providers.local import LocalProvider, seed_demo
        from bailian_tui.simulator.demo import datasets_root

        for name, member in self.fleet.members.items():
            if isinstance(member.provider, LocalProvider) and member.provider.stand_in:
                for job in await seed_demo(member.provider, datasets_root()):
                    key = job.job_id if name == self.fleet.default else f"{name}:{job.job_id}"
                    self.watch_job(key)

    @work(group="intents", exit_on_error=False)
    async def _settle_intents(self) -> None:
        """Creates left open by a crash or a kill: find what they made, in the background, and say so."""
        for member in self.fleet.members.values():
            if not member.service.reconciles:
                continue
            try:
                messages = await member.service.reconcile_intents()
            except PlatformError:
                continue  # the next identical create settles them first anyway
            for message in messages:
                self.notify(message, title="interrupted create", timeout=15)

    def several_profiles(self) -> bool:
        """More than one provider profile: lists grow a provider column (read from the config, no network)."""
        from bailian_tui.core.config import ConfigError
        from bailian_tui.core.profiles import profiles

        try:
            return len(profiles(self.settings)) > 1
        except ConfigError:
            return False

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
        if update.watched.error_kind != "job":  # one job's 404 marks that job, not the connection
            self.connection_problem = update.watched.error or ""
        for listener in list(self.job_listeners):
            listener.post_message(JobPolled(update))

    def _job_glanced(self, glance) -> None:
        from bailian_tui.tui.messages import JobGlanced

        for listener in list(self.job_listeners):
            listener.post_message(JobGlanced(glance))

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
        if routing is not None and routing.capabilities_for(job.job_id).export_formats \
                and routing.member_for_id(job.job_id).provider.servable_model(job) is None:
            self.notify(f"{job.finetuned_output} is a local adapter: serve it with vLLM (--enable-lora), llama.cpp or "
                        "Ollama and add that server as an openai profile to chat with and evaluate it "
                        "(docs/local-runs.md)", timeout=15)
            return
        if routing is not None and not routing.capabilities_for(job.job_id).deployments:
            from bailian_tui.tui.screens.chat import ChatScreen

            routing.models[job.finetuned_output] = routing.member_for_id(job.job_id).name
            self.notify(f"{job.finetuned_output} is served directly, with no deployment step: try it here "
                        "(Deployments lists it to evaluate)", timeout=8)
            self.push_screen(ChatScreen(job.finetuned_output))
            return
        from bailian_tui.tui.screens.deploy_form import DeployScreen

        self.push_screen(DeployScreen(job.finetuned_output))

    # -- local runs (profiles of kind local) ---------------------------------------------------------------

    def local_members(self) -> list:
        return [m for m in (self.fleet.members.values() if self.fleet else []) if m.profile.kind == "local"]

    def open_local_run(self, profile: str) -> None:
        """The new-local-run form for a local profile: what it starts is watched like any job."""
        from bailian_tui.tui.screens.local_run import LocalRunScreen

        member = self.fleet.member(profile)

        def created(job) -> None:
            self.watch_job(job.job_id)
            self.switch_mode("jobs")

        self.push_screen(LocalRunScreen(member.provider, self.datasets_root(), on_created=created,
                                        create=lambda request: self.call(
                                            self.current_service.create_job(request, profile=profile))))

    def adopt_local_run(self, profile: str) -> None:
        """Ask for the log file or output folder of a run started by hand, adopt it, watch it."""
        from bailian_tui.tui.screens.prompt import PromptScreen

        def chosen(path: str | None) -> None:
            if path and path.strip():
                self._adopt(profile, path.strip())

        self.push_screen(PromptScreen(f"Adopt a run started by hand on {self.fleet.member(profile).profile.label}: "
                                      "its log file or output folder", "", "/root/autodl-tmp/outputs/nohup.out"),
                         chosen)

    @work(group="local-adopt", exit_on_error=False)
    async def _adopt(self, profile: str, path: str) -> None:
        member = self.fleet.member(profile)
        job = await self.run_core(lambda _service: member.provider.adopt_run(path), timeout=15, connection=False)
        if job is FAILED:
            return
        key = job.job_id if profile == self.fleet.default else f"{profile}:{job.job_id}"
        self.watch_job(key)
        self.notify(f"adopted {key} ({job.status.value}); it is watched (j, then v)")

    def unwatch_job(self, job_id: str) -> None:
        self.fleet.unwatch(job_id)

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
            if says_offline(err):
                self.connection_problem = err.human()
            raise
        self.connection_problem = ""
        return result

    async def run_core(self, call: Callable[[Any], Awaitable[T]], *, show: Callable[[PlatformError], None] | None = None,
                       title: str = "", timeout: float = 10, background: bool = False,
                       connection: bool = True) -> T | Failed:
        """The one place a screen's worker runs a core call: ``call(service)`` and its result, or ``FAILED``.

        A failure (any ``PlatformError``: a refusal, an unknown outcome, a lost connection, no API key) is shown
        once — by ``show(err)``, else as an error toast — and the connection line stays honest: offline only for
        what says so about the connection (no answer, 5xx, 401/403), never for one object's 404; back when a
        call works. ``background`` (a periodic refresh): a passing fault is left to the connection line, which
        already says it, and the next round tries again. ``connection=False``: an operation that says nothing about the
        connection either way (adopting a local run; an evaluation, whose failed requests count in its scores). The error text is
        already made inert by the core (``PlatformError`` cleans every part); it is shown as plain text.
        """
        try:
            result = await call(await self.service())
        except PlatformError as err:
            if connection and says_offline(err):
                self.connection_problem = err.human()
            if not (background and passing(err)):
                if show is not None:
                    show(err)
                else:
                    self.notify(err.human(), title=title, severity="error",
                                timeout=max(timeout, 15) if isinstance(err, OutcomeUnknown) else timeout)
            return FAILED
        if connection:
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
        self.import_yield.stop_waiting()  # nobody is pressing keys any more
        if self.fleet is not None and self.settings.demo:  # the demo's local runs never outlive the demo
            from bailian_tui.core.providers.local import LocalProvider, stop_all

            for member in self.fleet.members.values():
                if isinstance(member.provider, LocalProvider) and member.provider.stand_in:
                    stop_all(member.provider)
        if self.current_service is not None:
            await self.fleet.aclose()
