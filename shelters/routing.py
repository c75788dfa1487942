"""WebSocket routes of the shelters app."""

from django.urls import path

from shelters import consumers

websocket_urlpatterns = [
    path("ws/shelters/<int:shelter_id>/", consumers.ShelterConsumer.as_asgi()),
    path("ws/shelters/areas/<int:area_id>/", consumers.ShelterConsumer.as_asgi()),
]
