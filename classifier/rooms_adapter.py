"""The one place the classifier calls rooms/: the open rooms of a group, and adding a member to them.

Imported lazily: rooms.services itself queues room questions for the classifier (classifier.services).
"""

from __future__ import annotations

from accounts.models import CommunicationGroup, User


def rooms_join(*, group: CommunicationGroup, user: User, language: str = "") -> list[int]:
    """Add the person to the open rooms that serve the group (in their language); the ids of rooms joined."""
    from rooms.selectors import rooms_for_group
    from rooms.services import room_member_add

    joined: list[int] = []
    for room in rooms_for_group(group=group, language=language or ""):
        if room_member_add(room=room, user=user, role="participant", source="rule", actor=None):
            joined.append(room.pk)
    return joined
