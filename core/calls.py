"""How every cloud provider calls its service: reads retried, billed creates sent once, then reconciled.

One code for the DashScope facade (:class:`core.platform.Platform`) and the OpenAI-compatible provider
(:class:`core.providers.openai_compat.OpenAIProvider`), so the guarantee "a create is never sent twice
after an ambiguity" cannot drift between them (docs/design.md "Creates that cannot bill twice"):

* a read is retried with back-off on 408/429/5xx and lost connections, Retry-After honoured;
* a create is re-sent only after a failure that proves nothing happened (a refusal such as 429, or a
  connection that never opened); after an ambiguous one (timeout, reset, 5xx) what it may have made is
  looked for over ``RetryPolicy.reconcile_window`` — found, it is the answer; not found,
  :class:`OutcomeUnknown` tells the user what to check;
* a refused or unresolvable connection is tried at most ``RetryPolicy.unreachable_attempts`` times.

A class using :class:`CallDiscipline` has ``retry`` (a :class:`RetryPolicy`), ``stats`` (a
:class:`CallStats`) and ``_sleep`` (an awaitable sleep; tests compress it); its one-attempt calls raise
:class:`PlatformError` with ``retryable`` / ``ambiguous`` / ``not_sent`` set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, TypeVar

from bailian_tui.core.errors import OutcomeUnknown, PlatformError

T = TypeVar("T")

RECONCILE_WINDOW = 60.0  # seconds: see docs/design.md "Creates that cannot bill twice"


@dataclass
class RetryPolicy:
    attempts: int = 6
    base: float = 0.5
    cap: float = 8.0
    unreachable_attempts: int = 3  # connection refused / DNS failure: nothing was sent; fail fast
    reconcile_window: float = RECONCILE_WINDOW  # how long an ambiguous create is looked for
    reconcile_base: float = 0.5
    reconcile_cap: float = 5.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap)
        base = min(self.base * 2**attempt, self.cap)
        return base + random.uniform(0, base * 0.25)


@dataclass
class CallStats:
    """What a provider did on the wire (tests and benchmarks read it)."""

    requests: int = 0
    retries: int = 0
    reconciled: int = 0
    unknown: int = 0
    warnings: list[str] = field(default_factory=list)  # paging stopped early, and why


class CallDiscipline:
    retry: RetryPolicy
    stats: CallStats
    _sleep: Callable[[float], Awaitable[None]]

    async def _with_retries(self, attempt_once: Callable[[], Awaitable[T]], *, create: bool = False,
                            on_ambiguous: Callable[[PlatformError], Awaitable[T]] | None = None) -> T:
        attempts = max(self.retry.attempts, 1)
        for attempt in range(attempts):
            try:
                return await attempt_once()
            except PlatformError as err:
                if create and err.ambiguous and on_ambiguous is not None:
                    return await on_ambiguous(err)
                last = attempt == attempts - 1 or (err.not_sent and attempt + 1 >= self.retry.unreachable_attempts)
                if not err.retryable or last:
                    raise
                self.stats.retries += 1
                await self._sleep(self.retry.delay(attempt, getattr(err, "retry_after", None)))
        raise AssertionError("unreachable")

    async def _retried(self, read_once: Callable[[], Awaitable[T]]) -> T:
        """A call that is safe to repeat: retried on throttling, 5xx and lost connections."""
        return await self._with_retries(read_once)

    async def _create(self, op: str, send: Callable[[], Awaitable[T]],
                      find: Callable[[], Awaitable[T | None]], check: str) -> T:
        """A billed create: re-sent only after a refusal that proves nothing happened, never after an ambiguity.

        After a timeout, a dropped connection or a 5xx the attempt may still commit (seconds later, even):
        what it made is looked for over ``reconcile_window``; if nothing shows up the outcome is unknown and
        the caller is told what to ``check`` — never a second POST.
        """
        return await self._with_retries(send, create=True,
                                        on_ambiguous=lambda err: self.reconcile(op, find, check, first=err))

    async def reconcile(self, op: str, find: Callable[[], Awaitable[Any | None]], check: str,
                        first: PlatformError | None = None, window: float | None = None) -> Any:
        """Look for what an ambiguous create made until found or ``window`` seconds of back-off have passed.

        The window is counted as the sum of the back-off sleeps (wall time is at least that), so a test's
        compressed clock compresses it too. Raises :class:`OutcomeUnknown` when it ends without an answer.
        """
        window = self.retry.reconcile_window if window is None else window
        waited, step, last_error = 0.0, 0, first
        while True:
            try:
                found = await find()
            except PlatformError as err:  # a failing read leaves the question open; keep asking
                if err.status in (401, 403):
                    raise
                found, last_error = None, err
            if found is not None:
                self.stats.reconciled += 1
                return found
            if waited >= window:
                break
            delay = min(self.retry.reconcile_base * 2 ** step, self.retry.reconcile_cap, window - waited)
            step += 1
            await self._sleep(delay)
            waited += delay
        self.stats.unknown += 1
        why = f" after {first.message}" if first is not None else ""
        raise OutcomeUnknown(f"the outcome is unknown{why}: nothing found in {window:g} s of looking",
                             check=check, operation=op,
                             request_id=last_error.request_id if last_error is not None else None)
