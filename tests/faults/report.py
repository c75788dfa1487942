"""What each fault case printed: targeted / delivered / lost / duplicated, shown again at the end of the run.

`fault_report` records one case's counts, prints them at once (visible with -s) and fails the test on any loss or
duplicate. tests/faults/conftest.py prints every recorded case in pytest's terminal summary, so the counts are in
the CI log whether the tests passed or not.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class FaultCounts:
    case: str
    targeted: int
    delivered: int
    lost: int
    duplicated: int
    detail: str = ""

    def line(self) -> str:
        text = (
            f"{self.case}: targeted {self.targeted} / delivered {self.delivered} / lost {self.lost}"
            f" / duplicated {self.duplicated}"
        )
        return f"{text} ({self.detail})" if self.detail else text


RECORDED: list[FaultCounts] = []


def fault_report(case: str, *, targeted: int, delivered: int, lost: int, duplicated: int, detail: str = "") -> None:
    """Record and print a case's counts; fail on any loss or duplicate, or when nothing was targeted."""
    counts = FaultCounts(case, targeted, delivered, lost, duplicated, detail)
    RECORDED.append(counts)
    print(f"\nFAULT {counts.line()}", flush=True)  # noqa: T201 - the counts are this suite's output
    assert targeted > 0, f"{case}: nothing was targeted, so the case proves nothing"
    assert lost == 0, f"{case}: {lost} of {targeted} lost"
    assert duplicated == 0, f"{case}: {duplicated} duplicated"
    assert delivered == targeted, f"{case}: delivered {delivered} of {targeted}"
