"""Input and output shapes of the accounts API. Serializers validate types only; rules live in services."""

from django.contrib.gis.geos import Point
from rest_framework import serializers

from accounts.models import (
    AdministrativeArea,
    AreaLevel,
    ChannelIdentity,
    Consent,
    ConsentPurpose,
    DataKind,
    DataSharingAgreement,
    Membership,
    NeedKind,
    Organisation,
    OrganisationKind,
    ResidentNeed,
    ResidentProfile,
    Role,
    Subscription,
    User,
)
from commsplatform.core.geojson import GeoJsonField
from commsplatform.core.models import AuditEvent


class AreaSummarySerializer(serializers.ModelSerializer[AdministrativeArea]):
    bbox = serializers.SerializerMethodField()

    class Meta:
        model = AdministrativeArea
        fields = ["id", "name", "code", "level", "parent", "bbox"]

    def get_bbox(self, area: AdministrativeArea) -> list[float]:
        return list(area.geometry.extent)


class AreaDetailSerializer(AreaSummarySerializer):
    geometry = GeoJsonField()

    class Meta(AreaSummarySerializer.Meta):
        fields = [*AreaSummarySerializer.Meta.fields, "properties", "geometry"]


class AreaCreateSerializer(serializers.Serializer[None]):
    name = serializers.CharField(max_length=200)
    code = serializers.CharField(max_length=64)
    level = serializers.ChoiceField(choices=AreaLevel.choices)
    # DRF's metaclass moves declared fields off the class, so this does not shadow Field.parent at run time.
    parent = serializers.PrimaryKeyRelatedField(queryset=AdministrativeArea.objects.all())  # type: ignore[assignment]
    geometry = GeoJsonField()
    properties = serializers.JSONField(required=False)


class AreaUpdateSerializer(serializers.Serializer[None]):
    name = serializers.CharField(max_length=200, required=False)
    geometry = GeoJsonField(required=False)
    properties = serializers.JSONField(required=False)


class OrganisationSerializer(serializers.ModelSerializer[Organisation]):
    kind = serializers.ChoiceField(choices=OrganisationKind.choices)

    class Meta:
        model = Organisation
        fields = ["id", "name", "kind", "area", "is_active"]
        read_only_fields = ["is_active"]


class MembershipSerializer(serializers.ModelSerializer[Membership]):
    username = serializers.CharField(source="user.username", read_only=True)
    is_active = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = [
            "id",
            "user",
            "username",
            "organisation",
            "role",
            "area",
            "valid_from",
            "valid_until",
            "revoked_at",
            "granted_by",
            "is_active",
        ]
        read_only_fields = fields

    def get_is_active(self, membership: Membership) -> bool:
        return membership.is_current()


class MembershipCreateSerializer(serializers.Serializer[None]):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(is_active=True))
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    role = serializers.ChoiceField(choices=Role.choices)
    area = serializers.PrimaryKeyRelatedField(queryset=AdministrativeArea.objects.all())
    valid_from = serializers.DateTimeField(required=False)
    valid_until = serializers.DateTimeField(required=False, allow_null=True)


class MembershipUpdateSerializer(serializers.Serializer[None]):
    valid_until = serializers.DateTimeField(allow_null=True)


class AgreementSerializer(serializers.ModelSerializer[DataSharingAgreement]):
    class Meta:
        model = DataSharingAgreement
        fields = [
            "id",
            "grantor",
            "grantee",
            "data_kinds",
            "areas",
            "purpose",
            "legal_reference",
            "valid_from",
            "valid_until",
            "revoked_at",
            "created_by",
        ]
        read_only_fields = fields


class AgreementCreateSerializer(serializers.Serializer[None]):
    grantor = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    grantee = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    data_kinds = serializers.ListField(child=serializers.ChoiceField(choices=DataKind.choices), min_length=1)
    areas = serializers.PrimaryKeyRelatedField(queryset=AdministrativeArea.objects.all(), many=True)
    purpose = serializers.CharField(max_length=5000)
    legal_reference = serializers.CharField(max_length=300)
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField()


class NeedSerializer(serializers.ModelSerializer[ResidentNeed]):
    kind = serializers.ChoiceField(choices=NeedKind.choices)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    class Meta:
        model = ResidentNeed
        fields = ["kind", "note", "created_at"]
        read_only_fields = ["created_at"]


class ResidentSerializer(serializers.ModelSerializer[ResidentProfile]):
    """What staff with the right over an area see of a resident: sensitive, and every read is audited."""

    user = serializers.IntegerField(source="user_id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    preferred_language = serializers.CharField(source="user.preferred_language", read_only=True)
    home_location = GeoJsonField(read_only=True, allow_null=True)
    last_location = GeoJsonField(read_only=True, allow_null=True)
    needs = NeedSerializer(many=True, read_only=True)

    class Meta:
        model = ResidentProfile
        fields = [
            "id",
            "user",
            "username",
            "preferred_language",
            "home_location",
            "last_location",
            "last_location_at",
            "needs",
        ]
        read_only_fields = fields


class MeSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "preferred_language", "date_joined"]
        read_only_fields = ["id", "username", "email", "date_joined"]


class ConsentSerializer(serializers.ModelSerializer[Consent]):
    class Meta:
        model = Consent
        fields = ["id", "purpose", "version", "given_at", "withdrawn_at"]
        read_only_fields = fields


class ConsentGiveSerializer(serializers.Serializer[None]):
    purpose = serializers.ChoiceField(choices=ConsentPurpose.choices)
    version = serializers.CharField(max_length=32)


class LocationSerializer(serializers.Serializer[None]):
    location = GeoJsonField(allow_null=True)

    def validate_location(self, value: object) -> Point | None:
        if value is not None and not isinstance(value, Point):
            raise serializers.ValidationError("A location is a GeoJSON Point [longitude, latitude].")
        return value


class SubscriptionSerializer(serializers.ModelSerializer[Subscription]):
    area = serializers.PrimaryKeyRelatedField(queryset=AdministrativeArea.objects.all())

    class Meta:
        model = Subscription
        fields = ["id", "area", "created_at"]
        read_only_fields = ["id", "created_at"]


class ChannelIdentitySerializer(serializers.ModelSerializer[ChannelIdentity]):
    class Meta:
        model = ChannelIdentity
        fields = ["id", "kind", "receives_alerts", "is_active", "deactivated_reason", "created_at"]
        read_only_fields = fields


class EraseSerializer(serializers.Serializer[None]):
    confirm = serializers.BooleanField()


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    class Meta:
        model = AuditEvent
        fields = [
            "seq",
            "at",
            "actor_id",
            "action",
            "object_type",
            "object_id",
            "area_id",
            "source",
            "request_id",
            "data",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields


class ChainReportSerializer(serializers.Serializer[None]):
    ok = serializers.BooleanField()
    checked = serializers.IntegerField()
    broken_seq = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField()
