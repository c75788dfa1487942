"""Serializers of the classifier API: texts with their prediction, assignments with their evidence."""

from typing import Any

from rest_framework import serializers

from classifier.models import ClassifiedText, GroupAssignment


class ClassifiedTextSerializer(serializers.ModelSerializer[ClassifiedText]):
    source_type = serializers.SerializerMethodField()

    class Meta:
        model = ClassifiedText
        fields = [
            "id",
            "source_type",
            "object_id",
            "author",
            "area",
            "text",
            "status",
            "language",
            "label",
            "score",
            "scores",
            "staff_label",
            "urgency",
            "model_name",
            "model_version",
            "label_set",
            "created_at",
            "classified_at",
        ]
        read_only_fields = fields

    def get_source_type(self, text: ClassifiedText) -> str:
        return f"{text.content_type.app_label}.{text.content_type.model}"


class RelabelSerializer(serializers.Serializer[Any]):
    # A field named "label" shadows Field.label (a str) in the stubs; DRF declares fields this way all the same.
    label = serializers.CharField(max_length=64)  # type: ignore[assignment]


class AssignmentSerializer(serializers.ModelSerializer[GroupAssignment]):
    group_key = serializers.CharField(source="group.key", read_only=True)
    group_name = serializers.CharField(source="group.name", read_only=True)

    class Meta:
        model = GroupAssignment
        fields = [
            "id",
            "user",
            "group",
            "group_key",
            "group_name",
            "source",
            "rule",
            "explanation",
            "text",
            "label",
            "score",
            "model_name",
            "model_version",
            "rooms",
            "created_by",
            "created_at",
            "ended_at",
            "ended_by",
            "overridden",
            "reason",
        ]
        read_only_fields = fields


class AssignmentAddSerializer(serializers.Serializer[Any]):
    user = serializers.IntegerField(min_value=1)
    group = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(max_length=500)


class AssignmentEndSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=500)
