"""An alerts page whose WebSocket is cut gets, on reconnecting, the alerts sent meanwhile: each once, no reload.

The page connects through Playwright's WebSocket route, so that the test can cut the connection to the server first
(the page does not notice), issue an alert while nobody listens, then cut the page's side: live.js reconnects and
alerts.js names the newest delivery it applied (`?after=`; at first the newest the page was rendered with) and those
below it it has (`&have=`), as
docs/alerts.md describes (tests/faults/test_daphne_killed.py does the same with a daphne killed under thirty clients).
"""

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from alerts.models import Delivery, DeliveryState
from tests.alerts.factories import content_over, issued_alert, staff_for, web_resident
from tests.web.conftest import wait_until


def _sent(alert: Any, resident: Any) -> Delivery:
    delivery = wait_until(
        lambda: Delivery.objects.filter(
            alert=alert, recipient=resident, transport="websocket", state=DeliveryState.SENT
        ).first()
    )
    assert delivery is not None
    return delivery


def _open_through_relay(
    visit: Any, resident: Any, rewrite: Callable[[dict[str, Any], int], dict[str, Any] | None] | None = None
) -> tuple[Any, list[dict[str, Any]]]:
    """The resident's alerts page, live, its WebSocket relayed by the test. Each connection is recorded (its url,
    both ends, the types of the frames it brought and the deliveries among them); `rewrite(frame, n)` may replace a
    frame of the n-th connection before the page gets it. A cut to the server stays unnoticed by the page."""
    connections: list[dict[str, Any]] = []

    def route(ws: Any) -> None:
        server = ws.connect_to_server()
        seen: dict[str, Any] = {"url": ws.url, "page": ws, "server": server, "deliveries": [], "frames": []}
        number = len(connections)
        server.on_close(lambda code, reason: None)

        def to_page(message: str | bytes) -> None:
            frame = json.loads(message)
            seen["frames"].append(frame.get("type"))
            if frame.get("type") == "alert":
                seen["deliveries"].append(frame["delivery_id"])
            replaced = rewrite(frame, number) if rewrite is not None else None
            ws.send(message if replaced is None else json.dumps(replaced))

        server.on_message(to_page)
        ws.on_message(lambda message: server.send(message))
        connections.append(seen)

    page = visit("/", user=resident)
    page.route_web_socket(re.compile(r"/ws/alerts/"), route)
    page.reload()
    expect(page.locator("#alerts-live-status")).to_have_attribute("data-state", "live")
    return page, connections


@pytest.mark.django_db(transaction=True)
def test_an_alerts_page_that_lost_its_connection_shows_the_alert_sent_meanwhile_once(visit: Any, tree: Any) -> None:
    staff = staff_for(tree)
    resident = web_resident(1, 1)
    before = _sent(issued_alert(staff, content_over(0.5, 0.5, 2, 2)), resident)
    page, connections = _open_through_relay(visit, resident)
    live = page.locator("#alerts-live-status")
    page.evaluate("window.__same_page = true")
    cards = page.locator("article.alert-card")
    expect(cards).to_have_count(1)
    first = connections[-1]
    # The page was rendered with `before`: it asks for nothing older, and nothing is sent again.
    assert first["url"].endswith(f"/ws/alerts/?after={before.pk}")

    first["server"].close()  # from now on nothing from the server reaches the page
    missed = issued_alert(staff, content_over(0.5, 0.5, 2, 2, severity="Extreme"))
    delivery = _sent(missed, resident)  # sent to the group while the page was not in it
    expect(cards).to_have_count(1)
    first["page"].close(code=4000, reason="cut")

    card = page.locator(f"article.alert-card[data-alert-id='{missed.pk}']")
    expect(card).to_have_count(1, timeout=20_000)
    expect(live).to_have_attribute("data-state", "live")
    expect(cards).to_have_count(2)
    assert cards.first.get_attribute("data-alert-id") == str(missed.pk)  # on top
    assert page.evaluate("window.__same_page") is True  # no reload
    second = connections[-1]
    assert second is not first
    assert second["url"].endswith(f"/ws/alerts/?after={before.pk}")
    assert second["deliveries"] == [delivery.pk]

    # Live again: the next alert arrives once, and a later reconnection starts after it.
    later = issued_alert(staff, content_over(0.5, 0.5, 2, 2))
    expect(page.locator(f"article.alert-card[data-alert-id='{later.pk}']")).to_have_count(1, timeout=20_000)
    latest = _sent(later, resident)
    second["page"].close(code=4000, reason="cut")
    for _ in range(100):  # Playwright runs the route's handlers only while the test waits through it
        if len(connections) > 2:
            break
        page.wait_for_timeout(100)
    expect(live).to_have_attribute("data-state", "live")
    third = connections[-1]
    assert third is not second
    assert third["url"].endswith(f"/ws/alerts/?after={latest.pk}&have={before.pk},{delivery.pk}")
    expect(cards).to_have_count(3)
    assert second["deliveries"] == [delivery.pk, latest.pk]
    assert third["deliveries"] == []


@pytest.mark.django_db(transaction=True)
def test_an_alerts_page_asks_for_a_reload_when_the_catch_up_left_alerts_out(visit: Any, tree: Any) -> None:
    """The catch-up replays the newest 100 deliveries and says when it left older ones out (`truncated`,
    tests/alerts/test_inbox_catchup.py). Sending a hundred alerts here would only slow the test: the route marks the
    second connection's `catchup.done` as truncated, and the page must then offer a reload."""
    staff = staff_for(tree)
    resident = web_resident(1, 1)
    _sent(issued_alert(staff, content_over(0.5, 0.5, 2, 2)), resident)

    def truncated_on_reconnecting(frame: dict[str, Any], number: int) -> dict[str, Any] | None:
        return {**frame, "truncated": True} if number > 0 and frame.get("type") == "catchup.done" else None

    page, connections = _open_through_relay(visit, resident, truncated_on_reconnecting)
    live = page.locator("#alerts-live-status")
    note = page.locator("#alerts-catchup-truncated")
    for _ in range(100):  # Playwright runs the route's handlers only while the test waits through it
        if "catchup.done" in connections[-1]["frames"]:
            break
        page.wait_for_timeout(100)
    assert "catchup.done" in connections[-1]["frames"]
    expect(note).to_be_hidden()  # a complete catch-up asks for nothing

    connections[-1]["page"].close(code=4000, reason="cut")
    expect(note).to_be_visible(timeout=20_000)
    assert len(connections) == 2
    expect(live).to_have_attribute("data-state", "live")
    note.get_by_role("link").click()
    expect(page.locator("#alerts-catchup-truncated")).to_be_hidden()
