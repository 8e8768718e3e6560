"""Headless commands for scripts and CI, on the same core as the app. Output through rich."""

from __future__ import annotations

import argparse
import sys

from bailian_tui.core import config as config_mod
from bailian_tui.core.config import ConfigError, Settings


def load_settings(args: argparse.Namespace) -> Settings | None:
    try:
        settings = config_mod.load(args.config)
    except ConfigError as err:
        print(f"bailian-tui: {err}", file=sys.stderr)
        return None
    for warning in settings.warnings:
        print(f"bailian-tui: warning: {warning}", file=sys.stderr)
    return settings


def point_at_demo(settings: Settings, server) -> None:
    """Demo mode: the simulator's URL and key win over any config, and state goes to a demo store."""
    from bailian_tui.simulator.demo import DEMO_KEY

    settings.values["dashscope.base_url"] = server.base_url
    settings.values["dashscope.api_key"] = DEMO_KEY
    settings.values["dashscope.workspace"] = None
    settings.values["paths.state_dir"] = str(settings.state_dir / "demo")
    settings.origins["dashscope.base_url"] = settings.origins["dashscope.api_key"] = "--demo"
    settings.demo = True
    if getattr(server, "openai", None) is not None:  # both simulated services: two profiles
        from bailian_tui.simulator.demo import demo_profiles

        settings.values["providers"] = demo_profiles(server)
        settings.values["default_profile"] = "bailian"
        settings.origins["providers"] = settings.origins["default_profile"] = "--demo"
    store = settings.state_dir / "state.db"
    for suffix in ("", "-wal", "-shm"):  # each demo starts from a fresh simulator: old ids mean nothing
        store.with_name(store.name + suffix).unlink(missing_ok=True)


def serve_simulator(args: argparse.Namespace) -> int:
    from bailian_tui.simulator.clock import SimClock
    from bailian_tui.simulator.demo import DEMO_KEY, seed
    from bailian_tui.simulator.server import SimServer
    from bailian_tui.simulator.state import SimConfig, SimState

    config = SimConfig()
    if args.pending_seconds is not None:
        config.pending_seconds = args.pending_seconds
    key = args.api_key or DEMO_KEY
    state = SimState(SimClock(speed=args.speed), config, api_key=key)
    if not args.empty:
        seed(state)
    try:
        server = SimServer(state, port=args.port)
    except OSError as err:
        print(f"bailian-tui sim: cannot listen on 127.0.0.1:{args.port}: {err.strerror}; "
              "pick another --port", file=sys.stderr)
        return 2
    print("DashScope simulator listening. Point any DashScope client at it with:")
    print(f"  export DASHSCOPE_HTTP_BASE_URL={server.base_url}")
    print(f"  export DASHSCOPE_BASE_URL={server.base_url}")
    print(f"  export DASHSCOPE_API_KEY={key}")
    print("Ctrl+C stops it.", flush=True)
    try:
        server.serve_forever()
    finally:
        server.stop()
    return 0


def config_command(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    if settings is None:
        return 2
    if args.action == "validate":
        print(f"{settings.path or 'no config file'}: ok")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("key", "value", "from")
    for key in config_mod.SCHEMA:
        value = settings.values[key]
        shown = settings.masked_key if key == "dashscope.api_key" and value else repr(value)
        table.add_row(key, shown, settings.origins.get(key, "default"))
    Console().print(table)
    return 0
