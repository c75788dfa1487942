"""Django admin for shelters: read-only views for platform staff.

Changes go through the services (API, management commands), which check the actor's rights over the area,
keep occupancy consistent and write the audit record; the admin only shows.
"""

from typing import Any

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin

from accounts.admin import ReadOnlyAdmin
from shelters.models import Asset, EvacuationRoute, OccupancySnapshot, Shelter


@admin.register(Shelter)
class ShelterAdmin(ReadOnlyAdmin, GISModelAdmin):
    list_display = ["name", "status", "occupancy", "capacity", "area", "source", "external_id"]
    list_filter = ["status", "source"]
    search_fields = ["name", "street", "postcode", "external_id"]
    # Staff contacts are personal data: shown through the area-scoped API only.
    exclude = ["contacts"]


@admin.register(OccupancySnapshot)
class OccupancySnapshotAdmin(ReadOnlyAdmin):
    list_display = ["shelter", "at", "occupancy", "capacity", "status", "reason"]
    list_filter = ["reason"]

    def get_queryset(self, request: Any) -> Any:
        return super().get_queryset(request).select_related("shelter")


@admin.register(EvacuationRoute)
class EvacuationRouteAdmin(ReadOnlyAdmin, GISModelAdmin):
    list_display = ["name", "status", "shelter", "area"]
    list_filter = ["status"]


@admin.register(Asset)
class AssetAdmin(ReadOnlyAdmin, GISModelAdmin):
    list_display = ["name", "asset_type", "quantity", "state", "owner", "external_id", "area"]
    list_filter = ["asset_type", "state"]
    search_fields = ["name", "external_id", "street", "postcode"]
