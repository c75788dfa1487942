"""Every live update the shelters app sends over the channel layer goes through here, after the commit.

Groups: one per shelter (residents and staff watching it) and one per area (staff watching every shelter
inside it: a shelter's update goes to the groups of its area and of each area above it).
"""

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.db import transaction
from redis.exceptions import RedisError

from shelters.models import Shelter

logger = logging.getLogger(__name__)

SHELTER_UPDATED = "shelter.updated"


def shelter_group(shelter_id: int) -> str:
    return f"shelters.shelter.{shelter_id}"


def area_group(area_id: int) -> str:
    return f"shelters.area.{area_id}"


def shelter_payload(shelter: Shelter) -> dict[str, Any]:
    """What a live client sees of a shelter: public facts only (no contacts, no people)."""
    return {
        "id": shelter.pk,
        "name": shelter.name,
        "status": shelter.status,
        "occupancy": shelter.occupancy,
        "capacity": shelter.capacity,
        "free_places": shelter.free_places,
        "version": shelter.version,
        "at": shelter.occupancy_updated_at.isoformat() if shelter.occupancy_updated_at else None,
        "location": [shelter.location.x, shelter.location.y],
    }


def shelter_updated(*, shelter: Shelter) -> None:
    """Tell the shelter's and its areas' watchers its new state, once (and only if) the transaction commits."""
    payload = shelter_payload(shelter)
    area_ids = shelter.area.ancestor_ids or [shelter.area_id]
    groups = [shelter_group(shelter.pk), *(area_group(area_id) for area_id in area_ids)]
    transaction.on_commit(partial(_send, groups, {"type": SHELTER_UPDATED, "shelter": payload}))


def _send(groups: Sequence[str], message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        for group in groups:
            async_to_sync(layer.group_send)(group, message)
    except (RedisError, OSError, ChannelFull):
        # The change is committed and in the history; a live client catches up on its next update or reload.
        logger.warning("Live update of shelter %s not sent: channel layer unavailable", message["shelter"]["id"])
