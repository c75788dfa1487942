"""Django admin for rooms: read-only views for platform staff.

Changes go through the services (the live protocol, the API), which check the actor's role in the room and
append every change to the room's hash-chained record; the admin only shows.
"""

from django.contrib import admin

from accounts.admin import ReadOnlyAdmin
from rooms.models import Message, Poll, Room, RoomEvent, RoomMember


@admin.register(Room)
class RoomAdmin(ReadOnlyAdmin):
    list_display = ["title", "kind", "visibility", "audience", "area", "opens_at", "ends_at", "last_seq"]
    list_filter = ["kind", "visibility", "audience"]
    search_fields = ["title", "slug", "incident_ref"]


@admin.register(RoomMember)
class RoomMemberAdmin(ReadOnlyAdmin):
    list_display = ["room", "user", "role", "source", "muted_until", "banned_at", "left_at"]
    list_filter = ["role", "source"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["room", "kind", "author", "created_at", "is_current", "hidden_at", "question_state", "votes"]
    list_filter = ["kind", "question_state"]


@admin.register(Poll)
class PollAdmin(ReadOnlyAdmin):
    list_display = ["room", "question", "multiple", "anonymous", "created_at", "closed_at"]


@admin.register(RoomEvent)
class RoomEventAdmin(ReadOnlyAdmin):
    list_display = ["room", "seq", "type", "actor_id", "at", "hash"]
    list_filter = ["type"]
