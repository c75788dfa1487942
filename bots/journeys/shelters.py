"""/shelters: the nearest open shelters with free places for where the person is, sent as venues with distance,
filterable (step-free access, pets).

Where the person is: their shared location, else their home (both kept only with their LOCATION consent), else
asked for. A location shared here is stored (through accounts) only with that consent; without it, it serves
this one search and the person is told so. Filter buttons carry the point searched from, so that filtering
never needs to keep it.
"""

from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.gis.geos import Point
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from telegram import ReplyKeyboardRemove, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes

from accounts import services as account_services
from accounts.models import ConsentPurpose, User
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
from commsplatform.core.errors import ValidationFailed
from shelters.selectors import NEED_FIELDS, resident_point, shelter_nearest

SHOWN = 3  # each shelter is a message of its own, and a chat takes one message a second
STEP = "shelters.location"
# The filters offered, by their one-letter code in callback data ("sh:<codes>:<lat>:<lon>", "-" for none).
FILTERS = {"a": "accessible", "p": "pets"}
assert set(FILTERS.values()) <= set(NEED_FIELDS)


@dataclass(frozen=True)
class Found:
    name: str
    address: str
    latitude: float
    longitude: float
    distance_m: float
    free_places: int | None


# --- data work (sync, in a worker thread) -------------------------------------------------------------------


def _user(chat: Chat) -> User:
    return User.objects.get(pk=chat.uid)


def _known_point(chat: Chat) -> tuple[float, float] | None:
    point = resident_point(user=_user(chat))
    return (point.y, point.x) if point is not None else None


def _location_keep(chat: Chat, latitude: float, longitude: float) -> bool:
    """Store a shared location when the person consented to location use; True when stored."""
    user = _user(chat)
    if not account_services.has_consent(user=user, purpose=ConsentPurpose.LOCATION):
        return False
    account_services.resident_share_location(user=user, location=Point(longitude, latitude, srid=4326))
    return True


def _name_in(names: dict[str, str], name: str, language: str) -> str:
    for tag, value in (names or {}).items():
        if value and tag.lower() == language:
            return value
    for tag, value in (names or {}).items():
        if value and tag.lower().split("-", 1)[0] == language.split("-", 1)[0]:
            return value
    return name


def _nearest(latitude: float, longitude: float, codes: str, language: str) -> list[Found]:
    needs = [FILTERS[code] for code in codes if code in FILTERS]
    rows = shelter_nearest(point=Point(longitude, latitude, srid=4326), needs=needs, limit=SHOWN)
    return [
        Found(
            name=_name_in(row.shelter.names, row.shelter.name, language),
            address=row.shelter.address or ", ".join(p for p in (row.shelter.street, row.shelter.postcode) if p),
            latitude=row.shelter.lat,
            longitude=row.shelter.lon,
            distance_m=row.distance_m,
            free_places=row.shelter.free_places,
        )
        for row in rows
    ]


# --- what the person sees ------------------------------------------------------------------------------------


def _codes(codes: str) -> str:
    """Filter codes, known ones only, in a fixed order ("-" for none)."""
    kept = "".join(code for code in FILTERS if code in codes)
    return kept or "-"


def _distance(metres: float) -> str:
    if metres < 1000:
        return _("%(metres)s m") % {"metres": int(round(metres, -1))}
    return _("%(km)s km") % {"km": f"{metres / 1000:.1f}"}


def _free(count: int | None) -> str:
    if count is None:
        return _("free places unknown")
    return ngettext("%(count)s free place", "%(count)s free places", count) % {"count": count}


def _filter_buttons(codes: str, latitude: float, longitude: float) -> Any:
    labels = {"a": _("Step-free access"), "p": _("Pets allowed")}
    where = f"{latitude:.4f}:{longitude:.4f}"
    row = []
    for code, label in labels.items():
        on = code in codes
        toggled = _codes(codes.replace(code, "") if on else codes + code)
        row.append((("☑ " if on else "☐ ") + label, f"sh:{toggled}:{where}"))
    return inline([row])


async def search(update: Update, chat: Chat, latitude: float, longitude: float, codes: str = "-") -> None:
    codes = _codes(codes)
    found = await sync_to_async(_nearest)(latitude, longitude, codes, chat.language)
    with speaking(chat):
        labels = {"a": _("step-free access"), "p": _("pets allowed")}
        only = ", ".join(labels[code] for code in codes if code in labels)
        if not found:
            text = _("No open shelter with free places was found near you.")
            if only:
                text += " " + _("Showing only: %(filters)s. Untick a filter to see more.") % {"filters": only}
            await say(update, text, markup=_filter_buttons(codes, latitude, longitude))
            return
        lines = [_("The nearest open shelters with free places:")]
        for number, shelter in enumerate(found, start=1):
            lines.append(
                _("%(number)s. %(name)s: %(distance)s away, %(free)s")
                % {
                    "number": number,
                    "name": shelter.name,
                    "distance": _distance(shelter.distance_m),
                    "free": _free(shelter.free_places),
                }
            )
        if only:
            lines.append(_("Showing only: %(filters)s.") % {"filters": only})
        venues = []
        for shelter in found:
            parts = (shelter.address, _distance(shelter.distance_m), _free(shelter.free_places))
            venues.append((shelter, " · ".join(part for part in parts if part)))
        markup = _filter_buttons(codes, latitude, longitude)
    await say(update, "\n".join(lines), markup=markup)
    assert update.effective_chat is not None
    bot = update.get_bot()
    for shelter, address in venues:
        await bot.send_venue(
            chat_id=update.effective_chat.id,
            latitude=shelter.latitude,
            longitude=shelter.longitude,
            title=shelter.name,
            address=address,
        )


async def ask_location(update: Update, chat: Chat, codes: str = "-") -> None:
    await sync_to_async(step_set)(chat, STEP, {"codes": _codes(codes)})
    with speaking(chat):
        text = _("To find shelters near you, share your location with the button below.")
        keyboard = location_keyboard(_("Share my location"))
    await say(update, text, markup=keyboard)


async def location_shared(update: Update, chat: Chat, latitude: float, longitude: float, codes: str = "-") -> None:
    await sync_to_async(step_set)(chat, "")
    try:
        kept = await sync_to_async(_location_keep)(chat, latitude, longitude)
    except ValidationFailed:
        with speaking(chat):
            await say(update, _("That location is not valid. Please share it again."), markup=ReplyKeyboardRemove())
        return
    with speaking(chat):
        if kept:
            text = _("Thank you, your location is updated.")
        else:
            text = _(
                "You have not allowed us to keep your location, so we use it for this search only and do not store it."
            )
    await say(update, text, markup=ReplyKeyboardRemove())
    await search(update, chat, latitude, longitude, codes)


# --- handlers ------------------------------------------------------------------------------------------------


@on_intent("shelters")
async def shelters(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    """/shelters, plain words asking for shelters, or a location shared while no step waits."""
    message = update.effective_message
    if message is not None and message.location is not None:
        await location_shared(update, chat, message.location.latitude, message.location.longitude)
        return
    await sync_to_async(step_set)(chat, "")
    point = await sync_to_async(_known_point)(chat)
    if point is None:
        await ask_location(update, chat)
        return
    await search(update, chat, *point)


@on_step(STEP)
async def location_given(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    message = update.effective_message
    codes = str(chat.step_data.get("codes") or "-")
    if message is not None and message.location is not None:
        await location_shared(update, chat, message.location.latitude, message.location.longitude, codes)
        return
    await sync_to_async(step_set)(chat, "")
    with speaking(chat):
        text = _("I need your location to find shelters near you. Send /shelters to try again.")
    await say(update, text, markup=ReplyKeyboardRemove())


async def filter_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    await acknowledge(update)
    parts = callback_parts(update)
    try:
        codes, latitude, longitude = parts[1], float(parts[2]), float(parts[3])
        valid = len(parts) == 4 and -90 <= latitude <= 90 and -180 <= longitude <= 180
    except (IndexError, ValueError):
        valid = False
    if not valid:
        with speaking(chat):
            await say(update, _("This button is not valid any more. Send /shelters to search again."))
        return
    await search(update, chat, latitude, longitude, codes)


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("shelters", onboarded(shelters)),
        CallbackQueryHandler(onboarded(filter_pressed), pattern=r"^sh:"),
    ]
