"""Routes of the console rooms pages."""

from django.urls import URLPattern, URLResolver, path

from web.views import console_rooms

urlpatterns: list[URLPattern | URLResolver] = [
    path("console/rooms/", console_rooms.room_list, name="console-rooms"),
    path("console/rooms/<int:room_id>/", console_rooms.room_panel, name="console-room"),
    path("console/rooms/<int:room_id>/act/", console_rooms.room_act, name="console-room-act"),
]
