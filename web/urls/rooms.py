"""Routes of the rooms pages."""

from django.urls import URLPattern, URLResolver, path

from web.views import rooms

urlpatterns: list[URLPattern | URLResolver] = [
    path("rooms/", rooms.room_list, name="rooms"),
    path("rooms/<int:room_id>/", rooms.room_detail, name="room"),
    path("rooms/<int:room_id>/join/", rooms.room_join, name="room-join"),
    path("rooms/<int:room_id>/leave/", rooms.room_leave, name="room-leave"),
    path("rooms/<int:room_id>/act/", rooms.room_act, name="room-act"),
]
