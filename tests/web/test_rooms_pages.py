"""The room pages through Django's test client (who may see and do what, bad input), and one browser check that a
room reads without JavaScript."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from rooms import services
from rooms.models import Message, Poll, PollVote, QuestionVote, Room, RoomEvent, RoomKind, RoomMember, RoomVisibility
from tests.factories import UserFactory, grant, resident_at
from tests.web.conftest import axe_violations, screenshot, transferred_bytes, wait_until


@pytest.fixture
def town(tree: Any) -> Any:
    host = UserFactory.create(username="mayor", first_name="Maya", last_name="Mayor")
    grant(host, Role.OFFICIAL, tree.city_a, tree.organisation)
    alice = resident_at(2, 2, username="alice")
    bob = resident_at(3, 3, username="bob")
    outsider = resident_at(25, 5, username="outsider")
    room = services.room_create(
        actor=host, title="Flood town hall", kind=RoomKind.TOWN_HALL, visibility=RoomVisibility.AREA, area=tree.city_a
    )
    return type("Town", (), {"host": host, "alice": alice, "bob": bob, "outsider": outsider, "room": room})


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def written() -> tuple[int, ...]:
    return (
        Message.objects.count(),
        QuestionVote.objects.count(),
        PollVote.objects.count(),
        Poll.objects.count(),
        RoomEvent.objects.count(),
        Room.objects.count(),
        RoomMember.objects.exclude(muted_until=None).count(),
    )


def act(user: Any, room: Room, **data: Any) -> Any:
    return client_for(user).post(f"/rooms/{room.pk}/act/", data)


def staff_act(user: Any, room: Room, **data: Any) -> Any:
    return client_for(user).post(f"/console/rooms/{room.pk}/act/", data)


# --- who may see what -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/rooms/", "/rooms/{id}/", "/console/rooms/", "/console/rooms/{id}/"])
def test_anonymous_people_are_sent_to_sign_in(town, path):
    response = Client().get(path.format(id=town.room.pk))

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_anonymous_posts_write_nothing(town):
    before = written()

    response = Client().post(f"/rooms/{town.room.pk}/act/", {"action": "question.ask", "body": "Hello?"})

    assert response.status_code == 302
    assert written() == before


def test_a_resident_of_the_area_sees_the_room_listed_and_open(town):
    listing = client_for(town.alice).get("/rooms/")
    page = client_for(town.alice).get(f"/rooms/{town.room.pk}/")

    assert listing.status_code == 200
    assert "Flood town hall" in listing.content.decode()
    assert "Town hall" in listing.content.decode()
    assert page.status_code == 200
    body = page.content.decode()
    assert "Ask a question" in body
    assert "Raise hand" in body


def test_someone_outside_the_area_neither_sees_nor_enters_the_room(town):
    before = written()

    listing = client_for(town.outsider).get("/rooms/")
    page = client_for(town.outsider).get(f"/rooms/{town.room.pk}/")
    ask = act(town.outsider, town.room, action="question.ask", body="Let me in")

    assert "Flood town hall" not in listing.content.decode()
    assert page.status_code == 403
    assert ask.status_code == 403
    assert written() == before


def test_an_unknown_room_is_404(town):
    assert client_for(town.alice).get("/rooms/999999/").status_code == 404
    assert act(town.alice, Room(pk=999999), action="question.ask", body="Hi").status_code == 404


def test_join_and_leave(town):
    client = client_for(town.alice)

    joined = client.post(f"/rooms/{town.room.pk}/join/")
    listed = client.get("/rooms/").content.decode()
    left = client.post(f"/rooms/{town.room.pk}/leave/")

    assert joined.status_code == 302
    assert "Leave" in listed
    assert left.status_code == 302
    assert RoomMember.objects.get(room=town.room, user=town.alice).left_at is not None


# --- the resident's forms ---------------------------------------------------------------------------------------


def test_a_question_asked_without_javascript_waits_for_a_moderator_and_is_shown_to_its_asker(town):
    response = act(town.alice, town.room, action="question.ask", body="Is the bridge open?")

    assert response.status_code == 302
    question = Message.objects.get(room=town.room, kind="question")
    assert question.question_state == "pending"
    assert "Is the bridge open?" in client_for(town.alice).get(f"/rooms/{town.room.pk}/").content.decode()
    assert "Is the bridge open?" not in client_for(town.bob).get(f"/rooms/{town.room.pk}/").content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {"action": "question.ask", "body": "   "},
        {"action": "question.vote", "question_id": "999999"},
        {"action": "question.vote", "question_id": "abc"},
        {"action": "question.vote"},
        {"action": "poll.vote", "poll_id": "x1", "choices": "0"},
        {"action": "poll.vote", "poll_id": "{poll}", "choices": "nine"},
        {"action": "poll.vote", "poll_id": "{poll}", "choices": "7"},
        {"action": "poll.vote", "poll_id": "{poll}"},
        {"action": "question.approve", "question_id": "1"},
        {"action": "launch-missiles"},
        {},
    ],
)
def test_bad_input_is_a_clear_4xx_and_writes_nothing(town, data):
    poll = services.poll_create(actor=town.host, room_id=town.room.pk, question="Evacuate now?", choices=["Yes", "No"])
    data = {k: v.format(poll=poll.pk) for k, v in data.items()}
    before = written()

    response = act(town.alice, town.room, **data)

    assert 400 <= response.status_code < 500, response.status_code
    assert response.status_code != 429
    assert written() == before


def test_an_empty_chat_message_is_refused(town):
    services.room_update(actor=town.host, room_id=town.room.pk, changes={"chat_open": True})
    before = written()

    response = act(town.alice, town.room, action="message.post", body="")

    assert response.status_code == 400
    assert "empty" in response.content.decode()
    assert written() == before


def test_a_vote_in_a_closed_poll_is_refused(town):
    poll = services.poll_create(actor=town.host, room_id=town.room.pk, question="Evacuate now?", choices=["Yes", "No"])
    services.poll_close(actor=town.host, room_id=town.room.pk, poll_id=poll.pk)
    before = written()

    response = act(town.alice, town.room, action="poll.vote", poll_id=str(poll.pk), choices="0")

    assert response.status_code == 409
    assert "closed" in response.content.decode()
    assert written() == before


def test_residents_vote_raise_hands_and_see_poll_results_without_javascript(town):
    poll = services.poll_create(actor=town.host, room_id=town.room.pk, question="Evacuate now?", choices=["Yes", "No"])

    vote = act(town.alice, town.room, action="poll.vote", poll_id=str(poll.pk), choices="1")
    hand = act(town.bob, town.room, action="hand.raise")
    services.poll_close(actor=town.host, room_id=town.room.pk, poll_id=poll.pk)
    page = client_for(town.bob).get(f"/rooms/{town.room.pk}/").content.decode()

    assert vote.status_code == 302
    assert hand.status_code == 302
    assert PollVote.objects.get(poll=poll).choices == [1]
    assert 'data-closed="1"' in page
    assert "Closed: results" in page
    assert 'data-hand="raised"' in page


# --- moderation -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {"action": "question.approve", "question_id": "{question}"},
        {"action": "question.answer", "question_id": "{question}", "body": "No."},
        {"action": "message.post", "kind": "official", "body": "Official!"},
        {"action": "member.ban", "user_id": "{bob}", "reason": "spam"},
        {"action": "member.mute", "user_id": "{bob}", "minutes": "10", "reason": "spam"},
        {"action": "poll.create", "question": "Q?", "choices": "a\nb"},
        {"action": "room.update", "slow_mode_seconds": "30"},
    ],
)
def test_moderation_by_a_resident_is_403_and_writes_nothing(town, data):
    question = services.question_ask(actor=town.bob, room_id=town.room.pk, body="Where do I go?")
    data = {k: v.format(question=question.pk, bob=town.bob.pk) for k, v in data.items()}
    before = written()

    response = staff_act(town.alice, town.room, **data)
    panel = client_for(town.alice).get(f"/console/rooms/{town.room.pk}/")

    assert response.status_code == 403
    assert panel.status_code == 403
    assert written() == before


def test_an_official_of_another_area_gets_no_panel_and_cannot_moderate(town, tree):
    other = UserFactory.create(username="beta-official")
    grant(other, Role.OFFICIAL, tree.city_b, tree.organisation)
    question = services.question_ask(actor=town.bob, room_id=town.room.pk, body="Where do I go?")
    before = written()

    panel = client_for(other).get(f"/console/rooms/{town.room.pk}/")
    approve = staff_act(other, town.room, action="question.approve", question_id=str(question.pk))

    assert panel.status_code == 403
    assert approve.status_code == 403
    assert written() == before


def test_the_host_moderates_without_javascript(town):
    question = services.question_ask(actor=town.alice, room_id=town.room.pk, body="Is the bridge open?")
    services.room_join(user=town.bob, room_id=town.room.pk)

    panel = client_for(town.host).get(f"/console/rooms/{town.room.pk}/")
    approved = staff_act(town.host, town.room, action="question.approve", question_id=str(question.pk))
    answered = staff_act(town.host, town.room, action="question.answer", question_id=str(question.pk), body="Closed.")
    polled = staff_act(town.host, town.room, action="poll.create", question="Evacuate?", choices="Yes\nNo\n")
    muted = staff_act(town.host, town.room, action="member.mute", user_id=str(town.bob.pk), minutes="5", reason="x")
    slow = staff_act(town.host, town.room, action="room.update", slow_mode_seconds="30")

    assert panel.status_code == 200
    assert "Is the bridge open?" in panel.content.decode()
    assert [r.status_code for r in (approved, answered, polled, muted, slow)] == [302] * 5
    question.refresh_from_db()
    town.room.refresh_from_db()
    assert question.question_state == "answered"
    assert Poll.objects.get(room=town.room).choices == ["Yes", "No"]
    assert RoomMember.objects.get(room=town.room, user=town.bob).muted_until is not None
    assert town.room.slow_mode_seconds == 30
    page = client_for(town.alice).get(f"/rooms/{town.room.pk}/").content.decode()
    assert "Closed." in page


@pytest.mark.parametrize(
    "data",
    [
        {"action": "question.approve", "question_id": "999999"},
        {"action": "question.approve", "question_id": "one"},
        {"action": "member.mute", "user_id": "{bob}", "minutes": "0", "reason": "x"},
        {"action": "member.mute", "user_id": "{bob}", "minutes": "5", "reason": ""},
        {"action": "member.ban", "user_id": "nobody", "reason": "x"},
        {"action": "poll.create", "question": "Only one?", "choices": "Yes"},
        {"action": "poll.close", "poll_id": "999999"},
        {"action": "room.update", "slow_mode_seconds": "fast"},
        {"action": "message.post", "kind": "official", "body": ""},
        {"action": "message.hide", "message_id": "{official}", "reason": "no"},
    ],
)
def test_bad_moderation_input_is_a_clear_4xx_and_writes_nothing(town, data):
    services.room_join(user=town.bob, room_id=town.room.pk)
    official = services.message_post(actor=town.host, room_id=town.room.pk, kind="official", body="Stay inside.")
    data = {k: v.format(bob=town.bob.pk, official=official.pk) for k, v in data.items()}
    before = written()

    response = staff_act(town.host, town.room, **data)

    assert 400 <= response.status_code < 500, response.status_code
    assert written() == before


def test_the_console_creates_a_room_over_the_hosts_area(town, tree):
    client = client_for(town.host)
    data = {"title": "Heat wave", "kind": "town_hall", "area": str(tree.city_a.pk), "visibility": "public",
            "audience": "general", "questions_premoderated": "on"}  # fmt: skip

    listing = client.get("/console/rooms/")
    created = client.post("/console/rooms/", data)
    outside = client.post("/console/rooms/", {**data, "area": str(tree.city_b.pk), "title": "Elsewhere"})

    assert listing.status_code == 200
    assert "Flood town hall" in listing.content.decode()
    assert created.status_code == 302
    room = Room.objects.get(title="Heat wave")
    assert created["Location"] == f"/console/rooms/{room.pk}/"
    assert outside.status_code == 400
    assert not Room.objects.filter(title="Elsewhere").exists()


# --- in a browser, without JavaScript ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_room_reads_without_javascript(visit, tree):
    host = UserFactory.create(username="mayor-nojs", first_name="Maya", last_name="Mayor")
    grant(host, Role.OFFICIAL, tree.city_a, tree.organisation)
    alice = resident_at(2, 2, username="alice-nojs")
    room = services.room_create(
        actor=host, title="Storm town hall", kind=RoomKind.TOWN_HALL, visibility=RoomVisibility.PUBLIC,
        area=tree.city_a, chat_open=True,
    )  # fmt: skip
    services.message_post(actor=host, room_id=room.pk, kind="official", body="Shelters are open at the school.")
    question = services.question_ask(actor=alice, room_id=room.pk, body="Can I bring my dog?")
    services.question_approve(actor=host, room_id=room.pk, question_id=question.pk)
    services.question_answer(actor=host, room_id=room.pk, question_id=question.pk, body="Yes, on a lead.")
    poll = services.poll_create(actor=host, room_id=room.pk, question="Do you have power?", choices=["Yes", "No"])

    page = visit(f"/rooms/{room.pk}/", user=alice, javascript=False)

    text = page.locator("main").inner_text()
    assert "Shelters are open at the school." in text
    assert "Can I bring my dog?" in text
    assert "Yes, on a lead." in text
    assert "Do you have power?" in text
    # A form works without JavaScript: a chat message goes through and is on the page after the redirect.
    page.get_by_label("Your message").fill("Power is back on my street.")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(f"**/rooms/{room.pk}/#chat")
    assert "Power is back on my street." in page.locator("#chat").inner_text()
    page.locator(f"#poll-{poll.pk}").get_by_label("No").check()
    page.locator(f"#poll-{poll.pk}").get_by_role("button", name="Vote").click()
    assert page.locator(f"#poll-{poll.pk} li[data-index='1'] [data-field=count]").inner_text() == "1"
    screenshot(page, "room-nojs")


@pytest.mark.django_db(transaction=True)
def test_hands_floor_and_hiding_work_live_between_the_panel_and_a_resident(visit, tree):
    host = UserFactory.create(username="mayor-hands", first_name="Maya", last_name="Mayor")
    grant(host, Role.OFFICIAL, tree.city_a, tree.organisation)
    alice = resident_at(2, 2, username="alice-hands")
    room = services.room_create(
        actor=host, title="Heat town hall", kind=RoomKind.TOWN_HALL, visibility=RoomVisibility.AREA, area=tree.city_a
    )
    panel = visit(f"/console/rooms/{room.pk}/", user=host)
    page = visit(f"/rooms/{room.pk}/", user=alice)
    for each in (panel, page):
        expect(each.locator("#room-live")).to_have_attribute("data-state", "live")
    # The town hall's chat is closed: the resident asks for the floor.
    expect(page.get_by_label("Your message")).to_be_hidden()
    page.get_by_role("button", name="Raise hand").click()
    expect(page.get_by_text("Your hand is raised.")).to_be_visible()
    hand = panel.locator(f"#hand-{alice.pk}")
    expect(hand.get_by_text("Hand raised")).to_be_visible()

    hand.get_by_role("button", name="Give the floor").click()
    expect(page.get_by_text("You have the floor")).to_be_visible()
    page.get_by_label("Your message").fill("Can the buses run all night?")
    page.get_by_role("button", name="Send").click()
    message = wait_until(lambda: Message.objects.filter(room=room, kind="chat").first())
    said = panel.locator(f"#chat #m-{message.pk}")
    expect(said).to_contain_text("Can the buses run all night?")
    expect(page.locator("#chat")).to_contain_text("Can the buses run all night?")

    said.get_by_label("Reason for hiding").fill("Off topic")
    said.get_by_role("button", name="Hide").click()
    expect(page.locator("#chat")).not_to_contain_text("Can the buses run all night?")
    hand.get_by_role("button", name="Lower hand").click()
    expect(page.get_by_role("button", name="Raise hand")).to_be_visible()
    expect(page.get_by_label("Your message")).to_be_hidden()
    message.refresh_from_db()
    assert message.hidden_reason == "Off topic"

    # The resident joined when the page connected: the panel lists them live; muting and banning reach them live.
    member = panel.locator(f"#member-{alice.pk}")
    expect(member).to_contain_text("Participant")
    member.get_by_label("Reason for muting").fill("Cool down")
    member.get_by_role("button", name="Mute").click()
    expect(member.get_by_text("Muted")).to_be_visible()
    expect(page.locator("#room-feedback")).to_contain_text("Cool down")
    member.get_by_label("Reason for banning").fill("Abuse")
    member.get_by_role("button", name="Ban").click()
    expect(member.get_by_text("Banned")).to_be_visible()
    expect(page.locator("#room-live")).to_have_attribute("data-state", "refused")
    assert RoomMember.objects.get(room=room, user=alice).banned_at is not None


@pytest.mark.django_db(transaction=True)
def test_room_pages_pass_axe_and_the_weight_budget(visit, tree):
    host = UserFactory.create(username="mayor-axe")
    grant(host, Role.OFFICIAL, tree.city_a, tree.organisation)
    alice = resident_at(2, 2, username="alice-axe")
    room = services.room_create(
        actor=host, title="Axe town hall", kind=RoomKind.TOWN_HALL, visibility=RoomVisibility.PUBLIC, area=tree.city_a
    )
    services.message_post(actor=host, room_id=room.pk, kind="official", body="Keep water at home.")
    question = services.question_ask(actor=alice, room_id=room.pk, body="How much water?")
    services.question_approve(actor=host, room_id=room.pk, question_id=question.pk)
    services.poll_create(actor=host, room_id=room.pk, question="Do you have water?", choices=["Yes", "No"])

    for path in ("/rooms/", f"/rooms/{room.pk}/"):
        page = visit(path, user=alice)
        page.wait_for_load_state("networkidle")
        assert axe_violations(page) == [], path
        assert sum(transferred_bytes(page).values()) <= 200_000, path
    arabic = visit(f"/rooms/{room.pk}/", user=alice, language="ar")
    assert arabic.locator("html").get_attribute("dir") == "rtl"
    assert axe_violations(arabic) == []
    for path in ("/console/rooms/", f"/console/rooms/{room.pk}/"):
        page = visit(path, user=host)
        expect(page.locator("h1")).to_be_visible()
        assert axe_violations(page) == [], path
        if path == "/console/rooms/":
            screenshot(page, "console-rooms")


def test_a_room_that_has_ended_reads_without_forms_and_refuses_posts(town):
    services.message_post(actor=town.host, room_id=town.room.pk, kind="official", body="We are done, thank you.")
    Room.objects.filter(pk=town.room.pk).update(
        opens_at=timezone.now() - timedelta(hours=2), ends_at=timezone.now() - timedelta(hours=1)
    )
    before = written()

    page = client_for(town.alice).get(f"/rooms/{town.room.pk}/")
    ask = act(town.alice, town.room, action="question.ask", body="Still there?")

    assert page.status_code == 200
    assert "We are done, thank you." in page.content.decode()
    assert 'data-read-only="1"' in page.content.decode()
    assert ask.status_code == 403
    assert written() == before
