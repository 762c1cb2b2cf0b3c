"""Prints the reliability figures (``figures.FIGURES``) at the end of a run that had any."""

from __future__ import annotations

import attrs
import pytest

from .figures import FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if any(attrs.astuple(FIGURES)):
        terminalreporter.write_sep("-", "reliability figures")
        terminalreporter.write_line(FIGURES.summary())
