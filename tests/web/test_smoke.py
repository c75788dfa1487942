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
