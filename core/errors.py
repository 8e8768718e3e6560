"""The one error type that leaves ``core`` for anything that went wrong talking to DashScope."""

from __future__ import annotations

from bailian_tui.core.safetext import clean

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
                 request_id: str | None = None, operation: str = "", not_sent: bool = False,
                 hint: str | None = None) -> None:
        # Every part may come from a server: made inert and scrubbed of known keys here, once.
        self.message = clean(message)
        self.code = clean(code, cap=100) if code else None
        self.request_id = clean(request_id, cap=100) if request_id else None
        self.status, self.operation = status, clean(operation, cap=100)
        self.not_sent = not_sent  # the request never left: connection refused, DNS failure
        self.extra_hint = clean(hint) if hint else None
        super().__init__(self.human())

    @property
    def throttled(self) -> bool:
        return self.status == 429 or (self.code or "").lower().startswith("throttling")

    @property
    def ambiguous(self) -> bool:
        """The server may have acted although we saw no success (never true of a refusal or of nothing sent)."""
        if self.not_sent:
            return False
        return self.status is None or self.status >= 500 or self.status == 408

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRYABLE or self.throttled

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
        hint = self.extra_hint or _HINTS.get(self.status or 0)
        return f"{text} — {hint}" if hint else text


class OutcomeUnknown(PlatformError):
    """A billed create whose fate could not be established: it may or may not exist. Never re-sent by itself.

    ``check`` says what to look for (the unique name, the file name and size…) so the user can decide.
    """

    def __init__(self, message: str, *, check: str, operation: str = "", request_id: str | None = None) -> None:
        self.check = clean(check)
        super().__init__(message, operation=operation, request_id=request_id,
                         hint=f"it may exist: {self.check} before trying again")

    @property
    def ambiguous(self) -> bool:
        return True

    @property
    def retryable(self) -> bool:
        return False
