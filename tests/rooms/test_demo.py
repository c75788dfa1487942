"""The demo has rooms the demo logins can use, and loading it twice adds none."""

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.demo import demo_username
from accounts.models import Role, User
from rooms.models import Message, MessageKind, Room, RoomEvent, RoomKind
from rooms.record import room_verify
from rooms.selectors import room_access, room_list_for_user


def load_demo() -> str:
    out = StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def user(role: str) -> User:
    return User.objects.get(username=demo_username(role))


@pytest.mark.django_db
def test_the_demo_has_rooms_of_every_kind_hosted_by_the_official(monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    out = load_demo()

    rooms = {room.kind: room for room in Room.objects.all()}
    assert set(rooms) == set(RoomKind.values)
    assert "Added 5 rooms." in out
    official = user(Role.OFFICIAL)
    for room in rooms.values():
        assert room_access(room=room, user=official).role == "host"
        assert room_verify(room=room).ok
    guidance = Message.objects.get(room=rooms[RoomKind.GUIDANCE], kind=MessageKind.GUIDANCE)
    assert guidance.pinned
    assert "shelter" in guidance.body.lower()
    assert rooms[RoomKind.COMMUNITY].audience == "vulnerable"
    # The demo resident lives in the city: every room but the staff's coordination room is theirs.
    resident_rooms = {room.kind for room in room_list_for_user(user=user(Role.RESIDENT))}
    assert resident_rooms == set(RoomKind.values) - {RoomKind.COORDINATION}
    assert RoomKind.COORDINATION in {room.kind for room in room_list_for_user(user=user(Role.ALERT_DRAFTER))}

    before = (Room.objects.count(), Message.objects.count(), RoomEvent.objects.count())
    again = load_demo()
    assert (Room.objects.count(), Message.objects.count(), RoomEvent.objects.count()) == before
    assert "rooms." not in again
