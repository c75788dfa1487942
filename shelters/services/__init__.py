"""Writes of the shelters app, split by sub-domain: shelters, occupancy, assets, bulk upload, routes.

Every function checks the actor's permission over the area concerned (`actor=None` is the system: a
command run by an operator, a task), validates, writes in one transaction with its audit record, and sends
live updates after the commit.
"""

from shelters.services.assets import AssetFields, asset_create, asset_delete, asset_update
from shelters.services.bulk_upload import AssetUploadFailed, AssetUploadReport, RowError, asset_upload
from shelters.services.occupancy import (
    ShelterFull,
    occupancy_snapshot_record,
    shelter_check_in,
    shelter_check_out,
    shelter_occupancy_set,
)
from shelters.services.routes import RouteFields, route_create, route_update
from shelters.services.shelters import ShelterFields, shelter_create, shelter_set_status, shelter_update

__all__ = [
    "AssetFields",
    "AssetUploadFailed",
    "AssetUploadReport",
    "RouteFields",
    "RowError",
    "ShelterFields",
    "ShelterFull",
    "asset_create",
    "asset_delete",
    "asset_update",
    "asset_upload",
    "occupancy_snapshot_record",
    "route_create",
    "route_update",
    "shelter_check_in",
    "shelter_check_out",
    "shelter_create",
    "shelter_occupancy_set",
    "shelter_set_status",
    "shelter_update",
]
