"""Routes of the sensor API, relative to /api/alerts/ (included from alerts/api/urls.py)."""

from django.urls import path

from alerts.api import sensor_views as views

urlpatterns = [
    path("sensors/", views.SensorListApi.as_view(), name="sensor-list"),
    path("sensors/readings/", views.SensorReadingsWebhookApi.as_view(), name="sensor-readings-webhook"),
    path("sensors/<int:sensor_id>/", views.SensorDetailApi.as_view(), name="sensor-detail"),
    path("sensors/<int:sensor_id>/rules/", views.SensorRuleListApi.as_view(), name="sensor-rule-list"),
    path("sensors/<int:sensor_id>/readings/", views.SensorReadingListApi.as_view(), name="sensor-reading-list"),
    path("sensor-rules/<int:rule_id>/", views.SensorRuleDetailApi.as_view(), name="sensor-rule-detail"),
]
