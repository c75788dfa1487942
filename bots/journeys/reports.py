"""/report: what the person saw (text) → where (a location, or skip) → a photo (or skip) → a citizen report, created
through the alerts app's report service (which checks the text, the location and the photo's bytes).

A photo over the size cap is refused from its declared size, before anything is downloaded.
"""

import io
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.gis.geos import Point
from django.utils.translation import gettext as _
from telegram import Message, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.ext import BaseHandler, CommandHandler, ContextTypes

from accounts.models import User
from alerts.services.reports import report_create
from bots.journeys.common import Chat, location_keyboard, on_intent, on_step, onboarded, say, speaking, step_set
from commsplatform.core.errors import DomainError, ValidationFailed

TEXT_STEP = "reports.text"
LOCATION_STEP = "reports.location"
PHOTO_STEP = "reports.photo"


# --- data work (sync, in a worker thread) -------------------------------------------------------------------


def _create(chat: Chat, text: str, location: list[float] | None, photo: bytes | None) -> int:
    """The new report's id, or the service's ValidationFailed (text, location or photo refused)."""
    point = Point(location[1], location[0], srid=4326) if location else None
    report = report_create(
        reporter=User.objects.get(pk=chat.uid),
        text=text,
        location=point,
        photo=io.BytesIO(photo) if photo is not None else None,
    )
    return report.pk


# --- what the person sees ------------------------------------------------------------------------------------


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f}" if size >= 1024 * 1024 else f"{size / (1024 * 1024):.1f}"


def _too_large(limit: int) -> str:
    return _("This photo is too large: the limit is %(size)s MB. Send a smaller one, or press Skip.") % {
        "size": _megabytes(limit)
    }


def _skip_pressed(chat: Chat, message: Message | None) -> bool:
    words = (message.text or "").strip().casefold() if message is not None else ""
    with speaking(chat):
        return words in {_("Skip").casefold(), "skip", "/skip"}


def _keyboard(*, location: bool) -> ReplyKeyboardMarkup:
    return location_keyboard(_("Share this location") if location else None, _("Skip"))


async def start_report(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    await sync_to_async(step_set)(chat, TEXT_STEP)
    with speaking(chat):
        text = _(
            "What do you want to report? Describe in one message what you see (for example: a flooded street, a "
            "fallen tree, people who need help)."
        )
    await say(update, text, markup=ReplyKeyboardRemove())


async def ask_location(update: Update, chat: Chat, data: dict[str, Any]) -> None:
    await sync_to_async(step_set)(chat, LOCATION_STEP, data)
    with speaking(chat):
        text = _("Where is it? Share the location with the button below, or press Skip.")
        markup = _keyboard(location=True)
    await say(update, text, markup=markup)


async def ask_photo(update: Update, chat: Chat, data: dict[str, Any]) -> None:
    await sync_to_async(step_set)(chat, PHOTO_STEP, data)
    with speaking(chat):
        text = _("Do you have a photo of it? Send it now, or press Skip.")
        markup = _keyboard(location=False)
    await say(update, text, markup=markup)


async def create(update: Update, chat: Chat, data: dict[str, Any], photo: bytes | None) -> None:
    location = data.get("location")
    try:
        report_id = await sync_to_async(_create)(chat, str(data.get("text") or ""), location, photo)
    except ValidationFailed as exc:
        if "photo" in exc.fields and photo is not None:
            with speaking(chat):
                if exc.fields["photo"] == "too_large":
                    text = _too_large(settings.REPORT_PHOTO_MAX_BYTES)
                else:
                    text = _("This photo could not be read. Send a JPEG, PNG or WebP photo, or press Skip.")
            await say(update, text)
            return  # still waiting for a photo
        await sync_to_async(step_set)(chat, "")
        with speaking(chat):
            text = _("Sorry, your report could not be saved. Please send /report to try again.")
        await say(update, text, markup=ReplyKeyboardRemove())
        return
    except DomainError:  # an account that may not report (erased meanwhile)
        await sync_to_async(step_set)(chat, "")
        with speaking(chat):
            await say(update, _("Sorry, your report could not be saved."), markup=ReplyKeyboardRemove())
        return
    await sync_to_async(step_set)(chat, "")
    with speaking(chat):
        text = _(
            "Thank you. Your report was received; its reference is %(reference)s. Staff of your area will look at it."
        ) % {"reference": f"R-{report_id}"}
    await say(update, text, markup=ReplyKeyboardRemove())


# --- handlers ------------------------------------------------------------------------------------------------


@on_intent("report")
async def report_intent(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    await start_report(update, context, chat)


@on_step(TEXT_STEP)
async def text_given(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    message = update.effective_message
    text = (message.text or message.caption or "").strip() if message is not None else ""
    if not text:
        with speaking(chat):
            await say(update, _("Please describe in words what you want to report first."))
        return
    if len(text) > settings.REPORT_TEXT_MAX_CHARS:
        with speaking(chat):
            limit = {"limit": settings.REPORT_TEXT_MAX_CHARS}
            await say(update, _("That is too long: please say it in %(limit)s characters at most.") % limit)
        return
    await ask_location(update, chat, {"text": text})


@on_step(LOCATION_STEP)
async def location_given(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    message = update.effective_message
    data = dict(chat.step_data)
    if message is not None and message.location is not None:
        data["location"] = [message.location.latitude, message.location.longitude]
    elif not _skip_pressed(chat, message):
        with speaking(chat):
            await say(update, _("Please share the location with the button below, or press Skip."))
        return
    await ask_photo(update, chat, data)


@on_step(PHOTO_STEP)
async def photo_given(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    message = update.effective_message
    data = dict(chat.step_data)
    if message is not None and message.photo:
        largest = max(message.photo, key=lambda size: (size.file_size or 0, size.width * size.height))
        limit = settings.REPORT_PHOTO_MAX_BYTES
        if largest.file_size is not None and largest.file_size > limit:
            with speaking(chat):
                text = _too_large(limit)
            await say(update, text)
            return
        bot = update.get_bot()
        photo = bytes(await (await bot.get_file(largest.file_id)).download_as_bytearray())
        await create(update, chat, data, photo)
        return
    if _skip_pressed(chat, message):
        await create(update, chat, data, None)
        return
    with speaking(chat):
        await say(update, _("Please send a photo, or press Skip."))


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [CommandHandler("report", onboarded(report_intent))]
