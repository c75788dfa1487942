"""/profile (what we keep, and changing it), /help, /language, and /stop (unsubscribe and erase, confirmed)."""

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils.translation import gettext as _
from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes

from accounts import services as account_services
from accounts.models import Consent, NeedKind, ResidentNeed, ResidentProfile, Subscription, User
from bots.journeys import onboarding
from bots.journeys.common import Chat, acknowledge, callback_parts, chat_of, inline, on_intent, onboarded, say, speaking

LANGUAGE_NAMES = dict(settings.LANGUAGES)


def _profile_facts(chat: Chat) -> dict[str, Any]:
    profile = ResidentProfile.objects.filter(user_id=chat.uid).first()
    return {
        "areas": list(
            Subscription.objects.filter(user_id=chat.uid).order_by("area__name").values_list("area__name", flat=True)
        ),
        "location": bool(profile and (profile.home_location or profile.last_location)),
        "needs": list(ResidentNeed.objects.filter(profile__user_id=chat.uid).values_list("kind", flat=True)),
        "consents": list(
            Consent.objects.filter(user_id=chat.uid, withdrawn_at__isnull=True).values_list("purpose", "version")
        ),
    }


@on_intent("profile")
async def profile(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    facts = await sync_to_async(_profile_facts)(chat)
    need_labels = dict(NeedKind.choices)
    with speaking(chat):
        needs = ", ".join(str(need_labels[kind]) for kind in facts["needs"] if kind in need_labels)
        consents = ", ".join(f"{purpose} ({version})" for purpose, version in facts["consents"])
        lines = [
            _("What we keep about you:"),
            _("Language: %(language)s") % {"language": LANGUAGE_NAMES[chat.language]},
            _("Areas you follow: %(areas)s") % {"areas": ", ".join(facts["areas"]) or _("none")},
            _("Location: %(state)s") % {"state": _("shared") if facts["location"] else _("not shared")},
            _("Needs: %(needs)s") % {"needs": needs or _("none")},
            _("Consents: %(consents)s") % {"consents": consents or _("none")},
        ]
        markup = inline(
            [
                [(_("Change language"), "profile:language"), (_("Change area"), "profile:areas")],
                [(_("Share my location again"), "profile:location"), (_("My needs"), "profile:needs")],
                [(_("Erase my data"), "stop:ask")],
            ]
        )
    await say(update, "\n".join(lines), markup=markup)


async def profile_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    await acknowledge(update)
    action = callback_parts(update)[1:2]
    if action == ["language"]:
        await onboarding.ask_language(update, chat)
    elif action == ["areas"]:
        await onboarding.show_areas(update, chat, None)
    elif action == ["location"]:
        await onboarding.ask_place(update, chat)
    elif action == ["needs"]:
        await onboarding.ask_needs(update, chat)


@on_intent("help")
async def help_(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    with speaking(chat):
        text = _(
            "I send you official alerts for your area, in your language. You can also write to me in plain words.\n\n"
            "/alerts - alerts for me now\n/shelters - shelters near me\n/rooms - rooms you can join\n"
            "/report - report something\n/profile - what we keep about you\n/language - change language\n"
            "/stop - unsubscribe and erase your data"
        )
    await say(update, text)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await help_(update, context, await chat_of(update))


async def language_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await onboarding.ask_language(update, await chat_of(update))


async def stop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = await chat_of(update)
    await acknowledge(update)
    with speaking(chat):
        if chat.user_id is None:
            await say(update, _("You are not subscribed. Send /start to begin."))
            return
        text = _(
            "Do you want to unsubscribe? You will no longer receive alerts here, and everything we keep about you "
            "(areas, location, needs, reports) will be erased. This cannot be undone."
        )
        markup = inline([[(_("Yes, erase my data"), "stop:yes"), (_("No, keep me subscribed"), "stop:no")]])
    await say(update, text, markup=markup)


def _erase(chat: Chat) -> None:
    user = User.objects.get(pk=chat.uid)
    account_services.user_erase(actor=user, user=user)


async def stop_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = await chat_of(update)
    action = callback_parts(update)[1:2]
    if action == ["ask"]:
        await stop(update, context)
        return
    await acknowledge(update)
    if action == ["yes"] and chat.user_id is not None:
        await sync_to_async(_erase)(chat)
        with speaking(chat):
            await say(update, _("Done. You are unsubscribed and your data is erased. Send /start to come back."))
        return
    with speaking(chat):
        await say(update, _("Nothing changed: you are still subscribed."))


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("profile", onboarded(profile)),
        CommandHandler("help", help_command),
        CommandHandler("language", language_command),
        CommandHandler("stop", stop),
        CallbackQueryHandler(onboarded(profile_pressed), pattern=r"^profile:"),
        CallbackQueryHandler(stop_pressed, pattern=r"^stop:"),
    ]
