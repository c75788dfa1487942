"""The fault-injection suite (`make test-faults`): see scripts/test.sh's faults lane."""

import pytest

from tests.faults.report import RECORDED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RECORDED:
        return
    terminalreporter.section("fault cases: targeted / delivered / lost / duplicated")
    for counts in RECORDED:
        terminalreporter.write_line(counts.line())


# The dispatch cases' worker and beat (tests/faults/workers.py), for every module of the suite.
from tests.faults.workers import stack_factory  # noqa: E402, F401
