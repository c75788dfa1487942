"""rooms.signals.room_event_published: other apps hear of each event of a room's record once, after its commit, and
their failures never reach the person acting in the room."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from rooms import services
from rooms.models import MessageKind, Room, RoomEvent
from rooms.signals import room_event_published
from tests.rooms.conftest import People

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard() -> Iterator[list[RoomEvent]]:
    events: list[RoomEvent] = []

    def receiver(sender: Any, event: RoomEvent, **kwargs: Any) -> None:
        events.append(event)

    room_event_published.connect(receiver, dispatch_uid="tests.rooms.heard")
    try:
        yield events
    finally:
        room_event_published.disconnect(dispatch_uid="tests.rooms.heard")


def test_each_event_is_announced_once_after_its_commit(
    town_hall: Room, people: People, heard: list[RoomEvent], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = services.message_post(
            actor=people.host, room_id=town_hall.pk, kind=MessageKind.OFFICIAL, body="Sandbags at 3 pm."
        )
        assert heard == []  # not before the commit
    assert callbacks
    [event] = heard
    assert (event.room_id, event.type, event.data["message_id"]) == (town_hall.pk, "message.posted", message.pk)
    assert RoomEvent.objects.filter(pk=event.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.room_join(user=people.alice, room_id=town_hall.pk)
    assert [e.type for e in heard] == ["message.posted", "member.joined"]


def test_nothing_is_announced_when_the_change_is_rolled_back(
    town_hall: Room, people: People, heard: list[RoomEvent], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                services.message_post(
                    actor=people.host, room_id=town_hall.pk, kind=MessageKind.OFFICIAL, body="Never mind."
                )
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert heard == []


def test_a_failing_receiver_neither_fails_the_post_nor_deafens_the_others(
    town_hall: Room, people: People, heard: list[RoomEvent], django_capture_on_commit_callbacks: Any
) -> None:
    def broken(sender: Any, event: RoomEvent, **kwargs: Any) -> None:
        raise ValueError("a bug in another app")

    room_event_published.connect(broken, dispatch_uid="tests.rooms.broken")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            message = services.message_post(
                actor=people.host, room_id=town_hall.pk, kind=MessageKind.OFFICIAL, body="Still posted."
            )
    finally:
        room_event_published.disconnect(dispatch_uid="tests.rooms.broken")
    assert message.pk is not None
    assert [event.data["body"] for event in heard] == ["Still posted."]
