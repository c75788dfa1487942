"""Routes of the alerts pages."""

from django.urls import URLPattern, URLResolver, path

from web.views import alerts

urlpatterns: list[URLPattern | URLResolver] = [
    path("", alerts.home, name="home"),
    path("alerts/<int:alert_id>/", alerts.detail, name="alert"),
    path("alerts/<int:alert_id>/card/", alerts.card, name="alert-card"),
    path("alerts/<int:alert_id>/reply/", alerts.reply, name="alert-reply"),
]
