"""Bots: the Telegram interface (python-telegram-bot handlers, webhook, polling, telegram transport)."""
