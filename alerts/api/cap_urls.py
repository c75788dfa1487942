"""Routes of the CAP API, relative to /api/alerts/ (included from alerts/api/urls.py).

Public: GET feed.atom and, for alerts issued to the public, GET <id>/cap.xml (others answer 401 to anonymous
callers, then 404 to staff who may not see them).
"""

from django.urls import path

from alerts.api import cap_views as views

urlpatterns = [
    path("feed.atom", views.AlertAtomFeedApi.as_view(), name="alert-feed-atom"),
    path("<int:alert_id>/cap.xml", views.AlertCapXmlApi.as_view(), name="alert-cap-xml"),
    path("cap/import/", views.CapImportApi.as_view(), name="cap-import"),
    path("cap/feeds/", views.CapFeedListApi.as_view(), name="cap-feed-list"),
    path("cap/feeds/<int:feed_id>/", views.CapFeedDetailApi.as_view(), name="cap-feed-detail"),
    path("cap/trusted-senders/", views.TrustedSenderListApi.as_view(), name="cap-trusted-sender-list"),
    path(
        "cap/trusted-senders/<int:trusted_id>/",
        views.TrustedSenderDetailApi.as_view(),
        name="cap-trusted-sender-detail",
    ),
]
