"""A resident's alert pages: the list (mine, or the public alerts in force), one alert with its area, the answer.

The first tests use Django's test client; the browser tests at the end run the real stack (daphne, a Celery
worker, the Redis channel layer): the page works with JavaScript off, and an alert issued while the page is open
arrives on it without a reload and can be answered there.
"""

from typing import Any

import pytest
from django.test import Client

from accounts import services as accounts_services
from accounts.models import ChannelKind
from alerts import selectors_resident
from alerts.models import Alert, Reply
from alerts.services import dispatch as dispatch_service
from alerts.services import lifecycle
from tests.alerts.factories import Staff, content_over, issued_alert, staff_for, web_resident
from tests.factories import AreaTree, UserFactory, resident_at
from tests.web.conftest import axe_violations, screenshot, transferred_bytes, wait_until


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[int]]]:
    """Dispatch in the test process: delivery batches are recorded instead of sent to a broker."""
    batches: list[tuple[str, list[int]]] = []
    monkeypatch.setattr(
        dispatch_service, "_enqueue", lambda priority, transport, ids, countdown=0.0: batches.append((transport, ids))
    )
    return batches


def _issue(staff: Staff, *args: Any, **kwargs: Any) -> Alert:
    alert = issued_alert(staff, content_over(*args, **kwargs))
    dispatch_service.alert_dispatch(alert_id=alert.pk)
    return alert


def _signed_in(user: Any, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    client.cookies["django_language"] = language
    return client


pytestmark = pytest.mark.django_db


def test_anonymous_visitors_see_public_alerts_in_force_and_an_invitation_to_sign_in(tree: AreaTree, no_broker) -> None:
    alert = _issue(staff_for(tree), 0.5, 0.5, 2, 2)
    response = Client().get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-alert-id="{alert.pk}"' in html
    assert "Flood warning (en-US)" in html
    assert "/login/" in html
    assert "data-reply-form" not in html  # nothing to answer without an account


def test_a_resident_sees_the_alert_sent_to_them_with_what_to_do_and_the_two_answers(tree: AreaTree, no_broker) -> None:
    resident = web_resident(1, 1)
    alert = _issue(staff_for(tree), 0.5, 0.5, 2, 2, severity="Extreme")
    response = _signed_in(resident).get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f'<article class="card alert-card extreme" data-alert-id="{alert.pk}"' in html
    assert 'class="instruction"' in html
    assert "Move to higher ground." in html
    assert "Riverside" in html
    assert ">I'm safe<" in html
    assert ">I need help<" in html
    assert f'action="/alerts/{alert.pk}/reply/"' in html
    assert 'data-live-url="/ws/alerts/"' in html


def test_the_headline_is_the_info_in_the_readers_language_with_the_dispatch_fallback(tree: AreaTree, no_broker) -> None:
    resident = web_resident(1, 1)
    _issue(staff_for(tree), 0.5, 0.5, 2, 2, languages=("en-US", "fr-CA"))
    assert "Flood warning (fr-CA)" in _signed_in(resident, "fr").get("/").content.decode()
    assert "Flood warning (en-US)" in _signed_in(resident, "en").get("/").content.decode()
    assert "Flood warning (en-US)" in _signed_in(resident, "ja").get("/").content.decode()  # first info


def test_a_resident_answers_without_javascript_and_sees_their_answer(tree: AreaTree, no_broker) -> None:
    resident = web_resident(1, 1)
    alert = _issue(staff_for(tree), 0.5, 0.5, 2, 2)
    client = _signed_in(resident)
    response = client.post(
        f"/alerts/{alert.pk}/reply/",
        {"kind": "need_help", "message": "Water in the house", "lat": "1.1", "lon": "1.2", "next": "/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    reply = Reply.objects.get(alert=alert, user=resident)
    assert (reply.kind, reply.message, reply.location.x, reply.location.y) == (
        "need_help",
        "Water in the house",
        1.2,
        1.1,
    )
    assert "Your answer: I need help" in client.get("/").content.decode()


def test_a_script_answers_with_fetch_and_gets_the_status_text(tree: AreaTree, no_broker) -> None:
    resident = web_resident(1, 1)
    alert = _issue(staff_for(tree), 0.5, 0.5, 2, 2)
    response = _signed_in(resident).post(f"/alerts/{alert.pk}/reply/", {"kind": "safe"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 201
    assert response.json() == {"alert_id": alert.pk, "kind": "safe", "status": "Your answer: I'm safe"}


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"kind": "maybe"}, 400),
        ({"kind": ""}, 400),
        ({"kind": "need_help", "lat": "north", "lon": "1"}, 400),
        ({"kind": "need_help", "lat": "95", "lon": "1"}, 400),
        ({"kind": "need_help", "lat": "1"}, 400),
        ({"kind": "safe", "message": "x" * 1001}, 400),
    ],
)
def test_bad_answers_are_refused_and_change_nothing(
    tree: AreaTree, no_broker, data: dict[str, str], status: int
) -> None:
    resident = web_resident(1, 1)
    alert = _issue(staff_for(tree), 0.5, 0.5, 2, 2)
    response = _signed_in(resident).post(f"/alerts/{alert.pk}/reply/", data)
    assert response.status_code == status
    assert not Reply.objects.exists()


def test_an_alert_not_sent_to_me_cannot_be_answered(tree: AreaTree, no_broker) -> None:
    far = web_resident(8, 8)  # in the city, outside the alert's area
    alert = _issue(staff_for(tree), 0.5, 0.5, 2, 2)
    client = _signed_in(far)
    html = client.get("/").content.decode()
    assert html.index("Other alerts in force") < html.index(f'data-alert-id="{alert.pk}"')  # read only, elsewhere
    assert f'action="/alerts/{alert.pk}/reply/"' not in html
    response = client.post(f"/alerts/{alert.pk}/reply/", {"kind": "safe"})
    assert response.status_code == 403
    assert not Reply.objects.exists()


def test_unknown_alerts_are_not_found(tree: AreaTree, no_broker) -> None:
    client = _signed_in(web_resident(1, 1))
    assert client.get("/alerts/999999/").status_code == 404
    assert Client().get("/alerts/999999/").status_code == 404
    assert client.get("/alerts/999999/card/").status_code == 404
    assert client.post("/alerts/999999/reply/", {"kind": "safe"}).status_code == 404
    assert not Reply.objects.exists()


def test_drafts_stay_hidden_from_residents(tree: AreaTree, no_broker) -> None:
    staff = staff_for(tree)
    draft = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(0.5, 0.5, 2, 2))
    assert _signed_in(web_resident(1, 1)).get(f"/alerts/{draft.pk}/").status_code == 404
    assert Client().get(f"/alerts/{draft.pk}/").status_code == 404
    assert selectors_resident.alert_get_for_recipient(user=web_resident(1.1, 1), alert_id=draft.pk) is None


def test_answering_needs_an_account_and_a_post(tree: AreaTree, no_broker) -> None:
    alert = _issue(staff_for(tree), 0.5, 0.5, 2, 2)
    response = Client().post(f"/alerts/{alert.pk}/reply/", {"kind": "safe"})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert _signed_in(web_resident(1, 1)).get(f"/alerts/{alert.pk}/reply/").status_code == 405
    assert not Reply.objects.exists()


def test_the_detail_page_carries_the_area_for_the_map_and_as_text(tree: AreaTree, no_broker) -> None:
    resident = web_resident(1, 1)
    alert = _issue(staff_for(tree), 0.5, 0.5, 2, 2)
    for client in (Client(), _signed_in(resident)):
        html = client.get(f"/alerts/{alert.pk}/").content.decode()
        assert '<h1 id="alert-' in html
        assert 'id="alert-geometry"' in html
        assert "MultiPolygon" in html
        assert "Riverside" in html
    assert "data-reply-form" in _signed_in(resident).get(f"/alerts/{alert.pk}/").content.decode()


def test_the_card_fragment_is_the_card_of_the_list(tree: AreaTree, no_broker) -> None:
    resident = web_resident(1, 1)
    alert = _issue(staff_for(tree), 0.5, 0.5, 2, 2)
    html = _signed_in(resident).get(f"/alerts/{alert.pk}/card/").content.decode()
    assert html.lstrip().startswith("<article")
    assert f'data-alert-id="{alert.pk}"' in html
    assert 'name="next" value="/"' in html


def test_an_update_replaces_the_alert_and_a_cancel_closes_it(tree: AreaTree, no_broker) -> None:
    staff = staff_for(tree)
    resident = web_resident(1, 1)
    alert = _issue(staff, 0.5, 0.5, 2, 2)
    update = lifecycle.alert_followup_draft(
        actor=staff.drafter, alert=alert, msg_type="Update", content=content_over(0.5, 0.5, 3, 3)
    )
    lifecycle.alert_submit(actor=staff.drafter, alert=update)
    update = lifecycle.alert_approve(actor=staff.approver, alert=update, issue=True)
    dispatch_service.alert_dispatch(alert_id=update.pk)
    html = _signed_in(resident).get("/").content.decode()
    assert html.index(f'data-alert-id="{update.pk}"') < html.index(f'data-alert-id="{alert.pk}"')  # newest first
    assert f'data-supersedes-id="{alert.pk}"' in html
    assert "Replaced by an update" in html
    assert f'action="/alerts/{update.pk}/reply/"' in html  # only the alert in force is answered
    assert f'action="/alerts/{alert.pk}/reply/"' not in html
    cancel = lifecycle.alert_followup_draft(actor=staff.drafter, alert=update, msg_type="Cancel", note="Over")
    lifecycle.alert_submit(actor=staff.drafter, alert=cancel)
    lifecycle.alert_approve(actor=staff.approver, alert=cancel, issue=True)
    dispatch_service.alert_dispatch(alert_id=cancel.pk)
    html = _signed_in(resident).get("/").content.decode()
    assert f'data-alert-id="{cancel.pk}"' in html
    assert f'data-supersedes-id="{update.pk}"' in html
    assert f'action="/alerts/{update.pk}/reply/"' not in html
    assert f'action="/alerts/{cancel.pk}/reply/"' not in html  # a cancel is not answered


def test_my_alerts_include_those_concerning_me_now_without_a_delivery(tree: AreaTree, no_broker) -> None:
    """Someone inside the area without a channel got nothing, yet the alert concerns them: it is on their page."""
    staff = staff_for(tree)
    inside = resident_at(1, 1)
    outside = resident_at(8, 8)
    follower = UserFactory.create()
    accounts_services.consent_give(user=follower, purpose="terms", version="1")
    accounts_services.channel_identity_link(user=follower, kind=ChannelKind.WEB, external_id=f"user:{follower.pk}")
    alert = _issue(staff, 0.5, 0.5, 2, 2)
    assert [a.pk for a in selectors_resident.alert_list_for_recipient(user=inside)] == [alert.pk]
    assert selectors_resident.alert_list_for_recipient(user=outside) == []
    assert selectors_resident.alert_list_for_recipient(user=follower) == []
    response = _signed_in(inside).post(f"/alerts/{alert.pk}/reply/", {"kind": "safe"})
    assert response.status_code == 302
    assert selectors_resident.reply_latest_by_alert(user=inside, alert_ids=[alert.pk])[alert.pk].kind == "safe"


# In the browser ---------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_without_javascript_the_list_shows_and_the_answer_form_works(visit, tree: AreaTree, no_broker) -> None:
    resident = web_resident(1, 1)
    alert = _issue(staff_for(tree), 0.5, 0.5, 2, 2)
    page = visit("/", user=resident, javascript=False)
    card = page.locator(f"article.alert-card[data-alert-id='{alert.pk}']")
    assert card.locator("h2").inner_text() == "Flood warning (en-US)"
    card.get_by_role("button", name="I need help").click()
    page.wait_for_load_state()
    assert card.locator(".reply-status").inner_text().startswith("Your answer: I need help")
    assert Reply.objects.get(alert=alert, user=resident).kind == "need_help"
    anonymous = visit("/", javascript=False)
    assert anonymous.locator(f"article.alert-card[data-alert-id='{alert.pk}']").count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_alert_arrives_live_and_is_answered_without_a_reload(visit, tree: AreaTree) -> None:
    staff = staff_for(tree)
    resident = web_resident(1, 1)
    page = visit("/", user=resident)
    page.wait_for_selector("#alerts-live-status[data-state='live']")
    assert sum(transferred_bytes(page).values()) <= 200_000
    page.evaluate("window.__same_page = true")
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2, severity="Extreme"))
    card = page.locator(f"article.alert-card[data-alert-id='{alert.pk}']")
    card.wait_for(timeout=20_000)
    assert page.evaluate("window.__same_page") is True  # no reload
    assert card.locator("h2").inner_text() == "Flood warning (en-US)"
    assert card.locator(".instruction").inner_text().endswith("Move to higher ground.")
    screenshot(page, "alerts-home")
    card.get_by_role("button", name="I need help").click()
    status = card.locator(".reply-status")
    status.wait_for(state="visible")
    page.wait_for_function(
        "el => el.textContent.startsWith('Your answer:')", arg=status.element_handle(), timeout=10_000
    )
    assert status.inner_text() == "Your answer: I need help"
    assert page.evaluate("window.__same_page") is True
    wait_until(lambda: Reply.objects.filter(alert=alert, user=resident, kind="need_help").exists())
    violations = axe_violations(page)
    assert not violations, violations


@pytest.mark.django_db(transaction=True)
def test_the_alert_page_shows_its_area_on_a_map(visit, tree: AreaTree, no_broker) -> None:
    resident = web_resident(1, 1)
    alert = _issue(staff_for(tree), 0.5, 0.5, 2, 2)
    page = visit(f"/alerts/{alert.pk}/", user=resident)
    page.wait_for_selector("#alert-map[data-drawn]", state="attached")
    page.wait_for_load_state("networkidle")
    assert sum(transferred_bytes(page).values()) <= 200_000
    assert page.get_by_role("heading", level=1).inner_text() == "Flood warning (en-US)"
    screenshot(page, "alert-detail")
    violations = axe_violations(page)
    assert not violations, violations


@pytest.mark.django_db(transaction=True)
def test_a_live_card_is_built_from_the_message_when_the_server_card_cannot_be_fetched(visit, tree: AreaTree) -> None:
    staff = staff_for(tree)
    resident = web_resident(1, 1)
    page = visit("/", user=resident)
    page.evaluate(
        """() => { const real = window.fetch;
             window.fetch = (url, options) => String(url).includes('/card/')
               ? Promise.reject(new TypeError('offline')) : real(url, options); }"""
    )
    page.wait_for_selector("#alerts-live-status[data-state='live']")
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2))
    card = page.locator(f"article.alert-card[data-alert-id='{alert.pk}']")
    card.wait_for(timeout=20_000)
    assert card.locator("h2").inner_text() == "Flood warning (en-US)"
    assert card.locator(".badge.severe").inner_text() == "Severe"
    card.get_by_role("button", name="I'm safe").click()
    page.wait_for_function(
        'el => el.textContent === "Your answer: I\'m safe"', arg=card.locator(".reply-status").element_handle()
    )
    wait_until(lambda: Reply.objects.filter(alert=alert, user=resident, kind="safe").exists())


@pytest.mark.django_db(transaction=True)
def test_a_live_update_marks_the_alert_it_replaces(visit, tree: AreaTree) -> None:
    staff = staff_for(tree)
    resident = web_resident(1, 1)
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2))
    page = visit("/", user=resident)
    old = page.locator(f"article.alert-card[data-alert-id='{alert.pk}']")
    old.wait_for()
    page.wait_for_selector("#alerts-live-status[data-state='live']")
    update = lifecycle.alert_followup_draft(
        actor=staff.drafter, alert=alert, msg_type="Update", content=content_over(0.5, 0.5, 3, 3, severity="Extreme")
    )
    lifecycle.alert_submit(actor=staff.drafter, alert=update)
    lifecycle.alert_approve(actor=staff.approver, alert=update, issue=True)
    page.locator(f"article.alert-card[data-alert-id='{update.pk}']").wait_for(timeout=20_000)
    assert page.locator("article.alert-card").first.get_attribute("data-alert-id") == str(update.pk)
    assert "Replaced by an update" in old.inner_text()
    assert old.locator("form[data-reply-form]").count() == 0


@pytest.mark.django_db(transaction=True)
def test_anonymous_visitors_get_an_accessible_light_page(visit, tree: AreaTree, no_broker) -> None:
    alert = _issue(staff_for(tree), 0.5, 0.5, 2, 2)
    page = visit("/")
    assert page.locator(f"article.alert-card[data-alert-id='{alert.pk}']").count() == 1
    assert page.locator("#alerts-live-status").count() == 0  # no live stream without an account
    page.wait_for_load_state("networkidle")
    assert sum(transferred_bytes(page).values()) <= 200_000
    violations = axe_violations(page)
    assert not violations, violations
