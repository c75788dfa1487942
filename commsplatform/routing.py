"""WebSocket routes of every app; each app contributes its own list."""

from django.urls import URLPattern, URLResolver

from alerts.routing import websocket_urlpatterns as alerts_websocket

websocket_urlpatterns: list[URLPattern | URLResolver] = [*alerts_websocket]
