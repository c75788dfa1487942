"""WebSocket consumer of live shelter occupancy: one shelter for anyone signed in, or every shelter of an area
for staff who see shelters there.

Thin: the permission check in `connect` through a selector, one handler per event type, database access only
through selectors wrapped with database_sync_to_async.
"""

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from commsplatform.core.consumers import NoSweepDispatchMixin
from commsplatform.core.errors import DomainError, NotFound, PermissionDenied
from shelters import events, selectors

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


class ShelterConsumer(NoSweepDispatchMixin, AsyncJsonWebsocketConsumer):
    """`ws/shelters/<id>/` and `ws/shelters/areas/<id>/`: the current state first, then every change."""

    joined: tuple[str, ...] = ()

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        kwargs = self.scope["url_route"]["kwargs"]
        try:
            groups, current = await self._subscription(user, kwargs.get("shelter_id"), kwargs.get("area_id"))
        except NotFound:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        except (PermissionDenied, DomainError):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.joined = tuple(groups)
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        for payload in current:
            await self.send_json({"type": events.SHELTER_UPDATED, "shelter": payload})

    @database_sync_to_async
    def _subscription(
        self, user: Any, shelter_id: int | None, area_id: int | None
    ) -> tuple[list[str], list[dict[str, Any]]]:
        groups, shelters = selectors.shelter_live_groups(user=user, shelter_id=shelter_id, area_id=area_id)
        return groups, [events.shelter_payload(shelter) for shelter in shelters]

    async def disconnect(self, code: int) -> None:
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        # Read-only: whatever arrives (JSON or not) gets the same answer, and is never parsed.
        await self.send_json({"type": "error", "code": "read_only", "message": "This stream only sends updates."})

    async def shelter_updated(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": events.SHELTER_UPDATED, "shelter": event["shelter"]})
