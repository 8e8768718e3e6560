"""What a failed core call returns to a screen, and which failures speak of the connection (the app's run_core).

``BailianApp.run_core`` is the one place a worker's failure is shown and the connection line kept honest; this
module holds the parts screens import (``FAILED``) without importing the app.
"""

from __future__ import annotations

from bailian_tui.core.errors import OutcomeUnknown, PlatformError


class Failed:
    """What ``run_core`` returns when the call failed and its error has been shown: test with ``is FAILED``."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "FAILED"


FAILED = Failed()


def says_offline(err: PlatformError) -> bool:
    """A failure that says the connection is down or unusable (the connection line shows it): no answer at all,
    a server error, a refused key. Not one object's 404 or a refused request, nor a missing key (nothing sent),
    nor a create whose outcome is unknown (that is about one create, said in full where it happened; the
    lookups that left it unknown are the next refresh's to judge)."""
    if err.code == "NoApiKey" or isinstance(err, OutcomeUnknown):
        return False
    return err.connection_lost or (err.status or 0) >= 500 or err.status in (401, 403)


def passing(err: PlatformError) -> bool:
    """A fault the next round may not meet (no answer, a 5xx), or no key at all (the no-key screen said so)."""
    return err.code == "NoApiKey" or err.connection_lost or (err.status or 0) >= 500
