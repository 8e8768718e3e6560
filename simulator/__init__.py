"""A loopback DashScope: the test backend and the demo backend.

It is a real HTTP server speaking the contract in ``shared/reference/dashscope-api.md`` under ``/api/v1``,
so the official SDK, the official ``dashscope`` CLI and bailian-tui all reach it exactly as they reach
the real service. Time runs on a :class:`SimClock` that tests advance by hand.
"""

__all__ = ["SimClock", "SimConfig", "SimServer", "SimState"]

_HOMES = {"SimClock": "clock", "SimConfig": "state", "SimState": "state", "SimServer": "server"}


def __getattr__(name: str):
    # Loaded on first use: the app's demo runs its simulators in a process of their own, and importing the
    # HTTP server, the state machine and their dependencies in the app only to point it there cost ~30 ms.
    if name in _HOMES:
        from importlib import import_module

        return getattr(import_module(f"bailian_tui.simulator.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
