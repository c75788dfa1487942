"""WebSocket routes of the alerts app."""

from django.urls import path

from alerts import consumers

websocket_urlpatterns = [
    path("ws/alerts/", consumers.AlertInboxConsumer.as_asgi()),
    path("ws/alerts/<int:alert_id>/stats/", consumers.AlertStatsConsumer.as_asgi()),
]
