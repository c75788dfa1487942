"""Alerts meet rooms: an issued alert is announced once in each open room whose area it touches, in the room's
language, and nowhere else; exercises and tests stay out."""

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Role
from alerts import tasks as alert_tasks
from alerts.models import CapStatus
from rooms import alert_rooms
from rooms import tasks as rooms_tasks
from rooms.models import Message, MessageKind, Room, RoomEvent, RoomKind
from rooms.record import room_verify
from tests.alerts.factories import content_over, issued_alert, staff_for
from tests.factories import UserFactory, grant
from tests.rooms.conftest import People, make_room

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Tasks are recorded instead of sent to the broker (the alerts' own broker fixture is not in force here)."""
    announced: list[int] = []
    monkeypatch.setattr(alert_tasks.dispatch, "delay", lambda alert_id: None)
    monkeypatch.setattr(rooms_tasks.alert_announce, "delay", lambda alert_id: announced.append(alert_id))
    return announced


@pytest.fixture
def rooms(tree: Any, people: People) -> dict[str, Room]:
    regional = UserFactory.create(username="regional-official")
    grant(regional, Role.OFFICIAL, tree.region, tree.organisation)
    betatown = UserFactory.create(username="betatown-official")
    grant(betatown, Role.OFFICIAL, tree.city_b, tree.organisation)
    now = timezone.now()
    return {
        "town_hall": make_room(tree, people, title="Alphaville town hall"),
        "district": make_room(
            tree, people, title="Alpha One community", kind=RoomKind.COMMUNITY, area=tree.district_a1, visibility="area"
        ),
        "french": make_room(tree, people, title="Salle francophone", kind=RoomKind.COMMUNITY, languages=["fr"]),
        "region": make_room(
            tree, People(**{**people.__dict__, "host": regional}), title="North region", area=tree.region
        ),
        "betatown": make_room(
            tree, People(**{**people.__dict__, "host": betatown}), title="Betatown town hall", area=tree.city_b
        ),
        "coordination": make_room(tree, people, title="Coordination", kind=RoomKind.COORDINATION),
        "ended": make_room(
            tree, people, title="Last month", opens_at=now - timedelta(days=30), ends_at=now - timedelta(days=29)
        ),
        "later": make_room(tree, people, title="Next week", opens_at=now + timedelta(days=7)),
    }


def _announcements(room: Room) -> list[Message]:
    return list(Message.objects.filter(room=room, kind=MessageKind.ANNOUNCEMENT))


def test_an_issued_alert_is_announced_once_in_each_open_room_of_the_areas_it_touches(tree, rooms, enqueued):
    alert = issued_alert(staff_for(tree), content_over(1, 1, 3, 3, languages=("en-US", "fr-FR")))

    posted = alert_rooms.alert_announce(alert_id=alert.pk)
    again = rooms_tasks.alert_announce(alert.pk)  # a retried task adds nothing

    assert (posted, again) == (4, 0)
    announced = {name for name, room in rooms.items() if _announcements(room)}
    assert announced == {"town_hall", "district", "french", "region"}
    for name in announced:
        [message] = _announcements(rooms[name])
        assert message.alert_id == alert.pk
        assert message.author_id is None
        assert message.body.startswith("ALERT (Severe, Expected): Flood warning")
        assert "Move to higher ground." in message.body
        room = Room.objects.get(pk=rooms[name].pk)
        event = RoomEvent.objects.get(room=room, seq=room.last_seq)
        assert (event.type, event.data["message_id"], event.data["alert_id"]) == ("message.posted", message.pk,
                                                                                 alert.pk)  # fmt: skip
        assert room_verify(room=room).ok


def test_the_announcement_is_in_the_rooms_language_when_the_alert_has_it(tree, rooms, enqueued):
    alert = issued_alert(staff_for(tree), content_over(1, 1, 3, 3, languages=("en-US", "fr-FR")))

    alert_rooms.alert_announce(alert_id=alert.pk)

    [french] = _announcements(rooms["french"])
    [english] = _announcements(rooms["town_hall"])
    assert (french.language, english.language) == ("fr-FR", "en-US")
    assert "Flood warning (fr-FR)" in french.body
    assert "Flood warning (en-US)" in english.body


def test_a_room_in_a_language_the_alert_lacks_gets_the_first_language(tree, rooms, enqueued):
    alert = issued_alert(staff_for(tree), content_over(1, 1, 3, 3, languages=("en-US",)))

    alert_rooms.alert_announce(alert_id=alert.pk)

    [message] = _announcements(rooms["french"])
    assert message.language == "en-US"


def test_an_alert_elsewhere_is_announced_only_in_the_rooms_of_its_own_areas(tree, rooms, enqueued):
    alert = issued_alert(staff_for(tree), content_over(7, 7, 9, 9))  # in Alphaville, outside Alpha One

    assert alert_rooms.alert_announce(alert_id=alert.pk) == 3
    assert {name for name, room in rooms.items() if _announcements(room)} == {"town_hall", "french", "region"}


@pytest.mark.parametrize("status", [CapStatus.EXERCISE, CapStatus.TEST])
def test_exercises_and_tests_are_not_announced(tree, rooms, enqueued, status):
    alert = issued_alert(staff_for(tree), replace(content_over(1, 1, 3, 3), status=status))

    assert alert_rooms.alert_announce(alert_id=alert.pk) == 0
    assert not Message.objects.filter(kind=MessageKind.ANNOUNCEMENT).exists()


def test_an_unknown_alert_is_done_quietly(tree, rooms, enqueued):
    assert rooms_tasks.alert_announce(999999) == 0


def test_issuing_enqueues_the_announcement_after_commit(tree, rooms, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        alert = issued_alert(staff_for(tree), content_over(1, 1, 3, 3))
        assert enqueued == []  # not before the transaction commits
    for callback in callbacks:
        callback()

    assert enqueued == [alert.pk]
    assert not Message.objects.filter(kind=MessageKind.ANNOUNCEMENT).exists()  # the task posts, not the signal
