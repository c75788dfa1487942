"""Input and output shapes of the sensor API and the signed readings webhook. Types only; rules live in services."""

from typing import Any

from django.contrib.gis.geos import Point
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import AdministrativeArea, Organisation
from alerts.models import AlertTemplate, Sensor, SensorReading, SensorRule, ThresholdOperator
from alerts.services.sensors import MAX_READINGS_PER_DELIVERY, Crossing, ReadingsRecorded
from commsplatform.core.geojson import GeoJsonField


class NumberField(serializers.FloatField):
    """A finite number; JSON true/false are not numbers here (Python would read them as 1 and 0)."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "format": "date-time"})
class OffsetDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that states its offset: a sensor's local time without one is ambiguous."""

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str):
            parsed = parse_datetime(value.strip())
            if parsed is not None and parsed.tzinfo is None:
                raise serializers.ValidationError("Give the time with its offset, e.g. 2026-05-01T06:30:00+02:00.")
        return super().to_internal_value(value)


class PointField(GeoJsonField):
    def to_internal_value(self, value: Any) -> Any:
        point = super().to_internal_value(value)
        if not isinstance(point, Point):
            raise serializers.ValidationError("A sensor's location is a GeoJSON Point [longitude, latitude].")
        return point


# The webhook.


class ReadingInSerializer(serializers.Serializer[None]):
    id = serializers.CharField(max_length=128, help_text="The sensor's own id of the reading; sent twice, kept once.")
    value = NumberField()
    measured_at = OffsetDateTimeField(help_text="ISO 8601 with an offset.")


class ReadingBatchSerializer(serializers.Serializer[None]):
    sensor = serializers.CharField(max_length=128, help_text="The sensor's external id.")
    readings = serializers.ListField(
        child=ReadingInSerializer(), min_length=1, max_length=MAX_READINGS_PER_DELIVERY, allow_empty=False
    )


class CrossingSerializer(serializers.Serializer[Crossing]):
    rule = serializers.IntegerField(source="rule_id")
    reading = serializers.CharField(source="reading_id")
    alert = serializers.IntegerField(source="alert_id", allow_null=True)
    state = serializers.CharField(source="alert_state", help_text="draft, or issued for an automatic rule.")
    error = serializers.CharField(help_text="Why no alert (or no issue) came of it; empty when all went well.")


class ReadingsRecordedSerializer(serializers.Serializer[ReadingsRecorded]):
    sensor = serializers.CharField(source="external_id")
    new = serializers.ListField(child=serializers.CharField(), help_text="Reading ids recorded now.")
    duplicates = serializers.ListField(child=serializers.CharField(), help_text="Reading ids already on record.")
    out_of_order = serializers.ListField(
        child=serializers.CharField(), help_text="Recorded, but measured before the latest reading: no rule changed."
    )
    crossings = CrossingSerializer(many=True)


# Sensors.


class SensorSerializer(serializers.ModelSerializer[Sensor]):
    location = GeoJsonField(allow_null=True, read_only=True)

    class Meta:
        model = Sensor
        fields = [
            "id",
            "external_id",
            "name",
            "kind",
            "unit",
            "location",
            "organisation",
            "area",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SensorCreateSerializer(serializers.Serializer[None]):
    external_id = serializers.CharField(max_length=128)
    name = serializers.CharField(max_length=200)
    kind = serializers.CharField(max_length=64, help_text="river_gauge, rain_gauge, …")
    unit = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    location = PointField(required=False, allow_null=True, default=None)
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    area = serializers.PrimaryKeyRelatedField(queryset=AdministrativeArea.objects.all())
    is_active = serializers.BooleanField(required=False, default=True)


class SensorUpdateSerializer(serializers.Serializer[None]):
    external_id = serializers.CharField(max_length=128, required=False)
    name = serializers.CharField(max_length=200, required=False)
    kind = serializers.CharField(max_length=64, required=False)
    unit = serializers.CharField(max_length=32, required=False, allow_blank=True)
    location = PointField(required=False, allow_null=True)
    area = serializers.PrimaryKeyRelatedField(queryset=AdministrativeArea.objects.all(), required=False)
    is_active = serializers.BooleanField(required=False)


# Rules.


@extend_schema_field({"type": "integer", "description": "An alert template of the sensor's organisation."})
class SensorTemplateField(serializers.PrimaryKeyRelatedField[AlertTemplate]):
    """A template of the sensor's organisation (the view puts it in the context); others do not exist here."""

    def get_queryset(self) -> QuerySet[AlertTemplate]:
        organisation = self.context.get("organisation")
        if organisation is None:
            return AlertTemplate.objects.none()
        return AlertTemplate.objects.filter(organisation=organisation)


class SensorRuleSerializer(serializers.ModelSerializer[SensorRule]):
    class Meta:
        model = SensorRule
        fields = [
            "id",
            "sensor",
            "name",
            "operator",
            "threshold",
            "template",
            "automatic",
            "is_active",
            "is_crossed",
            "last_alert",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SensorRuleCreateSerializer(serializers.Serializer[None]):
    name = serializers.CharField(max_length=200)
    operator = serializers.ChoiceField(choices=ThresholdOperator.choices)
    threshold = NumberField()
    template = SensorTemplateField()
    automatic = serializers.BooleanField(
        required=False, default=False, help_text="Issue without a second person; only an approver may set it."
    )
    is_active = serializers.BooleanField(required=False, default=True)


class SensorRuleUpdateSerializer(serializers.Serializer[None]):
    name = serializers.CharField(max_length=200, required=False)
    operator = serializers.ChoiceField(choices=ThresholdOperator.choices, required=False)
    threshold = NumberField(required=False)
    template = SensorTemplateField(required=False)
    automatic = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)


# Readings.


class SensorReadingSerializer(serializers.ModelSerializer[SensorReading]):
    triggered = serializers.PrimaryKeyRelatedField[SensorRule](many=True, read_only=True, help_text="Rules it set off.")

    class Meta:
        model = SensorReading
        fields = ["id", "reading_id", "value", "measured_at", "received_at", "triggered"]
        read_only_fields = fields
