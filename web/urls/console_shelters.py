"""Routes of the console shelters and assets pages."""

from django.urls import URLPattern, URLResolver, path

from web.views import console_shelters as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("console/shelters/", views.board, name="console-shelters"),
    path("console/shelters/<int:shelter_id>/", views.shelter_manage, name="console-shelter"),
    path("console/shelters/<int:shelter_id>/<slug:action>/", views.shelter_action, name="console-shelter-action"),
    path("console/assets/", views.assets, name="console-assets"),
    path("console/assets/upload/", views.asset_upload, name="console-assets-upload"),
    path("console/assets/<int:asset_id>/", views.asset_detail, name="console-asset"),
]
