"""Crash-safety tests: shared switches and the crash-point summary.

``TOKENPORT_CRASH_FULL=1`` runs the full counts (every crash point, 200+ killed writers per
backend); without it each test runs a smaller sample that keeps CI fast. Every test adds
the crash points it tried to a tally that is printed at the end of the run (pytest's
terminal summary, shown without ``-s``).
"""

from __future__ import annotations

import os
from collections import defaultdict

import pytest

_TALLY = pytest.StashKey[dict[str, dict[str, int]]]()


def full_run() -> bool:
    return os.environ.get("TOKENPORT_CRASH_FULL") == "1"


class Tally:
    """Crash points per backend and kind, for the summary."""

    def __init__(self, table: dict[str, dict[str, int]]) -> None:
        self._table = table

    def add(self, backend: str, kind: str, count: int) -> None:
        self._table[backend][kind] += count
        print(f"[crash] {backend}: {count} {kind}")


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Tally:
    stash = request.config.stash
    if _TALLY not in stash:
        table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        stash[_TALLY] = table
    return Tally(stash[_TALLY])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    table = terminalreporter.config.stash.get(_TALLY, None)
    if not table:
        return
    mode = "full" if full_run() else "sample (TOKENPORT_CRASH_FULL=1 for the full run)"
    terminalreporter.section(f"crash points tried, {mode}")
    for backend in sorted(table):
        kinds = table[backend]
        parts = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        terminalreporter.write_line(f"{backend:8} {sum(kinds.values()):6} ({parts})")
