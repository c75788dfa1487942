"""The webhook with a real Celery worker: the update goes through the broker to a worker process, which answers
the person through the fake Bot API server; the same update sent again is answered once."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from tests.bots.conftest import TOKEN, WEBHOOK_PATH, WEBHOOK_SECRET, buttons, webhook_post

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        os.environ.get("DATABASE_URL", "").split(":", 1)[0] not in ("postgis", "postgres", "postgresql"),
        reason="a worker process shares the test database only on the PostGIS lane",
    ),
]


@pytest.fixture
def worker(fake_telegram, redis_url, tmp_path):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "commsplatform.settings.test",
        "DATABASE_URL": f"postgis://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": redis_url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake_telegram.base_url,
        "TELEGRAM_API_FILE_URL": fake_telegram.base_file_url,
    }
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "commsplatform",
            "worker",
            "-Q",
            "bots",
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",  # what a production worker logs: the log scan for personal data reads it
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield process
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
    log.close()


def test_a_webhook_update_is_answered_by_a_worker_once(fake_telegram, worker, settings):
    assert (settings.TELEGRAM_WEBHOOK_PATH, settings.TELEGRAM_WEBHOOK_SECRET) == (WEBHOOK_PATH, WEBHOOK_SECRET)
    fake_telegram.add_chat(8101)
    update = fake_telegram.user_message(8101, "/start", language_code="es")
    client = Client()
    assert webhook_post(client, update).json() == {"ok": True, "duplicate": False}

    greeting = fake_telegram.wait_for(8101, timeout=90)
    assert [data for _label, data in buttons(greeting)][:2] == ["lang:en", "lang:fr"]

    assert webhook_post(client, update).json() == {"ok": True, "duplicate": True}
    time.sleep(3)  # a second answer, if any, would have come by now
    assert len(fake_telegram.sent(8101)) == 1
    assert worker.poll() is None
