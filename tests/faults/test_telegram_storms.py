"""Telegram storms mid-dispatch: the real telegram transport (python-telegram-bot in a Celery worker, the shared
Redis rate limiter) sends an alert to RECIPIENTS Telegram residents through the fake Bot API server, which answers
every send with 5xx errors, timeouts or 429 flood waits (retry_after) for a while once some but not all chats
have their message. Every chat must end with exactly one message, counted from what the fake server recorded for
each chat, and every delivery recorded as sent once.
"""

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from accounts.models import ChannelKind
from tests.factories import AreaTree
from tests.fakes.telegram_api import FakeTelegram
from tests.faults.workers import Stack, issue, report_case, residents, sent_rows, wait_for

RECIPIENTS = 300
FIRST_CHAT_ID = 910_000
TOKEN = "424242:FAULTS-token"  # the fake server's token
# Faster than Telegram's 30 a second, so that the case takes seconds; the fake server enforces the same rate.
RATE_PER_BOT = 60.0
STORM_SECONDS = 2.0
# Long enough that a send the fake answers in time is never taken for a timeout on a busy CI machine.
REQUEST_TIMEOUT_SECONDS = 4.0

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        os.environ.get("DATABASE_URL", "").split(":", 1)[0] not in ("postgis", "postgres", "postgresql"),
        reason="the fault cases run on PostGIS (a real worker writing beside the test)",
    ),
]

# kind → the fake's inject() arguments and what the storm looks like to the transport.
STORMS: dict[str, tuple[dict[str, object], str]] = {
    "5xx": ({"status": 502}, "every send answered 502 Bad Gateway"),
    # The fake holds each request past the transport's timeout (and never delivers it).
    "timeout": (
        {"delay": 3 * REQUEST_TIMEOUT_SECONDS},
        f"every send held past the {REQUEST_TIMEOUT_SECONDS:.0f} s timeout",
    ),
    "429": ({"retry_after": 1}, "every send answered 429 retry_after 1"),
}


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN, rate_per_bot=RATE_PER_BOT) as fake:
        yield fake


def _chats_served(fake: FakeTelegram) -> int:
    return len({entry["chat_id"] for entry in fake.all_sent(method="sendMessage")})


@pytest.mark.parametrize("kind", list(STORMS))
def test_telegram_storm_mid_dispatch(
    kind: str, tree: AreaTree, stack_factory: Callable[..., Stack], fake_telegram: FakeTelegram
) -> None:
    recipients = residents(RECIPIENTS, kind=ChannelKind.TELEGRAM, first_chat_id=FIRST_CHAT_ID)
    for n in range(RECIPIENTS):  # each resident has started the bot: Telegram knows the chat
        fake_telegram.add_chat(FIRST_CHAT_ID + n)
    stack = stack_factory(
        transport="telegram",
        extra_env={
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": fake_telegram.base_url,
            "TELEGRAM_API_FILE_URL": fake_telegram.base_file_url,
            "TELEGRAM_RATE_PER_BOT": str(RATE_PER_BOT),
            "TELEGRAM_REQUEST_TIMEOUT_SECONDS": str(REQUEST_TIMEOUT_SECONDS),
            # A batch of 50 waits for tokens at most half of this (more than it needs at RATE_PER_BOT), and its claim
            # outlasts the timed-out sends of a storm.
            "ALERT_CLAIM_TIMEOUT_SECONDS": "15",
        },
    )
    alert = issue(tree, stack)
    wait_for(
        lambda: _chats_served(fake_telegram) >= RECIPIENTS // 5, "a fifth of the chats served", timeout=60, alert=alert
    )
    arguments, description = STORMS[kind]
    fault = fake_telegram.inject(kind, **arguments)  # type: ignore[arg-type] # kind is one of the FaultKind values
    storm_began = _chats_served(fake_telegram)
    time.sleep(STORM_SECONDS)  # the storm's length, not a wait for something
    fake_telegram.clear_faults()
    storm_ended = _chats_served(fake_telegram)
    assert fault.fired > 0, "the storm answered no request"
    assert 0 < storm_began <= storm_ended < RECIPIENTS, "the dispatch was not under way during the storm"
    wait_for(lambda: sent_rows(alert) == RECIPIENTS, "every delivery sent after the storm", alert=alert)

    physical: Counter[int] = Counter()
    for n, recipient in enumerate(recipients):
        physical[recipient] = len(fake_telegram.sent(FIRST_CHAT_ID + n, method="sendMessage"))
    report_case(
        f"Telegram {kind} storm mid-dispatch",
        alert,
        recipients,
        physical,
        f"{description} for {STORM_SECONDS:.0f} s once {storm_began} chats had theirs: {fault.fired} requests failed",
    )
