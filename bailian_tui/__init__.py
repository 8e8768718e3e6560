"""bailian-tui: one import root for the folders the product card fixes at the top of the repository.

The distribution installs only ``bailian_tui``; ``pyproject.toml`` maps ``bailian_tui.core`` → ``core/``,
``bailian_tui.tui`` → ``tui/`` and ``bailian_tui.simulator`` → ``simulator/`` (see docs/layout.md).
"""

__version__ = "0.1.0"
