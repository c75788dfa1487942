"""What the bot keeps: each Telegram update once (so re-sent updates are ignored), and each chat's place in its
journey. The chat id is personal data: it goes when the person is erased."""

from django.conf import settings
from django.db import models

from commsplatform.core.models import TimeStampedModel


class UpdateSource(models.TextChoices):
    WEBHOOK = "webhook", "webhook"
    POLLING = "polling", "polling"


class UpdateState(models.TextChoices):
    RECEIVED = "received", "received"
    PROCESSING = "processing", "processing"
    DONE = "done", "done"
    FAILED = "failed", "failed"


class TelegramUpdate(models.Model):
    """An update as Telegram sent it. The unique update_id is what makes a re-sent update a no-op."""

    update_id = models.BigIntegerField(unique=True)
    source = models.CharField(max_length=8, choices=UpdateSource.choices)
    payload = models.JSONField()
    state = models.CharField(max_length=12, choices=UpdateState.choices, default=UpdateState.RECEIVED)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "received_at"], name="bots_update_state_idx")]

    def __str__(self) -> str:
        return f"telegram update {self.update_id}"


class TelegramChat(TimeStampedModel):
    """A private chat with the bot: whose it is, its language, and where it is in a journey."""

    chat_id = models.BigIntegerField(unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="telegram_chat"
    )
    language = models.CharField(max_length=16, choices=settings.LANGUAGES, default="en")
    # The journey step waiting for the person's next message ("" = none), and what that step needs to know.
    step = models.CharField(max_length=32, blank=True)
    step_data = models.JSONField(default=dict, blank=True)
    # How they came: the deep-link payload of /start (room_<id>, area_<code>), kept until it is used.
    start_payload = models.CharField(max_length=64, blank=True)
    onboarded_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"telegram chat {self.pk}"


class RoomFollow(TimeStampedModel):
    """A room someone joined through the bot: its official posts and answers are relayed to their chat.

    Goes when they leave the room (here or elsewhere), are banned from it, or are erased (with their chat)."""

    chat = models.ForeignKey(TelegramChat, on_delete=models.CASCADE, related_name="room_follows")
    room = models.ForeignKey("rooms.Room", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chat", "room"], name="bots_room_follow_unique")]

    def __str__(self) -> str:
        return f"room follow {self.pk}"


class RelayState(models.TextChoices):
    PENDING = "pending", "pending"
    SENDING = "sending", "sending"
    SENT = "sent", "sent"
    FAILED = "failed", "failed"


class RoomRelay(models.Model):
    """One room post relayed to one chat. The unique (event, chat) is what keeps a replayed task from sending it
    twice: a row is claimed (pending → sending) before its message goes, and marked sent after."""

    event = models.ForeignKey("rooms.RoomEvent", on_delete=models.CASCADE, related_name="+")
    chat = models.ForeignKey(TelegramChat, on_delete=models.CASCADE, related_name="room_relays")
    state = models.CharField(max_length=8, choices=RelayState.choices, default=RelayState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Parts of a long post already accepted by Telegram: a retry sends only the rest.
    parts_sent = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "chat"], name="bots_room_relay_unique")]
        indexes = [models.Index(fields=["event", "state"], name="bots_relay_event_state_idx")]

    def __str__(self) -> str:
        return f"room relay {self.pk} ({self.state})"
