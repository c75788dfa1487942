"""Routes of the console alerts pages."""

from django.urls import URLPattern, URLResolver, path

from web.views import console_alerts as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("console/alerts/", views.alert_list, name="console-alerts"),
    path("console/alerts/new/", views.alert_new, name="console-alert-new"),
    path("console/alerts/from-template/", views.alert_from_template, name="console-alert-from-template"),
    path("console/alerts/<int:alert_id>/", views.alert_detail, name="console-alert"),
    path("console/alerts/<int:alert_id>/edit/", views.alert_edit, name="console-alert-edit"),
    path("console/alerts/<int:alert_id>/reach/", views.alert_reach, name="console-alert-reach"),
    path("console/alerts/<int:alert_id>/replies.geojson", views.alert_replies_geojson, name="console-alert-replies"),
    path(
        "console/alerts/<int:alert_id>/<slug:action>/",
        views.alert_action,
        name="console-alert-action",
    ),
]
