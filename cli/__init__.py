"""The ``bailian-tui`` command line: one argparse parser for every command, the app when none is given.

Nothing here imports Textual (only ``bailian-tui [PATH]``, which opens the app, does) and commands import
the core lazily, so a script's ``bailian-tui jobs get ID --json`` starts fast. See docs/cli.md.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from bailian_tui.cli.app import run

    return run(sys.argv[1:] if argv is None else list(argv))
