"""What the reliability run adds up, printed at its end by ``conftest.pytest_terminal_summary``.

Each test adds what it did as it goes: calls made (``operations``), faults it caused
(``faults``: kills, disk-full refusals, busy locks, plugin errors), hostile inputs it
tried (``inputs``), and acknowledged writes it then could not find (``lost``), counted
before the test asserts there are none, so a failing run reports what it lost.
"""

from __future__ import annotations

import attrs


@attrs.define
class Figures:
    operations: int = 0
    faults: int = 0
    inputs: int = 0
    lost: int = 0

    def add(self, *, operations: int = 0, faults: int = 0, inputs: int = 0, lost: int = 0) -> None:
        self.operations += operations
        self.faults += faults
        self.inputs += inputs
        self.lost += lost

    def summary(self) -> str:
        return (
            f"reliability: {self.operations:,} operations, {self.faults:,} faults injected, "
            f"{self.inputs:,} hostile inputs, data lost: {self.lost:,}"
        )


FIGURES = Figures()
