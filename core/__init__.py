"""bailian-tui core: every DashScope operation and all data handling, with no UI imports."""
