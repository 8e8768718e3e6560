"""The ``bailian-tui`` command: no sub-command starts the Textual app, a sub-command runs headless."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bailian-tui",
        description="Fine-tune Qwen models on Alibaba Cloud Model Studio (Bailian) from a terminal.")
    parser.add_argument("--config", metavar="PATH", help="config file (default: $XDG_CONFIG_HOME/bailian-tui/config.yaml)")
    parser.add_argument("--demo", action="store_true", help="run against a built-in simulator with demo data")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sim = sub.add_parser("sim", help="serve the DashScope simulator on loopback for any DashScope client")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--api-key", default=None, help="key clients must send (default: the demo key)")
    sim.add_argument("--empty", action="store_true", help="start with no files, jobs or deployments")
    sim.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    sim.add_argument("--pending-seconds", type=float, default=None,
                     help="how long a new job stays PENDING (0 suits the official CLI's 30 s poll)")

    cfg = sub.add_parser("config", help="show the settings in force and where each came from")
    cfg.add_argument("action", choices=["show", "validate"])

    from bailian_tui.tui import data_cli, eval_cli, jobs_cli

    data_cli.add_parsers(sub)
    jobs_cli.add_parsers(sub)
    eval_cli.add_parsers(sub)

    # Only when no sub-command is given: a dataset folder or file to open in the browser.
    parser.add_argument("path", nargs="?", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Exit codes and signals: docs/signals.md (130 SIGINT, 143 SIGTERM, 129 SIGHUP, 141 broken pipe)."""
    from bailian_tui.core.lifecycle import run_main

    return run_main(lambda: _main(argv))


def _main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from bailian_tui.tui import data_cli, eval_cli, jobs_cli

    modules = {name: module for module in (data_cli, jobs_cli, eval_cli) for name in module.COMMANDS}
    commands = {"sim", "config"} | set(modules)
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = _parser()
    if first is not None and first not in commands:
        # `bailian-tui [--demo] PATH`: keep argparse from reading PATH as a sub-command.
        index = argv.index(first)
        path, argv = argv[index], argv[:index] + argv[index + 1:]
        args = parser.parse_args(argv)
        args.path = path
    else:
        args = parser.parse_args(argv)
    from bailian_tui.tui import headless

    if args.command == "sim":
        return headless.serve_simulator(args)
    if args.command == "config":
        return headless.config_command(args)
    if args.command in modules:
        settings = headless.load_settings(args)
        return modules[args.command].run(args, settings) if settings is not None else 2
    return _run_app(args)


def _run_app(args: argparse.Namespace) -> int:
    from bailian_tui.tui import headless

    settings = headless.load_settings(args)
    if settings is None:
        return 2
    server = None
    if args.demo:
        from bailian_tui.simulator.demo import start_demo

        server = start_demo()
        headless.point_at_demo(settings, server)
    path = Path(args.path).expanduser() if args.path else None
    if path is not None and not path.exists():
        print(f"bailian-tui: {path}: no such file or directory", file=sys.stderr)
        return 2
    from bailian_tui.tui.app import BailianApp

    app = BailianApp(settings, open_path=path)
    try:
        app.run()
    finally:
        if server is not None:
            server.stop()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
