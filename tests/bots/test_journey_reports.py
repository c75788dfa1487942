"""/report end to end: text → location (or skip) → photo (or skip) → a citizen report made by the alerts app's
report service; a photo over the cap refused before it is downloaded, a photo that is no image refused."""

import io
import random

import pytest
from PIL import Image

from alerts.models import CitizenReport
from bots.models import TelegramChat
from tests.bots.conftest import Resident, onboard, sent_texts, tr, user_of
from tests.factories import make_area_tree

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


def png(width: int = 32, height: int = 24, *, noise: bool = False) -> bytes:
    image = Image.new("RGB", (width, height), (200, 30, 30))
    if noise:
        generator = random.Random(7)
        image.putdata([tuple(generator.randrange(256) for _ in range(3)) for _ in range(width * height)])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def area(fast_chats, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return make_area_tree()


def downloads(fake):
    return [call for call in fake.calls if call["method"] == "getFile"]


@pytest.mark.parametrize("language", ["en", "fr"])
def test_text_location_and_photo_make_a_report(fast_chats, update_queue, area, language):
    resident = Resident(fast_chats, update_queue, 7401, language_code=language)
    onboard(resident, language=language, area_id=area.city_a.pk)

    asked = resident.send("/report")
    where = resident.send("A tree fell across Mill Lane")
    where_keyboard = where[-1]["reply_markup"]["keyboard"]
    assert where_keyboard[0][0]["request_location"] is True
    photo_question = resident.share_location(2.5, 2.25)
    assert len(photo_question[-1]["reply_markup"]["keyboard"]) == 1  # only Skip
    photo = png()
    done = resident.send_photo(photo)

    report = CitizenReport.objects.get()
    assert report.reporter == user_of(resident)
    assert report.text == "A tree fell across Mill Lane"
    assert (report.location.y, report.location.x) == (2.5, 2.25)
    assert report.area == area.district_a1
    assert report.photo_content_type == "image/png"
    with report.photo.open("rb") as stored:
        assert stored.read() == photo
    assert sent_texts(done) == [
        tr(
            "Thank you. Your report was received; its reference is %(reference)s. Staff of your area will look at it.",
            language,
        )
        % {"reference": f"R-{report.pk}"}
    ]
    assert done[-1]["reply_markup"] == {"remove_keyboard": True}
    assert TelegramChat.objects.get(chat_id=7401).step == ""
    assert sent_texts(where) == [tr("Where is it? Share the location with the button below, or press Skip.", language)]
    assert where_keyboard == [
        [{"text": tr("Share this location", language), "request_location": True}],
        [{"text": tr("Skip", language)}],
    ]
    assert sent_texts(photo_question) == [tr("Do you have a photo of it? Send it now, or press Skip.", language)]
    if language == "en":
        assert sent_texts(asked)[0].startswith("What do you want to report?")


def test_location_and_photo_can_be_skipped(fast_chats, update_queue, area):
    resident = Resident(fast_chats, update_queue, 7402, language_code="ja")
    onboard(resident, language="ja", area_id=area.city_a.pk)
    resident.send("report")
    resident.send("Power line down near the school")
    resident.send(tr("Skip", "ja"))
    done = resident.send("skip")  # the English word works in every language
    report = CitizenReport.objects.get()
    assert (report.text, report.location, bool(report.photo)) == ("Power line down near the school", None, False)
    assert report.area is None  # no location and no home: the area is not guessed
    assert f"R-{report.pk}" in sent_texts(done)[-1]


def test_a_photo_over_the_cap_is_refused_before_it_is_downloaded(fast_chats, update_queue, area, settings):
    settings.REPORT_PHOTO_MAX_BYTES = 100 * 1024
    resident = Resident(fast_chats, update_queue, 7403)
    onboard(resident, area_id=area.city_a.pk)
    resident.send("/report")
    resident.send("Flooded underpass")
    resident.send("Skip")
    big = png(300, 300, noise=True)
    assert len(big) > settings.REPORT_PHOTO_MAX_BYTES
    refused = resident.send_photo(big)
    assert sent_texts(refused) == ["This photo is too large: the limit is 0.1 MB. Send a smaller one, or press Skip."]
    assert downloads(fast_chats) == []
    assert not CitizenReport.objects.exists()

    not_an_image = resident.send_photo(b"GIF89a but not really an image " * 20)
    assert sent_texts(not_an_image) == ["This photo could not be read. Send a JPEG, PNG or WebP photo, or press Skip."]
    assert not CitizenReport.objects.exists()
    assert TelegramChat.objects.get(chat_id=7403).step == "reports.photo"  # still waiting for a photo

    done = resident.send_photo(png())
    report = CitizenReport.objects.get()
    assert report.photo_content_type == "image/png"
    assert sent_texts(done)[-1].startswith("Thank you. Your report was received")


def test_bad_input_at_each_step(fast_chats, update_queue, area, settings):
    settings.REPORT_TEXT_MAX_CHARS = 50
    resident = Resident(fast_chats, update_queue, 7404)
    onboard(resident, area_id=area.city_a.pk)
    resident.send("/report")
    assert sent_texts(resident.send_photo(png())) == ["Please describe in words what you want to report first."]
    assert sent_texts(resident.send("x" * 51)) == ["That is too long: please say it in 50 characters at most."]
    resident.send("Smoke over the hill")
    assert sent_texts(resident.send("somewhere north")) == [
        "Please share the location with the button below, or press Skip."
    ]
    resident.send("Skip")
    assert sent_texts(resident.send("no photo, sorry")) == ["Please send a photo, or press Skip."]
    assert not CitizenReport.objects.exists()
