"""A loopback DashScope: the test backend and the demo backend.

It is a real HTTP server speaking the contract in ``shared/reference/dashscope-api.md`` under ``/api/v1``,
so the official SDK, the official ``dashscope`` CLI and bailian-tui all reach it exactly as they reach
the real service. Time runs on a :class:`SimClock` that tests advance by hand.
"""

from core.simulator.clock import SimClock
from core.simulator.state import SimConfig, SimState
from core.simulator.server import SimServer

__all__ = ["SimClock", "SimConfig", "SimServer", "SimState"]
