"""The telegram alert transport against the fake Bot API server: what each chat receives, and the outcome each
Telegram answer becomes; then the same through the alerts dispatch, where outcomes change the database."""

import array
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from accounts import services as accounts_services
from accounts.models import ChannelIdentity, ChannelKind
from alerts.models import Delivery, DeliveryState
from alerts.services import dispatch as dispatch_service
from alerts.transports import registry_clear, transport_get
from alerts.transports.base import Outcome, Outgoing
from bots.telegram.api import bot_reset
from bots.telegram.ratelimit import PRIORITY_LIFE_SAFETY, PRIORITY_NORMAL
from bots.telegram.transport import BOT_OFF, TelegramTransport, message_priority
from tests.alerts.factories import content_over, issued_alert, staff_for
from tests.bots.conftest import bot_against_fake
from tests.factories import AreaTree, resident_at
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "515151:transport-test"
ALERT_ID = 77


@pytest.fixture
def fake(redis_url: str) -> Iterator[FakeTelegram]:
    with bot_against_fake(TOKEN, redis_url) as server:
        yield server


def outgoing(
    delivery_id: int, chat_id: int | str, text: str = "Alert: Flood\n\nMove to higher ground.", **payload: Any
) -> Outgoing:
    language = str(payload.pop("language", "en"))
    return Outgoing(
        delivery_id=delivery_id,
        alert_id=int(payload.pop("alert_id", ALERT_ID)),
        recipient_id=delivery_id,
        address=str(chat_id),
        language=language,
        payload={"text": text, "language": language, "severity": "Moderate", "urgency": "Expected", **payload},
    )


def send(*messages: Outgoing) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    for group in TelegramTransport().send(list(messages)):
        for outcome in group:
            assert outcome.delivery_id not in outcomes, "one outcome per delivery"
            outcomes[outcome.delivery_id] = outcome
    assert set(outcomes) == {message.delivery_id for message in messages}
    return outcomes


def labels(message: dict[str, Any]) -> list[tuple[str, str]]:
    markup = message.get("reply_markup") or {}
    return [(button["text"], button["callback_data"]) for row in markup.get("inline_keyboard", []) for button in row]


# -- what the chat receives --------------------------------------------------------------------------------------


@pytest.mark.services
def test_an_alert_arrives_with_the_answer_buttons(fake: FakeTelegram) -> None:
    fake.add_chat(101)
    outcome = send(outgoing(1, 101))[1]
    (message,) = fake.sent(101)
    assert message["text"] == "Alert: Flood\n\nMove to higher ground."
    assert labels(message) == [("I'm safe", f"ar:{ALERT_ID}:safe"), ("I need help", f"ar:{ALERT_ID}:help")]
    assert outcome == Outcome(1, "sent", provider_message_id=str(message["message_id"]))


def _write_mo(path: Path, translations: dict[str, str]) -> None:
    """A compiled gettext catalogue (the layout msgfmt writes), so the test does not need gettext tools."""
    entries = {"": "Content-Type: text/plain; charset=UTF-8\n", **translations}
    keys = sorted(entries)
    ids = strs = b""
    offsets = []
    for key in keys:
        msgid, msgstr = key.encode(), entries[key].encode()
        offsets.append((len(ids), len(msgid), len(strs), len(msgstr)))
        ids += msgid + b"\0"
        strs += msgstr + b"\0"
    key_start = 7 * 4 + 16 * len(keys)
    value_start = key_start + len(ids)
    table = []
    for id_offset, id_length, _str_offset, _str_length in offsets:
        table += [id_length, id_offset + key_start]
    for _id_offset, _id_length, str_offset, str_length in offsets:
        table += [str_length, str_offset + value_start]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + len(keys) * 8, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + array.array("i", table).tobytes() + ids + strs)


@pytest.mark.services
def test_the_buttons_speak_the_recipients_language(fake: FakeTelegram, tmp_path: Path) -> None:
    # Catalogues of their own, so that the test does not depend on how far the project's translations are.
    _write_mo(
        tmp_path / "fr/LC_MESSAGES/django.mo", {"I'm safe": "Je suis en sécurité", "I need help": "J'ai besoin d'aide"}
    )
    _write_mo(tmp_path / "es/LC_MESSAGES/django.mo", {"I'm safe": "Estoy a salvo", "I need help": "Necesito ayuda"})
    for chat_id in (201, 202, 203):
        fake.add_chat(chat_id)
    with override_settings(LOCALE_PATHS=[tmp_path, *settings.LOCALE_PATHS]):
        send(outgoing(1, 201, language="fr-CA"), outgoing(2, 202, language="es"), outgoing(3, 203, language="en-US"))
    assert labels(fake.sent(201)[0]) == [
        ("Je suis en sécurité", f"ar:{ALERT_ID}:safe"),
        ("J'ai besoin d'aide", f"ar:{ALERT_ID}:help"),
    ]
    assert labels(fake.sent(202)[0]) == [
        ("Estoy a salvo", f"ar:{ALERT_ID}:safe"),
        ("Necesito ayuda", f"ar:{ALERT_ID}:help"),
    ]
    assert labels(fake.sent(203)[0]) == [("I'm safe", f"ar:{ALERT_ID}:safe"), ("I need help", f"ar:{ALERT_ID}:help")]


@pytest.mark.services
def test_a_long_alert_arrives_in_parts_with_the_buttons_on_the_last(fake: FakeTelegram) -> None:
    fake.add_chat(301)
    paragraphs = [f"Paragraph {n}: " + " ".join(["the water keeps rising"] * 80) for n in range(6)]  # ~1.85k each
    text = "\n\n".join(paragraphs)
    outcome = send(outgoing(1, 301, text))[1]
    sent = fake.sent(301)
    assert len(sent) == 3
    assert all(len(message["text"]) <= 4096 for message in sent)
    assert "\n\n".join(message["text"] for message in sent) == text  # cut at paragraphs, nothing lost
    assert [bool(labels(message)) for message in sent] == [False, False, True]
    assert outcome.status == "sent"
    assert outcome.provider_message_id == str(sent[-1]["message_id"])
    # Telegram allows one message a second in a chat: the parts were paced, and nothing was refused.
    assert sent[2]["time"] - sent[0]["time"] >= 1.9
    assert fake.count_429 == 0


@pytest.mark.services
def test_a_cancellation_has_no_answer_buttons(fake: FakeTelegram) -> None:
    fake.add_chat(302)
    send(outgoing(1, 302, "Cancelled: Flood", msg_type="Cancel"))
    assert labels(fake.sent(302)[0]) == []


# -- outcomes ----------------------------------------------------------------------------------------------------


@pytest.mark.services
def test_telegram_answers_become_outcomes(fake: FakeTelegram) -> None:
    for chat_id in (401, 402, 404, 405, 406):
        fake.add_chat(chat_id)
    fake.block(402)  # 403: the person blocked the bot
    fake.inject("chat_not_found", chat_ids=[405])
    fake.inject("5xx", chat_ids=[406], status=503)
    huge_alert = 10**60  # its callback data would be over Telegram's 64 bytes: 400 BUTTON_DATA_INVALID
    outcomes = send(
        outgoing(1, 401),
        outgoing(2, 402),
        outgoing(3, 403),  # a chat Telegram does not know
        outgoing(4, 404, alert_id=huge_alert),
        outgoing(5, 405),
        outgoing(6, 406),
        outgoing(7, "not-a-chat"),
    )
    assert outcomes[1].status == "sent"
    assert (outcomes[2].status, outcomes[2].reason) == ("blocked", "telegram: Forbidden: bot was blocked by the user")
    assert (outcomes[3].status, outcomes[3].reason) == ("blocked", "telegram: Chat not found")
    assert (outcomes[4].status, outcomes[4].reason) == ("failed", "telegram: Button_data_invalid")
    assert outcomes[5].status == "blocked"
    assert outcomes[6].status == "retry"
    assert "Service Unavailable" in outcomes[6].reason
    assert outcomes[7].status == "failed"
    assert [len(fake.sent(chat_id)) for chat_id in (401, 402, 403, 404, 405, 406)] == [1, 0, 0, 0, 0, 0]


@pytest.mark.services
def test_a_timeout_is_retried(fake: FakeTelegram) -> None:
    fake.add_chat(501)
    fake.inject("timeout", chat_ids=[501], delay=3.0)
    with override_settings(TELEGRAM_REQUEST_TIMEOUT_SECONDS=0.5):
        bot_reset()
        outcome = send(outgoing(1, 501))[1]
    assert outcome.status == "retry"
    assert "TimedOut" in outcome.reason


@pytest.mark.services
def test_without_a_token_deliveries_wait_for_the_bot(fake: FakeTelegram) -> None:
    with override_settings(TELEGRAM_BOT_TOKEN=""):
        outcomes = send(outgoing(1, 601), outgoing(2, 602))
    assert {outcome.status for outcome in outcomes.values()} == {"retry"}
    assert outcomes[1].reason == BOT_OFF
    assert fake.calls == []


@pytest.mark.services
def test_a_429_is_a_retry_after_telegrams_delay_and_no_message_is_lost(fake: FakeTelegram) -> None:
    chats = list(range(701, 741))
    for chat_id in chats:
        fake.add_chat(chat_id)
    fake.inject("429", count=3, retry_after=2)
    pending = [outgoing(n, chat_id) for n, chat_id in enumerate(chats, start=1)]
    rounds = 0
    retried: list[Outcome] = []
    while pending and rounds < 5:
        rounds += 1
        outcomes = send(*pending)
        retries = [outcome for outcome in outcomes.values() if outcome.status == "retry"]
        retried += retries
        assert {outcome.status for outcome in outcomes.values()} <= {"sent", "retry"}
        pending = [message for message in pending if outcomes[message.delivery_id].status == "retry"]
        if pending:
            time.sleep(max(outcome.retry_after or 0 for outcome in retries))
    assert not pending
    assert retried
    assert {outcome.retry_after for outcome in retried} == {2.0}
    assert all(len(fake.sent(chat_id)) == 1 for chat_id in chats)


@pytest.mark.services
def test_a_retry_sends_only_the_parts_still_missing(fake: FakeTelegram) -> None:
    fake.add_chat(801)
    text = "\n\n".join(f"Part {n}. " + "stay indoors " * 300 for n in range(3))
    message = outgoing(1, 801, text)
    results: list[dict[int, Outcome]] = []
    sender = threading.Thread(target=lambda: results.append(send(message)))
    sender.start()
    # The second part waits a second for the chat's token: time to make Telegram fail it.
    fake.wait_for(801, lambda sent: sent["text"].startswith("Part 0."), timeout=10)
    fake.inject("5xx", chat_ids=[801], count=1)
    sender.join(30)
    assert results[0][1].status == "retry"
    assert [sent["text"][:7] for sent in fake.sent(801)] == ["Part 0."]
    outcome = send(message)[1]
    assert outcome.status == "sent"
    sent = fake.sent(801)
    assert [part["text"][:7] for part in sent] == ["Part 0.", "Part 1.", "Part 2."]  # part 0 not again
    assert [bool(labels(part)) for part in sent] == [False, False, True]
    assert outcome.provider_message_id == str(sent[-1]["message_id"])
    assert send(message)[1] == outcome  # a replay after success sends nothing at all
    assert len(fake.sent(801)) == 3


@pytest.mark.services
def test_a_batch_that_cannot_finish_within_its_claim_retries_the_rest(fake: FakeTelegram) -> None:
    fake.add_chat(901)
    text = "\n\n".join(f"Part {n}. " + "stay indoors " * 300 for n in range(3))
    with override_settings(ALERT_CLAIM_TIMEOUT_SECONDS=1):  # the batch may wait 0.5 s; the chat's next part is 1 s
        first = send(outgoing(1, 901, text))[1]
        assert first.status == "retry"
        assert first.retry_after is not None
        assert 0 < first.retry_after <= 1.0
        assert len(fake.sent(901)) == 1
        for _ in range(5):
            time.sleep(1.0)
            if send(outgoing(1, 901, text))[1].status == "sent":
                break
    assert [part["text"][:7] for part in fake.sent(901)] == ["Part 0.", "Part 1.", "Part 2."]


@pytest.mark.services
def test_outcomes_are_handed_over_as_soon_as_they_are_final(fake: FakeTelegram) -> None:
    fake.add_chat(1001)
    fake.add_chat(1002)
    long_text = "\n\n".join("water " * 700 for _ in range(3))  # three parts: at least two seconds
    arrivals = []
    started = time.monotonic()
    for group in TelegramTransport().send([outgoing(1, 1001, long_text), outgoing(2, 1002)]):
        arrivals.append(([outcome.delivery_id for outcome in group], time.monotonic() - started))
    assert arrivals[0][0] == [2]
    assert arrivals[0][1] < 1.5
    assert arrivals[-1][0] == [1]
    assert arrivals[-1][1] >= 1.9


def test_life_safety_alerts_go_first():
    assert message_priority({"severity": "Extreme", "urgency": "Future"}) == PRIORITY_LIFE_SAFETY
    assert message_priority({"severity": "Severe", "urgency": "Expected"}) == PRIORITY_LIFE_SAFETY
    assert message_priority({"severity": "Minor", "urgency": "Immediate"}) == PRIORITY_LIFE_SAFETY
    assert message_priority({"severity": "Moderate", "urgency": "Expected"}) == PRIORITY_NORMAL
    assert message_priority({}) == PRIORITY_NORMAL


# -- through the alerts dispatch ---------------------------------------------------------------------------------


def telegram_resident(lon: float, lat: float, chat_id: int, **kwargs: Any) -> ChannelIdentity:
    user = resident_at(lon, lat, **kwargs)
    return accounts_services.channel_identity_link(user=user, kind=ChannelKind.TELEGRAM, external_id=str(chat_id))


@pytest.mark.services
@pytest.mark.django_db
def test_dispatch_records_sent_retry_and_blocked_and_deactivates_a_blocked_chat(
    fake: FakeTelegram, tree: AreaTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[tuple[str, list[int], float]] = []
    monkeypatch.setattr(
        dispatch_service,
        "_enqueue",
        lambda priority, transport, ids, countdown=0.0: queued.append((transport, ids, countdown)),
    )
    registry_clear()
    assert isinstance(transport_get("telegram"), TelegramTransport)
    reader = telegram_resident(1, 1, 1101, preferred_language="fr")
    blocker = telegram_resident(2, 2, 1102)
    flaky = telegram_resident(3, 3, 1103)
    for chat_id in (1101, 1102, 1103):
        fake.add_chat(chat_id)
    fake.block(1102)
    fake.inject("429", chat_ids=[1103], count=1, retry_after=3)
    alert = issued_alert(staff_for(tree), content_over(0.5, 0.5, 4, 4, languages=("en-US", "fr")))
    dispatch_service.alert_dispatch(alert_id=alert.pk)
    transport, ids, _countdown = queued.pop(0)
    assert transport == "telegram"
    dispatch_service.deliveries_send(transport_name="telegram", delivery_ids=ids)

    states = {delivery.identity_id: delivery for delivery in Delivery.objects.filter(alert=alert)}
    sent = states[reader.pk]
    assert sent.state == DeliveryState.SENT
    assert sent.provider_message_id == str(fake.sent(1101)[0]["message_id"])
    assert "Flood warning (fr)" in fake.sent(1101)[0]["text"]
    assert states[blocker.pk].state == DeliveryState.BLOCKED
    blocker.refresh_from_db()
    assert not blocker.is_active
    assert "blocked" in blocker.deactivated_reason
    retried = states[flaky.pk]
    assert retried.state == DeliveryState.QUEUED
    ((transport, ids, countdown),) = queued
    assert (transport, ids) == ("telegram", [retried.pk])
    assert countdown >= 3.0  # not before Telegram's retry_after
    assert retried.next_attempt_at is not None

    # Its retry, once due, sends it once.
    Delivery.objects.filter(pk=retried.pk).update(next_attempt_at=None)
    dispatch_service.deliveries_send(transport_name="telegram", delivery_ids=[retried.pk])
    assert Delivery.objects.get(pk=retried.pk).state == DeliveryState.SENT
    assert len(fake.sent(1103)) == 1
    registry_clear()
