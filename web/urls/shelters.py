"""Routes of the shelters pages."""

from django.urls import URLPattern, URLResolver, path

from web.views import shelters

urlpatterns: list[URLPattern | URLResolver] = [
    path("shelters/", shelters.shelter_list, name="shelters"),
    path("shelters/<int:shelter_id>/", shelters.shelter_detail, name="shelter"),
]
