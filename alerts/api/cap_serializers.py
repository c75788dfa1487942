"""Serializers of the CAP API: file import in, imported alerts out, feeds and trusted senders."""

from typing import Any

from rest_framework import serializers

from accounts.models import AdministrativeArea, Organisation
from alerts.models import Alert, CapFeed, TrustedSender


class CapImportSerializer(serializers.Serializer[None]):
    file = serializers.FileField(help_text="A CAP 1.2 or 1.1 document, or an Atom/RSS/EDXL-DE container of them.")
    organisation = serializers.PrimaryKeyRelatedField(
        queryset=Organisation.objects.all(), required=False, allow_null=True, default=None
    )


class ImportedAlertSerializer(serializers.ModelSerializer[Alert]):
    signature = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = ["id", "identifier", "sender", "sent", "msg_type", "status", "state", "origin", "signature"]
        read_only_fields = fields

    def get_signature(self, alert: Alert) -> dict[str, Any]:
        signature: dict[str, Any] = alert.extra.get("signature", {})
        return {key: signature.get(key) for key in ("signed", "verified")}


class CapFeedSerializer(serializers.ModelSerializer[CapFeed]):
    class Meta:
        model = CapFeed
        fields = [
            "id", "name", "url", "organisation", "area", "is_active", "poll_interval_seconds",
            "last_polled_at", "last_error", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class CapFeedCreateSerializer(serializers.Serializer[None]):
    name = serializers.CharField(max_length=200)
    url = serializers.CharField(max_length=1000)
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    area = serializers.PrimaryKeyRelatedField(queryset=AdministrativeArea.objects.all())
    poll_interval_seconds = serializers.IntegerField(min_value=1, default=300)
    is_active = serializers.BooleanField(default=True)


class CapFeedUpdateSerializer(serializers.Serializer[None]):
    name = serializers.CharField(max_length=200, required=False)
    url = serializers.CharField(max_length=1000, required=False)
    area = serializers.PrimaryKeyRelatedField(queryset=AdministrativeArea.objects.all(), required=False)
    poll_interval_seconds = serializers.IntegerField(min_value=1, required=False)
    is_active = serializers.BooleanField(required=False)


class TrustedSenderSerializer(serializers.ModelSerializer[TrustedSender]):
    class Meta:
        model = TrustedSender
        fields = ["id", "sender", "organisation", "area", "auto_issue", "require_signature", "created_at"]
        read_only_fields = fields


class TrustedSenderCreateSerializer(serializers.Serializer[None]):
    sender = serializers.CharField(max_length=255)
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    area = serializers.PrimaryKeyRelatedField(queryset=AdministrativeArea.objects.all())
    auto_issue = serializers.BooleanField(default=False)
    require_signature = serializers.BooleanField(default=False)


class TrustedSenderUpdateSerializer(serializers.Serializer[None]):
    area = serializers.PrimaryKeyRelatedField(queryset=AdministrativeArea.objects.all(), required=False)
    auto_issue = serializers.BooleanField(required=False)
    require_signature = serializers.BooleanField(required=False)
