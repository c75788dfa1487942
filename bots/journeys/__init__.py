"""The bot's journeys: each module gives its python-telegram-bot handlers; the router of free text comes last."""

from typing import Any

from telegram.ext import BaseHandler

from bots.journeys import alerts, onboarding, profile, reports, rooms, router, shelters

# In the order PTB tries them: the first matching handler of the group wins.
JOURNEYS = [onboarding, profile, alerts, shelters, rooms, reports, router]


def handlers_all() -> list[BaseHandler[Any, Any, Any]]:
    return [handler for journey in JOURNEYS for handler in journey.handlers()]
