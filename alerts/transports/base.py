"""What a transport is: it sends a batch of rendered messages and reports each outcome as soon as it is final."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

Status = Literal["sent", "failed", "blocked", "retry"]


@dataclass(frozen=True)
class Outgoing:
    """One message to send. `delivery_id` travels with it so that a receiver can drop a repeat."""

    delivery_id: int
    alert_id: int
    recipient_id: int
    address: str  # the channel identity's external id (chat id, e-mail address); empty for websocket
    language: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    status: Status
    reason: str = ""
    retry_after: float | None = None  # seconds, as the provider asked
    provider_message_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Transport:
    """Base class. Subclasses set `name` and `channel_kind` and implement `send`."""

    name: ClassVar[str]
    channel_kind: ClassVar[str]
    batch_size: ClassVar[int] = 100

    def send(self, messages: Sequence[Outgoing]) -> Iterator[list[Outcome]]:
        """Send the messages; yield outcomes in groups, each as soon as it is final (so it is recorded at once)."""
        raise NotImplementedError
