"""The webhook: only Telegram (the right path and secret token) gets in; a bad body is refused with 400 and a log
line; an update is stored and queued once, however often Telegram sends it."""

import json
import logging

import pytest
from django.test import Client

from bots.models import TelegramUpdate
from tests.bots.conftest import WEBHOOK_PATH, WEBHOOK_SECRET, webhook_post

# Transactional: the update is queued on commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def configured(settings):
    settings.TELEGRAM_BOT_TOKEN = "123456:TEST-token"
    settings.TELEGRAM_WEBHOOK_PATH = WEBHOOK_PATH
    settings.TELEGRAM_WEBHOOK_SECRET = WEBHOOK_SECRET
    return settings


def _update(update_id: int = 1001) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 5,
            "date": 1763800000,
            "chat": {"id": 4242, "type": "private"},
            "from": {"id": 4242, "is_bot": False, "first_name": "Ada"},
            "text": "/start",
        },
    }


def test_an_update_is_stored_and_queued_once_however_often_it_comes(configured, update_queue):
    client = Client()
    first = webhook_post(client, _update())
    again = webhook_post(client, _update())
    assert (first.status_code, first.json()) == (200, {"ok": True, "duplicate": False})
    assert (again.status_code, again.json()) == (200, {"ok": True, "duplicate": True})
    assert update_queue.update_ids == [1001]
    assert TelegramUpdate.objects.get().payload == _update()


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", WEBHOOK_SECRET + "x"])
def test_without_the_right_secret_token_403_and_nothing_changes(configured, update_queue, secret, caplog):
    with caplog.at_level(logging.WARNING, logger="bots.views"):
        response = webhook_post(Client(), _update(), secret=secret)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert not TelegramUpdate.objects.exists()
    assert update_queue.update_ids == []
    assert "secret token" in caplog.text


def test_a_wrong_path_is_404(configured, update_queue):
    response = webhook_post(Client(), _update(), path="guessed-path")
    assert response.status_code == 404
    assert not TelegramUpdate.objects.exists()


def test_no_webhook_without_a_token(configured, update_queue):
    configured.TELEGRAM_BOT_TOKEN = ""
    assert webhook_post(Client(), _update()).status_code == 404
    assert not TelegramUpdate.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"\x00\xff not json", "body"),
        (b"{truncated", "body"),
        (b"[1, 2, 3]", "body"),
        (b'"a string"', "body"),
        (json.dumps({"message": {}}).encode(), "update_id"),
        (json.dumps({"update_id": "12"}).encode(), "update_id"),
        (json.dumps({"update_id": True}).encode(), "update_id"),
        (json.dumps({"update_id": -1}).encode(), "update_id"),
        (json.dumps({"update_id": 2**60}).encode(), "update_id"),
        (json.dumps({"update_id": 7, "message": "hello"}).encode(), "message"),
        (json.dumps({"update_id": 7, "callback_query": [1]}).encode(), "callback_query"),
    ],
)
def test_garbage_gets_400_a_log_line_and_changes_nothing(configured, update_queue, body, field, caplog):
    with caplog.at_level(logging.WARNING, logger="bots.views"):
        response = webhook_post(Client(), body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_update"
    assert "refused a body" in caplog.text
    assert not TelegramUpdate.objects.exists()
    assert update_queue.update_ids == []


def test_a_huge_body_is_refused_before_it_is_read(configured, update_queue):
    configured.TELEGRAM_UPDATE_MAX_BYTES = 1000
    body = json.dumps({**_update(), "padding": "x" * 5000})
    response = webhook_post(Client(), body)
    assert response.status_code == 413
    assert not TelegramUpdate.objects.exists()


def test_only_post(configured, update_queue):
    response = Client().get(f"/bots/telegram/{WEBHOOK_PATH}/", HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=WEBHOOK_SECRET)
    assert response.status_code == 405


def test_what_was_written_never_reaches_the_log(configured, update_queue, caplog):
    secret_text = {"update_id": 9, "message": "my address is 12 Private Road"}
    with caplog.at_level(logging.DEBUG):
        webhook_post(Client(), secret_text)
    assert "Private Road" not in caplog.text
