"""Serializers of the rooms API: input checks and output shapes; no logic."""

from typing import Any

from rest_framework import serializers

from accounts.models import AdministrativeArea, CommunicationGroup
from rooms.models import Message, Room, RoomAudience, RoomKind, RoomRole, RoomVisibility


class RoomSerializer(serializers.ModelSerializer[Room]):
    groups: Any = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Room
        fields = [
            "id", "slug", "title", "description", "kind", "visibility", "audience", "area", "groups", "languages",
            "opens_at", "starts_at", "ends_at", "alert", "incident_ref", "default_role", "chat_open",
            "questions_premoderated", "slow_mode_seconds", "last_seq",
        ]  # fmt: skip
        read_only_fields = fields


class RoomCreateSerializer(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=5000, required=False, default="", allow_blank=True)
    kind = serializers.ChoiceField(choices=RoomKind.choices)
    visibility = serializers.ChoiceField(choices=RoomVisibility.choices)
    audience = serializers.ChoiceField(choices=RoomAudience.choices, default=RoomAudience.GENERAL)
    area = serializers.PrimaryKeyRelatedField(queryset=AdministrativeArea.objects.all())
    groups = serializers.PrimaryKeyRelatedField(
        queryset=CommunicationGroup.objects.filter(is_active=True), many=True, required=False, default=list
    )
    languages = serializers.ListField(child=serializers.CharField(max_length=16), max_length=20, default=list)
    opens_at = serializers.DateTimeField(required=False, default=None)
    starts_at = serializers.DateTimeField(required=False, default=None)
    ends_at = serializers.DateTimeField(required=False, default=None)
    alert_id = serializers.IntegerField(required=False, default=None, min_value=1)
    incident_ref = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    default_role = serializers.ChoiceField(choices=RoomRole.choices, required=False, default=None)
    questions_premoderated = serializers.BooleanField(required=False, default=None, allow_null=True)
    chat_open = serializers.BooleanField(required=False, default=None, allow_null=True)
    slow_mode_seconds = serializers.IntegerField(min_value=0, max_value=3600, default=0)


class RoomUpdateSerializer(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    chat_open = serializers.BooleanField(required=False)
    questions_premoderated = serializers.BooleanField(required=False)
    slow_mode_seconds = serializers.IntegerField(min_value=0, max_value=3600, required=False)
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    ends_at = serializers.DateTimeField(required=False, allow_null=True)


class MemberAddSerializer(serializers.Serializer[Any]):
    user_id = serializers.IntegerField(min_value=1)
    role = serializers.ChoiceField(choices=RoomRole.choices, default=RoomRole.PARTICIPANT)


class MessageSerializer(serializers.ModelSerializer[Message]):
    seen_by = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Message
        fields = [
            "id", "kind", "body", "language", "author", "created_at", "supersedes", "answers", "pinned",
            "question_state", "votes", "alert", "seen_by",
        ]  # fmt: skip
        read_only_fields = fields


class ModeratorMessageSerializer(MessageSerializer):
    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "hidden_at", "hidden_by", "hidden_reason"]
        read_only_fields = fields
