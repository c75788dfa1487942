"""Input and output shapes of the shelters API. Geographic output is GeoJSON; serializers check types only."""

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from accounts.models import AdministrativeArea, Organisation, User
from commsplatform.core.geojson import GeoJsonField
from shelters.models import (
    Asset,
    AssetState,
    AssetType,
    BedCategory,
    EvacuationRoute,
    Hazard,
    OccupancySnapshot,
    RouteStatus,
    Shelter,
    ShelterBeds,
    ShelterStatus,
    ShelterStay,
)
from shelters.nearest import PublicShelter
from shelters.search import distance_in_metres
from shelters.services.bulk_upload import FORMATS, AssetUploadReport

MANUAL_STATUSES = [ShelterStatus.PLANNED, ShelterStatus.OPEN, ShelterStatus.CLOSED]


class BedsSerializer(serializers.ModelSerializer[ShelterBeds]):
    free = serializers.IntegerField(read_only=True)

    class Meta:
        model = ShelterBeds
        fields = ["category", "capacity", "occupied", "free"]
        read_only_fields = fields


class ShelterFeatureSerializer(GeoFeatureModelSerializer):
    """What anyone may see of a shelter: where it is, what it offers, whether it has room."""

    free_places = serializers.IntegerField(read_only=True, allow_null=True)
    beds = BedsSerializer(many=True, read_only=True)
    # Often empty: a plain string in the schema (an empty string is not a valid "format: email").
    email = serializers.CharField(read_only=True)
    distance_m = serializers.SerializerMethodField()

    class Meta:
        model = Shelter
        geo_field = "location"
        fields = [
            "id",
            "name",
            "names",
            "address",
            "street",
            "postcode",
            "area",
            "hazards",
            "status",
            "capacity",
            "capacity_outdoor",
            "occupancy",
            "free_places",
            "beds",
            "step_free_access",
            "pets_allowed",
            "medical_care",
            "power",
            "water",
            "languages",
            "operator",
            "phone",
            "email",
            "version",
            "occupancy_updated_at",
            "distance_m",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_distance_m(self, shelter: Shelter) -> float | None:
        distances: dict[int, float] = self.context.get("distances", {})
        if shelter.pk in distances:
            return round(distances[shelter.pk], 1)
        distance = getattr(shelter, "distance", None)
        return round(distance_in_metres(distance), 1) if distance is not None else None


class NearestShelterFeatureSerializer(ShelterFeatureSerializer):
    """The same feature, from a `PublicShelter` row of the nearest-shelter query (not a model instance): its
    area and operator are ids, and its beds come in the context (`beds`: shelter id -> beds)."""

    area = serializers.IntegerField(source="area_id", read_only=True)
    operator = serializers.IntegerField(source="operator_id", read_only=True, allow_null=True)
    # DRF's metaclass moves declared fields off the class: this replaces the nested field, it shadows nothing.
    beds = serializers.SerializerMethodField()  # type: ignore[assignment]

    @extend_schema_field(BedsSerializer(many=True))
    def get_beds(self, shelter: PublicShelter) -> Any:
        beds: dict[int, list[ShelterBeds]] = self.context.get("beds", {})
        return BedsSerializer(beds.get(shelter.id, []), many=True).data


class ShelterStaffFeatureSerializer(ShelterFeatureSerializer):
    """A shelter as staff who see shelters in its area see it: with contacts, notes and provenance."""

    class Meta(ShelterFeatureSerializer.Meta):
        fields = [
            *ShelterFeatureSerializer.Meta.fields,
            "contacts",
            "notes",
            "properties",
            "source",
            "external_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class StrictSerializer(serializers.Serializer[None]):
    """Refuses fields it does not know, instead of ignoring them (a misspelt field must not pass silently)."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        data = self.initial_data
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, Mapping) else []
        if unknown:
            raise serializers.ValidationError(dict.fromkeys(unknown, "Unknown field."))
        return attrs


class ContactSerializer(serializers.Serializer[None]):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    role = serializers.CharField(max_length=200, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=200, required=False, allow_blank=True)


class ShelterWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    names = serializers.DictField(child=serializers.CharField(max_length=200), required=False)
    address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    street = serializers.CharField(max_length=200, required=False, allow_blank=True)
    postcode = serializers.CharField(max_length=20, required=False, allow_blank=True)
    location = GeoJsonField()
    hazards = serializers.ListField(child=serializers.ChoiceField(choices=Hazard.choices), required=False)
    capacity = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False, allow_null=True)
    capacity_outdoor = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False, allow_null=True)
    beds = serializers.DictField(child=serializers.IntegerField(min_value=0, max_value=1_000_000), required=False)
    step_free_access = serializers.BooleanField(required=False)
    pets_allowed = serializers.BooleanField(required=False)
    medical_care = serializers.BooleanField(required=False)
    power = serializers.BooleanField(required=False)
    water = serializers.BooleanField(required=False)
    languages = serializers.ListField(child=serializers.CharField(max_length=35), required=False, max_length=30)
    operator = serializers.PrimaryKeyRelatedField(
        queryset=Organisation.objects.filter(is_active=True), required=False, allow_null=True
    )
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    contacts = ContactSerializer(many=True, required=False)
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    properties = serializers.JSONField(required=False)


class ShelterCreateSerializer(ShelterWriteSerializer):
    status = serializers.ChoiceField(choices=MANUAL_STATUSES, required=False, default=ShelterStatus.PLANNED)


class ShelterStatusSerializer(serializers.Serializer[None]):
    status = serializers.ChoiceField(choices=MANUAL_STATUSES)


class OccupancySetSerializer(serializers.Serializer[None]):
    occupancy = serializers.IntegerField(min_value=0, max_value=1_000_000)


class CheckInSerializer(serializers.Serializer[None]):
    people = serializers.IntegerField(min_value=1, max_value=500, default=1)
    beds = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=500), required=False, help_text="Beds by category."
    )
    resident = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )

    def validate_beds(self, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(BedCategory.values))
        if unknown:
            raise serializers.ValidationError(f"Unknown bed categories: {', '.join(unknown)}.")
        return value


class CheckOutSerializer(serializers.Serializer[None]):
    stay = serializers.IntegerField(min_value=1, required=False)
    reference = serializers.CharField(max_length=12, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("stay") and not attrs.get("reference"):
            raise serializers.ValidationError({"stay": "Give the stay id or its reference."})
        return attrs


class StaySerializer(serializers.ModelSerializer[ShelterStay]):
    class Meta:
        model = ShelterStay
        fields = [
            "id",
            "shelter",
            "reference",
            "people",
            "beds",
            "resident",
            "checked_in_at",
            "checked_out_at",
        ]
        read_only_fields = fields


class AlternativeSerializer(serializers.Serializer[None]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    distance_m = serializers.FloatField()
    free_places = serializers.IntegerField(allow_null=True)
    location = serializers.ListField(child=serializers.FloatField())


class RefusalSerializer(serializers.Serializer[None]):
    detail = serializers.CharField()
    code = serializers.CharField()
    alternative = AlternativeSerializer(allow_null=True)


class SnapshotSerializer(serializers.ModelSerializer[OccupancySnapshot]):
    class Meta:
        model = OccupancySnapshot
        fields = ["at", "occupancy", "capacity", "status", "reason", "version"]
        read_only_fields = fields


class MyStaySerializer(serializers.Serializer[None]):
    stay = StaySerializer(allow_null=True)


# Routes and zones.


class RouteFeatureSerializer(GeoFeatureModelSerializer):
    class Meta:
        model = EvacuationRoute
        geo_field = "geometry"
        fields = ["id", "name", "names", "status", "status_note", "hazards", "shelter", "area", "updated_at"]
        read_only_fields = fields


class RouteWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    names = serializers.DictField(child=serializers.CharField(max_length=200), required=False)
    geometry = GeoJsonField()
    status = serializers.ChoiceField(choices=RouteStatus.choices, required=False)
    status_note = serializers.CharField(max_length=300, required=False, allow_blank=True)
    hazards = serializers.ListField(child=serializers.ChoiceField(choices=Hazard.choices), required=False)
    shelter = serializers.PrimaryKeyRelatedField(queryset=Shelter.objects.all(), required=False, allow_null=True)


class ZoneFeatureSerializer(GeoFeatureModelSerializer):
    class Meta:
        model = AdministrativeArea
        geo_field = "geometry"
        fields = ["id", "name", "code", "level"]
        read_only_fields = fields


class RouteCollectionSerializer(serializers.Serializer[None]):
    type = serializers.ChoiceField(choices=["FeatureCollection"])
    features = RouteFeatureSerializer(many=True)


class ZoneCollectionSerializer(serializers.Serializer[None]):
    type = serializers.ChoiceField(choices=["FeatureCollection"])
    features = ZoneFeatureSerializer(many=True)


class NearestResponseSerializer(serializers.Serializer[None]):
    """A GeoJSON FeatureCollection of shelters (nearest first, with `distance_m`), with two foreign members:
    the evacuation routes to them and the zones that hold the point, each a FeatureCollection."""

    type = serializers.ChoiceField(choices=["FeatureCollection"])
    features = ShelterFeatureSerializer(many=True)
    routes = RouteCollectionSerializer()
    zones = ZoneCollectionSerializer()


# Assets.


class AssetFeatureSerializer(GeoFeatureModelSerializer):
    owner_name = serializers.CharField(source="owner.name", read_only=True)
    distance_m = serializers.SerializerMethodField()

    class Meta:
        model = Asset
        geo_field = "location"
        fields = [
            "id",
            "owner",
            "owner_name",
            "external_id",
            "asset_type",
            "name",
            "quantity",
            "unit",
            "state",
            "area",
            "address",
            "street",
            "postcode",
            "attributes",
            "notes",
            "updated_at",
            "distance_m",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_distance_m(self, asset: Asset) -> float | None:
        distance = getattr(asset, "distance", None)
        return round(distance_in_metres(distance), 1) if distance is not None else None


class AssetWriteSerializer(StrictSerializer):
    asset_type = serializers.ChoiceField(choices=AssetType.choices)
    name = serializers.CharField(max_length=200)
    quantity = serializers.IntegerField(min_value=0, max_value=1_000_000_000, required=False)
    unit = serializers.CharField(max_length=32, required=False, allow_blank=True)
    state = serializers.ChoiceField(choices=AssetState.choices, required=False)
    location = GeoJsonField()
    address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    street = serializers.CharField(max_length=200, required=False, allow_blank=True)
    postcode = serializers.CharField(max_length=20, required=False, allow_blank=True)
    attributes = serializers.DictField(child=serializers.CharField(max_length=200), required=False)
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class AssetCreateSerializer(AssetWriteSerializer):
    owner = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.filter(is_active=True))
    external_id = serializers.CharField(max_length=100)


class AssetUploadSerializer(serializers.Serializer[None]):
    owner = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.filter(is_active=True))
    file = serializers.FileField()
    format = serializers.ChoiceField(choices=FORMATS, required=False)


class RowErrorSerializer(serializers.Serializer[None]):
    row = serializers.IntegerField(allow_null=True)
    line = serializers.IntegerField(allow_null=True)
    field = serializers.CharField()
    reason = serializers.CharField()


class UploadReportSerializer(serializers.Serializer[AssetUploadReport]):
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    file_format = serializers.CharField()
    sha256 = serializers.CharField()


class UploadRefusalSerializer(serializers.Serializer[None]):
    detail = serializers.CharField()
    code = serializers.CharField()
    error_count = serializers.IntegerField()
    # DRF's metaclass moves declared fields off the class, so this does not shadow Serializer.errors at run time.
    errors = RowErrorSerializer(many=True)  # type: ignore[assignment]
