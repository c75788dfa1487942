"""Routes of the reports pages."""

from django.urls import URLPattern, URLResolver, path

from web.views import reports

urlpatterns: list[URLPattern | URLResolver] = [
    path("report/", reports.report_page, name="report"),
]
