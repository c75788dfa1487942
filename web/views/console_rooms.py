"""The console's rooms: the rooms a member of staff hosts or moderates, creating one, and a room's moderation panel
(question queue, hands, polls, members, slow mode) with the host's view of a town hall (official posts, answers).

Every form posts to `room_act`, which parses it and calls the one service the live protocol's frame of the same name
calls (rooms/consumers.py); with JavaScript, web/static/web/rooms.js sends the frames over the WebSocket instead.
"""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import AdministrativeArea, User
from commsplatform.core.errors import DomainError, PermissionDenied, ValidationFailed
from rooms import selectors, services
from rooms.models import RoomAudience, RoomKind, RoomRole, RoomVisibility
from web.views.common import console_required, error_page, parse_int, signed_in_user
from web.views.rooms import MAX_ID, room_context, who_label

OFFICIAL_POST_KINDS = [
    ("official", gettext_lazy("Official update")),
    ("announcement", gettext_lazy("Announcement")),
    ("guidance", gettext_lazy("Guidance")),
]


class RoomCreateForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=RoomKind.choices, initial=RoomKind.TOWN_HALL)
    area = forms.ModelChoiceField(label=gettext_lazy("Area"), queryset=AdministrativeArea.objects.none())
    visibility = forms.ChoiceField(
        label=gettext_lazy("Who may enter"), choices=RoomVisibility.choices, initial=RoomVisibility.PUBLIC
    )
    audience = forms.ChoiceField(label=gettext_lazy("Audience"), choices=RoomAudience.choices)
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    questions_premoderated = forms.BooleanField(
        label=gettext_lazy("Questions wait for a moderator"), required=False, initial=True
    )
    chat_open = forms.BooleanField(label=gettext_lazy("Participants may chat"), required=False)

    def __init__(self, *args: Any, areas: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = areas  # type: ignore[attr-defined]


@require_http_methods(["GET", "POST"])
@console_required("rooms")
def room_list(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    areas = selectors.room_host_areas(user=user)
    form = RoomCreateForm(request.POST or None, areas=areas)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                room = services.room_create(
                    actor=user, title=data["title"], kind=data["kind"], visibility=data["visibility"],
                    area=data["area"], audience=data["audience"], description=data["description"],
                    questions_premoderated=data["questions_premoderated"], chat_open=data["chat_open"],
                )  # fmt: skip
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                messages.success(request, _("The room was created."))
                return redirect("web:console-room", room_id=room.pk)
        else:
            status = 400
    rooms = [
        {"room": room, "role": RoomRole(access.role).label} for room, access in selectors.room_list_for_staff(user=user)
    ]
    context = {"rooms": rooms, "form": form, "may_create": areas.exists()}
    return render(request, "console/rooms/list.html", context, status=status)


def _staff_access(request: HttpRequest, room_id: int) -> selectors.RoomAccess:
    room = selectors.room_get(room_id=room_id)
    access = selectors.room_access(room=room, user=signed_in_user(request))
    if not access.is_staff:
        raise PermissionDenied(_("Only the room's hosts, speakers and moderators open its panel."))
    return access


@require_GET
@console_required("rooms")
def room_panel(request: HttpRequest, room_id: int) -> HttpResponse:
    user = signed_in_user(request)
    try:
        access = _staff_access(request, room_id)
        context = room_context(access, user)
        members = list(selectors.room_member_list(access=access)) if access.is_moderator else []
        names = {int(k): v for k, v in context["names"].items()}
        for member in members:
            member.who = who_label(names, member.user_id, user)  # type: ignore[attr-defined]
        context["members"] = members
    except DomainError as exc:
        return error_page(request, exc)
    context["post_kinds"] = OFFICIAL_POST_KINDS
    context["now"] = timezone.now()
    return render(request, "console/rooms/panel.html", context)


def _id(request: HttpRequest, name: str) -> int:
    return parse_int(request.POST, name, minimum=1, maximum=MAX_ID)


def _text(request: HttpRequest, name: str) -> str:
    return request.POST.get(name, "")


def _lines(request: HttpRequest, name: str) -> list[str]:
    return [line.strip() for line in request.POST.get(name, "").splitlines() if line.strip()]


def _settings(request: HttpRequest) -> dict[str, Any]:
    return {
        "slow_mode_seconds": parse_int(request.POST, "slow_mode_seconds", minimum=0, maximum=3600),
        "chat_open": request.POST.get("chat_open") == "on",
        "questions_premoderated": request.POST.get("questions_premoderated") == "on",
    }


# Each staff action: parse the form, call one service (the same as the live frame of that name).
Action = Callable[[HttpRequest, User, int], Any]
STAFF_ACTIONS: dict[str, Action] = {
    "message.post": lambda r, u, room: services.message_post(
        actor=u, room_id=room, kind=r.POST.get("kind", "official"), body=_text(r, "body")),
    "message.hide": lambda r, u, room: services.message_hide(
        actor=u, room_id=room, message_id=_id(r, "message_id"), reason=_text(r, "reason")),
    "question.approve": lambda r, u, room: services.question_approve(
        actor=u, room_id=room, question_id=_id(r, "question_id")),
    "question.reject": lambda r, u, room: services.question_reject(
        actor=u, room_id=room, question_id=_id(r, "question_id"), reason=_text(r, "reason")),
    "question.answer": lambda r, u, room: services.question_answer(
        actor=u, room_id=room, question_id=_id(r, "question_id"), body=_text(r, "body")),
    "hand.grant": lambda r, u, room: services.hand_decide(actor=u, room_id=room, user_id=_id(r, "user_id"), grant=True),
    "hand.revoke": lambda r, u, room: services.hand_decide(
        actor=u, room_id=room, user_id=_id(r, "user_id"), grant=False),
    "poll.create": lambda r, u, room: services.poll_create(
        actor=u, room_id=room, question=_text(r, "question"), choices=_lines(r, "choices")),
    "poll.close": lambda r, u, room: services.poll_close(actor=u, room_id=room, poll_id=_id(r, "poll_id")),
    "member.mute": lambda r, u, room: services.room_member_mute(
        actor=u, room_id=room, user_id=_id(r, "user_id"),
        minutes=parse_int(r.POST, "minutes", minimum=1, maximum=services.MAX_MUTE_MINUTES), reason=_text(r, "reason")),
    "member.unmute": lambda r, u, room: services.room_member_unmute(actor=u, room_id=room, user_id=_id(r, "user_id")),
    "member.ban": lambda r, u, room: services.room_member_ban(
        actor=u, room_id=room, user_id=_id(r, "user_id"), reason=_text(r, "reason")),
    "member.unban": lambda r, u, room: services.room_member_unban(actor=u, room_id=room, user_id=_id(r, "user_id")),
    "room.update": lambda r, u, room: services.room_update(actor=u, room_id=room, changes=_settings(r)),
}  # fmt: skip


@require_POST
@console_required("rooms")
def room_act(request: HttpRequest, room_id: int) -> HttpResponse:
    name = request.POST.get("action", "")
    if name not in STAFF_ACTIONS:
        return error_page(request, ValidationFailed(_("Unknown action."), fields={"action": "unknown"}))
    try:
        STAFF_ACTIONS[name](request, signed_in_user(request), room_id)
    except DomainError as exc:
        return error_page(request, exc)
    messages.success(request, _("Done."))
    return redirect(reverse("web:console-room", kwargs={"room_id": room_id}))
