"""The rooms REST API: who sees which rooms, creating rooms (and refusing bad input without writing anything),
joining, inviting, reading messages and events, verification, and 404 for rooms that do not exist."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services as accounts_services
from accounts.models import GroupKind, Role
from rooms import services
from rooms.models import Room, RoomEvent, RoomKind, RoomMember, RoomVisibility
from tests.factories import UserFactory, grant
from tests.rooms.conftest import People, make_room

pytestmark = pytest.mark.django_db


def client_for(user: Any = None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def _written() -> tuple[int, int, int]:
    return Room.objects.count(), RoomMember.objects.count(), RoomEvent.objects.count()


def _body(tree: Any, **extra: Any) -> dict[str, Any]:
    return {"title": "Heat wave town hall", "kind": "town_hall", "visibility": "public", "area": tree.city_a.pk,
            **extra}  # fmt: skip


# --- listing ------------------------------------------------------------------------------------------------


def test_the_room_list_shows_only_rooms_the_person_may_enter(tree, people):
    public = make_room(tree, people, title="Public town hall")
    area = make_room(tree, people, title="Alphaville community", kind=RoomKind.COMMUNITY,
                     visibility=RoomVisibility.AREA)  # fmt: skip
    coordination = make_room(tree, people, title="Coordination", kind=RoomKind.COORDINATION)
    invite = make_room(tree, people, title="Invited only", visibility=RoomVisibility.INVITE)
    group = accounts_services.communication_group_ensure(key="dialysis-a", name="Dialysis patients",
                                                         kind=GroupKind.NEEDS, area=tree.city_a)  # fmt: skip
    accounts_services.group_member_add(group=group, user=people.carol)
    grouped = make_room(tree, people, title="For a group", visibility=RoomVisibility.GROUP, groups=[group])
    ended = make_room(tree, people, title="Over", opens_at=timezone.now() - timedelta(days=2),
                      ends_at=timezone.now() - timedelta(days=1))  # fmt: skip
    later = make_room(tree, people, title="Next week", opens_at=timezone.now() + timedelta(days=7))

    def titles(user: Any) -> set[str]:
        response = client_for(user).get("/api/rooms/")
        assert response.status_code == 200
        return {room["title"] for room in response.json()}

    assert titles(people.alice) == {public.title, area.title}
    assert titles(people.carol) == {public.title, area.title, grouped.title}
    assert titles(people.outsider) == {public.title}
    assert titles(people.host) == {public.title, area.title, coordination.title, invite.title, grouped.title,
                                   later.title}  # fmt: skip
    assert ended.title not in titles(people.host)
    assert client_for().get("/api/rooms/").status_code == 401


# --- creating -----------------------------------------------------------------------------------------------


def test_an_official_creates_a_room_and_hosts_it(tree, people):
    response = client_for(people.host).post("/api/rooms/", _body(tree, languages=["en", "fr"]), format="json")

    assert response.status_code == 201, response.content
    room = Room.objects.get(pk=response.json()["id"])
    assert (room.title, room.kind, room.area_id, room.languages) == ("Heat wave town hall", "town_hall",
                                                                     tree.city_a.pk, ["en", "fr"])  # fmt: skip
    assert room.questions_premoderated is True  # the town-hall default
    assert RoomMember.objects.get(room=room, user=people.host).role == "host"
    assert list(RoomEvent.objects.filter(room=room).values_list("type", flat=True)) == ["room.created"]


@pytest.mark.parametrize("who", ["alice", "moderator", "outside_official"])
def test_creating_a_room_needs_the_official_role_over_its_area(tree, people, who):
    if who == "outside_official":
        user = UserFactory.create(username="betatown-official")
        grant(user, Role.OFFICIAL, tree.city_b, tree.organisation)
    else:
        user = getattr(people, who)
    before = _written()

    response = client_for(user).post("/api/rooms/", _body(tree), format="json")

    assert response.status_code == 403, response.content
    assert _written() == before


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"kind": "disco"}, "kind"),
        ({"visibility": "everyone"}, "visibility"),
        ({"opens_at": "2030-01-02T10:00:00Z", "ends_at": "2030-01-02T09:00:00Z"}, "ends_at"),
        ({"visibility": "group"}, "groups"),
        ({"title": ["a", "list"]}, "title"),
        ({"title": ""}, "title"),
        ({"languages": "en"}, "languages"),
        ({"chat_open": "maybe"}, "chat_open"),
        ({"slow_mode_seconds": "fast"}, "slow_mode_seconds"),
        ({"slow_mode_seconds": 99999}, "slow_mode_seconds"),
        ({"opens_at": "next tuesday"}, "opens_at"),
        ({"area": 999999}, "area"),
        ({"area": "Alphaville"}, "area"),
        ({"groups": [999999], "visibility": "group"}, "groups"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(tree, people, extra, field):
    before = _written()

    response = client_for(people.host).post("/api/rooms/", _body(tree, **extra), format="json")

    assert response.status_code == 400, response.content
    assert field in str(response.json())
    assert _written() == before


def test_a_missing_body_or_json_that_is_not_an_object_is_refused(tree, people):
    before = _written()
    client = client_for(people.host)

    assert client.post("/api/rooms/", {}, format="json").status_code == 400
    assert client.post("/api/rooms/", ["not", "an", "object"], format="json").status_code == 400
    assert client.post("/api/rooms/", "{broken", content_type="application/json").status_code == 400
    assert _written() == before


# --- changing, joining, leaving, inviting ---------------------------------------------------------------------


def test_moderators_change_how_a_room_runs_and_residents_cannot(tree, people, town_hall):
    url = f"/api/rooms/{town_hall.pk}/"

    refused = client_for(people.alice).patch(url, {"slow_mode_seconds": 30}, format="json")
    changed = client_for(people.moderator).patch(url, {"slow_mode_seconds": 30}, format="json")
    bad = client_for(people.moderator).patch(url, {"slow_mode_seconds": -1}, format="json")

    assert refused.status_code == 403
    assert changed.status_code == 200
    assert bad.status_code == 400
    town_hall.refresh_from_db()
    assert town_hall.slow_mode_seconds == 30


def test_joining_and_leaving(tree, people, town_hall):
    client = client_for(people.alice)

    joined = client.post(f"/api/rooms/{town_hall.pk}/join/")
    again = client.post(f"/api/rooms/{town_hall.pk}/join/")
    detail = client.get(f"/api/rooms/{town_hall.pk}/")
    left = client.post(f"/api/rooms/{town_hall.pk}/leave/")

    assert joined.status_code == again.status_code == 200
    assert joined.json() == {"room_id": town_hall.pk, "role": "participant"}
    assert detail.json()["my_role"] == "participant"
    assert left.status_code == 204
    member = RoomMember.objects.get(room=town_hall, user=people.alice)
    assert member.left_at is not None
    assert list(RoomEvent.objects.filter(room=town_hall).values_list("type", flat=True)) == [
        "room.created", "member.joined", "member.left",
    ]  # fmt: skip


def test_an_outsider_cannot_join_an_area_room(tree, people):
    room = make_room(tree, people, kind=RoomKind.COMMUNITY, visibility=RoomVisibility.AREA)

    response = client_for(people.outsider).post(f"/api/rooms/{room.pk}/join/")

    assert response.status_code == 403
    assert not RoomMember.objects.filter(room=room, user=people.outsider).exists()


def test_a_host_invites_and_a_participant_cannot(tree, people):
    room = make_room(tree, people, visibility=RoomVisibility.INVITE, title="Press pool")
    services.room_member_add(room=room, user=people.alice, actor=people.host)

    before = client_for(people.outsider).get(f"/api/rooms/{room.pk}/")
    by_participant = client_for(people.alice).post(f"/api/rooms/{room.pk}/members/", {"user_id": people.bob.pk})
    invited = client_for(people.host).post(f"/api/rooms/{room.pk}/members/", {"user_id": people.outsider.pk})
    twice = client_for(people.host).post(f"/api/rooms/{room.pk}/members/", {"user_id": people.outsider.pk})
    nobody = client_for(people.host).post(f"/api/rooms/{room.pk}/members/", {"user_id": 999999})
    probing = client_for(people.alice).post(f"/api/rooms/{room.pk}/members/", {"user_id": 999999})
    after = client_for(people.outsider).get(f"/api/rooms/{room.pk}/")

    assert before.status_code == 403
    assert by_participant.status_code == 403
    assert not RoomMember.objects.filter(room=room, user=people.bob).exists()
    assert (invited.status_code, invited.json()) == (201, {"added": True})
    assert (twice.status_code, twice.json()) == (200, {"added": False})
    assert nobody.status_code == 404
    assert probing.status_code == 403  # a participant learns nothing about which ids exist
    assert after.status_code == 200
    assert RoomMember.objects.get(room=room, user=people.outsider).source == "invite"


# --- reading ------------------------------------------------------------------------------------------------


def _with_a_hidden_message(people: People, room: Room) -> tuple[Any, Any]:
    shown = services.message_post(actor=people.alice, room_id=room.pk, kind="chat", body="The bridge is open")
    hidden = services.message_post(actor=people.bob, room_id=room.pk, kind="chat", body="HIDDEN-TEXT")
    services.message_hide(actor=people.moderator, room_id=room.pk, message_id=hidden.pk, reason="Insults")
    return shown, hidden


def test_hidden_messages_are_listed_only_for_moderators_with_their_reason(tree, people, town_hall):
    shown, hidden = _with_a_hidden_message(people, town_hall)
    url = f"/api/rooms/{town_hall.pk}/messages/"

    for_alice = client_for(people.alice).get(url).json()
    for_bob = client_for(people.bob).get(url).json()
    for_moderator = client_for(people.moderator).get(url).json()

    assert [m["id"] for m in for_alice] == [shown.pk]
    assert "hidden_reason" not in for_alice[0]
    assert [m["id"] for m in for_bob] == [shown.pk]  # not even to its author
    by_id = {m["id"]: m for m in for_moderator}
    assert set(by_id) == {shown.pk, hidden.pk}
    assert by_id[hidden.pk]["hidden_reason"] == "Insults"
    assert by_id[hidden.pk]["body"] == "HIDDEN-TEXT"
    assert by_id[shown.pk]["hidden_reason"] == ""


def test_the_question_queue_shows_pending_questions_only_to_moderators(tree, people):
    room = make_room(tree, people, questions_premoderated=True)
    pending = services.question_ask(actor=people.alice, room_id=room.pk, body="Pending?")
    url = f"/api/rooms/{room.pk}/questions/"

    assert client_for(people.bob).get(url).json() == []
    assert [q["id"] for q in client_for(people.moderator).get(url).json()] == [pending.pk]


def test_events_catch_up_after_an_id_in_each_persons_view(tree, people, town_hall):
    services.room_join(user=people.alice, room_id=town_hall.pk)
    services.room_join(user=people.bob, room_id=town_hall.pk)
    mark = Room.objects.get(pk=town_hall.pk).last_seq
    shown, hidden = _with_a_hidden_message(people, town_hall)
    services.room_member_mute(actor=people.moderator, room_id=town_hall.pk, user_id=people.bob.pk, minutes=5,
                              reason="Spam")  # fmt: skip
    head = Room.objects.get(pk=town_hall.pk).last_seq
    url = f"/api/rooms/{town_hall.pk}/events/"

    for_alice = client_for(people.alice).get(url, {"after": mark}).json()
    for_bob = client_for(people.bob).get(url, {"after": mark}).json()
    for_moderator = client_for(people.moderator).get(url, {"after": mark}).json()
    everything = client_for(people.moderator).get(url).json()
    nothing_new = client_for(people.alice).get(url, {"after": head}).json()

    assert for_alice["last_event_id"] == for_moderator["last_event_id"] == head
    assert all(e["id"] > mark for e in for_moderator["events"])
    assert [e["id"] for e in for_moderator["events"]] == list(range(mark + 1, head + 1))
    assert [(e["event"], e["data"].get("message_id")) for e in for_alice["events"]] == [
        ("message.posted", shown.pk), ("message.hidden", hidden.pk),
    ]  # fmt: skip
    assert for_alice["events"][1]["data"] == {"message_id": hidden.pk}  # no reason, no author
    assert "member.muted" in [e["event"] for e in for_bob["events"]]  # the person it is about sees it
    assert [e["id"] for e in everything["events"]] == list(range(1, head + 1))
    assert nothing_new == {"events": [], "last_event_id": head}
    assert client_for(people.alice).get(url, {"after": "-1"}).status_code == 400
    assert client_for(people.alice).get(url, {"after": "abc"}).status_code == 400
    assert client_for(people.outsider).get(url).status_code == 200  # a public room
    area_room = make_room(tree, people, visibility=RoomVisibility.AREA, title="Area only")
    assert client_for(people.outsider).get(f"/api/rooms/{area_room.pk}/events/").status_code == 403


def test_the_verify_endpoint_is_for_auditors_only(tree, people, town_hall):
    auditor = UserFactory.create(username="auditor")
    grant(auditor, Role.AUDITOR, tree.city_a, tree.organisation)
    other_auditor = UserFactory.create(username="betatown-auditor")
    grant(other_auditor, Role.AUDITOR, tree.city_b, tree.organisation)
    message = services.message_post(actor=people.host, room_id=town_hall.pk, kind="official", body="Stay inside.")
    url = f"/api/rooms/{town_hall.pk}/verify/"

    ok = client_for(auditor).get(url)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE rooms_message SET body = %s WHERE id = %s", ["Go outside.", message.pk])
    failed = client_for(auditor).get(url)

    assert ok.status_code == 200
    assert ok.json() == {"room_id": town_hall.pk, "ok": True, "events": 2, "problems": []}
    assert failed.json()["ok"] is False
    assert f"message {message.pk} was altered" in failed.json()["problems"][0]
    for refused in (people.alice, people.host, people.moderator, other_auditor):
        assert client_for(refused).get(url).status_code == 403
    assert client_for().get(url).status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "", None),
        ("patch", "", {"slow_mode_seconds": 5}),
        ("post", "join/", None),
        ("post", "leave/", None),
        ("post", "members/", {"user_id": 1}),
        ("get", "messages/", None),
        ("get", "questions/", None),
        ("get", "events/", None),
        ("get", "transcript/", None),
        ("get", "transcript/?format=md&audit=1", None),
        ("get", "verify/", None),
    ],
)
def test_an_unknown_room_is_not_found_everywhere(tree, people, method, path, body):
    response = getattr(client_for(people.host), method)(f"/api/rooms/999999/{path}", body, format="json")

    assert response.status_code == 404, response.content
