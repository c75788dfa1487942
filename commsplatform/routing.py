"""WebSocket routes of every app; each app contributes its own list."""

from django.urls import URLPattern, URLResolver

from alerts.routing import websocket_urlpatterns as alerts_websocket
from rooms.routing import websocket_urlpatterns as rooms_websocket
from shelters.routing import websocket_urlpatterns as shelters_websocket

websocket_urlpatterns: list[URLPattern | URLResolver] = [*alerts_websocket, *rooms_websocket, *shelters_websocket]
