"""URL routes of every app: the API under /api/, the OpenAPI schema and docs, /healthz, admin."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from commsplatform.core.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/accounts/", include("accounts.api.urls")),
    path("api/shelters/", include("shelters.api.urls")),
    path("api/alerts/", include("alerts.api.urls")),
    path("api/rooms/", include("rooms.api.urls")),
    path("api/classifier/", include("classifier.api.urls")),
    path("bots/", include("bots.urls")),
    path("api-auth/", include("rest_framework.urls")),
    path("", include("web.urls")),
]
