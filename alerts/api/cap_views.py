"""CAP API: import by file upload, CAP 1.2 export of one alert, the public Atom feed of active alerts, and the
CAP feeds and trusted senders that approvers configure.

Answers: import 201 with the alerts created · 400 naming the schema error, CAP rule and element, signature
problem or hostile construct · 403 · 409 identifier already here; nothing is written unless all of the
document is imported. cap.xml: 200 application/cap+xml for alerts issued to the public (to anyone); any other
alert only to staff who may see it (401 anonymous, 404 otherwise). feed.atom: 200 application/atom+xml.
"""

from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.feedgenerator import Atom1Feed
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import selectors, selectors_cap
from alerts.api import cap_serializers as s
from alerts.cap_xml import CapRejected, alert_to_cap_xml
from alerts.models import Alert, CapFeed, TrustedSender
from alerts.services import cap_feeds, cap_import
from commsplatform.api_helpers import request_user as _user
from commsplatform.api_helpers import validated as _valid
from commsplatform.core.errors import ValidationFailed
from commsplatform.core.throttling import AnonRateThrottle, UserRateThrottle

CAP_MEDIA_TYPE = "application/cap+xml"
ATOM_MEDIA_TYPE = "application/atom+xml"
FEED_MAX_ENTRIES = 200


class _XmlRenderer(BaseRenderer):
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        assert isinstance(data, bytes)  # errors are rendered as JSON (see _XmlApi)
        return data


class CapXmlRenderer(_XmlRenderer):
    media_type = CAP_MEDIA_TYPE
    format = "xml"


class AtomRenderer(_XmlRenderer):
    media_type = ATOM_MEDIA_TYPE
    format = "atom"


class _XmlApi(APIView):
    """A view that answers XML, and JSON when it refuses."""

    throttle_classes = [AnonRateThrottle, UserRateThrottle]

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = "application/json"
        return response


class AlertCapXmlApi(_XmlApi):
    """One alert as CAP 1.2 XML (validates against the OASIS schema)."""

    permission_classes = [AllowAny]
    renderer_classes = [CapXmlRenderer]

    @extend_schema(
        responses={
            (200, CAP_MEDIA_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description="CAP 1.2 <alert>"),
            401: OpenApiResponse(description="Not a public alert, and not signed in."),
            404: OpenApiResponse(description="No such alert, or not one you may see."),
        }
    )
    def get(self, request: Request, alert_id: int) -> Response:
        alert = selectors_cap.alert_public_get(alert_id=alert_id)
        if alert is None:
            if not request.user.is_authenticated:
                raise exceptions.NotAuthenticated("This alert is not public: sign in to export it.")
            alert = selectors_cap.alert_cap_get_for_user(user=_user(request), alert_id=alert_id)
        response = Response(alert_to_cap_xml(alert), content_type=CAP_MEDIA_TYPE)
        response["Content-Disposition"] = f'inline; filename="alert-{alert.pk}.cap.xml"'
        return response


class _CapAtomFeed(Atom1Feed):
    """Atom with, per entry, a typed link to the CAP document (what CAP feed readers look for)."""

    def add_item_elements(self, handler: Any, item: dict[str, Any]) -> None:
        super().add_item_elements(handler, item)
        handler.addQuickElement("link", "", {"rel": "related", "type": CAP_MEDIA_TYPE, "href": item["link"]})


def _atom(request: Request, alerts: list[Alert]) -> bytes:
    feed_url = request.build_absolute_uri()
    feed = _CapAtomFeed(
        title="Active public alerts",
        link=feed_url,
        description="Issued, unexpired public alerts; each entry links its CAP 1.2 document.",
        feed_url=feed_url,
        feed_guid=feed_url,
    )
    for alert in alerts:
        infos = list(alert.infos.all())
        first = infos[0] if infos else None
        cap_url = request.build_absolute_uri(f"{alert.pk}/cap.xml")
        feed.add_item(
            title=(first.headline or first.event) if first is not None else alert.identifier,
            link=cap_url,
            description=first.description if first is not None else "",
            unique_id=cap_url,
            unique_id_is_permalink=True,
            pubdate=alert.sent,
            updateddate=alert.issued_at or alert.sent,
            categories=[category for info in infos for category in info.categories],
        )
    return feed.writeString("utf-8").encode("utf-8")


class AlertAtomFeedApi(_XmlApi):
    """The public Atom feed of active alerts (issued, not expired, Public scope), optionally meeting an area."""

    permission_classes = [AllowAny]
    renderer_classes = [AtomRenderer]

    @extend_schema(
        parameters=[OpenApiParameter("area", int, description="Only alerts whose area meets this area (id).")],
        responses={(200, ATOM_MEDIA_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description="Atom 1.0 feed")},
    )
    def get(self, request: Request) -> Response:
        raw_area = request.query_params.get("area")
        area = None
        if raw_area is not None:
            if not raw_area.isdigit():
                raise ValidationFailed("area must be an area id.", fields={"area": "not an integer"})
            area = selectors_cap.area_get(area_id=int(raw_area))
        alerts = list(selectors.alert_active_list(area=area).order_by("-sent", "-pk")[:FEED_MAX_ENTRIES])
        response = Response(_atom(request, alerts), content_type=f"{ATOM_MEDIA_TYPE}; charset=utf-8")
        response["Last-Modified"] = timezone.now().strftime("%a, %d %b %Y %H:%M:%S GMT")
        return response


class CapImportApi(APIView):
    """Import a CAP file: drafts for approval, or issued at once for a trusted sender of the organisation."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": s.CapImportSerializer},
        responses={201: s.ImportedAlertSerializer(many=True)},
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.CapImportSerializer, request.data)
        upload = data["file"]
        limit = settings.CAP_MAX_DOCUMENT_BYTES
        if upload.size is not None and upload.size > limit:
            raise CapRejected(f"The document is {upload.size} bytes; the limit is {limit} bytes.", kind="too_large")
        content = upload.read(limit + 1)
        alerts = cap_import.cap_import(actor=_user(request), data=content, organisation=data["organisation"])
        return Response(s.ImportedAlertSerializer(alerts, many=True).data, status=status.HTTP_201_CREATED)


class CapFeedListApi(generics.ListAPIView[CapFeed]):
    """CAP feeds polled for alerts: listed and added by who may approve alerts over the feed's area."""

    serializer_class = s.CapFeedSerializer

    def get_queryset(self) -> Any:
        return selectors_cap.cap_feed_list_for_user(user=_user(self.request))

    @extend_schema(request=s.CapFeedCreateSerializer, responses={201: s.CapFeedSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(s.CapFeedCreateSerializer, request.data)
        feed = cap_feeds.cap_feed_create(actor=_user(request), **data)
        return Response(s.CapFeedSerializer(feed).data, status=status.HTTP_201_CREATED)


class CapFeedDetailApi(APIView):
    @extend_schema(responses=s.CapFeedSerializer)
    def get(self, request: Request, feed_id: int) -> Response:
        feed = selectors_cap.cap_feed_get_for_user(user=_user(request), feed_id=feed_id)
        return Response(s.CapFeedSerializer(feed).data)

    @extend_schema(request=s.CapFeedUpdateSerializer, responses=s.CapFeedSerializer)
    def patch(self, request: Request, feed_id: int) -> Response:
        feed = selectors_cap.cap_feed_get_for_user(user=_user(request), feed_id=feed_id)
        data = _valid(s.CapFeedUpdateSerializer, request.data)
        feed = cap_feeds.cap_feed_update(actor=_user(request), feed=feed, **data)
        return Response(s.CapFeedSerializer(feed).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, feed_id: int) -> Response:
        feed = selectors_cap.cap_feed_get_for_user(user=_user(request), feed_id=feed_id)
        cap_feeds.cap_feed_delete(actor=_user(request), feed=feed)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TrustedSenderListApi(generics.ListAPIView[TrustedSender]):
    """CAP senders whose alerts are issued on import, within an area: managed by approvers of that area."""

    serializer_class = s.TrustedSenderSerializer

    def get_queryset(self) -> Any:
        return selectors_cap.trusted_sender_list_for_user(user=_user(self.request))

    @extend_schema(request=s.TrustedSenderCreateSerializer, responses={201: s.TrustedSenderSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(s.TrustedSenderCreateSerializer, request.data)
        trusted = cap_import.trusted_sender_create(actor=_user(request), **data)
        return Response(s.TrustedSenderSerializer(trusted).data, status=status.HTTP_201_CREATED)


class TrustedSenderDetailApi(APIView):
    @extend_schema(responses=s.TrustedSenderSerializer)
    def get(self, request: Request, trusted_id: int) -> Response:
        trusted = selectors_cap.trusted_sender_get_for_user(user=_user(request), trusted_id=trusted_id)
        return Response(s.TrustedSenderSerializer(trusted).data)

    @extend_schema(request=s.TrustedSenderUpdateSerializer, responses=s.TrustedSenderSerializer)
    def patch(self, request: Request, trusted_id: int) -> Response:
        trusted = selectors_cap.trusted_sender_get_for_user(user=_user(request), trusted_id=trusted_id)
        data = _valid(s.TrustedSenderUpdateSerializer, request.data)
        trusted = cap_import.trusted_sender_update(actor=_user(request), trusted=trusted, **data)
        return Response(s.TrustedSenderSerializer(trusted).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, trusted_id: int) -> Response:
        trusted = selectors_cap.trusted_sender_get_for_user(user=_user(request), trusted_id=trusted_id)
        cap_import.trusted_sender_delete(actor=_user(request), trusted=trusted)
        return Response(status=status.HTTP_204_NO_CONTENT)
