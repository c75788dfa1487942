"""Rooms: town halls, press conferences, coordination, community and guidance spaces, what is said in them,
and the append-only, hash-chained record of every event of a room.

The tables of messages, questions, hands and polls hold the room's current state; `RoomEvent` holds its
history. Every change to a room writes both in one transaction, and `room_verify` checks one against the other.
"""

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import AdministrativeArea, CommunicationGroup
from commsplatform.core.models import TimeStampedModel


class RoomKind(models.TextChoices):
    TOWN_HALL = "town_hall", _("Town hall")
    PRESS_CONFERENCE = "press_conference", _("Press conference")
    COORDINATION = "coordination", _("Coordination (staff only)")
    COMMUNITY = "community", _("Community")
    GUIDANCE = "guidance", _("Guidance")


class RoomVisibility(models.TextChoices):
    PUBLIC = "public", _("Anyone signed in")
    AREA = "area", _("People of the room's area")
    GROUP = "group", _("Members of the room's communication groups")
    INVITE = "invite", _("Invited people only")


class RoomAudience(models.TextChoices):
    GENERAL = "general", _("Everyone")
    CIVIL_PROTECTION = "civil_protection", _("Civil protection stakeholders")
    VULNERABLE = "vulnerable", _("Vulnerable residents")
    VOLUNTEERS = "volunteers", _("Volunteers")
    PRESS = "press", _("Press")


class RoomRole(models.TextChoices):
    HOST = "host", _("Host")
    SPEAKER = "speaker", _("Speaker")
    MODERATOR = "moderator", _("Moderator")
    PARTICIPANT = "participant", _("Participant")
    LISTENER = "listener", _("Listener")


# Roles that act for the organisers: post official updates, or moderate.
OFFICIAL_ROLES = frozenset({RoomRole.HOST, RoomRole.SPEAKER})
MODERATING_ROLES = frozenset({RoomRole.HOST, RoomRole.MODERATOR})
STAFF_ROLES = OFFICIAL_ROLES | MODERATING_ROLES


class Room(TimeStampedModel):
    slug = models.SlugField(max_length=120, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=RoomKind.choices)
    visibility = models.CharField(max_length=10, choices=RoomVisibility.choices)
    audience = models.CharField(max_length=20, choices=RoomAudience.choices, default=RoomAudience.GENERAL)
    area = models.ForeignKey(AdministrativeArea, on_delete=models.PROTECT, related_name="rooms")
    groups = models.ManyToManyField(CommunicationGroup, blank=True, related_name="rooms")
    languages = models.JSONField(default=list, blank=True, help_text="Language tags the room is held in.")
    opens_at = models.DateTimeField(default=timezone.now, help_text="When people may join.")
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True, help_text="After this the room is read-only.")
    alert = models.ForeignKey("alerts.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="rooms")
    incident_ref = models.CharField(max_length=200, blank=True, help_text="An incident this room is about.")
    default_role = models.CharField(max_length=12, choices=RoomRole.choices, default=RoomRole.PARTICIPANT)
    chat_open = models.BooleanField(
        default=True, help_text="Participants may chat; otherwise only those given the floor (a granted hand)."
    )
    questions_premoderated = models.BooleanField(default=False)
    slow_mode_seconds = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Head of the room's event chain; the row is locked while an event is appended.
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("opens_at")), name="room_ends_after_opens"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def is_open(self, at: Any = None) -> bool:
        at = at or timezone.now()
        return self.opens_at <= at and (self.ends_at is None or at < self.ends_at)


class MemberSource(models.TextChoices):
    SELF = "self", _("Joined")
    INVITE = "invite", _("Invited")
    RULE = "rule", _("Assigned by a rule")
    STAFF = "staff", _("Assigned by staff")


class RoomMember(TimeStampedModel):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="room_memberships")
    role = models.CharField(max_length=12, choices=RoomRole.choices)
    source = models.CharField(max_length=8, choices=MemberSource.choices)
    muted_until = models.DateTimeField(null=True, blank=True)
    banned_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="room_member_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} as {self.role} in {self.room_id}"


class MessageKind(models.TextChoices):
    OFFICIAL = "official", _("Official update")
    CHAT = "chat", _("Chat")
    QUESTION = "question", _("Question")
    ANSWER = "answer", _("Answer")
    ANNOUNCEMENT = "announcement", _("Announcement")
    GUIDANCE = "guidance", _("Guidance")


# Posts made for the organisers: never deleted or hidden, an edit supersedes them.
OFFICIAL_KINDS = frozenset({MessageKind.OFFICIAL, MessageKind.ANSWER, MessageKind.ANNOUNCEMENT, MessageKind.GUIDANCE})


class QuestionState(models.TextChoices):
    PENDING = "pending", _("Waiting for a moderator")
    OPEN = "open", _("Open")
    ANSWERED = "answered", _("Answered")
    REJECTED = "rejected", _("Rejected")


class Message(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="room_messages"
    )
    kind = models.CharField(max_length=16, choices=MessageKind.choices)
    body = models.TextField()
    language = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # An edit is a new message that supersedes the previous version; the old version stays.
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    is_current = models.BooleanField(default=True)
    answers = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="answered_by",
        help_text="The question an answer answers.",
    )  # fmt: skip
    pinned = models.BooleanField(default=False)
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hidden_reason = models.CharField(max_length=500, blank=True)
    alert = models.ForeignKey("alerts.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Questions only.
    question_state = models.CharField(max_length=10, choices=QuestionState.choices, blank=True)
    votes = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["room", "kind", "question_state"]),
            models.Index(fields=["room", "author", "created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind=MessageKind.QUESTION, question_state__gt="")
                | (~Q(kind=MessageKind.QUESTION) & Q(question_state="")),
                name="message_question_state_only_for_questions",
            ),
            models.UniqueConstraint(
                fields=["room", "alert"], condition=Q(alert__isnull=False), name="message_one_announcement_per_alert"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} in {self.room_id}"


class QuestionVote(models.Model):
    question = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="question_votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["question", "user"], name="question_vote_unique")]

    def __str__(self) -> str:
        return f"vote of {self.user_id} for {self.question_id}"


class MessageSeen(models.Model):
    """Who has seen an official post ("seen by N")."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="seen")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="message_seen_unique")]

    def __str__(self) -> str:
        return f"{self.message_id} seen by {self.user_id}"


class HandState(models.TextChoices):
    RAISED = "raised", _("Raised")
    GRANTED = "granted", _("May speak")
    LOWERED = "lowered", _("Lowered")


class Hand(models.Model):
    """A raised hand; the queue is the raised hands in the order they were raised."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="hands")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=8, choices=HandState.choices, default=HandState.RAISED)
    raised_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="hand_one_per_member")]

    def __str__(self) -> str:
        return f"hand of {self.user_id} in {self.room_id}: {self.state}"


class Poll(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="polls")
    question = models.CharField(max_length=500)
    choices = models.JSONField(help_text="The options, in order.")
    multiple = models.BooleanField(default=False)
    anonymous = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.question


class PollVote(models.Model):
    """One person's vote, kept to refuse a second vote; for an anonymous poll no view ever shows who voted."""

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    choices = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["poll", "user"], name="poll_vote_unique")]

    def __str__(self) -> str:
        return f"vote in poll {self.poll_id}"


class RoomEventQuerySet(models.QuerySet["RoomEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise TypeError("A room's record is append-only: events cannot be updated.")

    def delete(self) -> NoReturn:
        raise TypeError("A room's record is append-only: events cannot be deleted.")


class RoomEvent(models.Model):
    """One event of a room. Its hash covers its content and the previous event's hash.

    The actor is a bare id, not a foreign key: erasing a person must not rewrite the chain.
    """

    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="events")
    seq = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, blank=True)
    type = models.CharField(max_length=40)
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = RoomEventQuerySet.as_manager()

    class Meta:
        ordering = ["room", "seq"]
        constraints = [models.UniqueConstraint(fields=["room", "seq"], name="room_event_unique_seq")]

    def __str__(self) -> str:
        return f"{self.room_id}#{self.seq} {self.type}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("A room's record is append-only: events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("A room's record is append-only: events cannot be deleted.")
