"""Shelters (capacity, amenities, hazards served, status), occupancy and stays, history, assets, evacuation routes.

Occupancy never goes above capacity through a check-in: the services change it with one conditional UPDATE.
A head count (census) records what staff counted, which may be more than the planned capacity.
"""

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import AdministrativeArea, Organisation
from commsplatform.core.models import TimeStampedModel


class Hazard(models.TextChoices):
    """What a shelter is designated for (the Japanese designated-shelter schema's hazard flags, plus storms)."""

    FLOOD = "flood", _("Flood")
    PLUVIAL_FLOOD = "pluvial_flood", _("Pluvial (inland) flood")
    LANDSLIDE = "landslide", _("Landslide, debris flow, slope failure")
    STORM_SURGE = "storm_surge", _("Storm surge")
    STORM = "storm", _("Storm, hurricane, typhoon")
    EARTHQUAKE = "earthquake", _("Earthquake")
    TSUNAMI = "tsunami", _("Tsunami")
    FIRE = "fire", _("Large fire")
    VOLCANIC = "volcanic", _("Volcanic activity")


class ShelterStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    OPEN = "open", _("Open")
    FULL = "full", _("Full")
    CLOSED = "closed", _("Closed")


class BedCategory(models.TextChoices):
    """Bed categories a shelter may count separately; they overlap (a woman may need an accessible bed)."""

    MEN = "men", _("Men")
    WOMEN = "women", _("Women")
    CHILDREN = "children", _("Children")
    ACCESSIBLE = "accessible", _("Accessible (wheelchair)")
    MEDICAL = "medical", _("Medical care")


class SnapshotReason(models.TextChoices):
    CHECK_IN = "check_in", _("Check-in")
    CHECK_OUT = "check_out", _("Check-out")
    CENSUS = "census", _("Head count")
    STATUS = "status", _("Status or capacity change")
    PERIODIC = "periodic", _("Periodic snapshot")
    REPLAY = "replay", _("Replayed history")


class RouteStatus(models.TextChoices):
    OPEN = "open", _("Open")
    BLOCKED = "blocked", _("Blocked")


class AssetType(models.TextChoices):
    GENERATOR = "generator", _("Generator")
    PUMP = "pump", _("Pump")
    VEHICLE = "vehicle", _("Vehicle")
    BOAT = "boat", _("Boat")
    SANDBAGS = "sandbags", _("Sandbags")
    MEDICAL_EQUIPMENT = "medical_equipment", _("Medical equipment")
    HOSPITAL_BEDS = "hospital_beds", _("Hospital beds")
    WATER_TANK = "water_tank", _("Water tank")
    LIGHTING = "lighting", _("Lighting tower")
    HEAVY_MACHINERY = "heavy_machinery", _("Heavy machinery")
    COMMUNICATIONS = "communications", _("Communications equipment")
    OTHER = "other", _("Other")


class AssetState(models.TextChoices):
    AVAILABLE = "available", _("Available")
    DEPLOYED = "deployed", _("Deployed")
    MAINTENANCE = "maintenance", _("In maintenance")
    DAMAGED = "damaged", _("Damaged")


# A language tag (BCP 47, simplified): "ja", "ja-Latn", "zh-Hans", "en-GB".
LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8}){0,2}$", re.IGNORECASE)


def search_normalise(text: str) -> str:
    """Compatibility-folded, case-folded, single-spaced text: full-width digits and kana match their usual forms."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def postcode_normalise(postcode: str) -> str:
    """Postcodes compare without case and spaces ("sw1a 1aa" = "SW1A1AA"); hyphens are kept ("926-0047")."""
    return "".join(unicodedata.normalize("NFKC", postcode).upper().split())


def street_normalise(street: str) -> str:
    """Streets are stored and searched compatibility-folded (NFKC): full-width digits become ASCII digits,
    half-width kana full-width."""
    return " ".join(unicodedata.normalize("NFKC", street).split())


def search_text_of(parts: Iterable[Any]) -> str:
    return search_normalise(" ".join(str(part) for part in parts if part))


def free_places_of(capacity: int | None, occupancy: int) -> int | None:
    """Free places of a shelter: none known without a capacity, never fewer than none."""
    return None if capacity is None else max(capacity - occupancy, 0)


class Shelter(TimeStampedModel):
    """A place people can go to: where it is, what it is designated for, what it offers, how full it is."""

    name = models.CharField(max_length=200, help_text="Name in the local language.")
    names = models.JSONField(default=dict, blank=True, help_text="Names by language tag, e.g. {'ja-Latn': '…'}.")
    address = models.CharField(max_length=300, blank=True)
    street = models.CharField(max_length=200, blank=True)
    postcode = models.CharField(max_length=20, blank=True, db_index=True)
    location = models.PointField(srid=4326, spatial_index=True)
    area = models.ForeignKey(AdministrativeArea, on_delete=models.PROTECT, related_name="shelters")
    hazards = models.JSONField(default=list, blank=True, help_text="List of Hazard values.")
    capacity = models.PositiveIntegerField(null=True, blank=True, help_text="Indoor places; empty when unknown.")
    capacity_outdoor = models.PositiveIntegerField(null=True, blank=True)
    occupancy = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=ShelterStatus.choices, default=ShelterStatus.PLANNED)
    step_free_access = models.BooleanField(default=False)
    pets_allowed = models.BooleanField(default=False)
    medical_care = models.BooleanField(default=False)
    power = models.BooleanField(default=False)
    water = models.BooleanField(default=False)
    languages = models.JSONField(default=list, blank=True, help_text="Language tags spoken by staff.")
    operator = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="shelters_operated"
    )
    phone = models.CharField(max_length=40, blank=True, help_text="The facility's public phone number.")
    email = models.EmailField(blank=True)
    contacts = models.JSONField(default=list, blank=True, help_text="Staff contacts (name, role, phone, email).")
    notes = models.TextField(blank=True)
    properties = models.JSONField(default=dict, blank=True, help_text="Other attributes from the source.")
    source = models.CharField(max_length=50, blank=True)
    external_id = models.CharField(max_length=100, blank=True)
    search_text = models.TextField(blank=True, editable=False)
    # Incremented on every change of occupancy, status or capacity: live clients drop older updates.
    version = models.PositiveBigIntegerField(default=0)
    occupancy_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], condition=~Q(external_id=""), name="shelter_unique_external_id"
            ),
            models.CheckConstraint(condition=Q(status__in=ShelterStatus.values), name="shelter_status_valid"),
        ]
        indexes = [models.Index(fields=["status", "area"], name="shelter_status_area")]

    def __str__(self) -> str:
        return self.name

    @property
    def free_places(self) -> int | None:
        return free_places_of(self.capacity, self.occupancy)


class ShelterBeds(models.Model):
    """Beds of one category in a shelter, where the shelter counts them separately."""

    shelter = models.ForeignKey(Shelter, on_delete=models.CASCADE, related_name="beds")
    category = models.CharField(max_length=16, choices=BedCategory.choices)
    capacity = models.PositiveIntegerField()
    occupied = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["category"]
        constraints = [
            models.UniqueConstraint(fields=["shelter", "category"], name="shelter_beds_unique_category"),
        ]

    def __str__(self) -> str:
        return f"{self.category} beds of shelter {self.shelter_id}"

    @property
    def free(self) -> int:
        return max(self.capacity - self.occupied, 0)


class ShelterStay(models.Model):
    """A person or household checked in to a shelter; checking out closes it. Linked to a resident only
    when the resident checked themselves in or staff linked them."""

    shelter = models.ForeignKey(Shelter, on_delete=models.PROTECT, related_name="stays")
    people = models.PositiveSmallIntegerField()
    beds = models.JSONField(default=dict, blank=True, help_text="Beds taken by category.")
    reference = models.CharField(max_length=12, unique=True, help_text="Code given to the household for check-out.")
    resident = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="shelter_stays"
    )
    checked_in_at = models.DateTimeField()
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    checked_out_at = models.DateTimeField(null=True, blank=True)
    checked_out_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-checked_in_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["resident"],
                condition=Q(checked_out_at__isnull=True, resident__isnull=False),
                name="stay_one_open_per_resident",
            ),
            models.CheckConstraint(condition=Q(people__gte=1), name="stay_people_positive"),
        ]
        indexes = [models.Index(fields=["shelter", "checked_out_at"], name="stay_shelter_open")]

    def __str__(self) -> str:
        return f"stay {self.reference} at shelter {self.shelter_id}"


class OccupancySnapshot(models.Model):
    """Occupancy of a shelter at a moment: after each check-in/out, head count and status change, and periodically."""

    shelter = models.ForeignKey(Shelter, on_delete=models.CASCADE, related_name="snapshots")
    at = models.DateTimeField()
    occupancy = models.PositiveIntegerField()
    capacity = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=ShelterStatus.choices)
    version = models.PositiveBigIntegerField()
    reason = models.CharField(max_length=16, choices=SnapshotReason.choices)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["shelter", "at"], name="snapshot_shelter_at")]

    def __str__(self) -> str:
        return f"shelter {self.shelter_id} at {self.at}: {self.occupancy}"


class EvacuationRoute(TimeStampedModel):
    """A way out: a line on the map, open or blocked, usually leading to a shelter."""

    name = models.CharField(max_length=200)
    names = models.JSONField(default=dict, blank=True)
    geometry = models.MultiLineStringField(srid=4326, spatial_index=True)
    status = models.CharField(max_length=16, choices=RouteStatus.choices, default=RouteStatus.OPEN)
    status_note = models.CharField(max_length=300, blank=True)
    hazards = models.JSONField(default=list, blank=True)
    shelter = models.ForeignKey(Shelter, null=True, blank=True, on_delete=models.SET_NULL, related_name="routes")
    area = models.ForeignKey(AdministrativeArea, on_delete=models.PROTECT, related_name="evacuation_routes")

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Asset(TimeStampedModel):
    """Equipment an organisation owns (generators, pumps, boats…), identified by the owner's own id."""

    owner = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="assets")
    external_id = models.CharField(max_length=100)
    asset_type = models.CharField(max_length=32, choices=AssetType.choices)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(default=1)
    unit = models.CharField(max_length=32, blank=True)
    state = models.CharField(max_length=16, choices=AssetState.choices, default=AssetState.AVAILABLE)
    location = models.PointField(srid=4326, spatial_index=True)
    area = models.ForeignKey(AdministrativeArea, on_delete=models.PROTECT, related_name="assets")
    address = models.CharField(max_length=300, blank=True)
    street = models.CharField(max_length=200, blank=True)
    postcode = models.CharField(max_length=20, blank=True, db_index=True)
    attributes = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)
    search_text = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["owner", "external_id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "external_id"], name="asset_unique_external_id"),
            models.CheckConstraint(condition=~Q(external_id=""), name="asset_external_id_not_empty"),
        ]
        indexes = [models.Index(fields=["area", "asset_type", "state"], name="asset_area_type_state")]

    def __str__(self) -> str:
        return f"{self.name} ({self.owner_id}:{self.external_id})"
