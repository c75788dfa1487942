"""Issue 8, flow 2: a town hall with a host and two residents, each in a browser of their own. A question is asked,
approved, upvoted and answered; a poll is run to its results. Everything after the pages open arrives live: no page
is reloaded (a marker set in each page at the start is still there at the end)."""

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from rooms import services
from rooms.models import Message, Poll, RoomKind, RoomVisibility
from tests.factories import UserFactory, grant, resident_at
from tests.web.conftest import screenshot, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _live(page):
    expect(page.locator("#room-live")).to_have_attribute("data-state", "live")
    page.evaluate("window.__sameDocument = true")


def _not_reloaded(page):
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"


def test_a_town_hall_question_answered_and_a_poll_run_to_its_results(visit, tree):
    host = UserFactory.create(username="mayor-flow", first_name="Maya", last_name="Mayor")
    grant(host, Role.OFFICIAL, tree.city_a, tree.organisation)
    alice = resident_at(2, 2, username="alice-flow")
    bob = resident_at(3, 3, username="bob-flow")
    room = services.room_create(
        actor=host, title="Flood town hall", kind=RoomKind.TOWN_HALL, visibility=RoomVisibility.AREA, area=tree.city_a
    )
    services.message_post(actor=host, room_id=room.pk, kind="official", body="The river is expected to peak at 6 pm.")

    listing = visit("/rooms/", user=alice)
    expect(listing.get_by_role("heading", name="Flood town hall")).to_be_visible()
    screenshot(listing, "rooms-list")
    listing.get_by_role("button", name="Join Flood town hall").click()
    expect(listing.get_by_role("heading", level=1)).to_have_text("Flood town hall")

    panel = visit(f"/console/rooms/{room.pk}/", user=host)
    first = visit(f"/rooms/{room.pk}/", user=alice)
    second = visit(f"/rooms/{room.pk}/", user=bob)
    for page in (panel, first, second):
        _live(page)
    expect(first.locator("#official")).to_contain_text("The river is expected to peak at 6 pm.")

    # Resident 1 asks; the question waits for a moderator: the asker and the host see it, resident 2 does not.
    first.get_by_label("Ask a question").fill("Will the school on Mill Street open as a shelter?")
    first.get_by_role("button", name="Ask", exact=True).click()
    question = wait_until(lambda: Message.objects.filter(room=room, kind="question").first())
    asked = first.locator(f"#m-{question.pk}")
    expect(asked).to_contain_text("Will the school on Mill Street open as a shelter?")
    expect(asked.get_by_text("Waiting for a moderator")).to_be_visible()
    queued = panel.locator(f"[data-list=pending] #m-{question.pk}")
    expect(queued).to_contain_text("Will the school on Mill Street open as a shelter?")
    expect(second.locator("#questions")).not_to_contain_text("Mill Street")

    # The host approves it in the moderation panel; resident 2 sees it appear and upvotes it.
    queued.get_by_role("button", name="Approve").click()
    shown = second.locator(f"[data-list=questions] #m-{question.pk}")
    expect(shown).to_contain_text("Will the school on Mill Street open as a shelter?")
    expect(asked.get_by_text("Waiting for a moderator")).to_be_hidden()
    shown.get_by_role("button", name="Upvote").click()
    for page in (first, second, panel):
        expect(page.locator(f"#m-{question.pk} [data-field=votes]")).to_have_text("1")
    screenshot(panel, "console-room-moderation")

    # The host answers; both residents see the answer under the question.
    open_question = panel.locator(f"[data-list=questions] #m-{question.pk}")
    open_question.get_by_label("Your answer").fill("Yes, from 4 pm, with room for pets.")
    open_question.get_by_role("button", name="Answer").click()
    for page in (first, second):
        answered = page.locator(f"[data-list=answered] #m-{question.pk}")
        expect(answered).to_contain_text("Yes, from 4 pm, with room for pets.")
        expect(answered.get_by_text("Answered", exact=True)).to_be_visible()
        expect(answered).to_contain_text("Maya Mayor")

    # The host runs a poll; both residents vote; the host closes it and both see the results.
    panel.get_by_label("Poll question").fill("Do you have a way to leave by car?")
    panel.get_by_label("Options, one per line").fill("Yes\nNo, I need transport")
    panel.get_by_role("button", name="Open the poll").click()
    poll = wait_until(lambda: Poll.objects.filter(room=room).first())
    for page, choice in ((first, "Yes"), (second, "No, I need transport")):
        card = page.locator(f"#poll-{poll.pk}")
        expect(card).to_contain_text("Do you have a way to leave by car?")
        card.get_by_label(choice).check()
        card.get_by_role("button", name="Vote").click()
        expect(card).to_contain_text("You voted.")
    counts = panel.locator(f"#poll-{poll.pk} [data-field=count]")
    expect(counts).to_have_text(["1", "1"])
    panel.locator(f"#poll-{poll.pk}").get_by_role("button", name="Close the poll").click()
    for page in (first, second):
        card = page.locator(f"#poll-{poll.pk}")
        expect(card).to_have_attribute("data-closed", "1")
        expect(card.get_by_text("Closed: results")).to_be_visible()
        expect(card.locator("li[data-index='0']")).to_contain_text("Yes: 1 votes")
        expect(card.locator("li[data-index='1']")).to_contain_text("No, I need transport: 1 votes")
        expect(card.get_by_role("button", name="Vote")).to_be_hidden()
    screenshot(first, "room-townhall-resident")

    for page in (panel, first, second):
        _not_reloaded(page)
    question.refresh_from_db()
    assert question.question_state == "answered"
    assert question.votes == 1
