"""Serializers of the alerts API: alert content in (CAP field names in snake case), alerts and records out."""

from typing import Any

from rest_framework import serializers
from rest_framework_gis.fields import GeometryField

from accounts.models import AdministrativeArea
from alerts.content import MAX_AREAS, MAX_INFOS, AlertContent, AreaContent, Circle, InfoContent, Pair, Resource
from alerts.models import (
    Alert,
    AlertTemplate,
    Area,
    Category,
    Certainty,
    Delivery,
    Info,
    Reply,
    ReplyKind,
    ResponseType,
    Scope,
    Severity,
    Urgency,
)
from commsplatform.core.geojson import GeoJsonField

MAX_PAIRS = 50


class PairSerializer(serializers.Serializer[Pair]):
    value_name = serializers.CharField(max_length=255)
    value = serializers.CharField(max_length=1000)


class CircleSerializer(serializers.Serializer[Circle]):
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lon = serializers.FloatField(min_value=-180, max_value=180)
    radius_km = serializers.FloatField(min_value=0, max_value=5000)


class ResourceSerializer(serializers.Serializer[Resource]):
    resource_desc = serializers.CharField(max_length=500)
    mime_type = serializers.CharField(max_length=255)
    size = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    uri = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    deref_uri = serializers.CharField(required=False, allow_blank=True, default="", max_length=1_000_000)
    digest = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class AreaContentSerializer(serializers.Serializer[AreaContent]):
    area_desc = serializers.CharField(max_length=2000)
    polygons = serializers.ListField(
        child=serializers.ListField(
            child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
            max_length=20_000,
        ),
        required=False,
        default=list,
        max_length=100,
        help_text="Rings of [lat, lon] pairs, first point repeated last (CAP order).",
    )
    circles = CircleSerializer(many=True, required=False, default=list, max_length=100)  # type: ignore[call-arg]  # DRF >= 3.15 list limits; stubs lag
    geocodes = PairSerializer(many=True, required=False, default=list, max_length=MAX_PAIRS)  # type: ignore[call-arg]  # DRF >= 3.15 list limits; stubs lag
    admin_area_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list, max_length=500
    )
    altitude = serializers.FloatField(required=False, allow_null=True, default=None)
    ceiling = serializers.FloatField(required=False, allow_null=True, default=None)


class InfoContentSerializer(serializers.Serializer[InfoContent]):
    language = serializers.CharField(max_length=35, default="en-US")
    categories = serializers.ListField(child=serializers.ChoiceField(choices=Category.choices), min_length=1)
    event = serializers.CharField(max_length=255)
    response_types = serializers.ListField(
        child=serializers.ChoiceField(choices=ResponseType.choices), required=False, default=list
    )
    urgency = serializers.ChoiceField(choices=Urgency.choices)
    severity = serializers.ChoiceField(choices=Severity.choices)
    certainty = serializers.ChoiceField(choices=Certainty.choices)
    audience = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    event_codes = PairSerializer(many=True, required=False, default=list, max_length=MAX_PAIRS)  # type: ignore[call-arg]  # DRF >= 3.15 list limits; stubs lag
    effective = serializers.DateTimeField(required=False, allow_null=True, default=None)
    onset = serializers.DateTimeField(required=False, allow_null=True, default=None)
    expires = serializers.DateTimeField(required=False, allow_null=True, default=None)
    sender_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    headline = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=20_000)
    instruction = serializers.CharField(required=False, allow_blank=True, default="", max_length=20_000)
    web = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)
    contact = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    parameters = PairSerializer(many=True, required=False, default=list, max_length=MAX_PAIRS)  # type: ignore[call-arg]  # DRF >= 3.15 list limits; stubs lag
    resources = ResourceSerializer(many=True, required=False, default=list, max_length=20)  # type: ignore[call-arg]  # DRF >= 3.15 list limits; stubs lag
    areas = AreaContentSerializer(many=True, max_length=MAX_AREAS, min_length=1)  # type: ignore[call-arg]  # DRF >= 3.15 list limits; stubs lag


class AlertContentSerializer(serializers.Serializer[AlertContent]):
    """The content of a new alert or template. Identifier, sender and sent are assigned here."""

    status = serializers.ChoiceField(choices=["Actual", "Exercise", "System", "Test"], default="Actual")
    scope = serializers.ChoiceField(choices=Scope.choices, default=Scope.PUBLIC)
    restriction = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    addresses = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)
    codes = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, default=list, max_length=MAX_PAIRS
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    incidents = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    infos = InfoContentSerializer(many=True, min_length=1, max_length=MAX_INFOS)  # type: ignore[call-arg]  # DRF >= 3.15 list limits; stubs lag

    def to_content(self) -> AlertContent:
        data: dict[str, Any] = dict(self.validated_data)
        infos = []
        for raw in data.pop("infos"):
            info = dict(raw)
            areas = [
                AreaContent(
                    area_desc=area["area_desc"],
                    polygons=[[(lat, lon) for lat, lon in ring] for ring in area["polygons"]],
                    circles=[Circle(**circle) for circle in area["circles"]],
                    geocodes=[Pair(**pair) for pair in area["geocodes"]],
                    admin_area_ids=list(area["admin_area_ids"]),
                    altitude=area["altitude"],
                    ceiling=area["ceiling"],
                )
                for area in info.pop("areas")
            ]
            info["event_codes"] = [Pair(**pair) for pair in info["event_codes"]]
            info["parameters"] = [Pair(**pair) for pair in info["parameters"]]
            info["resources"] = [Resource(**resource) for resource in info["resources"]]
            infos.append(InfoContent(**info, areas=areas))
        return AlertContent(**data, infos=infos)


class AreaSerializer(serializers.ModelSerializer[Area]):
    admin_area_ids = serializers.PrimaryKeyRelatedField[AdministrativeArea](
        source="admin_areas", many=True, read_only=True
    )
    geometry = GeometryField(read_only=True)

    class Meta:
        model = Area
        fields = ["area_desc", "polygons", "circles", "geocodes", "admin_area_ids", "altitude", "ceiling", "geometry"]


class InfoSerializer(serializers.ModelSerializer[Info]):
    areas = AreaSerializer(many=True, read_only=True)

    class Meta:
        model = Info
        exclude = ["id", "alert", "position"]


class AlertSerializer(serializers.ModelSerializer[Alert]):
    infos = InfoSerializer(many=True, read_only=True)
    geometry = GeometryField(read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "identifier",
            "sender",
            "sent",
            "status",
            "msg_type",
            "scope",
            "restriction",
            "addresses",
            "codes",
            "note",
            "references",
            "incidents",
            "state",
            "origin",
            "original",
            "supersedes",
            "organisation",
            "drafted_by",
            "submitted_at",
            "approved_by",
            "approved_at",
            "issued_at",
            "closed_at",
            "rejection_reason",
            "expires",
            "priority",
            "targeted_count",
            "geometry",
            "infos",
        ]
        read_only_fields = fields


class AlertCreateSerializer(AlertContentSerializer):
    organisation = serializers.IntegerField(required=False, allow_null=True, default=None)

    def to_content_without_organisation(self) -> AlertContent:
        self.validated_data.pop("organisation", None)
        return self.to_content()


class ApproveSerializer(serializers.Serializer[Any]):
    issue = serializers.BooleanField(default=False, help_text="Issue at once after approving.")


class RejectSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=2000)


class CancelSerializer(serializers.Serializer[Any]):
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class ReachSerializer(serializers.Serializer[Any]):
    recipients = serializers.IntegerField()
    by_transport = serializers.DictField(child=serializers.IntegerField())
    areas = serializers.ListField(child=serializers.DictField())


class StatsSerializer(serializers.Serializer[Any]):
    alert_id = serializers.IntegerField()
    state = serializers.CharField()
    targeted = serializers.IntegerField(allow_null=True)
    reachable = serializers.IntegerField()
    deliveries = serializers.IntegerField()
    settled = serializers.IntegerField(
        help_text="Deliveries in a final state: sent, failed, blocked, expired, superseded."
    )
    by_state = serializers.DictField(child=serializers.IntegerField())
    by_transport = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()))
    failed_by_reason = serializers.DictField(child=serializers.IntegerField())
    replied = serializers.DictField(child=serializers.IntegerField())
    first_sent_at = serializers.DateTimeField(allow_null=True)
    last_sent_at = serializers.DateTimeField(allow_null=True)
    seconds_to_first = serializers.FloatField(allow_null=True)
    seconds_to_last = serializers.FloatField(allow_null=True)
    dispatch_completed = serializers.BooleanField()
    as_of = serializers.DateTimeField(help_text="When these figures were read.")


class DeliverySerializer(serializers.ModelSerializer[Delivery]):
    class Meta:
        model = Delivery
        fields = [
            "id",
            "recipient",
            "transport",
            "language",
            "state",
            "attempts",
            "created_at",
            "sent_at",
            "failed_reason",
        ]
        read_only_fields = fields


class MyDeliverySerializer(serializers.ModelSerializer[Delivery]):
    alert = AlertSerializer(read_only=True)

    class Meta:
        model = Delivery
        fields = ["id", "transport", "language", "state", "sent_at", "alert"]
        read_only_fields = fields


class ReplyInSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=ReplyKind.choices)
    message = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    location = GeoJsonField(required=False, allow_null=True, default=None, help_text="A GeoJSON Point.")


class ReplySerializer(serializers.ModelSerializer[Reply]):
    class Meta:
        model = Reply
        fields = ["id", "alert", "delivery", "kind", "message", "area", "created_at"]
        read_only_fields = fields


class NeedHelpSerializer(serializers.ModelSerializer[Reply]):
    location = GeometryField(read_only=True)

    class Meta:
        model = Reply
        fields = ["id", "user", "message", "location", "area", "created_at"]
        read_only_fields = fields


class ReplyAreaCountSerializer(serializers.Serializer[Any]):
    area_id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    level = serializers.CharField()
    safe = serializers.IntegerField()
    need_help = serializers.IntegerField()


class TemplateSerializer(serializers.ModelSerializer[AlertTemplate]):
    class Meta:
        model = AlertTemplate
        fields = ["id", "name", "organisation", "area", "content", "created_at", "updated_at"]
        read_only_fields = fields


class TemplateWriteSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    organisation = serializers.IntegerField()
    area = serializers.IntegerField()
    content = AlertContentSerializer()
