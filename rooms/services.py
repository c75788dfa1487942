"""Everything that changes a room: creating and joining it, posting, moderating, questions, hands and polls.

Each function checks the actor's rights in the room again (`room_access`), locks the room row, changes the
state, appends the event to the room's record and publishes it after commit, all in one transaction: a refused
action changes nothing, and every change is in the record.
"""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts import permissions
from accounts.models import AdministrativeArea, CommunicationGroup, User
from classifier.services import text_classify_enqueue
from commsplatform.core.audit import audit_record
from commsplatform.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from rooms import events
from rooms.models import (
    OFFICIAL_KINDS,
    Hand,
    HandState,
    MemberSource,
    Message,
    MessageKind,
    MessageSeen,
    Poll,
    PollVote,
    QuestionState,
    QuestionVote,
    Room,
    RoomEvent,
    RoomKind,
    RoomMember,
    RoomRole,
    RoomVisibility,
)
from rooms.record import event_append
from rooms.selectors import RoomAccess, poll_results, room_access

MAX_POLL_CHOICES = 12
MAX_MUTE_MINUTES = 7 * 24 * 60
DEFAULT_ROLE_BY_KIND = {
    RoomKind.TOWN_HALL: RoomRole.PARTICIPANT,
    RoomKind.PRESS_CONFERENCE: RoomRole.LISTENER,
    RoomKind.COORDINATION: RoomRole.PARTICIPANT,
    RoomKind.COMMUNITY: RoomRole.PARTICIPANT,
    RoomKind.GUIDANCE: RoomRole.LISTENER,
}


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"


# --- plumbing ---------------------------------------------------------------------------------------------


def _lock(room_id: int) -> Room:
    room = Room.objects.select_for_update().select_related("area").filter(pk=room_id).first()
    if room is None:
        raise NotFound("No such room.")
    return room


def _append(room: Room, type_: str, actor_id: int | None, data: dict[str, Any]) -> RoomEvent:
    event = event_append(room=room, type_=type_, actor_id=actor_id, data=data)
    events.room_event_published(event)
    return event


def _access(room: Room, user: User, *, write: bool = True) -> RoomAccess:
    access = room_access(room=room, user=user)
    if write and not room.is_open() and not access.is_staff:
        raise PermissionDenied("The room is not open.", code="room_closed")
    return access


def _require(condition: bool, message: str, code: str = "permission_denied") -> None:
    if not condition:
        raise PermissionDenied(message, code=code)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require_id(value: Any, name: str) -> int:
    """An id from a frame: an integer (JSON true/false are not ids), or a ValidationFailed naming the field."""
    if not _is_int(value):
        raise ValidationFailed(f"{name} must be an integer.", fields={name: "Expected an integer."})
    return int(value)


def _clean_body(body: Any) -> str:
    if not isinstance(body, str):
        raise ValidationFailed("The text must be a string.", fields={"body": "Expected a string."})
    body = body.strip()
    if not body:
        raise ValidationFailed("The text is empty.", fields={"body": "This field may not be blank."})
    if len(body) > settings.ROOM_MESSAGE_MAX_CHARS:
        raise ValidationFailed(
            f"The text is longer than {settings.ROOM_MESSAGE_MAX_CHARS} characters.",
            code="too_long",
            fields={"body": f"At most {settings.ROOM_MESSAGE_MAX_CHARS} characters."},
        )
    if "\x00" in body:
        raise ValidationFailed("The text contains a NUL character.", fields={"body": "NUL is not allowed."})
    return body


def _check_pace(access: RoomAccess) -> None:
    """Per-person rate limit and slow mode; staff are exempt (they run the room)."""
    if access.is_staff:
        return
    now = timezone.now()
    mine = Message.objects.filter(room=access.room, author_id=access.user_id)
    if access.room.slow_mode_seconds:
        since = now - timedelta(seconds=access.room.slow_mode_seconds)
        if mine.filter(created_at__gt=since).exists():
            seconds = access.room.slow_mode_seconds
            raise RateLimited(f"Slow mode: one message every {seconds} seconds.", code="slow_mode")
    window = now - timedelta(seconds=settings.ROOM_RATE_LIMIT_WINDOW_SECONDS)
    if mine.filter(created_at__gt=window).count() >= settings.ROOM_RATE_LIMIT_MESSAGES:
        raise RateLimited(
            f"At most {settings.ROOM_RATE_LIMIT_MESSAGES} messages every "
            f"{settings.ROOM_RATE_LIMIT_WINDOW_SECONDS} seconds."
        )


def _check_not_muted(access: RoomAccess) -> None:
    until = access.member.muted_until if access.member is not None else None
    if until is not None and until > timezone.now():
        raise PermissionDenied(f"You are muted until {until.isoformat()}.", code="muted")


def message_data(message: Message) -> dict[str, Any]:
    return {
        "message_id": message.pk,
        "kind": message.kind,
        "body": message.body,
        "language": message.language,
        "author_id": message.author_id,
        "created_at": message.created_at.isoformat(),
        "supersedes_id": message.supersedes_id,
        "answers_id": message.answers_id,
        "question_state": message.question_state,
        "votes": message.votes,
        "pinned": message.pinned,
        "alert_id": message.alert_id,
    }


def _message(room: Room, message_id: Any, *, kinds: Sequence[str] | None = None) -> Message:
    message = Message.objects.select_for_update().filter(pk=_require_id(message_id, "message_id"), room=room).first()
    if message is None or (kinds is not None and message.kind not in kinds):
        raise NotFound("No such message in this room.")
    return message


def _target_member(room: Room, user_id: Any) -> RoomMember:
    member = RoomMember.objects.select_for_update().filter(room=room, user_id=_require_id(user_id, "user_id")).first()
    if member is None:
        raise NotFound("That person is not a member of this room.")
    return member


# --- rooms and membership ---------------------------------------------------------------------------------


def room_create(
    *,
    actor: User,
    title: str,
    kind: str,
    visibility: str,
    area: AdministrativeArea,
    description: str = "",
    audience: str = "general",
    languages: Sequence[str] = (),
    groups: Sequence[CommunicationGroup] = (),
    opens_at: Any = None,
    starts_at: Any = None,
    ends_at: Any = None,
    alert_id: int | None = None,
    incident_ref: str = "",
    default_role: str | None = None,
    questions_premoderated: bool | None = None,
    chat_open: bool | None = None,
    slow_mode_seconds: int = 0,
) -> Room:
    """A new room over an area; the creator, who must host rooms there, becomes its host."""
    if not permissions.user_has_area_perm(actor, permissions.HOST_ROOMS, area):
        raise PermissionDenied("Hosting rooms needs the official role over the room's area.")
    if kind not in RoomKind.values:
        raise ValidationFailed("Unknown room kind.", fields={"kind": f"One of {', '.join(RoomKind.values)}."})
    if visibility not in RoomVisibility.values:
        raise ValidationFailed("Unknown visibility.", fields={"visibility": "public, area, group or invite."})
    if visibility == RoomVisibility.GROUP and not groups:
        raise ValidationFailed("A room by group needs at least one group.", fields={"groups": "Required."})
    opens_at = opens_at or timezone.now()
    if ends_at is not None and ends_at <= opens_at:
        raise ValidationFailed("The room must end after it opens.", fields={"ends_at": "After opens_at."})
    is_town_hall = kind in {RoomKind.TOWN_HALL, RoomKind.PRESS_CONFERENCE}
    base = slugify(title)[:100] or "room"
    with transaction.atomic():
        slug, n = base, 1
        while Room.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        room = Room(
            slug=slug, title=title, description=description, kind=kind, visibility=visibility, audience=audience,
            area=area, languages=list(languages), opens_at=opens_at, starts_at=starts_at, ends_at=ends_at,
            alert_id=alert_id, incident_ref=incident_ref,
            default_role=default_role or DEFAULT_ROLE_BY_KIND[RoomKind(kind)],
            questions_premoderated=is_town_hall if questions_premoderated is None else questions_premoderated,
            chat_open=(not is_town_hall) if chat_open is None else chat_open,
            slow_mode_seconds=slow_mode_seconds, created_by=actor,
        )  # fmt: skip
        room.full_clean()
        room.save()
        room.groups.set(groups)
        RoomMember.objects.create(room=room, user=actor, role=RoomRole.HOST, source=MemberSource.STAFF)
        room = _lock(room.pk)
        _append(room, "room.created", actor.pk, _room_data(room))
        audit_record(action="rooms.created", target=room, area_id=area.pk, actor_id=actor.pk)
    return room


def _room_data(room: Room) -> dict[str, Any]:
    return {
        "title": room.title,
        "kind": room.kind,
        "visibility": room.visibility,
        "audience": room.audience,
        "area_id": room.area_id,
        "groups": sorted(room.groups.values_list("pk", flat=True)),
        "languages": room.languages,
        "opens_at": room.opens_at.isoformat(),
        "starts_at": room.starts_at.isoformat() if room.starts_at else None,
        "ends_at": room.ends_at.isoformat() if room.ends_at else None,
        "chat_open": room.chat_open,
        "questions_premoderated": room.questions_premoderated,
        "slow_mode_seconds": room.slow_mode_seconds,
    }


ROOM_SETTINGS = {"title", "description", "chat_open", "questions_premoderated", "slow_mode_seconds", "starts_at",
                 "ends_at"}  # fmt: skip


def room_update(*, actor: User, room_id: int, changes: Any) -> Room:
    """Hosts and moderators change how the room runs (slow mode, pre-moderation, chat, schedule)."""
    if not isinstance(changes, dict) or not changes:
        raise ValidationFailed("changes must be an object of settings to change.")
    unknown = set(changes) - ROOM_SETTINGS
    if unknown:
        raise ValidationFailed(f"Unknown setting: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        room = _lock(room_id)
        access = _access(room, actor, write=False)
        _require(access.is_moderator, "Only hosts and moderators change the room.")
        for name, value in changes.items():
            if name in {"chat_open", "questions_premoderated"} and not isinstance(value, bool):
                raise ValidationFailed(f"{name} must be true or false.", fields={name: "Expected a boolean."})
            if name == "slow_mode_seconds" and (not _is_int(value) or not 0 <= value <= 3600):
                raise ValidationFailed("slow_mode_seconds must be 0..3600.", fields={name: "0..3600."})
            setattr(room, name, value)
        room.full_clean()
        room.save()
        _append(room, "room.updated", actor.pk, {k: _room_data(room).get(k, v) for k, v in changes.items()})
    return room


def room_join(*, user: User, room_id: int) -> RoomAccess:
    """Enter a room in the role one's access gives (idempotent); returns that access."""
    room = Room.objects.select_related("area").filter(pk=room_id).first()
    if room is not None:
        # Coming back (a reconnect): nothing to write, so no lock.
        access = room_access(room=room, user=user)
        if access.member is not None and access.member.left_at is None:
            return access
    with transaction.atomic():
        room = _lock(room_id)
        access = _access(room, user, write=False)
        member = access.member
        if member is not None and member.left_at is None:
            return access
        if member is None:
            # Staff's rights come from their role over the area, not from the membership: stored is the
            # room's default role, so losing the area role takes the rights with it.
            member = RoomMember.objects.create(room=room, user=user, role=room.default_role, source=MemberSource.SELF)
        else:
            member.left_at = None
            member.save(update_fields=["left_at", "updated_at"])
        _append(room, "member.joined", user.pk, {"subject_id": user.pk, "role": access.role})
    return RoomAccess(room=room, user_id=user.pk, role=access.role, member=member)


def room_leave(*, user: User, room_id: int) -> None:
    with transaction.atomic():
        room = _lock(room_id)
        member = RoomMember.objects.filter(room=room, user=user, left_at__isnull=True, banned_at__isnull=True).first()
        if member is None:
            return
        member.left_at = timezone.now()
        member.save(update_fields=["left_at", "updated_at"])
        _append(room, "member.left", user.pk, {"subject_id": user.pk})


def room_member_add(
    *, room: Room, user: User, role: str = RoomRole.PARTICIPANT, source: str = MemberSource.RULE,
    actor: User | None = None,
) -> bool:  # fmt: skip
    """Add someone to a room (an invitation, or a rule's assignment); True when they were not a member yet.

    With an actor, the actor must host or moderate the room; without one (a rule), only as participant or listener.
    A banned person is never added back this way.
    """
    if role not in RoomRole.values:
        raise ValidationFailed("Unknown role.", fields={"role": ", ".join(RoomRole.values)})
    if user.erased_at is not None or not user.is_active:
        raise ValidationFailed("This account cannot join rooms.")
    with transaction.atomic():
        room = _lock(room.pk)
        if actor is not None:
            access = _access(room, actor, write=False)
            _require(access.is_moderator, "Only hosts and moderators add people to a room.")
            _require(
                role not in {RoomRole.HOST, RoomRole.MODERATOR} or access.role == RoomRole.HOST,
                "Only hosts make hosts and moderators.",
            )
        elif role not in {RoomRole.PARTICIPANT, RoomRole.LISTENER}:
            raise PermissionDenied("A rule only adds participants and listeners.")
        member = RoomMember.objects.filter(room=room, user=user).first()
        if member is not None and (member.banned_at is not None or member.left_at is None):
            return False
        if member is None:
            member = RoomMember.objects.create(room=room, user=user, role=role, source=source)
        else:
            member.left_at, member.role, member.source = None, role, source
            member.save(update_fields=["left_at", "role", "source", "updated_at"])
        _append(room, "member.joined", actor.pk if actor else None, {"subject_id": user.pk, "role": role,
                                                                       "source": source})  # fmt: skip
    return True


def room_member_role_set(*, actor: User, room_id: int, user_id: Any, role: Any) -> RoomMember:
    if role not in RoomRole.values:
        raise ValidationFailed("Unknown role.", fields={"role": ", ".join(RoomRole.values)})
    with transaction.atomic():
        room = _lock(room_id)
        access = _access(room, actor, write=False)
        _require(access.role == RoomRole.HOST, "Only hosts change roles.")
        member = _target_member(room, user_id)
        if member.user_id == actor.pk:
            raise Conflict("Hosts cannot change their own role.")
        member.role = role
        member.save(update_fields=["role", "updated_at"])
        _append(room, "member.role_changed", actor.pk, {"subject_id": member.user_id, "role": role})
        events.member_rights_changed(room.pk, member.user_id)
    return member


def _moderated_member(room: Room, access: RoomAccess, user_id: Any) -> RoomMember:
    _require(access.is_moderator, "Only hosts and moderators do that.")
    member = _target_member(room, user_id)
    if member.user_id == access.user_id:
        raise Conflict("You cannot do that to yourself.")
    target = room_access_or_none(room, member)
    if target is not None and target.is_staff and access.role != RoomRole.HOST:
        raise PermissionDenied("Only hosts act on speakers, moderators and hosts.")
    return member


def room_access_or_none(room: Room, member: RoomMember) -> RoomAccess | None:
    try:
        return room_access(room=room, user=member.user)
    except PermissionDenied:
        return None


def room_member_mute(*, actor: User, room_id: int, user_id: Any, minutes: Any, reason: Any) -> RoomMember:
    if not _is_int(minutes) or not 1 <= minutes <= MAX_MUTE_MINUTES:
        raise ValidationFailed(f"minutes must be 1..{MAX_MUTE_MINUTES}.", fields={"minutes": "Out of range."})
    reason = _clean_reason(reason)
    with transaction.atomic():
        room = _lock(room_id)
        member = _moderated_member(room, _access(room, actor, write=False), user_id)
        member.muted_until = timezone.now() + timedelta(minutes=minutes)
        member.save(update_fields=["muted_until", "updated_at"])
        _append(room, "member.muted", actor.pk, {"subject_id": member.user_id, "until": member.muted_until.isoformat(),
                                                  "reason": reason})  # fmt: skip
        events.member_rights_changed(room.pk, member.user_id)
    return member


def room_member_unmute(*, actor: User, room_id: int, user_id: Any) -> RoomMember:
    with transaction.atomic():
        room = _lock(room_id)
        member = _moderated_member(room, _access(room, actor, write=False), user_id)
        member.muted_until = None
        member.save(update_fields=["muted_until", "updated_at"])
        _append(room, "member.unmuted", actor.pk, {"subject_id": member.user_id})
        events.member_rights_changed(room.pk, member.user_id)
    return member


def room_member_ban(*, actor: User, room_id: int, user_id: Any, reason: Any) -> RoomMember:
    """Ban someone: their connections are closed and they cannot come back until unbanned."""
    reason = _clean_reason(reason)
    with transaction.atomic():
        room = _lock(room_id)
        member = _moderated_member(room, _access(room, actor, write=False), user_id)
        member.banned_at = timezone.now()
        member.save(update_fields=["banned_at", "updated_at"])
        Hand.objects.filter(room=room, user_id=member.user_id).delete()
        _append(room, "member.banned", actor.pk, {"subject_id": member.user_id, "reason": reason})
        events.member_rights_changed(room.pk, member.user_id)
        audit_record(action="rooms.member_banned", target=room, area_id=room.area_id, actor_id=actor.pk,
                     data={"user": member.user_id})  # fmt: skip
    return member


def room_member_unban(*, actor: User, room_id: int, user_id: Any) -> RoomMember:
    with transaction.atomic():
        room = _lock(room_id)
        access = _access(room, actor, write=False)
        _require(access.is_moderator, "Only hosts and moderators do that.")
        member = _target_member(room, user_id)
        member.banned_at = None
        member.save(update_fields=["banned_at", "updated_at"])
        _append(room, "member.unbanned", actor.pk, {"subject_id": member.user_id})
    return member


def _clean_reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed("A reason is required.", fields={"reason": "This field may not be blank."})
    if len(reason) > 500:
        raise ValidationFailed("The reason is longer than 500 characters.", fields={"reason": "At most 500."})
    return reason.strip()


# --- messages ---------------------------------------------------------------------------------------------

POSTABLE_KINDS = {MessageKind.CHAT, MessageKind.OFFICIAL, MessageKind.ANNOUNCEMENT, MessageKind.GUIDANCE}


def _has_floor(room: Room, user_id: int) -> bool:
    return Hand.objects.filter(room=room, user_id=user_id, state=HandState.GRANTED).exists()


def message_post(*, actor: User, room_id: int, kind: Any, body: Any, language: Any = "") -> Message:
    """Post a message. Official updates, announcements and guidance come from hosts and speakers; chat from
    participants while chat is open, from anyone given the floor (a granted hand), and from staff."""
    if kind not in POSTABLE_KINDS:
        raise ValidationFailed("Unknown message kind.", fields={"kind": "chat, official, announcement, guidance."})
    body = _clean_body(body)
    if not isinstance(language, str) or len(language) > 16:
        raise ValidationFailed("language must be a language tag.", fields={"language": "A BCP 47 tag."})
    with transaction.atomic():
        room = _lock(room_id)
        access = _access(room, actor)
        if kind in OFFICIAL_KINDS:
            _require(access.is_official, "Only hosts and speakers post official updates.", code="not_official")
        else:
            _check_not_muted(access)
            floor = _has_floor(room, actor.pk)
            _require(access.role != RoomRole.LISTENER or floor, "Listeners cannot post.", code="listener")
            _require(room.chat_open or access.is_staff or floor, "Chat is closed; raise your hand.", code="chat_closed")
            _check_pace(access)
        message = Message.objects.create(room=room, author=actor, kind=kind, body=body, language=language,
                                         pinned=kind == MessageKind.GUIDANCE)  # fmt: skip
        _append(room, "message.posted", actor.pk, message_data(message))
    return message


def message_edit(*, actor: User, room_id: int, message_id: Any, body: Any) -> Message:
    """An edit is a new version that supersedes the old one; the old one is kept, and both are in the record."""
    body = _clean_body(body)
    with transaction.atomic():
        room = _lock(room_id)
        access = _access(room, actor)
        old = _message(room, message_id)
        if not old.is_current:
            raise Conflict("That version was already superseded; edit the current one.")
        if old.kind in OFFICIAL_KINDS:
            _require(access.is_official and (old.author_id == actor.pk or access.role == RoomRole.HOST),
                     "Only its author or a host edits an official post.")  # fmt: skip
        else:
            _require(old.author_id == actor.pk, "Only the author edits a message.")
            _check_not_muted(access)
            if old.hidden_at is not None:
                raise Conflict("A hidden message cannot be edited.")
        old.is_current = False
        old.save(update_fields=["is_current"])
        new = Message.objects.create(
            room=room, author=old.author, kind=old.kind, body=body, language=old.language, supersedes=old,
            answers=old.answers, pinned=old.pinned, question_state=old.question_state, votes=old.votes,
        )  # fmt: skip
        QuestionVote.objects.filter(question=old).update(question=new)
        _append(room, "message.posted", actor.pk, message_data(new))
    return new


def message_hide(*, actor: User, room_id: int, message_id: Any, reason: Any) -> Message:
    """Moderators hide a citizen post with a reason; official posts are never hidden."""
    reason = _clean_reason(reason)
    with transaction.atomic():
        room = _lock(room_id)
        access = _access(room, actor, write=False)
        _require(access.is_moderator, "Only hosts and moderators hide messages.")
        message = _message(room, message_id)
        if message.kind in OFFICIAL_KINDS:
            raise Conflict("Official posts are never hidden; they can only be superseded by an edit.")
        if message.hidden_at is not None:
            raise Conflict("That message is already hidden.")
        # Hiding the current version hides the earlier ones too: otherwise catch-up and the public transcript,
        # which leave out the hidden version, would show the previous one as if it were current.
        versions = _earlier_versions(message) if message.is_current else []
        now = timezone.now()
        for version in [message, *(v for v in versions if v.hidden_at is None)]:
            version.hidden_at, version.hidden_by, version.hidden_reason = now, actor, reason
            version.save(update_fields=["hidden_at", "hidden_by", "hidden_reason"])
        data: dict[str, Any] = {"message_id": message.pk, "reason": reason, "author_id": message.author_id}
        if versions:
            data["version_ids"] = [v.pk for v in versions]
        _append(room, "message.hidden", actor.pk, data)
    return message


def _earlier_versions(message: Message) -> list[Message]:
    versions = []
    while message.supersedes_id is not None:
        message = Message.objects.select_for_update().get(pk=message.supersedes_id)
        versions.append(message)
    return versions


def message_unhide(*, actor: User, room_id: int, message_id: Any) -> Message:
    with transaction.atomic():
        room = _lock(room_id)
        access = _access(room, actor, write=False)
        _require(access.is_moderator, "Only hosts and moderators show hidden messages again.")
        message = _message(room, message_id)
        if message.hidden_at is None:
            raise Conflict("That message is not hidden.")
        # The earlier versions hidden with it come back with it.
        together = [v for v in _earlier_versions(message) if v.hidden_at == message.hidden_at]
        for version in [message, *together]:
            version.hidden_at, version.hidden_by, version.hidden_reason = None, None, ""
            version.save(update_fields=["hidden_at", "hidden_by", "hidden_reason"])
        _append(room, "message.unhidden", actor.pk, message_data(message))
    return message


def message_pin(*, actor: User, room_id: int, message_id: Any, pinned: Any) -> Message:
    if not isinstance(pinned, bool):
        raise ValidationFailed("pinned must be true or false.", fields={"pinned": "Expected a boolean."})
    with transaction.atomic():
        room = _lock(room_id)
        access = _access(room, actor, write=False)
        _require(access.is_staff, "Only hosts, speakers and moderators pin messages.")
        message = _message(room, message_id)
        if message.hidden_at is not None:
            raise Conflict("A hidden message cannot be pinned.")
        message.pinned = pinned
        message.save(update_fields=["pinned"])
        _append(room, "message.pinned", actor.pk, {"message_id": message.pk, "pinned": pinned})
    return message


def messages_seen(*, user: User, room_id: int, message_ids: Any) -> int:
    """Record that a person saw official posts ("seen by N"). Not an event of the record: it says nothing."""
    if not isinstance(message_ids, list) or not all(_is_int(i) for i in message_ids):
        raise ValidationFailed("message_ids must be a list of integers.")
    if len(message_ids) > 200:
        raise ValidationFailed("At most 200 message ids at once.")
    room = Room.objects.filter(pk=room_id).first()
    if room is None:
        raise NotFound("No such room.")
    room_access(room=room, user=user)
    official = Message.objects.filter(room=room, pk__in=message_ids, kind__in=OFFICIAL_KINDS).values_list(
        "pk", flat=True
    )
    rows = [MessageSeen(message_id=pk, user=user) for pk in official]
    MessageSeen.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


# --- questions --------------------------------------------------------------------------------------------


def question_ask(*, actor: User, room_id: int, body: Any, language: Any = "") -> Message:
    body = _clean_body(body)
    if not isinstance(language, str) or len(language) > 16:
        raise ValidationFailed("language must be a language tag.", fields={"language": "A BCP 47 tag."})
    with transaction.atomic():
        room = _lock(room_id)
        access = _access(room, actor)
        _check_not_muted(access)
        _require(access.role != RoomRole.LISTENER or room.kind == RoomKind.GUIDANCE or _has_floor(room, actor.pk),
                 "Listeners cannot ask questions here.", code="listener")  # fmt: skip
        _check_pace(access)
        state = QuestionState.PENDING if room.questions_premoderated and not access.is_staff else QuestionState.OPEN
        question = Message.objects.create(room=room, author=actor, kind=MessageKind.QUESTION, body=body,
                                          language=language, question_state=state)  # fmt: skip
        _append(room, "message.posted", actor.pk, message_data(question))
        # Classified after commit (urgent questions rise in staff's triage; language routes the asker).
        text_classify_enqueue(source=question, text=body, author=actor)
    return question


def question_vote(*, actor: User, room_id: int, question_id: Any, up: Any = True) -> Message:
    """Upvote (or take back an upvote of) an open question; once per person."""
    if not isinstance(up, bool):
        raise ValidationFailed("up must be true or false.", fields={"up": "Expected a boolean."})
    with transaction.atomic():
        room = _lock(room_id)
        access = _access(room, actor)
        _check_not_muted(access)
        question = _message(room, question_id, kinds=[MessageKind.QUESTION])
        if question.question_state != QuestionState.OPEN or not question.is_current or question.hidden_at:
            raise Conflict("Only open questions take votes.")
        if question.author_id == actor.pk:
            raise Conflict("You cannot vote for your own question.")
        if up:
            _vote, created = QuestionVote.objects.get_or_create(question=question, user=actor)
        else:
            created = QuestionVote.objects.filter(question=question, user=actor).delete()[0] > 0
        if not created:
            return question
        question.votes = QuestionVote.objects.filter(question=question).count()
        question.save(update_fields=["votes"])
        _append(room, "question.voted", actor.pk, {"message_id": question.pk, "votes": question.votes})
    return question


def _pending_question(room: Room, access: RoomAccess, question_id: Any) -> Message:
    _require(access.is_moderator, "Only hosts and moderators approve questions.")
    question = _message(room, question_id, kinds=[MessageKind.QUESTION])
    if question.question_state != QuestionState.PENDING:
        raise Conflict("That question is not waiting for approval.")
    return question


def question_approve(*, actor: User, room_id: int, question_id: Any) -> Message:
    with transaction.atomic():
        room = _lock(room_id)
        question = _pending_question(room, _access(room, actor, write=False), question_id)
        question.question_state = QuestionState.OPEN
        question.save(update_fields=["question_state"])
        # Carries the question itself: those who could not see it while pending see it now.
        _append(room, "question.approved", actor.pk, message_data(question))
    return question


def question_reject(*, actor: User, room_id: int, question_id: Any, reason: Any) -> Message:
    reason = _clean_reason(reason)
    with transaction.atomic():
        room = _lock(room_id)
        question = _pending_question(room, _access(room, actor, write=False), question_id)
        question.question_state = QuestionState.REJECTED
        question.save(update_fields=["question_state"])
        _append(room, "question.rejected", actor.pk, {"message_id": question.pk, "reason": reason,
                                                       "subject_id": question.author_id})  # fmt: skip
    return question


def question_answer(*, actor: User, room_id: int, question_id: Any, body: Any = None, answer_id: Any = None) -> Message:
    """Hosts and speakers answer: with a new answer post, or by pointing at an official post already made."""
    with transaction.atomic():
        room = _lock(room_id)
        access = _access(room, actor)
        _require(access.is_official, "Only hosts and speakers answer questions.", code="not_official")
        question = _message(room, question_id, kinds=[MessageKind.QUESTION])
        if question.question_state not in {QuestionState.OPEN, QuestionState.ANSWERED} or question.hidden_at:
            raise Conflict("Only approved questions are answered.")
        if (body is None) == (answer_id is None):
            raise ValidationFailed("Give either the answer's text (body) or an existing post (answer_id).")
        if body is not None:
            answer = Message.objects.create(room=room, author=actor, kind=MessageKind.ANSWER, body=_clean_body(body),
                                            answers=question)  # fmt: skip
            _append(room, "message.posted", actor.pk, message_data(answer))
        else:
            answer = _message(room, answer_id, kinds=list(OFFICIAL_KINDS))
        question.question_state = QuestionState.ANSWERED
        question.save(update_fields=["question_state"])
        _append(room, "question.answered", actor.pk, {"message_id": question.pk, "answer_id": answer.pk})
    return answer


# --- hands ------------------------------------------------------------------------------------------------


def hand_raise(*, actor: User, room_id: int) -> Hand:
    with transaction.atomic():
        room = _lock(room_id)
        access = _access(room, actor)
        _check_not_muted(access)
        hand = Hand.objects.filter(room=room, user=actor).first()
        if hand is not None and hand.state in {HandState.RAISED, HandState.GRANTED}:
            return hand
        if hand is None:
            hand = Hand.objects.create(room=room, user=actor)
        else:
            hand.state, hand.raised_at, hand.decided_by = HandState.RAISED, timezone.now(), None
            hand.save(update_fields=["state", "raised_at", "decided_by"])
        _append(room, "hand.raised", actor.pk, {"user_id": actor.pk})
    return hand


def hand_lower(*, actor: User, room_id: int) -> bool:
    """Lower one's own hand (giving up the floor if one had it); False when it was not up."""
    with transaction.atomic():
        room = _lock(room_id)
        room_access(room=room, user=actor)
        lowered = Hand.objects.filter(room=room, user=actor).exclude(state=HandState.LOWERED)
        if not lowered.update(state=HandState.LOWERED):
            return False
        _append(room, "hand.lowered", actor.pk, {"user_id": actor.pk})
        events.member_rights_changed(room.pk, actor.pk)
    return True


def hand_decide(*, actor: User, room_id: int, user_id: Any, grant: bool) -> Hand:
    """Give the floor to a raised hand (`grant`), or take it back."""
    _require_id(user_id, "user_id")
    with transaction.atomic():
        room = _lock(room_id)
        access = _access(room, actor)
        _require(access.is_moderator, "Only hosts and moderators give the floor.")
        hand = Hand.objects.select_for_update().filter(room=room, user_id=user_id).first()
        wanted = HandState.RAISED if grant else HandState.GRANTED
        if hand is None or hand.state != wanted:
            raise Conflict("That hand is not raised." if grant else "That person does not have the floor.")
        hand.state = HandState.GRANTED if grant else HandState.LOWERED
        hand.decided_by = actor
        hand.save(update_fields=["state", "decided_by"])
        _append(room, "hand.granted" if grant else "hand.revoked", actor.pk, {"user_id": user_id})
        events.member_rights_changed(room.pk, user_id)
    return hand


# --- polls ------------------------------------------------------------------------------------------------


def poll_create(
    *, actor: User, room_id: int, question: Any, choices: Any, multiple: Any = False, anonymous: Any = True
) -> Poll:
    question = _clean_body(question)
    if len(question) > 500:
        raise ValidationFailed("The poll question is longer than 500 characters.")
    if (
        not isinstance(choices, list)
        or not 2 <= len(choices) <= MAX_POLL_CHOICES
        or not all(isinstance(c, str) and c.strip() and len(c) <= 200 for c in choices)
    ):
        raise ValidationFailed(f"choices must be 2..{MAX_POLL_CHOICES} non-empty texts of at most 200 characters.")
    if len({c.strip() for c in choices}) != len(choices):
        raise ValidationFailed("The choices must differ.")
    if not isinstance(multiple, bool) or not isinstance(anonymous, bool):
        raise ValidationFailed("multiple and anonymous must be true or false.")
    with transaction.atomic():
        room = _lock(room_id)
        access = _access(room, actor)
        _require(access.is_staff, "Only hosts, speakers and moderators open polls.")
        poll = Poll.objects.create(room=room, question=question, choices=[c.strip() for c in choices],
                                   multiple=multiple, anonymous=anonymous, created_by=actor)  # fmt: skip
        _append(room, "poll.opened", actor.pk, {"poll_id": poll.pk, "question": poll.question,
                                                 "choices": poll.choices, "multiple": multiple,
                                                 "anonymous": anonymous})  # fmt: skip
    return poll


def _poll(room: Room, poll_id: int) -> Poll:
    poll = Poll.objects.select_for_update().filter(pk=poll_id, room=room).first()
    if poll is None:
        raise NotFound("No such poll in this room.")
    return poll


def poll_vote(*, actor: User, room_id: int, poll_id: Any, choices: Any) -> list[int]:
    """Vote once; returns the live results (counts per choice)."""
    _require_id(poll_id, "poll_id")
    with transaction.atomic():
        room = _lock(room_id)
        access = _access(room, actor)
        poll = _poll(room, poll_id)
        if poll.closed_at is not None:
            raise Conflict("The poll is closed.")
        if (
            not isinstance(choices, list)
            or not choices
            or not all(_is_int(c) and 0 <= c < len(poll.choices) for c in choices)
            or len(set(choices)) != len(choices)
        ):
            raise ValidationFailed("choices must be a list of distinct option indexes.")
        if len(choices) > 1 and not poll.multiple:
            raise ValidationFailed("This poll takes a single choice.")
        if PollVote.objects.filter(poll=poll, user_id=access.user_id).exists():
            raise Conflict("You already voted in this poll.")
        PollVote.objects.create(poll=poll, user=actor, choices=sorted(choices))
        results = poll_results(poll=poll)
        data: dict[str, Any] = {"poll_id": poll.pk, "choices": sorted(choices), "results": results}
        if not poll.anonymous:
            data["voter_id"] = actor.pk
        _append(room, "poll.voted", None if poll.anonymous else actor.pk, data)
    return results


def poll_close(*, actor: User, room_id: int, poll_id: Any) -> Poll:
    _require_id(poll_id, "poll_id")
    with transaction.atomic():
        room = _lock(room_id)
        access = _access(room, actor, write=False)
        _require(access.is_staff, "Only hosts, speakers and moderators close polls.")
        poll = _poll(room, poll_id)
        if poll.closed_at is not None:
            raise Conflict("The poll is already closed.")
        poll.closed_at = timezone.now()
        poll.save(update_fields=["closed_at"])
        _append(room, "poll.closed", actor.pk, {"poll_id": poll.pk, "results": poll_results(poll=poll)})
    return poll


# --- alerts meet rooms ------------------------------------------------------------------------------------


def room_alert_announce(*, room_id: int, alert_id: int, body: str, language: str = "") -> Message | None:
    """Post an issued alert as an announcement in one room, once (a retried task adds nothing)."""
    with transaction.atomic():
        room = _lock(room_id)
        if Message.objects.filter(room=room, alert_id=alert_id).exists():
            return None
        message = Message.objects.create(room=room, author=None, kind=MessageKind.ANNOUNCEMENT, body=body[:4000],
                                         language=language, alert_id=alert_id)  # fmt: skip
        _append(room, "message.posted", None, message_data(message))
    return message
