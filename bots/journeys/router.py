"""Messages that are not commands: the answer a waiting step expects, else plain words naming a journey, else
a pointer to /help. Registered last, so that every journey's own handlers come first."""

from typing import Any

from django.utils.translation import gettext as _
from telegram import Update
from telegram.ext import BaseHandler, ContextTypes, MessageHandler, filters

from bots.journeys.common import INTENTS, STEPS, chat_of, intent_of, say, speaking


async def route(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = await chat_of(update)
    step = STEPS.get(chat.step)
    if step is not None:
        await step(update, context, chat)
        return
    message = update.effective_message
    if not chat.onboarded:
        with speaking(chat):
            await say(update, _("Welcome! Send /start to choose your language and your area first."))
        return
    if message is not None and message.location is not None and "shelters" in INTENTS:
        await INTENTS["shelters"](update, context, chat)
        return
    intent = intent_of(message.text or message.caption or "", chat.language) if message is not None else None
    handler = INTENTS.get(intent or "")
    if handler is not None:
        await handler(update, context, chat)
        return
    with speaking(chat):
        await say(update, _("I did not understand that. Send /help to see what I can do."))


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [MessageHandler(filters.ChatType.PRIVATE & ~filters.COMMAND & ~filters.StatusUpdate.ALL, route)]
