"""Residents' room pages: the rooms one may enter, and one room (official posts, chat, questions, hands, polls).

The page is server-rendered and complete without JavaScript; every form posts to `room_act`, which calls the same
service the live protocol (ws/rooms/<id>/, rooms/consumers.py) calls. With JavaScript, web/static/web/rooms.js
sends the same actions over the WebSocket and applies the room's events without a reload.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.models import User
from commsplatform.core.errors import DomainError, ValidationFailed
from rooms import selectors, services
from rooms.models import OFFICIAL_KINDS, HandState, MessageKind, QuestionState, RoomKind, RoomRole
from web.views.common import error_page, parse_int, resident_required, signed_in_user

MAX_ID = 2**62


def _choices(request: HttpRequest) -> list[int]:
    raw = request.POST.getlist("choices")
    if not raw:
        raise ValidationFailed(_("Choose an option."), fields={"choices": "required"})
    return [parse_int({"choices": value}, "choices", maximum=1000) for value in raw]


# Each action a resident may take from the room page: parse the form, call one service; and what to say after.
Action = Callable[[HttpRequest, User, int], Any]
RESIDENT_ACTIONS: dict[str, tuple[Action, str, Any]] = {
    "message.post": (
        lambda r, u, room: services.message_post(actor=u, room_id=room, kind="chat", body=r.POST.get("body", "")),
        "#chat",
        gettext_lazy("Your message was sent."),
    ),
    "question.ask": (
        lambda r, u, room: services.question_ask(actor=u, room_id=room, body=r.POST.get("body", "")),
        "#questions",
        gettext_lazy("Your question was sent."),
    ),
    "question.vote": (
        lambda r, u, room: services.question_vote(
            actor=u, room_id=room, question_id=parse_int(r.POST, "question_id", minimum=1, maximum=MAX_ID)
        ),
        "#questions",
        gettext_lazy("Your vote was counted."),
    ),
    "hand.raise": (
        lambda r, u, room: services.hand_raise(actor=u, room_id=room),
        "#hand",
        gettext_lazy("Your hand is raised."),
    ),
    "hand.lower": (
        lambda r, u, room: services.hand_lower(actor=u, room_id=room),
        "#hand",
        gettext_lazy("Your hand is lowered."),
    ),
    "poll.vote": (
        lambda r, u, room: services.poll_vote(
            actor=u, room_id=room, poll_id=parse_int(r.POST, "poll_id", minimum=1, maximum=MAX_ID), choices=_choices(r)
        ),
        "#polls",
        gettext_lazy("Your vote was counted."),
    ),
}


@require_GET
@resident_required
def room_list(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    rooms = selectors.room_list_for_user(user=user)
    joined = selectors.room_ids_joined(user=user)
    groups = []
    for kind, label in RoomKind.choices:
        of_kind = [{"room": room, "joined": room.pk in joined} for room in rooms if room.kind == kind]
        if of_kind:
            groups.append({"kind": kind, "label": label, "rooms": of_kind})
    return render(request, "web/rooms/list.html", {"groups": groups})


@require_POST
@resident_required
def room_join(request: HttpRequest, room_id: int) -> HttpResponse:
    try:
        services.room_join(user=signed_in_user(request), room_id=room_id)
    except DomainError as exc:
        return error_page(request, exc)
    messages.success(request, _("You joined the room."))
    return redirect("web:room", room_id=room_id)


@require_POST
@resident_required
def room_leave(request: HttpRequest, room_id: int) -> HttpResponse:
    try:
        services.room_leave(user=signed_in_user(request), room_id=room_id)
    except DomainError as exc:
        return error_page(request, exc)
    messages.success(request, _("You left the room."))
    return redirect("web:rooms")


def who_label(names: dict[int, str], user_id: int | None, user: User) -> str:
    """Staff by name, the reader as "you", the service for a system post, anyone else as a numbered participant."""
    if user_id is None:
        return _("The service")
    if user_id == user.pk:
        return _("You")
    return names.get(user_id) or _("Participant #%(id)s") % {"id": user_id}


def room_context(access: selectors.RoomAccess, user: User) -> dict[str, Any]:
    """What both the resident page and the console panel show of a room, as the person may see it."""
    room = access.room
    head = room.last_seq  # read first: the page's socket catches up from here, so nothing is missed
    current = list(selectors.message_list_for(access=access))
    answers: dict[int, list[Any]] = {}
    for message in current:
        if message.kind == MessageKind.ANSWER and message.answers_id is not None:
            answers.setdefault(message.answers_id, []).insert(0, message)
    queue = list(selectors.question_queue(access=access))
    open_questions = [q for q in queue if q.question_state == QuestionState.OPEN]
    pending = [q for q in queue if q.question_state == QuestionState.PENDING]
    if not access.is_moderator:
        pending = [
            m
            for m in current
            if m.kind == MessageKind.QUESTION and m.question_state == QuestionState.PENDING and m.author_id == user.pk
        ]
    answered = [m for m in current if m.kind == MessageKind.QUESTION and m.question_state == QuestionState.ANSWERED]
    for question in [*open_questions, *pending, *answered]:
        question.answer_list = answers.get(question.pk, [])  # type: ignore[attr-defined]
    names = selectors.room_staff_names(room=room)
    for message in [*current, *queue]:
        message.who = who_label(names, message.author_id, user)  # type: ignore[attr-defined]
    polls = selectors.poll_list_for(access=access)
    for poll in polls:
        poll["options"] = list(zip(poll["poll"].choices, poll["results"], strict=True))
    hands = selectors.hand_queue(room=room)
    for hand in hands:
        hand["who"] = who_label(names, hand["user_id"], user)
    my_hand = next((h["state"] for h in hands if h["user_id"] == user.pk), HandState.LOWERED)
    has_floor = my_hand == HandState.GRANTED
    may_chat = access.is_staff or (room.chat_open and access.role != RoomRole.LISTENER) or has_floor
    may_ask = access.role != RoomRole.LISTENER or room.kind == RoomKind.GUIDANCE or has_floor
    return {
        "room": room,
        "access": access,
        "role_label": RoomRole(access.role).label,
        "read_only": not room.is_open() and not access.is_staff,
        "last_seq": head,
        "official": [m for m in current if m.kind in OFFICIAL_KINDS and m.kind != MessageKind.ANSWER],
        "chat": [m for m in reversed(current) if m.kind == MessageKind.CHAT],
        "open_questions": open_questions,
        "pending_questions": pending,
        "answered_questions": answered,
        "polls": polls,
        "hands": hands,
        "my_hand": my_hand,
        "may_chat": may_chat,
        "may_ask": may_ask,
        "names": {str(k): v for k, v in names.items()},
    }


@require_GET
@resident_required
def room_detail(request: HttpRequest, room_id: int) -> HttpResponse:
    user = signed_in_user(request)
    try:
        room = selectors.room_get(room_id=room_id)
        access = selectors.room_access(room=room, user=user)
        context = room_context(access, user)
    except DomainError as exc:
        return error_page(request, exc)
    return render(request, "web/rooms/detail.html", context)


@require_POST
@resident_required
def room_act(request: HttpRequest, room_id: int) -> HttpResponse:
    """One action from the room page's forms (the same as a frame of the live protocol)."""
    name = request.POST.get("action", "")
    if name not in RESIDENT_ACTIONS:
        return error_page(request, ValidationFailed(_("Unknown action."), fields={"action": "unknown"}))
    action, anchor, done = RESIDENT_ACTIONS[name]
    try:
        action(request, signed_in_user(request), room_id)
    except DomainError as exc:
        return error_page(request, exc)
    messages.success(request, done)
    return redirect(reverse("web:room", kwargs={"room_id": room_id}) + anchor)
