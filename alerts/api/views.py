"""Alerts API: each view parses input, calls one service or selector, and formats the result."""

from typing import Any

from django.contrib.gis.geos import Point
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services as accounts_services
from accounts.models import AdministrativeArea, ChannelIdentity, ChannelKind, Organisation
from alerts import selectors, targeting
from alerts.api import serializers as s
from alerts.models import Alert, AlertTemplate, Delivery, DeliveryState, MsgType, Reply
from alerts.services import lifecycle, replies
from commsplatform.api_helpers import request_user as _user
from commsplatform.core.errors import NotFound, ValidationFailed


def _valid(serializer_class: type[Any], data: Any) -> Any:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer


def _organisation(organisation_id: int | None) -> Organisation | None:
    if organisation_id is None:
        return None
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        raise NotFound("No such organisation.")
    return organisation


def _alert(request: Request, alert_id: int) -> Alert:
    return selectors.alert_get_for_user(user=_user(request), alert_id=alert_id)


def _detail(alert: Alert) -> dict[str, Any]:
    fresh = Alert.objects.prefetch_related("infos__areas__admin_areas").get(pk=alert.pk)
    return dict(s.AlertSerializer(fresh).data)


class AlertListApi(generics.ListAPIView[Alert]):
    """Staff see the alerts of their areas, drafts included; everyone else sees issued public alerts."""

    serializer_class = s.AlertSerializer

    @extend_schema(parameters=[OpenApiParameter("state", str, description="Filter by lifecycle state.")])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Alert]:
        return selectors.alert_list_for_user(user=_user(self.request), state=self.request.query_params.get("state"))

    @extend_schema(request=s.AlertCreateSerializer, responses={201: s.AlertSerializer})
    def post(self, request: Request) -> Response:
        serializer = _valid(s.AlertCreateSerializer, request.data)
        organisation = _organisation(serializer.validated_data.get("organisation"))
        content = serializer.to_content_without_organisation()
        alert = lifecycle.alert_draft_create(actor=_user(request), content=content, organisation=organisation)
        return Response(_detail(alert), status=status.HTTP_201_CREATED)


class AlertDetailApi(APIView):
    @extend_schema(responses=s.AlertSerializer)
    def get(self, request: Request, alert_id: int) -> Response:
        return Response(_detail(_alert(request, alert_id)))

    @extend_schema(request=s.AlertContentSerializer, responses=s.AlertSerializer)
    def put(self, request: Request, alert_id: int) -> Response:
        alert = _alert(request, alert_id)
        content = _valid(s.AlertContentSerializer, request.data).to_content()
        return Response(_detail(lifecycle.alert_draft_update(actor=_user(request), alert=alert, content=content)))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, alert_id: int) -> Response:
        lifecycle.alert_draft_delete(actor=_user(request), alert=_alert(request, alert_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlertSubmitApi(APIView):
    @extend_schema(request=None, responses=s.AlertSerializer)
    def post(self, request: Request, alert_id: int) -> Response:
        return Response(_detail(lifecycle.alert_submit(actor=_user(request), alert=_alert(request, alert_id))))


class AlertApproveApi(APIView):
    @extend_schema(request=s.ApproveSerializer, responses=s.AlertSerializer)
    def post(self, request: Request, alert_id: int) -> Response:
        issue = _valid(s.ApproveSerializer, request.data).validated_data["issue"]
        alert = lifecycle.alert_approve(actor=_user(request), alert=_alert(request, alert_id), issue=issue)
        return Response(_detail(alert))


class AlertRejectApi(APIView):
    @extend_schema(request=s.RejectSerializer, responses=s.AlertSerializer)
    def post(self, request: Request, alert_id: int) -> Response:
        reason = _valid(s.RejectSerializer, request.data).validated_data["reason"]
        alert = lifecycle.alert_reject(actor=_user(request), alert=_alert(request, alert_id), reason=reason)
        return Response(_detail(alert))


class AlertIssueApi(APIView):
    @extend_schema(request=None, responses=s.AlertSerializer)
    def post(self, request: Request, alert_id: int) -> Response:
        return Response(_detail(lifecycle.alert_issue(actor=_user(request), alert=_alert(request, alert_id))))


class AlertUpdateApi(APIView):
    """Draft an Update of an issued alert; it needs approval like any alert."""

    @extend_schema(request=s.AlertContentSerializer, responses={201: s.AlertSerializer})
    def post(self, request: Request, alert_id: int) -> Response:
        alert = _alert(request, alert_id)
        content = _valid(s.AlertContentSerializer, request.data).to_content()
        update = lifecycle.alert_followup_draft(
            actor=_user(request), alert=alert, msg_type=MsgType.UPDATE, content=content
        )
        return Response(_detail(update), status=status.HTTP_201_CREATED)


class AlertCancelApi(APIView):
    """Draft a Cancel of an issued alert, carrying its areas; it needs approval like any alert."""

    @extend_schema(request=s.CancelSerializer, responses={201: s.AlertSerializer})
    def post(self, request: Request, alert_id: int) -> Response:
        alert = _alert(request, alert_id)
        note = _valid(s.CancelSerializer, request.data).validated_data["note"]
        cancel = lifecycle.alert_followup_draft(actor=_user(request), alert=alert, msg_type=MsgType.CANCEL, note=note)
        return Response(_detail(cancel), status=status.HTTP_201_CREATED)


class AlertReachApi(APIView):
    """Before approval: how many people, on which transports, in which areas the alert will reach."""

    @extend_schema(responses=s.ReachSerializer)
    def get(self, request: Request, alert_id: int) -> Response:
        alert = _alert(request, alert_id)
        selectors.alert_require_staff(user=_user(request), alert=alert)
        return Response(targeting.reach(alert))


class AlertStatsApi(APIView):
    @extend_schema(responses=s.StatsSerializer)
    def get(self, request: Request, alert_id: int) -> Response:
        alert = _alert(request, alert_id)
        selectors.alert_require_staff(user=_user(request), alert=alert)
        return Response(selectors.alert_stats(alert=alert))


class AlertDeliveryListApi(generics.ListAPIView[Delivery]):
    serializer_class = s.DeliverySerializer

    @extend_schema(parameters=[OpenApiParameter("state", str, enum=DeliveryState.values)])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Delivery]:
        alert = _alert(self.request, self.kwargs["alert_id"])
        state = self.request.query_params.get("state")
        if state and state not in DeliveryState.values:
            raise ValidationFailed(f"Unknown state {state!r}.", fields={"state": "unknown"})
        return selectors.delivery_list_for_user(user=_user(self.request), alert=alert, state=state)


class AlertReplyApi(APIView):
    """A recipient answers: "safe" or "need_help", optionally with a GeoJSON Point of where they are."""

    @extend_schema(request=s.ReplyInSerializer, responses={201: s.ReplySerializer})
    def post(self, request: Request, alert_id: int) -> Response:
        alert = _alert(request, alert_id)
        data = _valid(s.ReplyInSerializer, request.data).validated_data
        location = data["location"]
        if location is not None and not isinstance(location, Point):
            raise ValidationFailed("location must be a GeoJSON Point.", fields={"location": "type"})
        reply = replies.reply_record(
            user=_user(request), alert=alert, kind=data["kind"], message=data["message"], location=location
        )
        return Response(s.ReplySerializer(reply).data, status=status.HTTP_201_CREATED)


class AlertReplyCountsApi(APIView):
    """Latest replies counted per administrative area (no individual shown)."""

    @extend_schema(responses=s.ReplyAreaCountSerializer(many=True))
    def get(self, request: Request, alert_id: int) -> Response:
        alert = _alert(request, alert_id)
        return Response(selectors.reply_counts_by_area(user=_user(request), alert=alert))


class AlertNeedHelpListApi(generics.ListAPIView[Reply]):
    """Individual "I need help" replies, for those who may see residents in the area."""

    serializer_class = s.NeedHelpSerializer

    def get_queryset(self) -> QuerySet[Reply]:
        alert = _alert(self.request, self.kwargs["alert_id"])
        return selectors.reply_need_help_list_for_user(user=_user(self.request), alert=alert)


class MyAlertListApi(generics.ListAPIView[Delivery]):
    """The alerts sent to me, newest first."""

    serializer_class = s.MyDeliverySerializer

    def get_queryset(self) -> QuerySet[Delivery]:
        return selectors.delivery_list_for_recipient(user=_user(self.request)).prefetch_related("alert__infos__areas")


class MyWebAlertsApi(APIView):
    """Turn alerts in the browser (over the websocket) on or off for me."""

    @extend_schema(request=None, responses={204: None})
    def put(self, request: Request) -> Response:
        user = _user(request)
        accounts_services.channel_identity_link(user=user, kind=ChannelKind.WEB, external_id=f"user:{user.pk}")
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={204: None})
    def delete(self, request: Request) -> Response:
        user = _user(request)
        identity = ChannelIdentity.objects.filter(user=user, kind=ChannelKind.WEB, is_active=True).first()
        if identity is not None:
            accounts_services.channel_identity_deactivate(identity=identity, reason="turned off by the person")
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplateListApi(generics.ListAPIView[AlertTemplate]):
    serializer_class = s.TemplateSerializer

    def get_queryset(self) -> QuerySet[AlertTemplate]:
        return selectors.template_list_for_user(user=_user(self.request))

    @extend_schema(request=s.TemplateWriteSerializer, responses={201: s.TemplateSerializer})
    def post(self, request: Request) -> Response:
        serializer = _valid(s.TemplateWriteSerializer, request.data)
        data = serializer.validated_data
        organisation = _organisation(data["organisation"])
        area = AdministrativeArea.objects.filter(pk=data["area"]).first()
        if area is None or organisation is None:
            raise NotFound("No such area or organisation.")
        content = s.AlertContentSerializer(data=request.data["content"])
        content.is_valid(raise_exception=True)
        template = lifecycle.alert_template_create(
            actor=_user(request), organisation=organisation, area=area, name=data["name"], content=content.to_content()
        )
        return Response(s.TemplateSerializer(template).data, status=status.HTTP_201_CREATED)


class TemplateDetailApi(APIView):
    @extend_schema(responses=s.TemplateSerializer)
    def get(self, request: Request, template_id: int) -> Response:
        return Response(
            s.TemplateSerializer(selectors.template_get_for_user(user=_user(request), template_id=template_id)).data
        )

    @extend_schema(request=s.TemplateWriteSerializer, responses=s.TemplateSerializer)
    def put(self, request: Request, template_id: int) -> Response:
        template = selectors.template_get_for_user(user=_user(request), template_id=template_id)
        data = _valid(s.TemplateWriteSerializer, request.data).validated_data
        content = s.AlertContentSerializer(data=request.data["content"])
        content.is_valid(raise_exception=True)
        template = lifecycle.alert_template_update(
            actor=_user(request), template=template, name=data["name"], content=content.to_content()
        )
        return Response(s.TemplateSerializer(template).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, template_id: int) -> Response:
        template = selectors.template_get_for_user(user=_user(request), template_id=template_id)
        lifecycle.alert_template_delete(actor=_user(request), template=template)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplateDraftApi(APIView):
    """A new draft alert from a template."""

    @extend_schema(request=None, responses={201: s.AlertSerializer})
    def post(self, request: Request, template_id: int) -> Response:
        template = selectors.template_get_for_user(user=_user(request), template_id=template_id)
        alert = lifecycle.alert_draft_from_template(actor=_user(request), template=template)
        return Response(_detail(alert), status=status.HTTP_201_CREATED)
