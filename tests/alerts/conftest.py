"""Alert tests run the pipeline by hand: batches and dispatches are recorded instead of sent to the broker.

The fault suite (tests/faults) runs the real broker and workers.
"""

from dataclasses import dataclass, field

import pytest

from alerts import tasks
from alerts.services import dispatch as dispatch_service
from rooms import tasks as rooms_tasks


@dataclass
class Broker:
    batches: list[tuple[str, list[int]]] = field(default_factory=list)
    dispatches: list[int] = field(default_factory=list)
    announcements: list[int] = field(default_factory=list)

    def run_batches(self) -> None:
        while self.batches:
            transport, ids = self.batches.pop(0)
            dispatch_service.deliveries_send(transport_name=transport, delivery_ids=ids)


@pytest.fixture(autouse=True)
def broker(monkeypatch: pytest.MonkeyPatch) -> Broker:
    recorded = Broker()

    def enqueue(priority: int, transport: str, ids: list[int], countdown: float = 0.0) -> None:
        recorded.batches.append((transport, list(ids)))

    monkeypatch.setattr(dispatch_service, "_enqueue", enqueue)
    monkeypatch.setattr(tasks.dispatch, "delay", lambda alert_id: recorded.dispatches.append(alert_id))
    monkeypatch.setattr(rooms_tasks.alert_announce, "delay", lambda alert_id: recorded.announcements.append(alert_id))
    return recorded
