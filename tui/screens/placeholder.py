"""Screens whose content arrives with a later issue: they say so instead of pretending."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from tui.screens.base import BaseScreen


class PlaceholderScreen(BaseScreen):
    MESSAGE = ""

    def compose_body(self) -> ComposeResult:
        yield Static(self.MESSAGE, classes="placeholder")


class DeploymentsScreen(PlaceholderScreen):
    TITLE_TEXT = "Deployments"
    MESSAGE = ("Deployments — not built yet.\n\nDeploy, scale, try and evaluate arrive with issue 6.")

