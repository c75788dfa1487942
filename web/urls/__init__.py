"""Page routes: residents at the root, staff under /console/. Each part of the site keeps its own list."""

from django.urls import URLPattern, URLResolver

from web.urls import (
    account,
    alerts,
    console,
    console_alerts,
    console_misc,
    console_rooms,
    console_shelters,
    maps,
    reports,
    rooms,
    shelters,
)

app_name = "web"

urlpatterns: list[URLPattern | URLResolver] = [
    *account.urlpatterns,
    *maps.urlpatterns,
    *alerts.urlpatterns,
    *shelters.urlpatterns,
    *rooms.urlpatterns,
    *reports.urlpatterns,
    *console.urlpatterns,
    *console_alerts.urlpatterns,
    *console_shelters.urlpatterns,
    *console_rooms.urlpatterns,
    *console_misc.urlpatterns,
]
