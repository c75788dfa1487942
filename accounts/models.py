"""People, organisations, administrative areas, role memberships, agreements, consent and subscriptions."""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase

from commsplatform.core.models import TimeStampedModel


class User(AbstractUser):
    """Anyone who signs in: residents, officials, staff. Roles come from memberships, not from this row."""

    preferred_language = models.CharField(max_length=16, choices=settings.LANGUAGES, default="en")
    erased_at = models.DateTimeField(null=True, blank=True)


class AreaLevel(models.TextChoices):
    NATION = "nation", _("Nation")
    REGION = "region", _("Region")
    CITY = "city", _("City")
    DISTRICT = "district", _("District")
    NEIGHBOURHOOD = "neighbourhood", _("Neighbourhood")
    ZONE = "zone", _("Zone")  # free zones: evacuation zones, hazard zones, any polygon


# Rank of each level in the tree; a parent must rank above its child. Zones may hang anywhere.
AREA_LEVEL_RANK = {
    AreaLevel.NATION: 0,
    AreaLevel.REGION: 1,
    AreaLevel.CITY: 2,
    AreaLevel.DISTRICT: 3,
    AreaLevel.NEIGHBOURHOOD: 4,
    AreaLevel.ZONE: 5,
}


def area_level_fits(*, parent_level: str, level: str) -> bool:
    """Whether an area of `level` may sit inside one of `parent_level`: zones anywhere, others below their parent."""
    return level == AreaLevel.ZONE or AREA_LEVEL_RANK[AreaLevel(parent_level)] < AREA_LEVEL_RANK[AreaLevel(level)]


class AdministrativeArea(TimeStampedModel):
    """A node of the area tree. `path` is the chain of ids from the root ("/1/7/42/") for subtree queries."""

    name = models.CharField(max_length=200)
    code = models.CharField(max_length=64)
    level = models.CharField(max_length=16, choices=AreaLevel.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    path = models.CharField(max_length=500, db_index=True, editable=False, default="")
    geometry = models.MultiPolygonField(srid=4326, spatial_index=True)
    properties = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["path"]
        constraints = [models.UniqueConstraint(fields=["level", "code"], name="area_unique_code_per_level")]
        permissions = [
            ("participate_in_area", "Take part in the area's rooms as a resident"),
            ("view_resident_counts", "See aggregate counts of residents in the area"),
            ("view_residents", "See residents' locations and declared needs in the area"),
            ("manage_areas", "Create and change areas inside the area"),
            ("manage_memberships", "Grant and revoke roles over the area"),
            ("manage_agreements", "Make data-sharing agreements over the area"),
            ("draft_alerts", "Draft alerts for the area"),
            ("approve_alerts", "Approve and issue alerts for the area"),
            ("host_rooms", "Host town halls and post official updates for the area"),
            ("moderate_rooms", "Moderate rooms of the area"),
            ("manage_shelters", "Manage shelters and occupancy in the area"),
            ("view_shelters", "See shelter details and occupancy in the area"),
            ("manage_assets", "Manage the organisation's assets in the area"),
            ("view_assets", "See assets of other owners in the area"),
            ("view_audit", "Read the audit record of the area"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.level} {self.code})"

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to this area itself."""
        return [int(part) for part in self.path.strip("/").split("/") if part]

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.geometry is not None and not self.geometry.valid:
            raise ValidationError({"geometry": f"Invalid geometry: {self.geometry.valid_reason}"})
        if self.parent is not None:
            if not area_level_fits(parent_level=self.parent.level, level=self.level):
                raise ValidationError({"parent": f"A {self.level} cannot be inside a {self.parent.level}."})
            if self.pk is not None and f"/{self.pk}/" in self.parent.path:
                raise ValidationError({"parent": "An area cannot be inside itself."})


class AreaUserObjectPermission(UserObjectPermissionBase):
    """Guardian's object permissions on areas, with a real foreign key (fast joins, cascades)."""

    content_object = models.ForeignKey(AdministrativeArea, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        abstract = False


class OrganisationKind(models.TextChoices):
    CIVIL_PROTECTION = "civil_protection", _("Civil protection")
    CITY_DEPARTMENT = "city_department", _("City department")
    PUBLIC_HEALTH = "public_health", _("Public health")
    UTILITY = "utility", _("Utility")
    HOSPITAL = "hospital", _("Hospital")
    BUSINESS = "business", _("Business")
    NGO = "ngo", _("NGO")
    COMMUNITY_GROUP = "community_group", _("Community group")
    MEDIA = "media", _("Media")


class Organisation(TimeStampedModel):
    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=32, choices=OrganisationKind.choices)
    area = models.ForeignKey(
        AdministrativeArea,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="organisations",
        help_text="The area the organisation is based in or responsible for.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    RESIDENT = "resident", _("Resident")
    OFFICIAL = "official", _("Official")
    ALERT_DRAFTER = "alert_drafter", _("Alert drafter")
    ALERT_APPROVER = "alert_approver", _("Alert approver")
    SHELTER_MANAGER = "shelter_manager", _("Shelter manager")
    ASSET_OWNER = "asset_owner", _("Asset owner")
    MODERATOR = "moderator", _("Moderator")
    AUDITOR = "auditor", _("Auditor")
    ADMINISTRATOR = "administrator", _("Administrator")


class MembershipQuerySet(models.QuerySet["Membership"]):
    def active(self, at: Any = None) -> "MembershipQuerySet":
        at = at or timezone.now()
        return self.filter(
            Q(revoked_at__isnull=True) | Q(revoked_at__gt=at),
            Q(valid_until__isnull=True) | Q(valid_until__gt=at),
            valid_from__lte=at,
            organisation__is_active=True,
            user__is_active=True,
        )


class Membership(TimeStampedModel):
    """A role a person holds in an organisation over an area (and every area inside it), for a time."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    area = models.ForeignKey(AdministrativeArea, on_delete=models.PROTECT, related_name="memberships")
    valid_from = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation", "role", "area"],
                condition=Q(revoked_at__isnull=True),
                name="membership_unique_unrevoked",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=models.F("valid_from")),
                name="membership_valid_until_after_from",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.role} in {self.organisation_id} over {self.area_id}"

    def is_current(self, at: Any = None) -> bool:
        """The same test as `Membership.objects.active()`, on a loaded row."""
        at = at or timezone.now()
        return (
            self.valid_from <= at
            and (self.valid_until is None or self.valid_until > at)
            and (self.revoked_at is None or self.revoked_at > at)
            and self.organisation.is_active
            and self.user.is_active
        )


class DataKind(models.TextChoices):
    RESIDENT_COUNTS = "resident_counts", _("Aggregate resident counts")
    RESIDENTS = "residents", _("Residents' locations and needs")
    SHELTERS = "shelters", _("Shelters and occupancy")
    ASSETS = "assets", _("Assets and equipment")
    AUDIT = "audit", _("Audit record")
    ALERTING = "alerting", _("Mutual aid: issue alerts over the areas")


class AgreementQuerySet(models.QuerySet["DataSharingAgreement"]):
    def active(self, at: Any = None) -> "AgreementQuerySet":
        at = at or timezone.now()
        return self.filter(
            Q(revoked_at__isnull=True) | Q(revoked_at__gt=at),
            valid_from__lte=at,
            valid_until__gt=at,
            grantor__is_active=True,
            grantee__is_active=True,
        )


class DataSharingAgreement(TimeStampedModel):
    """A grantor organisation lets a grantee read some kinds of its data over some areas, for a purpose and time.

    Access through an agreement is read-only and ends by itself at `valid_until`; the one exception is
    mutual aid for alerting (`DataKind.ALERTING`), which lets the grantee's alert drafters and approvers
    act over the agreement's areas.
    """

    grantor = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="agreements_granted")
    grantee = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="agreements_received")
    data_kinds = models.JSONField(help_text="List of DataKind values.")
    areas = models.ManyToManyField(AdministrativeArea, related_name="agreements")
    purpose = models.TextField()
    legal_reference = models.CharField(max_length=300)
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = AgreementQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__gt=models.F("valid_from")), name="agreement_valid_until_after_from"
            ),
            models.CheckConstraint(condition=~Q(grantor=models.F("grantee")), name="agreement_distinct_parties"),
        ]

    def __str__(self) -> str:
        return f"{self.grantor_id} → {self.grantee_id}: {', '.join(self.data_kinds)}"


class PermissionState(models.Model):
    """When a person's derived object permissions were last computed, and when they next change by time alone.

    Memberships and agreements start and end on their own; when `next_change_at` has passed, the
    permissions are recomputed before they are used (and by a periodic task), so expiry is exact.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True)
    synced_at = models.DateTimeField()
    next_change_at = models.DateTimeField(null=True, blank=True, db_index=True)


class ResidentProfile(TimeStampedModel):
    """What a resident shares to be reached: where they live and where they last were (both sensitive)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="resident_profile")
    home_location = models.PointField(srid=4326, null=True, blank=True, spatial_index=True)
    last_location = models.PointField(srid=4326, null=True, blank=True, spatial_index=True)
    last_location_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"profile of {self.user_id}"


class NeedKind(models.TextChoices):
    MOBILITY = "mobility", _("Mobility help")
    MEDICAL = "medical", _("Medical dependency")
    CHILDREN = "children", _("Children")
    PETS = "pets", _("Pets")
    LANGUAGE = "language", _("Language help")


class ResidentNeed(TimeStampedModel):
    """A need a resident declared, each under its own consent."""

    profile = models.ForeignKey(ResidentProfile, on_delete=models.CASCADE, related_name="needs")
    kind = models.CharField(max_length=16, choices=NeedKind.choices)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["profile", "kind"], name="need_unique_kind")]


class ConsentPurpose(models.TextChoices):
    TERMS = "terms", _("Receive alerts and use the service")
    LOCATION = "location", _("Use my location to reach me")
    NEEDS_MOBILITY = "needs_mobility", _("Use my mobility needs")
    NEEDS_MEDICAL = "needs_medical", _("Use my medical dependency")
    NEEDS_CHILDREN = "needs_children", _("Use that I care for children")
    NEEDS_PETS = "needs_pets", _("Use that I have pets")
    NEEDS_LANGUAGE = "needs_language", _("Use my language needs")
    TRAINING = "training", _("Use what I write to improve the classifier")


# Which consent each declared need requires.
NEED_CONSENT = {
    NeedKind.MOBILITY: ConsentPurpose.NEEDS_MOBILITY,
    NeedKind.MEDICAL: ConsentPurpose.NEEDS_MEDICAL,
    NeedKind.CHILDREN: ConsentPurpose.NEEDS_CHILDREN,
    NeedKind.PETS: ConsentPurpose.NEEDS_PETS,
    NeedKind.LANGUAGE: ConsentPurpose.NEEDS_LANGUAGE,
}


class Consent(models.Model):
    """A consent given for one purpose under one version of its text; withdrawing keeps the record."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(max_length=32, choices=ConsentPurpose.choices)
    version = models.CharField(max_length=32)
    given_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["given_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "purpose"],
                condition=Q(withdrawn_at__isnull=True),
                name="consent_one_active_per_purpose",
            )
        ]


class ChannelKind(models.TextChoices):
    WEB = "web", _("Web")
    TELEGRAM = "telegram", _("Telegram")
    EMAIL = "email", _("Email")


class ChannelIdentity(TimeStampedModel):
    """How a person is reached on one channel: a Telegram chat id, a web push session, an email address."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="channel_identities")
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    external_id = models.CharField(max_length=255)
    receives_alerts = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    deactivated_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "external_id"], name="channel_identity_unique")]


class Subscription(TimeStampedModel):
    """An area a resident follows: alerts for it reach them wherever they are."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions")
    area = models.ForeignKey(AdministrativeArea, on_delete=models.CASCADE, related_name="subscriptions")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "area"], name="subscription_unique")]


class GroupKind(models.TextChoices):
    NEEDS = "needs", _("People with a declared need")
    VOLUNTEERS = "volunteers", _("People offering help")
    LANGUAGE = "language", _("People who read one language")
    AREA = "area", _("People of an area")
    STAFF = "staff", _("Staff")
    CUSTOM = "custom", _("Other")


class CommunicationGroup(TimeStampedModel):
    """A set of people who should receive the same messages and meet in the same rooms.

    Who belongs is decided by transparent rules (classifier/) or by staff; each membership keeps its source.
    """

    key = models.SlugField(max_length=120, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=GroupKind.choices, default=GroupKind.CUSTOM)
    area = models.ForeignKey(
        AdministrativeArea, null=True, blank=True, on_delete=models.PROTECT, related_name="communication_groups"
    )
    language = models.CharField(max_length=16, blank=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class GroupMembershipSource(models.TextChoices):
    RULE = "rule", _("Assigned by a rule")
    STAFF = "staff", _("Assigned by staff")
    SELF = "self", _("Joined by the person")


class GroupMembership(models.Model):
    group = models.ForeignKey(CommunicationGroup, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="group_memberships")
    source = models.CharField(max_length=8, choices=GroupMembershipSource.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "user"], name="group_membership_unique")]
