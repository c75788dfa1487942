"""/alerts: the active alerts that concern me now, each with "I'm safe" / "I need help"; and the answers to those
buttons (also pressed on alerts the telegram transport sent), recorded through the alerts app's reply service.

"I need help" then asks, optionally, for a few words and a location, recorded on the person's reply. Plain words
("I'm safe", "help me") answer the latest alert that reached the person.
"""

from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.gis.geos import Point
from django.db import IntegrityError
from django.utils.translation import gettext as _
from telegram import ReplyKeyboardRemove, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes

from accounts.models import User
from alerts import targeting
from alerts.messages import alert_message
from alerts.models import Alert, MsgType, Reply, ReplyKind
from alerts.selectors import alert_active_list, delivery_list_for_recipient
from alerts.selectors_cap import alert_public_get
from alerts.services.replies import reply_record
from bots.journeys.common import (
    Chat,
    acknowledge,
    callback_parts,
    inline,
    location_keyboard,
    on_intent,
    on_step,
    onboarded,
    say,
    speaking,
    step_set,
)
from commsplatform.core.errors import Conflict, PermissionDenied, ValidationFailed

# Active alerts looked at for a person (newest first), and how many of those concerning them are shown.
ACTIVE_CHECKED = 50
SHOWN = 5
ANSWERS = {"safe": ReplyKind.SAFE, "help": ReplyKind.NEED_HELP}
HELP_STEP = "alerts.help"
MESSAGE_MAX_CHARS = 1000  # what a reply keeps (alerts.Reply.message)


@dataclass(frozen=True)
class Shown:
    alert_id: int
    text: str
    headline: str
    cancelled: bool


@dataclass(frozen=True)
class Answer:
    """What became of an answer: recorded, already given, or why not."""

    status: str  # "recorded", "already", "not_found", "late", "not_sent", "closed"
    alert_id: int = 0
    headline: str = ""


# --- data work (sync, in a worker thread) -------------------------------------------------------------------


def _user(chat: Chat) -> User:
    return User.objects.get(pk=chat.uid)


def _shown(alert: Alert, language: str) -> Shown:
    languages = [info.language for info in alert.infos.all()] or [language]
    message = alert_message(alert, targeting.best_language(language, languages))
    return Shown(alert.pk, message["text"], message["headline"], alert.msg_type == MsgType.CANCEL)


def _alerts_for(chat: Chat) -> list[Shown]:
    """Active alerts sent to the person, or whose area holds their home or recent location or an area they follow."""
    user = _user(chat)
    active = list(alert_active_list().order_by("-issued_at", "-pk")[:ACTIVE_CHECKED])
    sent = set(
        delivery_list_for_recipient(user=user)
        .filter(alert_id__in=[alert.pk for alert in active])
        .values_list("alert_id", flat=True)
    )
    mine = [alert for alert in active if alert.pk in sent or targeting.recipients(alert).filter(pk=user.pk).exists()]
    return [_shown(alert, chat.language) for alert in mine[:SHOWN]]


def _alert_for(user: User, alert_id: int) -> Alert | None:
    """The alert as the person may know it: sent to them (whatever its scope), or published to the public."""
    delivery = delivery_list_for_recipient(user=user).filter(alert_id=alert_id).first()
    return delivery.alert if delivery is not None else alert_public_get(alert_id=alert_id)


def _latest_alert_id(chat: Chat) -> int | None:
    delivery = delivery_list_for_recipient(user=_user(chat)).first()
    return delivery.alert_id if delivery is not None else None


def _answer(chat: Chat, alert_id: int, kind: str) -> Answer:
    """Record "safe" or "need_help" once: pressing the same button again (or Telegram re-sending the press under a
    new id) finds the same latest answer and records nothing more."""
    user = _user(chat)
    alert = _alert_for(user, alert_id)
    if alert is None:
        return Answer("not_found", alert_id)
    headline = _shown(alert, chat.language).headline
    latest = Reply.objects.filter(alert=alert, user=user, is_latest=True).values_list("kind", flat=True).first()
    if latest == kind:
        return Answer("already", alert.pk, headline)
    try:
        reply_record(user=user, alert=alert, kind=kind)
    except PermissionDenied:
        # reply_record takes answers only from people the alert was sent to. Someone the alert concerns now (who
        # moved there or subscribed after it was sent) has no delivery to answer; they are told so, not ignored.
        concerned = targeting.recipients(alert).filter(pk=user.pk).exists()
        return Answer("late" if concerned else "not_sent", alert.pk, headline)
    except Conflict:
        return Answer("closed", alert.pk, headline)
    except IntegrityError:  # the same answer recorded by a concurrent press
        return Answer("already", alert.pk, headline)
    return Answer("recorded", alert.pk, headline)


def _help_details(chat: Chat, alert_id: int, message: str, location: tuple[float, float] | None) -> bool:
    """Add what the person said and where they are to their "I need help" answer; False if it cannot be."""
    user = _user(chat)
    alert = _alert_for(user, alert_id)
    if alert is None:
        return False
    point = Point(location[1], location[0], srid=4326) if location is not None else None
    try:
        reply_record(user=user, alert=alert, kind=ReplyKind.NEED_HELP, message=message, location=point)
    except (PermissionDenied, Conflict, ValidationFailed):
        return False
    return True


# --- what the person sees ------------------------------------------------------------------------------------


def answer_buttons(alert_id: int) -> Any:
    """The same buttons the telegram transport puts under an alert, labelled in the chat's language."""
    return inline([[(_("I'm safe"), f"ar:{alert_id}:safe"), (_("I need help"), f"ar:{alert_id}:help")]])


async def show_alerts(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    await sync_to_async(step_set)(chat, "")
    shown = await sync_to_async(_alerts_for)(chat)
    if not shown:
        with speaking(chat):
            text = _("There are no active alerts for you right now. We will write to you here if that changes.")
            await say(update, text)
        return
    with speaking(chat):
        intro = _("Active alerts for you now:") if len(shown) > 1 else _("An active alert for you now:")
    await say(update, intro)
    for alert in shown:
        with speaking(chat):
            markup = None if alert.cancelled else answer_buttons(alert.alert_id)
        await say(update, alert.text, markup=markup)


async def _answered(update: Update, chat: Chat, answer: Answer, kind: str) -> None:
    """Tell the person what became of their answer; after "I need help", ask for details."""
    headline = {"headline": answer.headline}
    with speaking(chat):
        texts = {
            "not_found": _("This alert no longer exists, so there is nothing to answer."),
            "not_sent": _("This alert was not sent to you, so we cannot record an answer to it."),
            "late": _(
                "We could not record your answer: the alert “%(headline)s” was sent before it concerned you. If you "
                "are in danger, call the emergency services."
            )
            % headline,
            "closed": _("This alert cannot be answered."),
        }
        if answer.status in texts:
            await say(update, texts[answer.status])
            return
        if kind == ReplyKind.SAFE:
            text = (
                _("Thank you. We have recorded that you are safe (alert: %(headline)s).")
                if answer.status == "recorded"
                else _("You already told us that you are safe (alert: %(headline)s). Thank you.")
            ) % headline
            await say(update, text)
            return
        text = (
            _("We have recorded that you need help (alert: %(headline)s). Responders in your area can see it.")
            if answer.status == "recorded"
            else _("We already know that you need help (alert: %(headline)s). Responders in your area can see it.")
        ) % headline
    await say(update, text)
    await ask_help_details(update, chat, answer.alert_id)


async def ask_help_details(update: Update, chat: Chat, alert_id: int) -> None:
    await sync_to_async(step_set)(chat, HELP_STEP, {"alert_id": alert_id, "message": "", "location": None})
    with speaking(chat):
        text = _(
            "If you can, tell us in a few words what is happening, and share your location so that responders can "
            "find you. Press Skip if you cannot."
        )
        keyboard = location_keyboard(_("Share my location"), _("Skip"))
    await say(update, text, markup=keyboard)


async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat, alert_id: int, kind: str) -> None:
    await sync_to_async(step_set)(chat, "")
    result = await sync_to_async(_answer)(chat, alert_id, kind)
    await _answered(update, chat, result, kind)


# --- handlers ------------------------------------------------------------------------------------------------


async def alerts_command(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    await show_alerts(update, context, chat)


@on_intent("alerts")
async def alerts_intent(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    await show_alerts(update, context, chat)


async def answer_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    parts = callback_parts(update)
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 12 or parts[2] not in ANSWERS:
        await acknowledge(update)
        with speaking(chat):
            await say(update, _("This button is not valid any more. Send /alerts to see the alerts for you now."))
        return
    await acknowledge(update)
    await answer(update, context, chat, int(parts[1]), ANSWERS[parts[2]])


async def _answer_latest(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat, kind: str) -> None:
    alert_id = await sync_to_async(_latest_alert_id)(chat)
    if alert_id is None:
        with speaking(chat):
            text = _("No alert has been sent to you, so there is nothing to answer.")
            if kind == ReplyKind.NEED_HELP:
                text += " " + _("If you are in danger, call the emergency services.")
        await say(update, text)
        return
    await answer(update, context, chat, alert_id, kind)


@on_intent("safe")
async def safe_intent(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    await _answer_latest(update, context, chat, ReplyKind.SAFE)


@on_intent("need_help")
async def need_help_intent(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    await _answer_latest(update, context, chat, ReplyKind.NEED_HELP)


@on_step(HELP_STEP)
async def help_details(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    """A few words or a location after "I need help"; Skip ends it. Each is added to the person's answer."""
    message = update.effective_message
    if message is None:
        return
    data = dict(chat.step_data)
    alert_id = int(data.get("alert_id") or 0)
    words = (message.text or message.caption or "").strip()
    with speaking(chat):
        skip = words.casefold() in {_("Skip").casefold(), "skip", "/skip"}
    if skip:
        await sync_to_async(step_set)(chat, "")
        with speaking(chat):
            text = _("All right. Stay safe; if your situation changes, press “I need help” again.")
        await say(update, text, markup=ReplyKeyboardRemove())
        return
    if message.location is None and not words:
        with speaking(chat):
            await say(update, _("Please write a few words or share your location, or press Skip."))
        return
    if message.location is not None:
        data["location"] = [message.location.latitude, message.location.longitude]
    else:
        if len(words) > MESSAGE_MAX_CHARS:
            with speaking(chat):
                text = _("Please keep it shorter (%(limit)s characters at most).") % {"limit": MESSAGE_MAX_CHARS}
            await say(update, text)
            return
        data["message"] = words
    where = data.get("location")
    location = (float(where[0]), float(where[1])) if where else None
    recorded = await sync_to_async(_help_details)(chat, alert_id, str(data.get("message") or ""), location)
    if not recorded:
        await sync_to_async(step_set)(chat, "")
        with speaking(chat):
            await say(update, _("Sorry, we could not add this to your answer."), markup=ReplyKeyboardRemove())
        return
    with speaking(chat):
        if data.get("message") and data.get("location"):
            await sync_to_async(step_set)(chat, "")
            await say(
                update,
                _("Thank you. Responders can see what you wrote and where you are. Stay safe."),
                markup=ReplyKeyboardRemove(),
            )
            return
        if data.get("location"):
            text = _("Thank you, your location is added. You can still write a few words, or press Skip.")
        else:
            text = _("Thank you, your message is added. You can still share your location, or press Skip.")
    await sync_to_async(step_set)(chat, HELP_STEP, data)
    await say(update, text)


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("alerts", onboarded(alerts_command)),
        CallbackQueryHandler(onboarded(answer_pressed), pattern=r"^ar:"),
    ]
