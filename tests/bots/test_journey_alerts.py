"""/alerts and the answers to alerts, end to end: real PTB against the fake Bot API server, alerts issued and sent
through the alerts app and the telegram transport, answers recorded through its reply service."""

import pytest

from accounts.models import Role
from alerts.models import Reply, ReplyKind
from bots.models import TelegramChat
from tests.alerts.factories import content_over, issued_alert, staff_for
from tests.bots.conftest import Resident, buttons, onboard, sent_texts, tr, user_of
from tests.factories import grant, make_area_tree

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

BILINGUAL = ("en-US", "fr-FR")


@pytest.fixture
def world(fast_chats, alert_pipeline):
    tree = make_area_tree()
    staff = staff_for(tree)
    grant(staff.drafter, Role.ALERT_DRAFTER, tree.region, tree.organisation)
    grant(staff.approver, Role.ALERT_APPROVER, tree.region, tree.organisation)
    return tree, staff


def alert_messages(fake, chat_id):
    """What the telegram transport (or /alerts) sent with answer buttons."""
    return [m for m in fake.sent(chat_id, method="sendMessage") if any(d.startswith("ar:") for _l, d in buttons(m))]


@pytest.mark.parametrize("language", ["en", "fr"])
def test_alerts_for_me_now_with_answer_buttons(fast_chats, update_queue, world, language):
    tree, staff = world
    resident = Resident(fast_chats, update_queue, 7101, language_code=language)
    onboard(resident, language=language, area_id=tree.city_a.pk)
    mine = issued_alert(staff, content_over(1, 1, 4, 4, languages=BILINGUAL))
    elsewhere = issued_alert(staff, content_over(21, 1, 24, 4, languages=BILINGUAL))

    shown = resident.send("/alerts")

    alert = shown[-1]
    # The alert's own text in the person's language comes from its Info, whatever the catalogues hold.
    assert f"Flood warning ({ {'en': 'en-US', 'fr': 'fr-FR'}[language] })" in alert["text"]
    assert "Move to higher ground." in alert["text"]
    assert [data for _label, data in buttons(alert)] == [f"ar:{mine.pk}:safe", f"ar:{mine.pk}:help"]
    assert not any(f"ar:{elsewhere.pk}:" in data for m in shown for _label, data in buttons(m))
    assert sent_texts(shown)[0] == tr("An active alert for you now:", language)
    assert [label for label, _data in buttons(alert)] == [tr("I'm safe", language), tr("I need help", language)]
    if language == "en":
        assert "What to do: Move to higher ground." in alert["text"]


def test_no_alert_for_me(fast_chats, update_queue, world):
    tree, staff = world
    resident = Resident(fast_chats, update_queue, 7102)
    onboard(resident, area_id=tree.city_b.pk)
    issued_alert(staff, content_over(1, 1, 4, 4))
    assert sent_texts(resident.send("alerts")) == [
        "There are no active alerts for you right now. We will write to you here if that changes."
    ]


def test_an_alert_sent_by_the_transport_is_answered_once_and_help_takes_details(
    fast_chats, update_queue, world, alert_pipeline
):
    tree, staff = world
    resident = Resident(fast_chats, update_queue, 7103)
    onboard(resident, area_id=tree.city_a.pk)
    user = user_of(resident)
    alert = issued_alert(staff, content_over(1, 1, 4, 4))
    alert_pipeline.run()
    [delivered] = alert_messages(fast_chats, 7103)
    assert [data for _label, data in buttons(delivered)] == [f"ar:{alert.pk}:safe", f"ar:{alert.pk}:help"]

    safe = resident.press(f"ar:{alert.pk}:safe", message_id=delivered["message_id"])
    assert sent_texts(safe) == ["Thank you. We have recorded that you are safe (alert: Flood warning (en-US))."]
    again = resident.press(f"ar:{alert.pk}:safe", message_id=delivered["message_id"])
    assert sent_texts(again) == ["You already told us that you are safe (alert: Flood warning (en-US)). Thank you."]
    assert Reply.objects.filter(alert=alert, user=user).count() == 1

    helped = resident.press(f"ar:{alert.pk}:help", message_id=delivered["message_id"])
    texts = sent_texts(helped)
    assert texts[0].startswith("We have recorded that you need help (alert: Flood warning (en-US)).")
    keyboard = helped[-1]["reply_markup"]["keyboard"]
    assert keyboard[0][0] == {"text": "Share my location", "request_location": True}
    assert Reply.objects.get(alert=alert, user=user, is_latest=True).kind == ReplyKind.NEED_HELP
    # A second press on "I need help" adds no answer: it asks for the details again.
    resident.press(f"ar:{alert.pk}:help", message_id=delivered["message_id"])
    assert Reply.objects.filter(alert=alert, user=user, kind=ReplyKind.NEED_HELP).count() == 1

    words = resident.send("Water in the ground floor, we are upstairs")
    assert sent_texts(words) == ["Thank you, your message is added. You can still share your location, or press Skip."]
    located = resident.share_location(2.5, 2.25)
    assert sent_texts(located) == ["Thank you. Responders can see what you wrote and where you are. Stay safe."]
    latest = Reply.objects.get(alert=alert, user=user, is_latest=True)
    assert latest.kind == ReplyKind.NEED_HELP
    assert latest.message == "Water in the ground floor, we are upstairs"
    assert (latest.location.y, latest.location.x) == (2.5, 2.25)
    assert latest.area_id == tree.district_a1.pk
    assert TelegramChat.objects.get(chat_id=7103).step == ""
    # The free text after the journey is plain words again, not a help message.
    assert "I did not understand" in sent_texts(resident.send("thanks"))[-1]


def test_help_details_can_be_skipped(fast_chats, update_queue, world, alert_pipeline):
    tree, staff = world
    resident = Resident(fast_chats, update_queue, 7104)
    onboard(resident, area_id=tree.city_a.pk)
    alert = issued_alert(staff, content_over(1, 1, 4, 4))
    alert_pipeline.run()
    resident.press(f"ar:{alert.pk}:help")
    skipped = resident.send("Skip")
    assert sent_texts(skipped) == ["All right. Stay safe; if your situation changes, press “I need help” again."]
    assert skipped[-1]["reply_markup"] == {"remove_keyboard": True}
    assert Reply.objects.get(alert=alert, is_latest=True).message == ""


def test_buttons_of_alerts_that_did_not_reach_me_are_refused(fast_chats, update_queue, world, alert_pipeline):
    tree, staff = world
    reached = Resident(fast_chats, update_queue, 7105)
    onboard(reached, area_id=tree.city_a.pk)
    outsider = Resident(fast_chats, update_queue, 7106)
    onboard(outsider, area_id=tree.city_b.pk)
    alert = issued_alert(staff, content_over(1, 1, 4, 4))
    alert_pipeline.run()
    assert alert_messages(fast_chats, 7105)
    assert not alert_messages(fast_chats, 7106)

    refused = outsider.press(f"ar:{alert.pk}:safe")
    assert sent_texts(refused) == ["This alert was not sent to you, so we cannot record an answer to it."]
    unknown = outsider.press("ar:987654321:help")
    assert sent_texts(unknown) == ["This alert no longer exists, so there is nothing to answer."]
    for garbage in (
        "ar:abc:safe",
        f"ar:{alert.pk}:maybe",
        "ar:",
        f"ar:{alert.pk}:safe:extra",
        "ar:1" + "0" * 20 + ":safe",
    ):
        answered = len(fast_chats.sent(7106, method="answerCallbackQuery"))
        answer = outsider.press(garbage)
        assert sent_texts(answer) == [
            "This button is not valid any more. Send /alerts to see the alerts for you now."
        ], garbage
        assert len(fast_chats.sent(7106, method="answerCallbackQuery")) == answered + 1  # the spinner stops
    assert not Reply.objects.exists()


def test_someone_the_alert_concerns_since_it_was_sent_can_answer_it(fast_chats, update_queue, world, alert_pipeline):
    tree, staff = world
    alert = issued_alert(staff, content_over(1, 1, 4, 4))
    alert_pipeline.run()  # nobody lives there yet
    newcomer = Resident(fast_chats, update_queue, 7107)
    onboard(newcomer, area_id=tree.city_a.pk)
    shown = newcomer.send("/alerts")
    assert f"ar:{alert.pk}:safe" in [data for _label, data in buttons(shown[-1])]
    recorded = newcomer.press(f"ar:{alert.pk}:help")
    assert sent_texts(recorded)[0] == (
        "We have recorded that you need help (alert: Flood warning (en-US)). Responders in your area can see it."
    )
    reply = Reply.objects.get()
    assert (reply.user_id, reply.kind, reply.delivery_id) == (user_of(newcomer).pk, ReplyKind.NEED_HELP, None)


@pytest.mark.parametrize("language", ["en", "es"])
def test_plain_words_answer_the_latest_alert_that_reached_me(fast_chats, update_queue, world, alert_pipeline, language):
    tree, staff = world
    resident = Resident(fast_chats, update_queue, 7108, language_code=language)
    onboard(resident, language=language, area_id=tree.city_a.pk)
    user = user_of(resident)
    safe_words = "I'm safe"  # the English keywords work whatever the chat's language
    nothing = resident.send(safe_words)
    assert not Reply.objects.exists()
    older = issued_alert(staff, content_over(1, 1, 4, 4))
    alert_pipeline.run()
    latest = issued_alert(staff, content_over(2, 2, 3, 3))
    alert_pipeline.run()

    resident.send(safe_words)
    assert Reply.objects.get(user=user, is_latest=True).alert_id == latest.pk
    resident.send("SOS")
    answer = Reply.objects.get(user=user, is_latest=True)
    assert (answer.alert_id, answer.kind) == (latest.pk, ReplyKind.NEED_HELP)
    assert not Reply.objects.filter(alert=older).exists()
    assert TelegramChat.objects.get(chat_id=7108).step == "alerts.help"
    assert sent_texts(nothing) == [tr("No alert has been sent to you, so there is nothing to answer.", language)]


@pytest.mark.parametrize("language", ["fr", "ar"])
def test_alert_journey_texts_are_translated(fast_chats, update_queue, world, alert_pipeline, language):
    """The journey's own words in the person's language, from the catalogues."""
    tree, staff = world
    resident = Resident(fast_chats, update_queue, 7109, language_code=language)
    onboard(resident, language=language, area_id=tree.city_a.pk)
    alert = issued_alert(staff, content_over(1, 1, 4, 4, languages=BILINGUAL))
    alert_pipeline.run()
    shown = resident.send("/alerts")
    assert sent_texts(shown)[0] == tr("An active alert for you now:", language)
    assert [label for label, _data in buttons(shown[-1])] == [tr("I'm safe", language), tr("I need help", language)]
    safe = resident.press(f"ar:{alert.pk}:safe")
    headline = {"headline": "Flood warning (fr-FR)" if language == "fr" else "Flood warning (en-US)"}
    assert sent_texts(safe) == [
        tr("Thank you. We have recorded that you are safe (alert: %(headline)s).", language) % headline
    ]
    outsider = Resident(fast_chats, update_queue, 7110, language_code=language)
    onboard(outsider, language=language, area_id=tree.city_b.pk)
    assert sent_texts(outsider.press(f"ar:{alert.pk}:safe")) == [
        tr("This alert was not sent to you, so we cannot record an answer to it.", language)
    ]
