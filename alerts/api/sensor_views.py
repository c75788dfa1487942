"""Sensor API: the signed readings webhook, and staff management of sensors, their rules and readings.

The webhook has no user: a delivery is authenticated by its HMAC signature alone (SensorSignatureAuthentication),
checked over the raw body before anything in it is read. Its answers, in order of the checks:
413 body too large · 401 signature missing, malformed, stale (outside ±SENSOR_WEBHOOK_MAX_SKEW_SECONDS) or
wrong · 503 SENSOR_WEBHOOK_SECRET not set (nothing can be verified, so every delivery is refused) ·
400 malformed body · 404 unknown sensor · 409 inactive sensor · 200 with which readings were new and which
duplicates. Each refusal writes nothing.
"""

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import selectors_sensors as selectors
from alerts.api import sensor_serializers as s
from alerts.models import Sensor, SensorReading, SensorRule
from alerts.services import sensors as services
from alerts.services.sensors import ReadingIn, SignatureRefused, WebhookDisabled
from commsplatform.api_helpers import request_user as _user
from commsplatform.api_helpers import validated as _valid

TIMESTAMP_HEADER = "X-Sensor-Timestamp"
SIGNATURE_HEADER = "X-Sensor-Signature"
# 500 readings take about 50 kB; anything far larger is not a sensor delivery.
MAX_BODY_BYTES = 256 * 1024


# The webhook.


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE

    def __init__(self) -> None:
        message = f"A delivery may be at most {MAX_BODY_BYTES} bytes; send fewer readings at a time."
        super().__init__({"detail": message, "code": "too_large"})


class WebhookUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


class SignedDelivery:
    """request.auth of a delivery whose signature was verified."""

    def __init__(self, timestamp: str) -> None:
        self.timestamp = timestamp


class SensorSignatureAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[AnonymousUser, SignedDelivery]:
        length = str(request.META.get("CONTENT_LENGTH") or "0")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise PayloadTooLarge()  # before a byte of it is read
        body: bytes = request.body
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge()
        timestamp = request.headers.get(TIMESTAMP_HEADER)
        try:
            services.sensor_signature_verify(
                timestamp=timestamp, signature=request.headers.get(SIGNATURE_HEADER), body=body
            )
        except SignatureRefused as exc:
            raise exceptions.AuthenticationFailed({"detail": exc.message, "code": exc.code}) from exc
        except WebhookDisabled as exc:
            raise WebhookUnavailable({"detail": exc.message, "code": exc.code}) from exc
        assert timestamp is not None  # verified
        return AnonymousUser(), SignedDelivery(timestamp)

    def authenticate_header(self, request: Request) -> str:
        return f'HMAC-SHA256 realm="sensors", headers="{TIMESTAMP_HEADER} {SIGNATURE_HEADER}"'


class IsSignedDelivery(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, SignedDelivery)


class SensorSignatureScheme(OpenApiAuthenticationExtension):
    target_class = SensorSignatureAuthentication
    name = "sensorSignature"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": SIGNATURE_HEADER,
            "description": (
                f"sha256=<hex HMAC-SHA256 of '<{TIMESTAMP_HEADER}>.<raw body>' under SENSOR_WEBHOOK_SECRET>, "
                f"with {TIMESTAMP_HEADER} the Unix time in seconds, within SENSOR_WEBHOOK_MAX_SKEW_SECONDS of ours."
            ),
        }


class SensorReadingsWebhookApi(APIView):
    """Readings from a sensor gateway. Idempotent: a reading id already on record is acknowledged, not redone."""

    authentication_classes = [SensorSignatureAuthentication]
    permission_classes = [IsSignedDelivery]
    parser_classes = [JSONParser]

    @extend_schema(
        request=s.ReadingBatchSerializer,
        responses={
            200: s.ReadingsRecordedSerializer,
            400: OpenApiResponse(description="Malformed body; field errors say where. Nothing recorded."),
            401: OpenApiResponse(description="Signature missing, malformed, stale or wrong."),
            404: OpenApiResponse(description="No sensor with that external id."),
            409: OpenApiResponse(description="The sensor is inactive."),
            413: OpenApiResponse(description="Body too large."),
            503: OpenApiResponse(description="SENSOR_WEBHOOK_SECRET is not set: every delivery is refused."),
        },
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.ReadingBatchSerializer, request.data)
        sensor = selectors.sensor_get_by_external_id(external_id=data["sensor"])
        readings = [
            ReadingIn(reading_id=item["id"], value=item["value"], measured_at=item["measured_at"])
            for item in data["readings"]
        ]
        result = services.sensor_readings_record(sensor=sensor, readings=readings)
        return Response(s.ReadingsRecordedSerializer(result).data)


# Sensors, for staff who draft or approve alerts over their areas.


class SensorListApi(generics.ListAPIView[Sensor]):
    serializer_class = s.SensorSerializer

    def get_queryset(self) -> QuerySet[Sensor]:
        return selectors.sensor_list_for_user(user=_user(self.request))

    @extend_schema(request=s.SensorCreateSerializer, responses={201: s.SensorSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(s.SensorCreateSerializer, request.data)
        sensor = services.sensor_create(actor=_user(request), **data)
        return Response(s.SensorSerializer(sensor).data, status=status.HTTP_201_CREATED)


class SensorDetailApi(APIView):
    @extend_schema(responses=s.SensorSerializer)
    def get(self, request: Request, sensor_id: int) -> Response:
        return Response(
            s.SensorSerializer(selectors.sensor_get_for_user(user=_user(request), sensor_id=sensor_id)).data
        )

    @extend_schema(request=s.SensorUpdateSerializer, responses=s.SensorSerializer)
    def patch(self, request: Request, sensor_id: int) -> Response:
        sensor = selectors.sensor_get_for_user(user=_user(request), sensor_id=sensor_id)
        data = _valid(s.SensorUpdateSerializer, request.data)
        sensor = services.sensor_update(actor=_user(request), sensor=sensor, **data)
        return Response(s.SensorSerializer(sensor).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, sensor_id: int) -> Response:
        sensor = selectors.sensor_get_for_user(user=_user(request), sensor_id=sensor_id)
        services.sensor_delete(actor=_user(request), sensor=sensor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SensorReadingListApi(generics.ListAPIView[SensorReading]):
    """A sensor's readings, newest measurement first."""

    serializer_class = s.SensorReadingSerializer

    def get_queryset(self) -> QuerySet[SensorReading]:
        sensor = selectors.sensor_get_for_user(user=_user(self.request), sensor_id=self.kwargs["sensor_id"])
        return selectors.sensor_reading_list(sensor=sensor)


# Rules.


class SensorRuleListApi(generics.ListAPIView[SensorRule]):
    serializer_class = s.SensorRuleSerializer

    def get_queryset(self) -> QuerySet[SensorRule]:
        sensor = selectors.sensor_get_for_user(user=_user(self.request), sensor_id=self.kwargs["sensor_id"])
        return selectors.sensor_rule_list(sensor=sensor)

    @extend_schema(request=s.SensorRuleCreateSerializer, responses={201: s.SensorRuleSerializer})
    def post(self, request: Request, sensor_id: int) -> Response:
        sensor = selectors.sensor_get_for_user(user=_user(request), sensor_id=sensor_id)
        data = _valid(s.SensorRuleCreateSerializer, request.data, context={"organisation": sensor.organisation})
        rule = services.sensor_rule_create(actor=_user(request), sensor=sensor, **data)
        return Response(s.SensorRuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class SensorRuleDetailApi(APIView):
    @extend_schema(responses=s.SensorRuleSerializer)
    def get(self, request: Request, rule_id: int) -> Response:
        rule = selectors.sensor_rule_get_for_user(user=_user(request), rule_id=rule_id)
        return Response(s.SensorRuleSerializer(rule).data)

    @extend_schema(request=s.SensorRuleUpdateSerializer, responses=s.SensorRuleSerializer)
    def patch(self, request: Request, rule_id: int) -> Response:
        rule = selectors.sensor_rule_get_for_user(user=_user(request), rule_id=rule_id)
        data = _valid(s.SensorRuleUpdateSerializer, request.data, context={"organisation": rule.sensor.organisation})
        rule = services.sensor_rule_update(actor=_user(request), rule=rule, **data)
        return Response(s.SensorRuleSerializer(rule).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, rule_id: int) -> Response:
        rule = selectors.sensor_rule_get_for_user(user=_user(request), rule_id=rule_id)
        services.sensor_rule_delete(actor=_user(request), rule=rule)
        return Response(status=status.HTTP_204_NO_CONTENT)
