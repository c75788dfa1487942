from django.urls import URLPattern, URLResolver, include, path

from alerts.api import report_views, views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.AlertListApi.as_view(), name="alert-list"),
    path("mine/", views.MyAlertListApi.as_view(), name="alert-mine"),
    path("me/web-alerts/", views.MyWebAlertsApi.as_view(), name="alert-me-web"),
    path("templates/", views.TemplateListApi.as_view(), name="alert-template-list"),
    path("templates/<int:template_id>/", views.TemplateDetailApi.as_view(), name="alert-template-detail"),
    path("templates/<int:template_id>/draft/", views.TemplateDraftApi.as_view(), name="alert-template-draft"),
    path("reports/", report_views.ReportListApi.as_view(), name="report-list"),
    path("reports/triage/", report_views.ReportTriageApi.as_view(), name="report-triage"),
    path("reports/<int:report_id>/", report_views.ReportDetailApi.as_view(), name="report-detail"),
    path("reports/<int:report_id>/photo/", report_views.ReportPhotoApi.as_view(), name="report-photo"),
    path("reports/<int:report_id>/status/", report_views.ReportStatusApi.as_view(), name="report-status"),
    path("<int:alert_id>/", views.AlertDetailApi.as_view(), name="alert-detail"),
    path("<int:alert_id>/submit/", views.AlertSubmitApi.as_view(), name="alert-submit"),
    path("<int:alert_id>/approve/", views.AlertApproveApi.as_view(), name="alert-approve"),
    path("<int:alert_id>/reject/", views.AlertRejectApi.as_view(), name="alert-reject"),
    path("<int:alert_id>/issue/", views.AlertIssueApi.as_view(), name="alert-issue"),
    path("<int:alert_id>/update/", views.AlertUpdateApi.as_view(), name="alert-update"),
    path("<int:alert_id>/cancel/", views.AlertCancelApi.as_view(), name="alert-cancel"),
    path("<int:alert_id>/reach/", views.AlertReachApi.as_view(), name="alert-reach"),
    path("<int:alert_id>/stats/", views.AlertStatsApi.as_view(), name="alert-stats"),
    path("<int:alert_id>/deliveries/", views.AlertDeliveryListApi.as_view(), name="alert-deliveries"),
    path("<int:alert_id>/reply/", views.AlertReplyApi.as_view(), name="alert-reply"),
    path("<int:alert_id>/replies/", views.AlertReplyCountsApi.as_view(), name="alert-reply-counts"),
    path("<int:alert_id>/replies/need-help/", views.AlertNeedHelpListApi.as_view(), name="alert-need-help"),
]

# CAP import, export and feeds, and the sensors with their webhook, have their own modules.
urlpatterns += [path("", include("alerts.api.cap_urls")), path("", include("alerts.api.sensor_urls"))]
