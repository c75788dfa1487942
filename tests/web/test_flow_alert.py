"""Issue 8, flow 1, in a real browser, each person in a browser context of their own: a drafter draws the alert's
polygon on the map, checks its reach and submits it; an approver approves and issues it; a resident whose page was
open before shows it live and answers "I need help"; the drafter's page shows that answer live."""

import json
import re
from datetime import datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.gis.geos import Polygon
from playwright.sync_api import expect

from accounts import services as accounts_services
from accounts.models import ChannelKind
from alerts import events as alert_events
from alerts import selectors as alert_selectors
from alerts.models import Alert, AlertState, Reply
from tests.alerts.factories import staff_for
from tests.factories import make_area_tree, resident_at
from tests.web.conftest import axe_violations, screenshot, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def draw_polygon(page, offsets: list[tuple[int, int]]) -> None:
    """Geoman's polygon tool: click each corner around the map's centre, then the first corner again to close."""
    page.get_by_role("button", name="Draw Polygon").click()
    box = page.locator("#composer-map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in offsets:
        page.mouse.click(cx + dx, cy + dy)
    page.mouse.click(cx + offsets[0][0], cy + offsets[0][1])


def test_a_drawn_alert_approved_by_another_reaches_a_resident_live_and_the_answer_shows_on_the_map(visit):
    tree = make_area_tree()
    staff = staff_for(tree)

    drafter = visit("/console/alerts/new/", user=staff.drafter)
    expect(drafter.get_by_role("heading", level=1)).to_have_text("New alert")
    drafter.get_by_label("Headline").first.fill("Flood warning: the river is rising")
    drafter.get_by_label("Event").first.fill("Flood")
    drafter.get_by_label("What is happening").first.fill("The river will overflow tonight.")
    drafter.get_by_label("What people should do").first.fill("Move to higher ground now.")
    drafter.get_by_label("Name of the area").fill("Riverside")
    draw_polygon(drafter, [(-90, -70), (90, -70), (90, 70), (-90, 70)])
    expect(drafter.locator("#shapes-summary")).to_contain_text("1 polygons")

    # The resident lives inside what was drawn, and has their alerts page open before the approval.
    drawn = json.loads(drafter.locator("#shapes-polygons").input_value())
    ring = drawn["features"][0]["geometry"]["coordinates"][0]
    inside = Polygon(ring).point_on_surface
    resident = resident_at(inside.x, inside.y, username="resident")
    accounts_services.channel_identity_link(user=resident, kind=ChannelKind.WEB, external_id=f"user:{resident.pk}")
    home = visit("/", user=resident)
    expect(home.locator("#alerts-live-status")).to_have_attribute("data-state", "live")

    drafter.get_by_role("button", name="Check reach").click()
    reach = drafter.locator(".reach-number")
    expect(reach).to_be_visible()
    assert int(reach.get_attribute("data-people")) >= 1
    screenshot(drafter, "console-alert-composer")
    assert axe_violations(drafter) == []
    drafter.get_by_role("button", name="Submit for approval").click()
    expect(drafter.locator("#alert-state")).to_have_attribute("data-state", AlertState.SUBMITTED)
    alert = Alert.objects.get()
    assert alert.drafted_by == staff.drafter
    assert alert.infos.get().areas.get().polygons[0][0] == [ring[0][1], ring[0][0]]
    expect(drafter.locator("#dispatch-live")).to_have_attribute("data-state", "live")

    approver = visit("/console/alerts/", user=staff.approver)
    queue = approver.locator("#queue")
    expect(queue).to_contain_text("Flood warning: the river is rising")
    screenshot(approver, "console-alerts-list")
    assert axe_violations(approver) == []
    queue.get_by_role("link", name="Flood warning: the river is rising").click()
    approver.get_by_role("button", name="Approve and issue").click()
    expect(approver.locator("#alert-state")).to_have_attribute("data-state", AlertState.ISSUED)

    card = home.locator(f'article.alert-card[data-alert-id="{alert.pk}"]')
    expect(card).to_be_visible()
    expect(card).to_contain_text("Move to higher ground now.")
    card.get_by_role("button", name="I need help").click()
    expect(card.locator(".reply-status")).to_have_text(re.compile(r"^Your answer:"))
    wait_until(lambda: Reply.objects.filter(alert=alert, user=resident, kind="need_help", is_latest=True).exists())

    # The drafter's page, open since the submission, follows the state, the dispatch and the answer live.
    expect(drafter.locator("#alert-state")).to_have_attribute("data-state", AlertState.ISSUED)
    expect(drafter.locator("#actions-stale")).to_be_visible()
    expect(drafter.locator("#count-need-help")).to_have_text("1")
    expect(drafter.locator("#replies-map .reply-marker")).to_have_text("1")
    expect(drafter.locator("#replies-table tbody tr").first.locator("td").nth(1)).to_have_text("1")
    expect(drafter.locator('[data-stat="sent"]')).to_have_text("1")

    # The dispatch and its batches push figures from different processes, and one read earlier can arrive later
    # (seen in CI: "0 sent" after "1 sent"). Such a snapshot, then answers counted later, reach the open page: it
    # keeps the furthest figures and the latest answers.
    fresh = alert_selectors.alert_stats(alert=alert)
    before = (datetime.fromisoformat(fresh["as_of"]) - timedelta(seconds=1)).isoformat()
    stale = {
        **fresh,
        "settled": 0,
        "by_state": {**fresh["by_state"], "sent": 0, "queued": 1},
        "replied": {"need_help": 0, "safe": 0},
        "as_of": before,
    }
    alert_events.alert_stats(alert.pk, stale)
    later = (datetime.fromisoformat(fresh["as_of"]) + timedelta(seconds=1)).isoformat()
    group_send = async_to_sync(get_channel_layer().group_send)
    counts = {"need_help": 1, "safe": 1}
    group_send(
        alert_events.alert_staff_group(alert.pk),
        {"type": "alert.replies", "alert_id": alert.pk, "counts": counts, "as_of": later},
    )
    expect(drafter.locator("#count-safe")).to_have_text("1")
    expect(drafter.locator('[data-stat="sent"]')).to_have_text("1")
    expect(drafter.locator("#count-need-help")).to_have_text("1")
    screenshot(drafter, "console-alert-dispatch")
    # Not counted: web/base.html's flash messages put role="status" on their <ul> (reported to the lead).
    assert [v for v in axe_violations(drafter) if v["id"] != "listitem"] == []
