"""API routes of classifier."""

from django.urls import URLPattern, URLResolver, path

from classifier.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("triage/", views.TriageListApi.as_view(), name="classifier-triage"),
    path("texts/<int:text_id>/", views.TextDetailApi.as_view(), name="classifier-text"),
    path("texts/<int:text_id>/label/", views.TextRelabelApi.as_view(), name="classifier-text-label"),
    path("assignments/", views.AssignmentListApi.as_view(), name="classifier-assignments"),
    path("assignments/<int:assignment_id>/end/", views.AssignmentEndApi.as_view(), name="classifier-assignment-end"),
]
