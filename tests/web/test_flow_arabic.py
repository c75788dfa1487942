"""Flow 4 of issue 8: the resident's alert flow in Arabic. The page is right to left, its words are the Arabic
translations, a bilingual alert arrives live in Arabic, and the resident answers "I need help" in Arabic.

The Arabic catalogue must hold the web pages' strings: until it does, the comparisons with English fail here.
"""

import pytest
from django.utils import translation
from django.utils.translation import gettext

from alerts.models import Reply
from tests.alerts.factories import content_over, issued_alert, staff_for, web_resident
from tests.factories import AreaTree
from tests.web.conftest import axe_violations, screenshot

ARABIC_HEADLINE = "تحذير من فيضان النهر"
ARABIC_INSTRUCTION = "انتقلوا إلى مكان مرتفع."


def _in(language: str, message: str) -> str:
    with translation.override(language):
        return gettext(message)


@pytest.mark.django_db(transaction=True)
def test_the_resident_flow_in_arabic(visit, tree: AreaTree) -> None:
    staff = staff_for(tree)
    resident = web_resident(1, 1, preferred_language="ar")
    page = visit("/", user=resident, language="ar")

    html = page.locator("html")
    assert html.get_attribute("dir") == "rtl"
    assert html.get_attribute("lang") == "ar"
    alerts_label = _in("ar", "Alerts")
    assert alerts_label != "Alerts"
    assert page.get_by_role("navigation").get_by_role("link", name=alerts_label, exact=True).count() == 1

    page.wait_for_selector("#alerts-live-status[data-state='live']")
    page.evaluate("window.__same_page = true")
    content = content_over(0.5, 0.5, 2, 2, languages=("en-US", "ar"), severity="Extreme")
    arabic = next(info for info in content.infos if info.language == "ar")
    arabic.headline = ARABIC_HEADLINE
    arabic.instruction = ARABIC_INSTRUCTION
    arabic.description = "منسوب النهر يرتفع."
    alert = issued_alert(staff, content)

    card = page.locator(f"article.alert-card[data-alert-id='{alert.pk}']")
    card.wait_for(timeout=20_000)
    assert page.evaluate("window.__same_page") is True
    assert card.locator("h2").inner_text() == ARABIC_HEADLINE
    assert ARABIC_INSTRUCTION in card.locator(".instruction").inner_text()

    safe, need_help = _in("ar", "I'm safe"), _in("ar", "I need help")
    assert safe != "I'm safe"
    assert need_help != "I need help"
    assert card.get_by_role("button", name=safe, exact=True).count() == 1
    button = card.get_by_role("button", name=need_help, exact=True)
    assert button.count() == 1
    screenshot(page, "alerts-home-ar")

    button.click()
    expected = _in("ar", "Your answer: %(answer)s") % {"answer": need_help}
    assert expected != f"Your answer: {need_help}"
    page.wait_for_function(
        "([id, text]) => { const s = document.querySelector(`article[data-alert-id='${id}'] .reply-status`);"
        " return s && s.textContent === text; }",
        arg=[alert.pk, expected],
        timeout=10_000,
    )
    assert page.evaluate("window.__same_page") is True
    assert Reply.objects.get(alert=alert, user=resident, is_latest=True).kind == "need_help"
    violations = axe_violations(page)
    assert not violations, violations
