"""/shelters end to end: the nearest open shelters with free places, as venues with distance, filterable; the
location asked for when none is known, and kept only with the person's consent."""

import pytest

from accounts.models import ResidentProfile
from bots.models import TelegramChat
from shelters.services.occupancy import shelter_occupancy_set
from tests.bots.conftest import Resident, buttons, onboard, sent_texts, tr, user_of, venues
from tests.factories import make_area_tree
from tests.shelters.factories import ShelterFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


@pytest.fixture
def shelters(db):
    """Around (lon 2, lat 2): three open shelters with room, a full one and a closed one nearer, one farther."""
    tree = make_area_tree()
    near = ShelterFactory.create(name="Near Hall", lon=2.01, lat=2.0, capacity=100, address="1 River Road",
                                 step_free_access=True)  # fmt: skip
    pets = ShelterFactory.create(name="Pet Barn", lon=2.03, lat=2.0, capacity=50, pets_allowed=True)
    both = ShelterFactory.create(name="All-in Centre", names={"ja": "総合センター", "fr": "Centre complet"}, lon=2.05,
                                 lat=2.0, capacity=20, step_free_access=True, pets_allowed=True)  # fmt: skip
    full = ShelterFactory.create(name="Full School", lon=2.005, lat=2.0, capacity=10)
    shelter_occupancy_set(actor=None, shelter=full, occupancy=10)
    ShelterFactory.create(name="Closed Gym", lon=2.002, lat=2.0, status="closed")
    ShelterFactory.create(name="Far Dome", lon=2.5, lat=2.0)
    return tree, near, pets, both


def venue_rows(messages):
    return [(v["title"], round(v["latitude"], 3), round(v["longitude"], 3), v["address"]) for v in venues(messages)]


@pytest.mark.parametrize("language", ["en", "ja"])
def test_nearest_shelters_as_venues_paced_for_the_chat(fake_telegram, update_queue, shelters, language):
    """With Telegram's real limit of a message a second per chat: the venues arrive, none refused with a 429."""
    resident = Resident(fake_telegram, update_queue, 7201, language_code=language)
    onboard(resident, language=language, location=(2.0, 2.0))

    found = resident.send("/shelters")

    rows = venue_rows(found)
    assert [(title, lat, lon) for title, lat, lon, _address in rows] == [
        ("Near Hall", 2.0, 2.01),
        ("Pet Barn", 2.0, 2.03),
        ("総合センター" if language == "ja" else "All-in Centre", 2.0, 2.05),
    ]
    header = [m for m in found if m["method"] == "sendMessage"][-1]
    assert [data for _label, data in buttons(header)] == ["sh:a:2.0000:2.0000", "sh:p:2.0000:2.0000"]
    assert fake_telegram.count_429 == 0
    if language == "en":
        assert header["text"] == (
            "The nearest open shelters with free places:\n"
            "1. Near Hall: 1.1 km away, 100 free places\n"
            "2. Pet Barn: 3.3 km away, 50 free places\n"
            "3. All-in Centre: 5.6 km away, 20 free places"
        )
        assert rows[0][3] == "1 River Road · 1.1 km · 100 free places"
        assert rows[1][3] == "3.3 km · 50 free places"  # no address: distance and places still said
        assert [label for label, _data in buttons(header)] == ["☐ Step-free access", "☐ Pets allowed"]


def test_filters_narrow_the_search(fast_chats, update_queue, shelters):
    resident = Resident(fast_chats, update_queue, 7202, language_code="fr")
    onboard(resident, language="fr", location=(2.0, 2.0))
    pets = resident.press("sh:p:2.0000:2.0000")
    assert [row[0] for row in venue_rows(pets)] == ["Pet Barn", "Centre complet"]
    header = [m for m in pets if m["method"] == "sendMessage"][-1]
    # Pressing a filter again takes it off; the other one is added to it.
    assert [data for _label, data in buttons(header)] == ["sh:ap:2.0000:2.0000", "sh:-:2.0000:2.0000"]
    both = resident.press("sh:ap:2.0000:2.0000")
    assert [row[0] for row in venue_rows(both)] == ["Centre complet"]
    accessible = resident.press("sh:a:2.0000:2.0000")
    assert [row[0] for row in venue_rows(accessible)] == ["Near Hall", "Centre complet"]


def test_without_a_known_location_it_is_asked_for_and_not_kept_without_consent(fast_chats, update_queue, shelters):
    tree = shelters[0]
    resident = Resident(fast_chats, update_queue, 7203)
    onboard(resident, area_id=tree.city_a.pk)  # an area, no location: no LOCATION consent

    asked = resident.send("shelters near me")
    assert sent_texts(asked) == ["To find shelters near you, share your location with the button below."]
    assert asked[-1]["reply_markup"]["keyboard"] == [[{"text": "Share my location", "request_location": True}]]
    assert TelegramChat.objects.get(chat_id=7203).step == "shelters.location"

    found = resident.share_location(2.0, 2.0)
    assert sent_texts(found)[0] == (
        "You have not allowed us to keep your location, so we use it for this search only and do not store it."
    )
    assert found[0]["reply_markup"] == {"remove_keyboard": True}
    assert [row[0] for row in venue_rows(found)] == ["Near Hall", "Pet Barn", "All-in Centre"]
    profile = ResidentProfile.objects.filter(user=user_of(resident)).first()
    assert profile is None or (profile.last_location is None and profile.home_location is None)
    assert TelegramChat.objects.get(chat_id=7203).step == ""


def test_a_location_shared_with_consent_is_kept_and_searched_from(fast_chats, update_queue, shelters):
    resident = Resident(fast_chats, update_queue, 7204)
    onboard(resident, location=(5.0, 5.0))  # consented to location use; lives elsewhere
    moved = resident.share_location(2.0, 2.06)  # no step waits: a location means "shelters near here"
    assert sent_texts(moved)[0] == "Thank you, your location is updated."
    assert venue_rows(moved)[0][0] == "All-in Centre"
    profile = ResidentProfile.objects.get(user=user_of(resident))
    assert (profile.last_location.y, profile.last_location.x) == (2.0, 2.06)


def test_no_shelter_found_and_bad_buttons(fast_chats, update_queue, db):
    make_area_tree()
    ShelterFactory.create(name="Closed Gym", lon=2.002, lat=2.0, status="closed")
    resident = Resident(fast_chats, update_queue, 7205)
    onboard(resident, location=(2.0, 2.0))
    none = resident.send("/shelters")
    assert sent_texts(none) == ["No open shelter with free places was found near you."]
    assert not venues(none)
    filtered = resident.press("sh:a:2.0000:2.0000")
    assert sent_texts(filtered) == [
        "No open shelter with free places was found near you. Showing only: step-free access. Untick a filter to "
        "see more."
    ]
    for garbage in ("sh:a:abc:2", "sh:a:95:2", "sh:a:2:200", "sh:", "sh:a:nan:2", "sh:a:2:2:2"):
        assert sent_texts(resident.press(garbage)) == [
            "This button is not valid any more. Send /shelters to search again."
        ], garbage


@pytest.mark.parametrize("language", ["fr", "zh-hans"])
def test_shelter_journey_texts_are_translated(fast_chats, update_queue, shelters, language):
    """The journey's own words in the person's language, from the catalogues."""
    resident = Resident(fast_chats, update_queue, 7206, language_code=language)
    onboard(resident, language=language, area_id=shelters[0].city_a.pk)
    asked = resident.send("/shelters")
    assert sent_texts(asked) == [tr("To find shelters near you, share your location with the button below.", language)]
    assert asked[-1]["reply_markup"]["keyboard"][0][0]["text"] == tr("Share my location", language)
    found = resident.share_location(2.0, 2.0)
    assert sent_texts(found)[0] == tr(
        "You have not allowed us to keep your location, so we use it for this search only and do not store it.",
        language,
    )
    header = [m for m in found if m["method"] == "sendMessage"][-1]
    assert header["text"].startswith(tr("The nearest open shelters with free places:", language))
    assert [label for label, _data in buttons(header)] == [
        "☐ " + tr("Step-free access", language),
        "☐ " + tr("Pets allowed", language),
    ]
