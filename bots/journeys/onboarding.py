"""/start: language → consent (versioned, explicit) → location or an area → needs, each consented on its own.

A deep link (t.me/<bot>?start=room_12 or area_<code>) is kept on the chat and acted on when onboarding ends.
"""

import re
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _
from telegram import ReplyKeyboardRemove, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import NEED_CONSENT, AreaLevel, ChannelKind, ConsentPurpose, NeedKind, ResidentNeed
from bots.journeys.common import (
    LANGUAGE_CODES,
    PAYLOADS,
    Chat,
    acknowledge,
    callback_parts,
    chat_of,
    chat_reload,
    inline,
    language_from,
    location_keyboard,
    on_step,
    say,
    speaking,
    step_set,
)
from bots.models import TelegramChat

PAYLOAD_PATTERN = re.compile(r"^(room_[0-9]{1,12}|area_[A-Za-z0-9_.-]{1,58})$")
LANGUAGE_NAMES = dict(settings.LANGUAGES)
AREA_PAGE = 8


# --- data work (sync, in a worker thread) -------------------------------------------------------------------


def _set_language(chat: Chat, language: str) -> None:
    TelegramChat.objects.filter(pk=chat.pk).update(language=language)
    if chat.user_id is not None:
        account_services.user_update(user=_user(chat), preferred_language=language)
    chat.language = language


def _register(chat: Chat, first_name: str) -> None:
    """Consent given: the person gets an account, reached through this chat."""
    with transaction.atomic():
        record = TelegramChat.objects.select_for_update().get(pk=chat.pk)
        if record.user_id is None:
            user = account_services.user_create(
                username=f"tg-{get_random_string(16).lower()}",
                password=None,
                preferred_language=record.language,
                first_name=first_name[:150],
            )
            record.user = user
            record.save(update_fields=["user", "updated_at"])
        assert record.user is not None
        account_services.consent_give(user=record.user, purpose=ConsentPurpose.TERMS, version=_consent_version())
        account_services.channel_identity_link(
            user=record.user, kind=ChannelKind.TELEGRAM, external_id=str(chat.chat_id)
        )
    chat.user_id = record.user_id


def _consent_version() -> str:
    return str(settings.TELEGRAM_CONSENT_VERSION)


def _user(chat: Chat) -> Any:
    from accounts.models import User

    return User.objects.get(pk=chat.uid)


def _share_location(chat: Chat, latitude: float, longitude: float) -> None:
    user = _user(chat)
    account_services.consent_give(user=user, purpose=ConsentPurpose.LOCATION, version=_consent_version())
    point = Point(longitude, latitude, srid=4326)
    account_services.resident_share_location(user=user, location=point)
    account_services.resident_set_home(user=user, location=point)


def _areas(parent_id: int | None) -> list[tuple[int, str, bool]]:
    """Areas to choose from under a parent (the top of the tree without one): (id, name, has sub-areas)."""
    if parent_id is None:
        areas = account_selectors.area_list().filter(parent__isnull=True).exclude(level=AreaLevel.ZONE)
    else:
        areas = account_selectors.area_list(parent_id=parent_id).exclude(level=AreaLevel.ZONE)
    rows = []
    for area in areas.order_by("name")[:200]:
        has_children = area.children.exclude(level=AreaLevel.ZONE).exists()
        rows.append((area.pk, area.name, has_children))
    return rows


def _area_name(area_id: int) -> str:
    return account_selectors.area_get(area_id=area_id).name


def _subscribe(chat: Chat, area_id: int) -> str:
    area = account_selectors.area_get(area_id=area_id)
    account_services.subscription_add(user=_user(chat), area=area)
    return area.name


def _area_by_code(code: str) -> tuple[int, str] | None:
    area = account_selectors.area_list().filter(code=code).exclude(level=AreaLevel.ZONE).first()
    return (area.pk, area.name) if area else None


def _needs(chat: Chat) -> set[str]:
    return set(ResidentNeed.objects.filter(profile__user_id=chat.uid).values_list("kind", flat=True))


def _need_toggle(chat: Chat, kind: str) -> bool:
    """Declare or drop a need; declaring gives its own consent, dropping withdraws it. True when now declared."""
    user = _user(chat)
    if kind in _needs(chat):
        account_services.consent_withdraw(user=user, purpose=NEED_CONSENT[NeedKind(kind)])
        return False
    account_services.consent_give(user=user, purpose=NEED_CONSENT[NeedKind(kind)], version=_consent_version())
    account_services.resident_need_set(user=user, kind=kind)
    return True


def _finish(chat: Chat) -> str:
    """Onboarding done; returns the deep-link payload still to act on (and forgets it)."""
    record = TelegramChat.objects.get(pk=chat.pk)
    payload = record.start_payload
    TelegramChat.objects.filter(pk=chat.pk).update(
        onboarded_at=record.onboarded_at or timezone.now(), start_payload="", step="", step_data={}
    )
    chat.onboarded, chat.start_payload, chat.step = True, "", ""
    return payload


# --- what the person sees ------------------------------------------------------------------------------------


async def ask_language(update: Update, chat: Chat) -> None:
    buttons = [(LANGUAGE_NAMES[code], f"lang:{code}") for code in LANGUAGE_CODES]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    with speaking(chat):
        text = _("Hello! This service sends you official alerts and guidance for where you live. Choose your language:")
    await say(update, text, markup=inline(rows))


async def ask_consent(update: Update, chat: Chat) -> None:
    with speaking(chat):
        text = _(
            "Before we start: we keep your Telegram chat, your language and the areas you follow, so that we can send "
            "you alerts. We never share them outside the civil-protection services and never use them for anything "
            "else. You can see everything we keep with /profile and erase it with /stop. (Terms version %(version)s)"
        ) % {"version": _consent_version()}
        markup = inline([[(_("I agree"), f"consent:yes:{_consent_version()}"), (_("No, thanks"), "consent:no")]])
    await say(update, text, markup=markup)


async def ask_place(update: Update, chat: Chat) -> None:
    await sync_to_async(step_set)(chat, "onboarding.place")
    with speaking(chat):
        text = _(
            "Where should alerts reach you? Share your location (we use it only to alert you and to find shelters "
            "near you), or choose an area instead."
        )
        keyboard = location_keyboard(_("Share my location"), _("Choose an area"))
    await say(update, text, markup=keyboard)
    payload_area = chat.start_payload.removeprefix("area_") if chat.start_payload.startswith("area_") else ""
    if payload_area:
        found = await sync_to_async(_area_by_code)(payload_area)
        if found is not None:
            with speaking(chat):
                text = _("You came through a link for %(area)s.") % {"area": found[1]}
                markup = inline([[(_("Follow %(area)s") % {"area": found[1]}, f"area:pick:{found[0]}")]])
            await say(update, text, markup=markup)


async def show_areas(update: Update, chat: Chat, parent_id: int | None, page: int = 0) -> None:
    areas = await sync_to_async(_areas)(parent_id)
    shown = areas[page * AREA_PAGE : (page + 1) * AREA_PAGE]
    parent = parent_id or 0
    with speaking(chat):
        rows: list[list[tuple[str, str]]] = []
        for area_id, name, has_children in shown:
            action = "open" if has_children else "pick"
            rows.append([(f"{name} →" if has_children else name, f"area:{action}:{area_id}")])
        more = []
        if page > 0:
            more.append((_("← Back"), f"area:list:{parent}:{page - 1}"))
        if len(areas) > (page + 1) * AREA_PAGE:
            more.append((_("More →"), f"area:list:{parent}:{page + 1}"))
        if more:
            rows.append(more)
        if parent_id is not None:
            name = await sync_to_async(_area_name)(parent_id)
            rows.insert(0, [(_("Follow all of %(area)s") % {"area": name}, f"area:pick:{parent_id}")])
        text = _("Choose your area:") if rows else _("No areas are set up yet. Please share your location instead.")
    await say(update, text, markup=inline(rows) if rows else None)


async def ask_needs(update: Update, chat: Chat, *, edit: bool = False) -> None:
    declared = await sync_to_async(_needs)(chat)
    with speaking(chat):
        rows = [
            [(("☑ " if kind in declared else "☐ ") + str(label), f"need:{kind}")] for kind, label in NeedKind.choices
        ]
        rows.append([(_("Done"), "need:done")])
        text = _(
            "Optional: tell us what help you may need in an emergency, so that responders can plan for it. Each "
            "one you tick is shared only with the services that help you, and you can untick it at any time."
        )
    if edit and update.callback_query is not None:
        await update.callback_query.edit_message_reply_markup(reply_markup=inline(rows))
        return
    await say(update, text, markup=inline(rows))


async def finish(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    payload = await sync_to_async(_finish)(chat)
    with speaking(chat):
        text = _(
            "You are all set. You will receive alerts for your area here.\n\n"
            "/alerts - alerts for me now\n/shelters - shelters near me\n/rooms - rooms you can join\n"
            "/report - report something\n/profile - what we keep about you\n/help - help\n/stop - unsubscribe"
        )
    await say(update, text, markup=ReplyKeyboardRemove())
    await start_payload_apply(update, context, chat, payload)


async def start_payload_apply(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat, payload: str) -> None:
    prefix, _sep, argument = payload.partition("_")
    if prefix == "area":
        found = await sync_to_async(_area_by_code)(argument)
        if found is not None:
            name = await sync_to_async(_subscribe)(chat, found[0])
            with speaking(chat):
                await say(update, _("You now follow %(area)s.") % {"area": name})
        return
    handler = PAYLOADS.get(prefix)
    if handler is not None:
        await handler(update, context, chat, argument)


# --- handlers ------------------------------------------------------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = await chat_of(update)
    payload = context.args[0] if context.args else ""
    if not PAYLOAD_PATTERN.match(payload):
        payload = ""
    if chat.onboarded:
        await sync_to_async(step_set)(chat, "")
        if payload:
            await start_payload_apply(update, context, chat, payload)
            return
        with speaking(chat):
            await say(update, _("Welcome back! Send /help to see what I can do."))
        return
    if payload:
        await sync_to_async(TelegramChat.objects.filter(pk=chat.pk).update)(start_payload=payload)
        chat.start_payload = payload
    await ask_language(update, chat)


async def language_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = await chat_of(update)
    parts = callback_parts(update)
    language = parts[1] if len(parts) == 2 and parts[1] in LANGUAGE_CODES else language_from(None)
    await sync_to_async(_set_language)(chat, language)
    await acknowledge(update)
    if chat.onboarded:
        with speaking(chat):
            await say(update, _("Done: I will write to you in %(language)s.") % {"language": LANGUAGE_NAMES[language]})
        return
    if chat.user_id is None:
        await ask_consent(update, chat)
    else:
        await ask_place(update, chat)


async def consent_answered(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = await chat_of(update)
    parts = callback_parts(update)
    await acknowledge(update)
    if parts[1:2] == ["yes"]:
        if parts[2:3] != [_consent_version()]:
            await ask_consent(update, chat)  # an old button: the terms changed since
            return
        first_name = update.effective_user.first_name if update.effective_user else ""
        await sync_to_async(_register)(chat, first_name or "")
        await ask_place(update, chat)
        return
    with speaking(chat):
        text = _("Understood. Without your consent we cannot send you alerts. Send /start if you change your mind.")
    await say(update, text)


@on_step("onboarding.place")
async def place_given(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    message = update.effective_message
    if message is not None and message.location is not None:
        await sync_to_async(_share_location)(chat, message.location.latitude, message.location.longitude)
        with speaking(chat):
            await say(update, _("Thank you, your location is saved."), markup=ReplyKeyboardRemove())
        await _after_place(update, context, chat)
        return
    await show_areas(update, chat, None)


async def _after_place(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    chat = await sync_to_async(chat_reload)(chat)
    if chat.onboarded:
        await sync_to_async(step_set)(chat, "")
        return
    await sync_to_async(step_set)(chat, "")
    await ask_needs(update, chat)


async def area_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = await chat_of(update)
    await acknowledge(update)
    if chat.user_id is None:
        await ask_consent(update, chat)
        return
    parts = callback_parts(update)
    action = parts[1] if len(parts) > 1 else ""
    try:
        numbers = [int(part) for part in parts[2:]]
    except ValueError:
        numbers = []
    if action == "list" and len(numbers) == 2:
        await show_areas(update, chat, numbers[0] or None, max(numbers[1], 0))
    elif action == "open" and len(numbers) == 1:
        await show_areas(update, chat, numbers[0])
    elif action == "pick" and len(numbers) == 1:
        name = await sync_to_async(_subscribe)(chat, numbers[0])
        with speaking(chat):
            await say(update, _("You now follow %(area)s.") % {"area": name}, markup=ReplyKeyboardRemove())
        await _after_place(update, context, chat)


async def need_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = await chat_of(update)
    parts = callback_parts(update)
    if chat.user_id is None:
        await acknowledge(update)
        await ask_consent(update, chat)
        return
    if parts[1:2] == ["done"]:
        await acknowledge(update)
        if chat.onboarded:
            with speaking(chat):
                await say(update, _("Saved."))
            return
        await finish(update, context, chat)
        return
    kind = parts[1] if len(parts) == 2 and parts[1] in NeedKind.values else None
    if kind is None:
        await acknowledge(update)
        return
    declared = await sync_to_async(_need_toggle)(chat, kind)
    with speaking(chat):
        await acknowledge(update, _("Added") if declared else _("Removed"))
    await ask_needs(update, chat, edit=True)


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("start", start),
        CallbackQueryHandler(language_chosen, pattern=r"^lang:"),
        CallbackQueryHandler(consent_answered, pattern=r"^consent:"),
        CallbackQueryHandler(area_pressed, pattern=r"^area:"),
        CallbackQueryHandler(need_pressed, pattern=r"^need:"),
    ]
