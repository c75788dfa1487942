"""Routes of the console's reports triage, audit viewer and charts."""

from django.urls import URLPattern, URLResolver, path

from web.views import console_misc as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("console/reports/", views.reports_triage, name="console-reports"),
    path("console/reports/<int:report_id>/status/", views.report_status, name="console-report-status"),
    path("console/reports/<int:report_id>/relabel/", views.report_relabel, name="console-report-relabel"),
    path("console/reports/<int:report_id>/assign/", views.assignment_add, name="console-report-assign"),
    path(
        "console/reports/assignments/<int:assignment_id>/end/",
        views.assignment_end,
        name="console-assignment-end",
    ),
    path("console/audit/", views.audit, name="console-audit"),
    path("console/charts/deliveries/<int:alert_id>/", views.chart_deliveries, name="console-chart-deliveries"),
    path("console/charts/occupancy/<int:shelter_id>/", views.chart_occupancy, name="console-chart-occupancy"),
]
