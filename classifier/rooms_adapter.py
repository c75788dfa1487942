"""The one place the classifier calls rooms/: the open rooms of a group, and adding a member to them.

Rooms are optional for the classifier: when rooms/ does not provide these functions (yet), assignments are
still made and no room is joined. Names used: rooms.selectors.rooms_for_group(*, group, language) and
rooms.services.room_member_add(*, room, user, role, source, actor).
"""

from __future__ import annotations

import logging
from typing import Any

from accounts.models import CommunicationGroup, User

logger = logging.getLogger(__name__)


def _rooms_api() -> tuple[Any, Any] | None:
    try:
        from rooms.selectors import rooms_for_group
        from rooms.services import room_member_add
    except ImportError:  # rooms/ without these names: groups only
        return None
    return rooms_for_group, room_member_add


def rooms_join(*, group: CommunicationGroup, user: User, language: str = "") -> list[int]:
    """Add the person to the open rooms that serve the group (in their language); the ids of rooms joined."""
    api = _rooms_api()
    if api is None:
        return []
    rooms_for_group, room_member_add = api
    joined: list[int] = []
    for room in rooms_for_group(group=group, language=language or ""):
        if room_member_add(room=room, user=user, role="participant", source="rule", actor=None):
            joined.append(room.pk)
    return joined
