"""Classifier API for staff of an area: the triage queue of texts, corrections, and group assignments."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import CommunicationGroup, User
from classifier import selectors, services
from classifier.api import serializers as s
from classifier.models import ClassifiedText, GroupAssignment, TextStatus
from commsplatform.api_helpers import request_user, validated
from commsplatform.core.errors import NotFound, ValidationFailed


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValidationFailed(f"{name} must be a number.", fields={name: "invalid"}) from exc
    if value < 1:
        raise ValidationFailed(f"{name} must be positive.", fields={name: "invalid"})
    return value


class TriageListApi(generics.ListAPIView[ClassifiedText]):
    """Texts residents wrote in my areas, most urgent first (reports, questions, replies, need notes)."""

    serializer_class = s.ClassifiedTextSerializer

    @extend_schema(parameters=[OpenApiParameter("status", str, description="pending, classified or failed.")])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[ClassifiedText]:
        wanted = self.request.query_params.get("status") or None
        if wanted is not None and wanted not in TextStatus.values:
            raise ValidationFailed(f"Unknown status {wanted!r}.", fields={"status": "unknown"})
        return selectors.text_triage_list_for_user(user=request_user(self.request), status=wanted)


class TextDetailApi(APIView):
    @extend_schema(responses=s.ClassifiedTextSerializer)
    def get(self, request: Request, text_id: int) -> Response:
        text = selectors.text_get_for_user(user=request_user(request), text_id=text_id)
        return Response(s.ClassifiedTextSerializer(text).data)


class TextRelabelApi(APIView):
    """Correct a prediction; the correction becomes a training example when the author consented."""

    @extend_schema(request=s.RelabelSerializer, responses=s.ClassifiedTextSerializer)
    def post(self, request: Request, text_id: int) -> Response:
        user = request_user(request)
        label = validated(s.RelabelSerializer, request.data)["label"]
        text = selectors.text_get_for_user(user=user, text_id=text_id)
        text = services.text_relabel(actor=user, text=text, label=label)
        return Response(s.ClassifiedTextSerializer(text).data)


class AssignmentListApi(generics.ListAPIView[GroupAssignment]):
    """GET: assignments to groups of my areas (filter by resident). POST: staff put someone in a group."""

    serializer_class = s.AssignmentSerializer

    @extend_schema(parameters=[OpenApiParameter("user", int, description="Only this resident's assignments.")])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[GroupAssignment]:
        resident_id = _int_param(self.request, "user")
        return selectors.assignment_list_for_user(user=request_user(self.request), resident_id=resident_id)

    @extend_schema(request=s.AssignmentAddSerializer, responses={201: s.AssignmentSerializer})
    def post(self, request: Request) -> Response:
        actor = request_user(request)
        data = validated(s.AssignmentAddSerializer, request.data)
        group = CommunicationGroup.objects.filter(pk=data["group"]).first()
        resident = User.objects.filter(pk=data["user"]).first()
        if group is None:
            raise NotFound("No such group.")
        if resident is None:
            raise NotFound("No such person.")
        assignment = services.assignment_add(actor=actor, user=resident, group=group, reason=data["reason"])
        return Response(s.AssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)


class AssignmentEndApi(APIView):
    """Staff override: take the person out of the group; the rule that put them there will not do it again."""

    @extend_schema(request=s.AssignmentEndSerializer, responses=s.AssignmentSerializer)
    def post(self, request: Request, assignment_id: int) -> Response:
        actor = request_user(request)
        reason = validated(s.AssignmentEndSerializer, request.data)["reason"]
        assignment = selectors.assignment_get_for_user(user=actor, assignment_id=assignment_id)
        assignment = services.assignment_end(actor=actor, assignment=assignment, reason=reason)
        return Response(s.AssignmentSerializer(assignment).data)
