"""The stack the browser tests run on: daphne serves pages and compressed static files, a worker answers."""

from accounts import services
from tests.factories import UserFactory
from tests.web.conftest import screenshot


def test_the_console_opens_for_a_superuser(visit):
    admin = services.user_set_staff(actor=None, user=UserFactory.create(), is_staff=True, is_superuser=True)
    page = visit("/console/", user=admin)
    assert page.get_by_role("heading", level=1).inner_text() == "Console"
    css = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
    assert any("/static/web/site." in url for url in css), css  # hashed name: collected as in production
    screenshot(page, "smoke-console")


def test_a_script_the_csp_refuses_is_caught_as_a_page_error(visit):
    """The pages' Content-Security-Policy refuses inline scripts, and the browser tests notice each refusal."""
    page = visit("/login/")
    page.evaluate(
        """() => { const s = document.createElement("script"); s.textContent = "window.ran = true";
                   document.head.appendChild(s); }"""
    )
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.ran === undefined")  # refused: it did not run
    refusals = [error for error in visit.errors if "Content-Security-Policy refused script-src" in error]
    assert refusals, visit.errors
    visit.errors.clear()  # seen: the fixture would fail the test on them


def test_an_alert_issued_by_the_test_reaches_the_worker_of_the_stack(web_server, transactional_db):
    """The test process shares the stack's broker: the stack's worker targets and records the deliveries."""
    from alerts.models import Delivery
    from tests.alerts.factories import content_over, issued_alert, staff_for, web_resident
    from tests.factories import make_area_tree
    from tests.web.conftest import wait_until

    tree = make_area_tree()
    resident = web_resident(2, 2)
    alert = issued_alert(staff_for(tree), content_over(1, 1, 4, 4))
    delivery = wait_until(lambda: Delivery.objects.filter(alert=alert, recipient=resident, state="sent").first())
    assert delivery.transport == "websocket"
