"""API routes of rooms."""

from django.urls import URLPattern, URLResolver, path

from rooms.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.RoomListApi.as_view(), name="room-list"),
    path("<int:room_id>/", views.RoomDetailApi.as_view(), name="room-detail"),
    path("<int:room_id>/join/", views.RoomJoinApi.as_view(), name="room-join"),
    path("<int:room_id>/leave/", views.RoomLeaveApi.as_view(), name="room-leave"),
    path("<int:room_id>/members/", views.RoomMemberAddApi.as_view(), name="room-members"),
    path("<int:room_id>/messages/", views.RoomMessageListApi.as_view(), name="room-messages"),
    path("<int:room_id>/questions/", views.RoomQuestionListApi.as_view(), name="room-questions"),
    path("<int:room_id>/events/", views.RoomEventListApi.as_view(), name="room-events"),
    path("<int:room_id>/transcript/", views.RoomTranscriptApi.as_view(), name="room-transcript"),
    path("<int:room_id>/verify/", views.RoomVerifyApi.as_view(), name="room-verify"),
]
