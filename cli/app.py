"""Parser, context and dispatch of the ``bailian-tui`` command."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bailian_tui.cli.output import Output

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

EPILOG = """\
commands:
  convert, validate, stats, estimate, batch-convert   local dataset work (no network)
  files list|get|upload|delete                        files on the platform
  jobs list|get|logs|watch|create|cancel|delete|checkpoints|export
  deployments list|get|create|scale|delete
  chat, capability, eval, config show|validate, sim
  local recipes|new|list|logs|cancel|adopt|export|check   fine-tunes on this machine's GPUs (Unsloth)

global options work before or after the command:
  bailian-tui --json jobs list          bailian-tui jobs list --json

examples:
  bailian-tui                            open the app (datasets browser)
  bailian-tui --demo datasets/           the app on a built-in simulator
  bailian-tui validate train.jsonl       FILE:LINE diagnostics, exit 1 on errors
  bailian-tui jobs create --model qwen3-8b --train train.jsonl --set n_epochs=3 --dry-run
  bailian-tui jobs watch ft-… > watch.log
  bailian-tui --demo jobs list

exit codes: 0 ok · 1 failed (or a job failed) · 2 bad input or usage · 130/143/129 interrupted
docs: docs/cli.md"""


class UsageError(Exception):
    """Bad input or usage: exit 2 with this message."""


class Failed(Exception):
    """The operation failed (or a watched job did): exit 1 with this message."""


@dataclass
class Context:
    args: argparse.Namespace
    out: Output
    _settings: Any = None
    _demo: Any = None
    _service: Any = None
    demo_apart: bool = False  # --demo's simulators in a process of their own (the app), not in threads here
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def settings(self):
        if self._settings is None:
            self._settings = load_settings(self.args, self.out)
        return self._settings

    def remote_settings(self):
        """Settings for a command that talks to a provider: the demo simulators or a real key, checked first."""
        settings = self._with_demo()
        profile = self.profile()
        if not profile.has_key and profile.kind != "local":  # local runs need no key
            where = f"${profile.key_env}" if profile.key_env else "its key"
            extra = f" (or dashscope.api_key in {settings.path or default_config()})" if profile.implicit else ""
            raise UsageError(f"no API key for profile {profile.name}: set {where}{extra}, "
                             "or add --demo to try this on the built-in simulator")
        return settings

    def _with_demo(self):
        """The settings, pointed at the demo simulators (and their two profiles) under --demo."""
        settings = self.settings
        if self.args.demo and self._demo is None:
            from bailian_tui.simulator.demo import DemoProcess, point_at_demo, start_demo

            self._demo = (DemoProcess if self.demo_apart else start_demo)(
                speed=float(getattr(self.args, "demo_speed", 1.0) or 1.0))
            self._closers.append(self._demo.stop)
            point_at_demo(settings, self._demo, local=True)  # real processes: only the CLI's demo starts them
        return settings

    def profile(self):
        """The profile ``--profile NAME`` names, else the config's default one (core.profiles)."""
        from bailian_tui.core import profiles
        from bailian_tui.core.config import ConfigError

        try:
            name = getattr(self.args, "profile", None)
            return profiles.pick(self._with_demo(), None if name in (None, "", "default") else name)
        except ConfigError as err:
            raise UsageError(str(err)) from None

    def platform(self):
        """The selected profile's provider (DashScope's is a thin adapter over core.platform.Platform)."""
        from bailian_tui.core.profiles import open_provider

        settings = self.remote_settings()
        return open_provider(self.profile(), settings)

    def service(self):
        from bailian_tui.core.service import Service
        from bailian_tui.core.store import Store

        if self._service is None:
            settings = self.remote_settings()
            profile = self.profile()
            endpoint = profile.base_url or ("default" if profile.kind != "local" else f"{profile.name}:local")
            store = Store(settings.state_dir / "state.db", endpoint=endpoint)
            self._service = Service(self.platform(), store)
        return self._service

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()


def default_config() -> str:
    from bailian_tui.core.config import default_config_path

    return str(default_config_path())


def load_settings(args: argparse.Namespace, out: Output):
    from bailian_tui.core import config as config_mod

    try:
        settings = config_mod.load(args.config)
    except config_mod.ConfigError as err:
        raise UsageError(str(err)) from None
    for warning in settings.warnings:
        out.warn(warning)
    return settings


# -- parser -------------------------------------------------------------------------------------------

def _globals(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The global options; on sub-commands their default is SUPPRESS, so a value given before the command
    is not overwritten by the sub-parser's default."""
    d = (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)
    group = parser.add_argument_group("global options")
    group.add_argument("--config", metavar="PATH", default=d(None),
                       help="config file (default: $XDG_CONFIG_HOME/bailian-tui/config.yaml)")
    group.add_argument("--profile", metavar="NAME", default=d(None),
                       help="provider profile of the config's providers: list (default: default_profile, else the "
                            "first; `config show` lists them)")
    group.add_argument("--json", action="store_true", default=d(False), help="machine output (JSON / NDJSON)")
    group.add_argument("-q", "--quiet", action="store_true", default=d(False), help="no progress or notes on stderr")
    group.add_argument("--no-color", action="store_true", default=d(False), help="no colour even on a terminal")
    group.add_argument("--demo", action="store_true", default=d(False),
                       help="run against a private built-in simulator with demo data")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def command(sub: argparse._SubParsersAction, name: str, help: str, func: Callable[[Context], int],
            examples: str = "", **kwargs: Any) -> argparse.ArgumentParser:
    """A sub-command with the global options, a help text with examples, and its handler."""
    epilog = f"examples:\n{examples}" if examples else None
    parser = sub.add_parser(name, help=help, description=help, epilog=epilog, formatter_class=_Formatter, **kwargs)
    _globals(parser, suppress=True)
    parser.set_defaults(func=func)
    return parser


def group(sub: argparse._SubParsersAction, name: str, help: str) -> argparse._SubParsersAction:
    parser = sub.add_parser(name, help=help, description=help, formatter_class=_Formatter)
    _globals(parser, suppress=True)
    parser.set_defaults(func=lambda ctx: _missing_action(parser))
    return parser.add_subparsers(dest=f"{name}_action", metavar="ACTION", title="actions")


def _missing_action(parser: argparse.ArgumentParser) -> int:
    parser.print_usage(sys.stderr)
    print(f"{parser.prog}: error: choose an action (see {parser.prog} --help)", file=sys.stderr)
    return EXIT_USAGE


def write_options(parser: argparse.ArgumentParser, confirm: bool = True) -> None:
    parser.add_argument("--dry-run", action="store_true",
                        help="print the request (and the equivalent dashscope command); send nothing")
    if confirm:
        parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")


def build_parser() -> argparse.ArgumentParser:
    from bailian_tui.cli import data, local, remote

    parser = argparse.ArgumentParser(
        prog="bailian-tui", formatter_class=_Formatter, epilog=EPILOG,
        description="Fine-tune Qwen models on Alibaba Cloud Model Studio (Bailian): the app without a "
                    "command, headless commands for scripts with one.")
    _globals(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    opener = command(sub, "open", "open the app, optionally on a dataset folder or file (the default)", _open_app)
    opener.add_argument("path", nargs="?")
    data.add_parsers(sub)
    remote.add_parsers(sub)
    local.add_parsers(sub)
    return parser


def commands(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:  # the public API has no accessor for sub-command names
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


# The sub-command names build_parser() makes (tests/test_cli.py checks the two agree): enough to tell
# `bailian-tui [--demo] [PATH]` from a command without building every command's parser.
COMMANDS = frozenset({"batch-convert", "capability", "chat", "config", "convert", "deployments", "estimate", "eval",
                      "files", "jobs", "local", "open", "sim", "stats", "validate"})


def parse(argv: list[str]) -> argparse.Namespace:
    # `bailian-tui [--demo] PATH` opens the app on PATH: the global options are parsed first (by argparse,
    # so `--config X` never makes X a path); a first word that is not a command is a path for `open`.
    front = argparse.ArgumentParser(add_help=False)
    _globals(front, suppress=False)
    known, rest = front.parse_known_args(argv)
    if not rest or (len(rest) == 1 and not rest[0].startswith("-") and rest[0] not in COMMANDS):
        # The app, with or without a PATH: the case a person waits on. Building every command's parser first
        # imports the converters and the command modules (~40 ms before the first frame), for nothing.
        known.command, known.func, known.path = ("open" if rest else None), _open_app, (rest[0] if rest else None)
        return known
    parser = build_parser()
    first = next((a for a in rest if not a.startswith("-")), None)
    if first is not None and first not in commands(parser) and rest and rest[0] == first:
        index = len(argv) - len(rest)
        argv = argv[:index] + ["open"] + argv[index:]
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        args.func, args.path = _open_app, None
    return args


def run(argv: list[str]) -> int:
    from bailian_tui.core.lifecycle import run_main

    return run_main(lambda: _dispatch(argv))


def _dispatch(argv: list[str]) -> int:
    args = parse(argv)
    out = Output(json=args.json, quiet=args.quiet, no_color=args.no_color)
    ctx = Context(args, out)
    from bailian_tui.core.data.errors import DataFileError
    from bailian_tui.core.errors import OutcomeUnknown, PlatformError

    try:
        if getattr(args, "profile", None) not in (None, "", "default"):
            ctx.profile()  # an unknown --profile is a usage error for every command, whether it uses it or not
        return args.func(ctx)
    except UsageError as err:
        _report(out, str(err))
        return EXIT_USAGE
    except DataFileError as err:
        _report(out, str(err))
        return EXIT_USAGE
    except Failed as err:
        _report(out, str(err))
        return EXIT_FAILED
    except OutcomeUnknown as err:
        # A billed create that may or may not have happened: say what to look at, and that running the same
        # command again is safe (it looks for the earlier attempt's result before sending anything).
        where = _LIST_COMMAND.get(err.operation)
        _report(out, f"{err.human()}{f' (bailian-tui {where})' if where else ''}; the same command run again "
                     "looks for it first and does not make a second one", request_id=err.request_id, outcome="unknown")
        return EXIT_FAILED
    except PlatformError as err:
        _report(out, err.human(), status=err.status, code=err.code, request_id=err.request_id)
        return EXIT_USAGE if err.status in (400, 401, 403, 404, 422) else EXIT_FAILED
    finally:
        ctx.close()


# Where the CLI user looks for what an ambiguous create may have made (keyed by PlatformError.operation).
_LIST_COMMAND = {"upload": "files list", "create fine-tune": "jobs list", "deploy": "deployments list"}


def _report(out: Output, message: str, **extra: Any) -> None:
    out.error(message)
    if out.json:
        out.emit({"error": message, **{k: v for k, v in extra.items() if v is not None}})


def _open_app(ctx: Context) -> int:
    args = ctx.args
    path = Path(args.path).expanduser() if getattr(args, "path", None) else None
    if path is not None and not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    settings = ctx.settings
    if args.demo:
        ctx.demo_apart = True  # the app's simulators never share its GIL, nor delay its first frame
        ctx.remote_settings()
    from bailian_tui.tui.app import BailianApp  # Textual: only here

    app = BailianApp(settings, open_path=path)
    app.run()
    return app.return_code or EXIT_OK
