"""`manage.py run_telegram_bot`: receive updates by long polling (bots/polling.py) until stopped. `make run`
starts it when TELEGRAM_BOT_TOKEN is set. Polling and a webhook exclude each other: polling removes the webhook.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from telegram import Update

from bots.polling import polling_application
from bots.telegram.api import bot_configured


class Command(BaseCommand):
    help = "Receive Telegram updates by long polling and queue them for the workers."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--poll-timeout", type=int, default=30, help="getUpdates long-poll timeout (seconds)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not bot_configured():
            raise CommandError("TELEGRAM_BOT_TOKEN is not set: there is no bot to run.")
        self.stdout.write("Polling Telegram for updates (Ctrl-C stops).")
        polling_application().run_polling(
            allowed_updates=Update.ALL_TYPES, timeout=options["poll_timeout"], close_loop=False
        )
