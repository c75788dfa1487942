"""Who may enter a room and in which role, and the reads of rooms, messages, questions, polls and events.

Every decision about a person and a room goes through `room_access`; services call it again on every action,
so a mute, a ban or a lost role takes effect on the next frame, not on the next connection.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts import permissions
from accounts.models import AdministrativeArea, CommunicationGroup, GroupMembership, ResidentProfile, Subscription, User
from commsplatform.core.errors import NotFound, PermissionDenied
from rooms.models import (
    MODERATING_ROLES,
    OFFICIAL_ROLES,
    STAFF_ROLES,
    Hand,
    HandState,
    Message,
    MessageKind,
    Poll,
    PollVote,
    QuestionState,
    Room,
    RoomEvent,
    RoomKind,
    RoomMember,
    RoomRole,
    RoomVisibility,
)

# Permissions over an area that make someone staff there (for coordination rooms).
STAFF_PERMISSIONS = frozenset(
    {
        permissions.HOST_ROOMS,
        permissions.MODERATE_ROOMS,
        permissions.DRAFT_ALERTS,
        permissions.APPROVE_ALERTS,
        permissions.MANAGE_SHELTERS,
        permissions.MANAGE_AREAS,
    }
)


@dataclass(frozen=True)
class RoomAccess:
    """What one person may do in one room, now."""

    room: Room
    user_id: int
    role: str
    member: RoomMember | None

    @property
    def is_moderator(self) -> bool:
        return self.role in MODERATING_ROLES

    @property
    def is_official(self) -> bool:
        return self.role in OFFICIAL_ROLES

    @property
    def is_staff(self) -> bool:
        return self.is_moderator or self.is_official

    @property
    def muted(self) -> bool:
        until = self.member.muted_until if self.member else None
        return until is not None and until > timezone.now()


def room_get(*, room_id: int) -> Room:
    room = Room.objects.select_related("area").filter(pk=room_id).first()
    if room is None:
        raise NotFound("No such room.")
    return room


def _lives_in(user: User, area: AdministrativeArea) -> bool:
    cutoff = timezone.now() - timedelta(hours=settings.ALERT_LAST_LOCATION_MAX_AGE_HOURS)
    located = ResidentProfile.objects.filter(user=user).filter(
        Q(home_location__within=area.geometry) | Q(last_location__within=area.geometry, last_location_at__gte=cutoff)
    )
    if located.exists():
        return True
    # Following the area, an area inside it, or an area it is inside.
    nested = Q(area__path__startswith=area.path) | Q(area_id__in=area.ancestor_ids)
    return Subscription.objects.filter(user=user).filter(nested).exists()


def _in_groups(user: User, room: Room) -> bool:
    return GroupMembership.objects.filter(user=user, group__rooms=room, group__is_active=True).exists()


def _area_role(user: User, room: Room) -> str | None:
    """The role staff hold in a room from their role over its area, without being a member."""
    wanted = {permissions.MODERATE_ROOMS, permissions.HOST_ROOMS}
    if room.kind == RoomKind.COORDINATION:
        wanted |= STAFF_PERMISSIONS
    perms = permissions.area_perms_among(user, room.area, wanted)
    if permissions.MODERATE_ROOMS in perms:
        return RoomRole.MODERATOR
    if permissions.HOST_ROOMS in perms:
        return RoomRole.SPEAKER
    if room.kind == RoomKind.COORDINATION and perms & STAFF_PERMISSIONS:
        return RoomRole.PARTICIPANT
    return None


def room_access(*, room: Room, user: User) -> RoomAccess:
    """The person's role in the room, or PermissionDenied saying why they may not enter."""
    if not user.is_authenticated:
        raise PermissionDenied("Sign in to enter rooms.", code="unauthenticated")
    if not user.is_active or user.erased_at is not None:
        raise PermissionDenied("This account cannot enter rooms.")
    member = RoomMember.objects.filter(room=room, user=user).first()
    if member is not None and member.banned_at is not None:
        raise PermissionDenied("You were banned from this room.", code="banned")
    area_role = _area_role(user, room)
    if member is not None and member.left_at is None:
        role = member.role
        # Staff rights over the area are never lost by joining as a participant.
        if area_role is not None and role not in STAFF_ROLES:
            role = area_role
        return RoomAccess(room=room, user_id=user.pk, role=role, member=member)
    if area_role is not None:
        return RoomAccess(room=room, user_id=user.pk, role=area_role, member=member)
    if room.kind == RoomKind.COORDINATION:
        raise PermissionDenied("This coordination room is for staff of its area.", code="staff_only")
    if not room.is_open() and timezone.now() < room.opens_at:
        raise PermissionDenied(f"The room opens at {room.opens_at.isoformat()}.", code="not_open")
    allowed = {
        RoomVisibility.PUBLIC: lambda: True,
        RoomVisibility.AREA: lambda: user_has_participation(user, room),
        RoomVisibility.GROUP: lambda: _in_groups(user, room),
        RoomVisibility.INVITE: lambda: member is not None,
    }[RoomVisibility(room.visibility)]()
    if not allowed:
        reasons = {
            RoomVisibility.AREA: "This room is for people of its area.",
            RoomVisibility.GROUP: "This room is for members of its groups.",
            RoomVisibility.INVITE: "This room is by invitation.",
        }
        raise PermissionDenied(reasons[RoomVisibility(room.visibility)], code="not_allowed")
    role = member.role if member is not None else room.default_role
    return RoomAccess(room=room, user_id=user.pk, role=role, member=member)


def user_has_participation(user: User, room: Room) -> bool:
    return permissions.user_has_area_perm(user, permissions.PARTICIPATE, room.area) or _lives_in(user, room.area)


def room_list_for_user(*, user: User) -> list[Room]:
    """Rooms the person may enter, soonest and newest first; those they may not are never listed."""
    rooms = Room.objects.select_related("area").filter(Q(ends_at__isnull=True) | Q(ends_at__gt=timezone.now()))
    visible = []
    for room in rooms.order_by("-opens_at")[:500]:
        try:
            room_access(room=room, user=user)
        except PermissionDenied:
            continue
        visible.append(room)
    return visible


def rooms_for_group(*, group: CommunicationGroup, language: str = "") -> QuerySet[Room]:
    """Rooms that serve a communication group and have not ended; in that language when one is given."""
    rooms = Room.objects.filter(groups=group).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=timezone.now()))
    if language:
        primary = language.split("-")[0].lower()
        matching = [r.pk for r in rooms if not r.languages or primary in {t.split("-")[0].lower() for t in r.languages}]
        rooms = rooms.filter(pk__in=matching)
    return rooms


def rooms_of_areas_meeting(*, geometry: Any) -> QuerySet[Room]:
    """Open rooms whose area meets a geometry (the rooms of an alert's affected areas)."""
    now = timezone.now()
    return (
        Room.objects.filter(area__geometry__intersects=geometry, opens_at__lte=now)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .exclude(kind=RoomKind.COORDINATION)
    )


def event_list_after(*, room: Room, after: int, limit: int) -> list[RoomEvent]:
    return list(RoomEvent.objects.filter(room=room, seq__gt=after).order_by("seq")[:limit])


def hidden_message_ids(*, room: Room) -> set[int]:
    return set(Message.objects.filter(room=room, hidden_at__isnull=False).values_list("pk", flat=True))


def message_list_for(*, access: RoomAccess, limit: int = 200) -> QuerySet[Message]:
    """Current messages a person may read: hidden ones and questions waiting for approval only for moderators
    (and their own pending questions for the asker)."""
    messages = Message.objects.filter(room=access.room, is_current=True)
    if not access.is_moderator:
        messages = messages.filter(hidden_at__isnull=True).exclude(
            Q(question_state=QuestionState.PENDING) & ~Q(author_id=access.user_id)
        )
    return messages.annotate(seen_by=Count("seen")).order_by("-created_at")[:limit]


def question_queue(*, access: RoomAccess) -> QuerySet[Message]:
    """Open questions, most votes first; moderators also see those waiting for approval."""
    states = [QuestionState.OPEN, QuestionState.PENDING] if access.is_moderator else [QuestionState.OPEN]
    return Message.objects.filter(
        room=access.room, kind=MessageKind.QUESTION, question_state__in=states, hidden_at__isnull=True, is_current=True
    ).order_by("-votes", "created_at")


def hand_queue(*, room: Room) -> list[dict[str, Any]]:
    hands = Hand.objects.filter(room=room, state__in=[HandState.RAISED, HandState.GRANTED]).order_by("raised_at")
    return [{"user_id": h.user_id, "state": h.state, "raised_at": h.raised_at.isoformat()} for h in hands]


def poll_results(*, poll: Poll) -> list[int]:
    counts = [0] * len(poll.choices)
    for choices in PollVote.objects.filter(poll=poll).values_list("choices", flat=True):
        for index in choices:
            counts[index] += 1
    return counts


def seen_counts(*, message_ids: list[int]) -> dict[int, int]:
    rows = Message.objects.filter(pk__in=message_ids).annotate(n=Count("seen")).values_list("pk", "n")
    return dict(rows)


# --- reads for the web pages (resident room pages and the console's moderation panel) ------------------------


def room_list_for_staff(*, user: User) -> list[tuple[Room, RoomAccess]]:
    """Rooms the person hosts, speaks in or moderates (by membership or by their role over the area), newest first."""
    staffed = []
    for room in Room.objects.select_related("area").order_by("-opens_at")[:500]:
        try:
            access = room_access(room=room, user=user)
        except PermissionDenied:
            continue
        if access.is_staff:
            staffed.append((room, access))
    return staffed


def room_ids_joined(*, user: User) -> set[int]:
    """The rooms the person is a member of now (joined and not left, not banned)."""
    members = RoomMember.objects.filter(user=user, left_at__isnull=True, banned_at__isnull=True)
    return set(members.values_list("room_id", flat=True))


def room_host_areas(*, user: User) -> QuerySet[AdministrativeArea]:
    """The areas over which the person may create rooms."""
    return permissions.areas_covered(user, permissions.HOST_ROOMS).order_by("path")


def room_staff_names(*, room: Room) -> dict[int, str]:
    """Staff are named (they speak for the organisers); everyone else stays a numbered participant."""
    staff = RoomMember.objects.filter(room=room, role__in=STAFF_ROLES).values_list("user_id", flat=True)
    return {user.pk: user.get_full_name() or user.username for user in User.objects.filter(pk__in=list(staff))}


def poll_list_for(*, access: RoomAccess, limit: int = 50) -> list[dict[str, Any]]:
    """The room's polls, newest first, each with its counts and the choices the person voted for (or None)."""
    polls = list(Poll.objects.filter(room=access.room).order_by("-created_at")[:limit])
    mine = dict(PollVote.objects.filter(poll__in=polls, user_id=access.user_id).values_list("poll_id", "choices"))
    return [{"poll": poll, "results": poll_results(poll=poll), "my_choices": mine.get(poll.pk)} for poll in polls]


def room_member_list(*, access: RoomAccess, limit: int = 500) -> QuerySet[RoomMember]:
    """The room's members for its hosts and moderators (muted, banned and those who left included)."""
    if not access.is_moderator:
        raise PermissionDenied("Only hosts and moderators see the members of a room.")
    return RoomMember.objects.filter(room=access.room).order_by("left_at", "-created_at")[:limit]
