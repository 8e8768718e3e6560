"""The one error type that leaves ``core`` for anything that went wrong talking to DashScope."""

from __future__ import annotations

from bailian_tui.core.secrets import redact

# Statuses after which the server certainly did nothing (the request was refused up front).
_REFUSED = frozenset({400, 401, 403, 404, 409, 413, 422, 429})
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})

_HINTS = {
    401: "check DASHSCOPE_API_KEY (or dashscope.api_key in the config)",
    403: "the key has no access to this workspace or service, or the account is in arrears",
    429: "rate limited or a quota was hit; wait and retry",
}


class PlatformError(Exception):
    """A failed DashScope call.

    ``status`` is the HTTP status (None when no response arrived), ``code`` the DashScope code
    (``InvalidParameter``, ``Throttling``…), ``request_id`` what support asks for. ``ambiguous`` is true when
    the server may have acted although we saw no success: a timeout, a dropped connection or a 5xx.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 request_id: str | None = None, operation: str = "") -> None:
        self.message = redact(message)
        self.status, self.code, self.request_id, self.operation = status, code, request_id, operation
        super().__init__(self.human())

    @property
    def ambiguous(self) -> bool:
        return self.status is None or self.status >= 500 or self.status == 408

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRYABLE

    @property
    def connection_lost(self) -> bool:
        return self.status is None

    def human(self) -> str:
        head = f"{self.operation} failed: " if self.operation else ""
        tail = []
        if self.code:
            tail.append(self.code)
        if self.status:
            tail.append(f"HTTP {self.status}")
        if self.request_id:
            tail.append(f"request_id {self.request_id}")
        text = f"{head}{self.message}"
        if tail:
            text += f" ({', '.join(tail)})"
        hint = _HINTS.get(self.status or 0)
        return f"{text} — {hint}" if hint else text
