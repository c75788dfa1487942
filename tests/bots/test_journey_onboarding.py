"""/start to the end, in two languages: what the person sees at each step and what the system keeps; deep links;
/profile, /language and /stop (erasure after confirmation). Real PTB against the fake Bot API server."""

import pytest
from django.utils import translation

from accounts.models import ChannelIdentity, ChannelKind, Consent, ConsentPurpose, ResidentNeed, Subscription, User
from bots.models import TelegramChat
from tests.bots.conftest import Resident, button_data, buttons, onboard
from tests.factories import make_area_tree

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


def tr(text: str, language: str) -> str:
    """The catalogue's translation, which must exist (not fall back to English) for a language other than en."""
    with translation.override(language):
        translated = translation.gettext(text)
    if language != "en":
        assert translated != text, f"no {language} translation for {text!r}"
    return translated


@pytest.mark.parametrize(("language", "via"), [("en", "webhook"), ("fr", "polling"), ("ja", "webhook")])
def test_start_language_consent_area_needs(fake_telegram, update_queue, language, via):
    tree = make_area_tree()
    resident = Resident(fake_telegram, update_queue, 5001, language_code="en", via=via)

    greeting = resident.send("/start")
    assert [data for _label, data in buttons(greeting[-1])][:6] == [
        "lang:en", "lang:fr", "lang:es", "lang:ar", "lang:zh-hans", "lang:ja",
    ]  # fmt: skip

    consent = resident.press(f"lang:{language}")
    assert tr("I agree", language) in [label for label, _data in buttons(consent[-1])]
    assert "(Terms version 2026-11)" in consent[-1]["text"] or "2026-11" in consent[-1]["text"]
    assert not User.objects.filter(telegram_chat__chat_id=5001).exists()  # nothing kept before consent

    place = resident.press(button_data(consent, tr("I agree", language)))
    keyboard = place[-1]["reply_markup"]["keyboard"]
    assert keyboard[0][0]["text"] == tr("Share my location", language)
    assert keyboard[0][0]["request_location"] is True

    choose = resident.send(tr("Choose an area", language))
    assert tr("Choose your area:", language) == choose[-1]["text"]
    inside = resident.press(button_data(choose, tree.nation.name))
    assert button_data(inside, tree.region.name) == f"area:open:{tree.region.pk}"
    followed = resident.press(f"area:pick:{tree.city_a.pk}")
    assert followed[0]["text"] == tr("You now follow %(area)s.", language) % {"area": tree.city_a.name}
    needs = followed[-1]
    assert [data for _label, data in buttons(needs)][-1] == "need:done"

    resident.press("need:mobility")
    done = resident.press("need:done")
    finished = done[-1]["text"]
    assert "/alerts" in finished
    assert "/stop" in finished
    assert ("You are all set." in finished) == (language == "en")

    user = User.objects.get(telegram_chat__chat_id=5001)
    assert user.preferred_language == language
    assert Consent.objects.filter(
        user=user, purpose=ConsentPurpose.TERMS, withdrawn_at__isnull=True, version="2026-11"
    ).exists()
    assert Consent.objects.filter(user=user, purpose=ConsentPurpose.NEEDS_MOBILITY, withdrawn_at__isnull=True).exists()
    assert list(ResidentNeed.objects.filter(profile__user=user).values_list("kind", flat=True)) == ["mobility"]
    assert list(Subscription.objects.filter(user=user).values_list("area_id", flat=True)) == [tree.city_a.pk]
    assert ChannelIdentity.objects.get(user=user).external_id == "5001"
    assert ChannelIdentity.objects.get(user=user).kind == ChannelKind.TELEGRAM
    assert not Consent.objects.filter(user=user, purpose=ConsentPurpose.LOCATION).exists()


def test_declining_consent_keeps_nothing(fake_telegram, update_queue):
    resident = Resident(fake_telegram, update_queue, 5002)
    resident.send("/start")
    resident.press("lang:es")
    refused = resident.press("consent:no")
    assert refused[-1]["text"] == tr(
        "Understood. Without your consent we cannot send you alerts. Send /start if you change your mind.", "es"
    )
    assert not User.objects.filter(telegram_chat__chat_id=5002).exists()
    assert not ChannelIdentity.objects.exists()


def test_sharing_a_location_records_it_with_its_consent(fake_telegram, update_queue):
    make_area_tree()
    resident = Resident(fake_telegram, update_queue, 5003)
    onboard(resident, location=(45.07, 7.68))
    user = User.objects.get(telegram_chat__chat_id=5003)
    assert Consent.objects.filter(user=user, purpose=ConsentPurpose.LOCATION, withdrawn_at__isnull=True).exists()
    profile = user.resident_profile
    assert (round(profile.last_location.y, 2), round(profile.last_location.x, 2)) == (45.07, 7.68)


def test_a_deep_link_to_an_area_offers_it_and_follows_it(fake_telegram, update_queue):
    tree = make_area_tree()
    resident = Resident(fake_telegram, update_queue, 5004)
    resident.send(f"/start area_{tree.city_b.code}")
    resident.press("lang:en")
    consent = fake_telegram.sent(5004)
    place = resident.press(button_data(consent, "I agree"))
    assert button_data(place, tree.city_b.name) == f"area:pick:{tree.city_b.pk}"
    resident.press(f"area:pick:{tree.city_b.pk}")
    resident.press("need:done")
    user = User.objects.get(telegram_chat__chat_id=5004)
    assert list(Subscription.objects.filter(user=user).values_list("area_id", flat=True)) == [tree.city_b.pk]


def test_an_old_consent_button_asks_again(fake_telegram, update_queue):
    resident = Resident(fake_telegram, update_queue, 5005)
    resident.send("/start")
    resident.press("lang:en")
    again = resident.press("consent:yes:2001-01")
    assert "I agree" in [label for label, _data in buttons(again[-1])]
    assert not User.objects.filter(telegram_chat__chat_id=5005).exists()


def test_commands_before_start_ask_to_start(fake_telegram, update_queue):
    resident = Resident(fake_telegram, update_queue, 5006)
    for command in ("/profile", "hello there"):
        answer = resident.send(command)
        assert answer[-1]["text"] == "Welcome! Send /start to choose your language and your area first."


def test_profile_shows_what_is_kept_and_language_can_change(fake_telegram, update_queue):
    tree = make_area_tree()
    resident = Resident(fake_telegram, update_queue, 5007)
    onboard(resident, area_id=tree.city_a.pk)
    profile = resident.send("/profile")[-1]["text"]
    assert f"Areas you follow: {tree.city_a.name}" in profile
    assert "Location: not shared" in profile
    resident.send("/language")
    changed = resident.press("lang:ar")
    assert changed[-1]["text"] == tr("Done: I will write to you in %(language)s.", "ar") % {"language": "العربية"}
    assert User.objects.get(telegram_chat__chat_id=5007).preferred_language == "ar"
    assert resident.send("/profile")[-1]["text"].startswith(tr("What we keep about you:", "ar"))


def test_plain_words_find_a_journey(fake_telegram, update_queue):
    tree = make_area_tree()
    resident = Resident(fake_telegram, update_queue, 5008)
    onboard(resident, area_id=tree.city_a.pk)
    assert resident.send("menu")[-1]["text"].startswith("I send you official alerts")
    assert resident.send("qwerty")[-1]["text"] == "I did not understand that. Send /help to see what I can do."


def test_stop_asks_then_erases(fake_telegram, update_queue):
    tree = make_area_tree()
    resident = Resident(fake_telegram, update_queue, 5009)
    onboard(resident, area_id=tree.city_a.pk)
    user = User.objects.get(telegram_chat__chat_id=5009)

    asked = resident.send("/stop")
    assert [data for _label, data in buttons(asked[-1])] == ["stop:yes", "stop:no"]
    kept = resident.press("stop:no")
    assert kept[-1]["text"] == "Nothing changed: you are still subscribed."
    assert Subscription.objects.filter(user=user).exists()

    erased = resident.press("stop:yes")
    assert erased[-1]["text"].startswith("Done. You are unsubscribed and your data is erased.")
    user.refresh_from_db()
    assert user.erased_at is not None
    assert not Subscription.objects.filter(user=user).exists()
    assert not ChannelIdentity.objects.filter(user=user).exists()
    assert not TelegramChat.objects.filter(chat_id=5009).exists()
