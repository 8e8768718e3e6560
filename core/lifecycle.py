"""Process lifecycle: signals, exit codes, worker processes and temporary files.

Our users work over SSH: connections drop (SIGHUP), jobs get killed (SIGTERM, SIGKILL) and output goes into
pipes. This module gives every command the same behaviour (see docs/signals.md):

* SIGINT stays ``KeyboardInterrupt``; SIGTERM and SIGHUP become :class:`Interrupted`, raised in the main
  thread, so ``finally`` blocks and context managers run and remove what they made.
* :func:`run_main` maps the outcome of a CLI main to the exit code: 130 (SIGINT), 143 (SIGTERM),
  129 (SIGHUP), 141 or 0 for a broken pipe — never a traceback.
* :func:`worker_init` makes a worker process die with its parent (``PR_SET_PDEATHSIG`` on Linux plus a
  parent-pid watchdog thread everywhere), so a ``kill -9`` of the command leaves no orphan behind.
* :func:`temp_prefix` / :func:`sweep_stale` put the owner pid into every temporary name, so the next run
  into the same folder removes temporary files whose owner is gone — and only those.

Never imports Textual.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Callable, Iterator

__all__ = [
    "Interrupted", "handle_signals", "run_main", "exit_code_for", "worker_init", "temp_prefix",
    "sweep_stale", "apply_umask_mode", "TEMP_MARK", "worker_pool", "run_async",
]

# Every temporary file or folder we create carries this mark and the owner pid: ``.bt-<pid>-<kind>-…``.
TEMP_MARK = ".bt-"
_TEMP_RE = re.compile(r"^\.bt-(\d+)-")


class Interrupted(BaseException):
    """SIGTERM or SIGHUP arrived: unwind like KeyboardInterrupt does, then exit with 128 + signum.

    A ``BaseException`` so that ``except Exception`` in the code it passes through does not swallow it.
    """

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        self.exit_code = 128 + self.signum
        try:
            self.name = signal.Signals(self.signum).name
        except ValueError:
            self.name = f"signal {self.signum}"
        super().__init__(self.name)


def _raise_interrupted(signum: int, _frame) -> None:
    raise Interrupted(signum)


TERMINATING = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None)


@contextlib.contextmanager
def handle_signals(signals: tuple[int, ...] = TERMINATING) -> Iterator[None]:
    """Within the block, SIGTERM/SIGHUP raise :class:`Interrupted` in the main thread; restored after.

    Outside the main thread (where Python cannot install handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in signals:
        if signal.getsignal(signum) == signal.SIG_IGN:
            continue  # started under nohup (SIGHUP) or told to ignore it: keep ignoring, as POSIX intends
        with contextlib.suppress(OSError, ValueError):
            previous[signum] = signal.signal(signum, _raise_interrupted)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            with contextlib.suppress(OSError, ValueError, TypeError):
                signal.signal(signum, handler)


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, KeyboardInterrupt):
        return 128 + signal.SIGINT
    if isinstance(exc, Interrupted):
        return exc.exit_code
    if isinstance(exc, BrokenPipeError):
        return 128 + getattr(signal, "SIGPIPE", 13)
    return 1


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (ValueError, OSError):
        return False


def _say(prog: str, message: str) -> None:
    """One line on stderr, only when a terminal is there to read it (after SIGHUP there may be none)."""
    if not _stderr_is_terminal():
        return
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"{prog}: {message}\n")
        sys.stderr.flush()


def _silence_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the interpreter's final flush cannot raise again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def run_main(main: Callable[[], int], *, prog: str = "bailian-tui") -> int:
    """Run a CLI main with SIGTERM/SIGHUP turned into :class:`Interrupted`; return the exit code.

    * KeyboardInterrupt (SIGINT, Ctrl-C) → 130, "interrupted"
    * SIGTERM → 143, SIGHUP → 129, "terminated by SIGTERM"/"SIGHUP"
    * BrokenPipeError (the reader went away, e.g. ``| head -1``) → 141, silent: the reader chose to stop.

    The message goes to stderr only when stderr is a terminal: a script that redirects stderr gets the
    exit code, and after a dropped SSH connection there is nobody to write to.
    """
    try:
        with handle_signals():
            code = main()
        # Flush here, inside our control, so a reader that went away is noticed as EPIPE now.
        sys.stdout.flush()
        return code
    except KeyboardInterrupt as exc:
        _say(prog, "interrupted")
        return exit_code_for(exc)
    except Interrupted as exc:
        _say(prog, f"terminated by {exc.name}")
        return exc.exit_code
    except BrokenPipeError as exc:
        _silence_stdout()
        return exit_code_for(exc)


def run_async(main):
    """``asyncio.run(main)`` for commands that talk to a service (eval, upload, jobs watch…).

    Raising from a signal handler in the middle of the event loop lands anywhere — inside a transport's
    write, where asyncio logs and swallows it, or in a task group, which wraps it. So here SIGTERM/SIGHUP
    cancel the main task, the way asyncio itself treats Ctrl-C; every ``finally`` and ``async with`` runs,
    and :class:`Interrupted` is raised once the loop is done.
    """
    import asyncio

    received: list[int] = []

    async def runner():
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        previous = {}

        def on_signal(signum: int) -> None:
            if not received:
                received.append(signum)
                task.cancel()

        in_main = threading.current_thread() is threading.main_thread()
        for signum in TERMINATING if in_main else ():
            if signal.getsignal(signum) == signal.SIG_IGN:
                continue  # nohup: a hang-up is not ours to act on
            previous[signum] = signal.getsignal(signum)
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, on_signal, signum)
        try:
            return await main
        except asyncio.CancelledError:
            if received:
                raise Interrupted(received[0]) from None
            raise
        finally:
            for signum, handler in previous.items():
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(signum)
                    signal.signal(signum, handler)

    return asyncio.run(runner())


# ----- worker processes ---------------------------------------------------------------------------------

PR_SET_PDEATHSIG = 1


def _set_pdeathsig(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int, interval: float) -> None:
    event = threading.Event()
    while not event.wait(interval):
        if os.getppid() != parent:
            os._exit(128 + signal.SIGTERM)


def worker_init(parent: int | None = None, held: bool = False, *, interval: float = 0.5) -> None:
    """Initializer for pool workers: die when the parent dies, leave Ctrl-C to the parent.

    * ``PR_SET_PDEATHSIG`` (Linux): the kernel sends SIGKILL to this worker when the parent thread exits.
    * Watchdog thread (everywhere): exits when our parent pid changes (re-parented to init).
    * SIGINT and SIGHUP ignored in the worker: they reach the whole foreground process group; the parent
      decides, and the pool shutdown ends the workers. SIGTERM keeps its default action.
    """
    parent = os.getppid() if parent is None else parent
    _set_pdeathsig(signal.SIGKILL)
    # Ctrl-C and a dropped terminal reach the whole process group: the parent decides and ends the pool.
    for name in ("SIGINT", "SIGHUP"):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    with contextlib.suppress(OSError, ValueError, AttributeError):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if held:  # born with the signals held (worker_pool): take them now
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS_HELD)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(128 + signal.SIGTERM)
    threading.Thread(target=_watch_parent, args=(parent, interval), daemon=True,
                     name="bt-parent-watchdog").start()


@contextlib.contextmanager
def worker_pool(workers: int, *, prepare: Callable[[], None] | None = None):
    """A ``ProcessPoolExecutor`` whose workers die with this process, and which ends at once on any exception.

    ``with ProcessPoolExecutor()`` waits, on the way out, for every queued task — after Ctrl-C that is the
    rest of the file. Here an exception (KeyboardInterrupt, :class:`Interrupted`, an error) cancels what is
    queued and kills the workers, so the command exits within a second and leaves no process behind.
    Fork where the platform has it (workers share what the parent loaded, e.g. the tokenizer).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if prepare is not None:
        prepare()
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    # Start every worker now, with the three signals held back: a signal that lands during fork() would
    # otherwise be raised inside an at-fork callback, where Python prints and *drops* it (the command then
    # runs on), or kill a half-born worker before it ignores Ctrl-C. Held signals arrive right after.
    pool = None
    held = _block(SIGNALS_HELD)
    try:
        pool = ProcessPoolExecutor(max_workers=max(1, workers), mp_context=context,
                                   initializer=worker_init, initargs=(os.getpid(), held is not None))
        pool.submit(os.getpid).result()  # with fork, the first task forks every worker
        _unblock(held)  # a held signal is raised here, and handled just below like any other
        held = None
        yield pool
    except BaseException:
        _unblock(held)
        if pool is not None:
            _kill_pool(pool)
        raise
    else:
        pool.shutdown(wait=True)


SIGNALS_HELD = tuple(s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s is not None)


def _block(signals) -> set | None:
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, signals)


def _unblock(previous) -> None:
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _kill_pool(pool) -> None:
    """End the pool now: queued tasks cancelled, workers killed, the pool's own thread joined (so the
    interpreter's exit finds nothing half-torn to wake up)."""
    # The executor offers no "terminate": its process table and manager thread are the only handles.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    for process in processes:
        with contextlib.suppress(Exception):
            process.kill()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(timeout=1.0)
    if manager is None or not manager.is_alive():
        with contextlib.suppress(Exception):
            pool.shutdown(wait=False, cancel_futures=True)
        return
    # With its workers dead the manager thread marks the pool broken, closes its pipes and ends: wait for
    # that (bounded), so the interpreter's exit hook does not write into a pipe that is being torn down.
    waiter = threading.Thread(target=pool.shutdown, kwargs={"wait": True, "cancel_futures": True}, daemon=True)
    waiter.start()
    waiter.join(timeout=2.0)


# ----- temporary files ----------------------------------------------------------------------------------

def temp_prefix(kind: str) -> str:
    """A prefix for ``tempfile.mkstemp``/``mkdtemp`` that names the owner: ``.bt-<pid>-<kind>-``."""
    return f"{TEMP_MARK}{os.getpid()}-{kind}-"


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    # A zombie still answers kill(0); on Linux read its state.
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
            if state in (b"Z", b"X"):
                return False
    return True


def sweep_stale(folder: Path | str) -> list[Path]:
    """Remove our temporary files/folders in ``folder`` whose owner process is gone; return what went.

    Only names with our mark and a pid (``.bt-<pid>-…``) are considered, and only when no process with
    that pid is alive: a concurrent run's temporary files stay.
    """
    removed: list[Path] = []
    folder = Path(folder)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_RE.match(entry.name)
        if not match or _alive(int(match.group(1))):
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:
            continue
        except OSError:
            continue
        removed.append(path)
    return removed


def current_umask() -> int:
    """The process umask (read without a race on Linux; set-and-restore elsewhere)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask_mode(path: Path | str | int, base: int = 0o666) -> None:
    """Give a file made by ``mkstemp`` (always 0600) the mode a plain ``open()`` would have given it."""
    mode = base & ~current_umask()
    if isinstance(path, int):
        os.fchmod(path, mode)
    else:
        os.chmod(path, mode)
