"""Citizen reports API: residents send and read their own reports; staff of the area triage them."""

from typing import Any

from django.contrib.gis.geos import Point
from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import selectors_reports as selectors
from alerts.api import report_serializers as s
from alerts.models import CitizenReport, ReportStatus
from alerts.services import reports
from commsplatform.api_helpers import request_user, validated
from commsplatform.core.audit import audit_record
from commsplatform.core.errors import NotFound, ValidationFailed
from commsplatform.core.throttling import ReportSubmitThrottle


class ReportListApi(generics.ListAPIView[CitizenReport]):
    """GET: my reports, newest first. POST: send a report (multipart when it carries a photo)."""

    serializer_class = s.MyReportSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    # Sending reports is limited per person ("reports"), besides the API's per-user limit.
    throttle_classes = [*APIView.throttle_classes, ReportSubmitThrottle]

    def get_queryset(self) -> QuerySet[CitizenReport]:
        return selectors.report_list_mine(user=request_user(self.request))

    @extend_schema(request=s.ReportInSerializer, responses={201: s.MyReportSerializer})
    def post(self, request: Request) -> Response:
        data = validated(s.ReportInSerializer, request.data)
        location = None
        if "latitude" in data:
            location = Point(data["longitude"], data["latitude"], srid=4326)
        report = reports.report_create(
            reporter=request_user(request), text=data["text"], location=location, photo=data.get("photo")
        )
        return Response(s.MyReportSerializer(report).data, status=status.HTTP_201_CREATED)


class ReportTriageApi(generics.ListAPIView[CitizenReport]):
    """Staff: reports of my areas, most urgent first (urgency comes from the classifier or a staff label)."""

    serializer_class = s.StaffReportSerializer

    @extend_schema(
        parameters=[OpenApiParameter("status", str, description="new, triaged, verified or dismissed (default: open).")]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[CitizenReport]:
        wanted = self.request.query_params.get("status") or None
        if wanted is not None and wanted not in ReportStatus.values:
            raise ValidationFailed(f"Unknown status {wanted!r}.", fields={"status": "unknown"})
        return selectors.report_triage_list_for_user(user=request_user(self.request), status=wanted)


class ReportDetailApi(APIView):
    @extend_schema(responses=s.StaffReportSerializer)
    def get(self, request: Request, report_id: int) -> Response:
        user = request_user(request)
        report = selectors.report_get_for_user(user=user, report_id=report_id)
        if report.reporter_id != user.pk and selectors.report_is_staff_view(user=user, report=report):
            audit_record(action="alerts.report_read", target=report, actor_id=user.pk, area_id=report.area_id)
            return Response(s.StaffReportSerializer(report).data)
        return Response(s.MyReportSerializer(report).data)


class ReportPhotoApi(APIView):
    """The photo of a report, for its reporter and for staff of its area; served with its sniffed type."""

    @extend_schema(responses={(200, "image/*"): bytes})
    def get(self, request: Request, report_id: int) -> FileResponse:
        user = request_user(request)
        report = selectors.report_get_for_user(user=user, report_id=report_id)
        if not report.photo:
            raise NotFound("This report has no photo.")
        if report.reporter_id != user.pk:
            audit_record(action="alerts.report_photo_read", target=report, actor_id=user.pk, area_id=report.area_id)
        response = FileResponse(report.photo.open("rb"), content_type=report.photo_content_type)
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Disposition"] = "inline"
        return response


class ReportStatusApi(APIView):
    """Staff of the area move a report: new → triaged → verified / dismissed."""

    @extend_schema(request=s.ReportStatusSerializer, responses=s.StaffReportSerializer)
    def post(self, request: Request, report_id: int) -> Response:
        user = request_user(request)
        data = validated(s.ReportStatusSerializer, request.data)
        report = selectors.report_get_for_user(user=user, report_id=report_id)
        report = reports.report_set_status(actor=user, report=report, status=data["status"], note=data["note"])
        return Response(s.StaffReportSerializer(report).data)
