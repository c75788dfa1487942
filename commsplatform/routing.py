"""WebSocket routes of every app; each app contributes its own list."""

from django.urls import URLPattern, URLResolver

websocket_urlpatterns: list[URLPattern | URLResolver] = []
