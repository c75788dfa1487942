from django.urls import path

from shelters.api import views

urlpatterns = [
    path("", views.ShelterListApi.as_view(), name="shelter-list"),
    path("nearest/", views.ShelterNearestApi.as_view(), name="shelter-nearest"),
    path("me/stay/", views.MyStayApi.as_view(), name="shelter-my-stay"),
    path("<int:shelter_id>/", views.ShelterDetailApi.as_view(), name="shelter-detail"),
    path("<int:shelter_id>/status/", views.ShelterStatusApi.as_view(), name="shelter-status"),
    path("<int:shelter_id>/occupancy/", views.ShelterOccupancyApi.as_view(), name="shelter-occupancy"),
    path("<int:shelter_id>/check-in/", views.ShelterCheckInApi.as_view(), name="shelter-check-in"),
    path("<int:shelter_id>/check-out/", views.ShelterCheckOutApi.as_view(), name="shelter-check-out"),
    path("<int:shelter_id>/history/", views.ShelterHistoryApi.as_view(), name="shelter-history"),
    path("<int:shelter_id>/stays/", views.ShelterStayListApi.as_view(), name="shelter-stays"),
    path("routes/", views.RouteListApi.as_view(), name="route-list"),
    path("routes/<int:route_id>/", views.RouteDetailApi.as_view(), name="route-detail"),
    path("assets/", views.AssetListApi.as_view(), name="asset-list"),
    path("assets/upload/", views.AssetUploadApi.as_view(), name="asset-upload"),
    path("assets/<int:asset_id>/", views.AssetDetailApi.as_view(), name="asset-detail"),
]
