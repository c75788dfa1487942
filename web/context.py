"""Template context for every page: what the navigation offers the reader, the map's base layer settings."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from accounts import permissions
from accounts.selectors import perms_held

# Which console section each permission opens.
CONSOLE_SECTIONS = {
    "alerts": {permissions.DRAFT_ALERTS, permissions.APPROVE_ALERTS},
    "shelters": {permissions.MANAGE_SHELTERS, permissions.VIEW_SHELTERS},
    "assets": {permissions.MANAGE_ASSETS, permissions.VIEW_ASSETS},
    "rooms": {permissions.HOST_ROOMS, permissions.MODERATE_ROOMS},
    "reports": {permissions.VIEW_RESIDENTS, permissions.DRAFT_ALERTS, permissions.VIEW_RESIDENT_COUNTS},
    "audit": {permissions.VIEW_AUDIT},
}


def console_sections(request: HttpRequest) -> frozenset[str]:
    """The console sections the signed-in person may open (cached on the request)."""
    cached = getattr(request, "_console_sections", None)
    if cached is None:
        held = perms_held(user=request.user) if request.user.is_authenticated else frozenset()
        cached = frozenset(name for name, perms in CONSOLE_SECTIONS.items() if held & perms)
        request._console_sections = cached  # type: ignore[attr-defined]
    return cached


def site(request: HttpRequest) -> dict[str, Any]:
    return {
        "console_sections": console_sections(request),
        "map_tile_url": settings.MAP_TILE_URL,
        "map_tile_attribution": settings.MAP_TILE_ATTRIBUTION,
    }
