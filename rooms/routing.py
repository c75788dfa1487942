"""WebSocket routes of the rooms app."""

from django.urls import path

from rooms import consumers

websocket_urlpatterns = [
    path("ws/rooms/<int:room_id>/", consumers.RoomConsumer.as_asgi()),
]
