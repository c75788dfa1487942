"""The bot's journeys: each module gives its python-telegram-bot handlers; the router of free text comes last."""

from importlib import import_module
from typing import Any

from telegram.ext import BaseHandler

# In the order PTB tries them: the first matching handler of the group wins.
JOURNEYS = ["onboarding", "profile", "alerts", "shelters", "rooms", "reports", "router"]


def handlers_all() -> list[BaseHandler[Any, Any, Any]]:
    found: list[BaseHandler[Any, Any, Any]] = []
    for name in JOURNEYS:
        try:
            module = import_module(f"bots.journeys.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bots.journeys.{name}":
                raise
            continue  # a journey not written yet
        found.extend(module.handlers())
    return found
