"""URL routes of every app: the API under /api/, the OpenAPI schema and docs, /healthz, admin."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from commsplatform.core.throttling import rate_limited
from commsplatform.core.views import healthz

# The sign-in forms of the admin and of the browsable API, with the same limits as the site's (settings.RATE_LIMITS).
admin_login = rate_limited("login")(rate_limited("login", key="post:username")(admin.site.login))
api_login = rate_limited("login")(
    rate_limited("login", key="post:username")(LoginView.as_view(template_name="rest_framework/login.html"))
)

# The API's documentation page: the split view serves its script as a file (the Content-Security-Policy allows no
# inline script); Swagger UI's page keeps an inline <style>, allowed on this page only.
api_docs = csp_update({"style-src": [UNSAFE_INLINE]})(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/login/", admin_login),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("api/accounts/", include("accounts.api.urls")),
    path("api/shelters/", include("shelters.api.urls")),
    path("api/alerts/", include("alerts.api.urls")),
    path("api/rooms/", include("rooms.api.urls")),
    path("api/classifier/", include("classifier.api.urls")),
    path("bots/", include("bots.urls")),
    path("api-auth/login/", api_login),
    path("api-auth/", include("rest_framework.urls")),
    path("", include("web.urls")),
]
