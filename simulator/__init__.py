"""A loopback DashScope: the test backend and the demo backend.

It is a real HTTP server speaking the contract in ``shared/reference/dashscope-api.md`` under ``/api/v1``,
so the official SDK, the official ``dashscope`` CLI and bailian-tui all reach it exactly as they reach
the real service. Time runs on a :class:`SimClock` that tests advance by hand.
"""

from bailian_tui.simulator.clock import SimClock
from bailian_tui.simulator.state import SimConfig, SimState
from bailian_tui.simulator.server import SimServer

__all__ = ["SimClock", "SimConfig", "SimServer", "SimState"]
