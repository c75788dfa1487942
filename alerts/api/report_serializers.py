"""Serializers of citizen reports: what a resident sends, what they see back, and the staff triage view."""

from typing import Any

from django.conf import settings
from rest_framework import serializers
from rest_framework_gis.fields import GeometryField

from alerts.models import CitizenReport, ReportStatus


class ReportInSerializer(serializers.Serializer[Any]):
    text = serializers.CharField(max_length=settings.REPORT_TEXT_MAX_CHARS, trim_whitespace=True)
    latitude = serializers.FloatField(min_value=-90, max_value=90, required=False)
    longitude = serializers.FloatField(min_value=-180, max_value=180, required=False)
    photo = serializers.FileField(required=False, allow_empty_file=False, max_length=200)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("latitude" in attrs) != ("longitude" in attrs):
            raise serializers.ValidationError({"location": "Give both latitude and longitude, or neither."})
        photo = attrs.get("photo")
        if photo is not None and photo.size is not None and photo.size > settings.REPORT_PHOTO_MAX_BYTES:
            raise serializers.ValidationError({"photo": "The photo is too large."})
        return attrs


class ReportStatusSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=ReportStatus.choices)
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class MyReportSerializer(serializers.ModelSerializer[CitizenReport]):
    location = GeometryField(read_only=True, allow_null=True)
    has_photo = serializers.SerializerMethodField()

    class Meta:
        model = CitizenReport
        fields = ["id", "text", "location", "area", "has_photo", "status", "created_at"]
        read_only_fields = fields

    def get_has_photo(self, report: CitizenReport) -> bool:
        return bool(report.photo)


class StaffReportSerializer(serializers.ModelSerializer[CitizenReport]):
    location = GeometryField(read_only=True, allow_null=True)
    has_photo = serializers.SerializerMethodField()

    class Meta:
        model = CitizenReport
        fields = [
            "id",
            "reporter",
            "text",
            "location",
            "area",
            "has_photo",
            "photo_content_type",
            "status",
            "status_changed_at",
            "status_changed_by",
            "staff_note",
            "category",
            "category_score",
            "urgency",
            "model_name",
            "model_version",
            "classified_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_has_photo(self, report: CitizenReport) -> bool:
        return bool(report.photo)
