"""Accounts API: each view parses input, calls one service or selector, and formats the result."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.api import serializers as s
from accounts.models import (
    AdministrativeArea,
    ChannelIdentity,
    Consent,
    DataSharingAgreement,
    Membership,
    Organisation,
    ResidentNeed,
    ResidentProfile,
    Subscription,
)
from commsplatform.api_helpers import request_user as _user
from commsplatform.api_helpers import validated as _valid
from commsplatform.core.audit import audit_chain_verify
from commsplatform.core.errors import NotFound, ValidationFailed
from commsplatform.core.models import AuditEvent

# Areas: public geography to read; writes need manage_areas over the parent or the area.


class AreaListApi(generics.ListAPIView[AdministrativeArea]):
    permission_classes = [IsAuthenticatedOrReadOnly]
    serializer_class = s.AreaSummarySerializer

    def get_queryset(self) -> QuerySet[AdministrativeArea]:
        parent = self.request.query_params.get("parent")
        if parent is not None and not parent.isdigit():
            raise ValidationFailed("parent must be an area id.", fields={"parent": "not an integer"})
        return selectors.area_list(
            level=self.request.query_params.get("level"), parent_id=int(parent) if parent else None
        )

    @extend_schema(request=s.AreaCreateSerializer, responses={201: s.AreaDetailSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(s.AreaCreateSerializer, request.data)
        area = services.area_create(actor=_user(request), **data)
        return Response(s.AreaDetailSerializer(area).data, status=status.HTTP_201_CREATED)


class AreaDetailApi(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(responses=s.AreaDetailSerializer)
    def get(self, request: Request, area_id: int) -> Response:
        return Response(s.AreaDetailSerializer(selectors.area_get(area_id=area_id)).data)

    @extend_schema(request=s.AreaUpdateSerializer, responses=s.AreaDetailSerializer)
    def patch(self, request: Request, area_id: int) -> Response:
        area = selectors.area_get(area_id=area_id)
        data = _valid(s.AreaUpdateSerializer, request.data)
        area = services.area_update(actor=_user(request), area=area, **data)
        return Response(s.AreaDetailSerializer(area).data)


class AreaCountsApi(APIView):
    @extend_schema(responses={200: {"type": "object", "additionalProperties": {"type": "integer"}}})
    def get(self, request: Request, area_id: int) -> Response:
        area = selectors.area_get(area_id=area_id)
        return Response(selectors.resident_counts(user=_user(request), area=area))


class AreaResidentsApi(generics.ListAPIView[ResidentProfile]):
    serializer_class = s.ResidentSerializer

    def get_queryset(self) -> QuerySet[ResidentProfile]:
        area = selectors.area_get(area_id=self.kwargs["area_id"])
        return selectors.resident_list_for_user(user=_user(self.request), area=area)


# Residents seen by staff.


class ResidentListApi(generics.ListAPIView[ResidentProfile]):
    serializer_class = s.ResidentSerializer

    def get_queryset(self) -> QuerySet[ResidentProfile]:
        return selectors.resident_list_for_user(user=_user(self.request))


class ResidentDetailApi(APIView):
    @extend_schema(responses=s.ResidentSerializer)
    def get(self, request: Request, profile_id: int) -> Response:
        profile = selectors.resident_get_for_user(user=_user(request), profile_id=profile_id)
        return Response(s.ResidentSerializer(profile).data)


# Organisations.


class OrganisationListApi(generics.ListCreateAPIView[Organisation]):
    serializer_class = s.OrganisationSerializer

    def get_queryset(self) -> QuerySet[Organisation]:
        return selectors.organisation_list()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _valid(s.OrganisationSerializer, request.data)
        organisation = services.organisation_create(
            actor=_user(request), name=data["name"], kind=data["kind"], area=data.get("area")
        )
        return Response(s.OrganisationSerializer(organisation).data, status=status.HTTP_201_CREATED)


# Memberships.


class MembershipListApi(generics.ListAPIView[Membership]):
    serializer_class = s.MembershipSerializer

    def get_queryset(self) -> QuerySet[Membership]:
        return selectors.membership_list_for_user(user=_user(self.request))

    @extend_schema(request=s.MembershipCreateSerializer, responses={201: s.MembershipSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(s.MembershipCreateSerializer, request.data)
        membership = services.membership_grant(actor=_user(request), **data)
        return Response(s.MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class MembershipDetailApi(APIView):
    @extend_schema(responses=s.MembershipSerializer)
    def get(self, request: Request, membership_id: int) -> Response:
        membership = selectors.membership_get_for_user(user=_user(request), membership_id=membership_id)
        return Response(s.MembershipSerializer(membership).data)

    @extend_schema(request=s.MembershipUpdateSerializer, responses=s.MembershipSerializer)
    def patch(self, request: Request, membership_id: int) -> Response:
        membership = selectors.membership_get_for_user(user=_user(request), membership_id=membership_id)
        data = _valid(s.MembershipUpdateSerializer, request.data)
        membership = services.membership_set_validity(
            actor=_user(request), membership=membership, valid_until=data["valid_until"]
        )
        return Response(s.MembershipSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, membership_id: int) -> Response:
        membership = selectors.membership_get_for_user(user=_user(request), membership_id=membership_id)
        services.membership_revoke(actor=_user(request), membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Data-sharing agreements.


class AgreementListApi(generics.ListAPIView[DataSharingAgreement]):
    serializer_class = s.AgreementSerializer

    def get_queryset(self) -> QuerySet[DataSharingAgreement]:
        return selectors.agreement_list_for_user(user=_user(self.request)).prefetch_related("areas")

    @extend_schema(request=s.AgreementCreateSerializer, responses={201: s.AgreementSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(s.AgreementCreateSerializer, request.data)
        agreement = services.agreement_create(actor=_user(request), **data)
        return Response(s.AgreementSerializer(agreement).data, status=status.HTTP_201_CREATED)


class AgreementDetailApi(APIView):
    @extend_schema(responses=s.AgreementSerializer)
    def get(self, request: Request, agreement_id: int) -> Response:
        agreement = selectors.agreement_get_for_user(user=_user(request), agreement_id=agreement_id)
        return Response(s.AgreementSerializer(agreement).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, agreement_id: int) -> Response:
        agreement = selectors.agreement_get_for_user(user=_user(request), agreement_id=agreement_id)
        services.agreement_revoke(actor=_user(request), agreement=agreement)
        return Response(status=status.HTTP_204_NO_CONTENT)


# The signed-in person's own data.


class MeApi(APIView):
    @extend_schema(responses=s.MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(s.MeSerializer(_user(request)).data)

    @extend_schema(request=s.MeSerializer, responses=s.MeSerializer)
    def patch(self, request: Request) -> Response:
        data = _valid(s.MeSerializer, request.data, partial=True)
        user = services.user_update(user=_user(request), **data)
        return Response(s.MeSerializer(user).data)


class MeEraseApi(APIView):
    @extend_schema(request=s.EraseSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        data = _valid(s.EraseSerializer, request.data)
        if not data["confirm"]:
            raise ValidationFailed("Set confirm to true to erase your account.", fields={"confirm": "must be true"})
        services.user_erase(actor=_user(request), user=_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeHomeLocationApi(APIView):
    @extend_schema(request=s.LocationSerializer, responses={204: None})
    def put(self, request: Request) -> Response:
        data = _valid(s.LocationSerializer, request.data)
        services.resident_set_home(user=_user(request), location=data["location"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeSharedLocationApi(APIView):
    @extend_schema(request=s.LocationSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        data = _valid(s.LocationSerializer, request.data)
        if data["location"] is None:
            raise ValidationFailed("Share a location.", fields={"location": "required"})
        services.resident_share_location(user=_user(request), location=data["location"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeConsentListApi(generics.ListAPIView[Consent]):
    serializer_class = s.ConsentSerializer

    def get_queryset(self) -> QuerySet[Consent]:
        return Consent.objects.filter(user=_user(self.request))

    @extend_schema(request=s.ConsentGiveSerializer, responses={201: s.ConsentSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(s.ConsentGiveSerializer, request.data)
        consent = services.consent_give(user=_user(request), **data)
        return Response(s.ConsentSerializer(consent).data, status=status.HTTP_201_CREATED)


class MeConsentDetailApi(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, purpose: str) -> Response:
        services.consent_withdraw(user=_user(request), purpose=purpose)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeNeedListApi(generics.ListAPIView[ResidentNeed]):
    serializer_class = s.NeedSerializer

    def get_queryset(self) -> QuerySet[ResidentNeed]:
        return ResidentNeed.objects.filter(profile__user=_user(self.request))

    @extend_schema(request=s.NeedSerializer, responses={201: s.NeedSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(s.NeedSerializer, request.data)
        need = services.resident_need_set(user=_user(request), kind=data["kind"], note=data.get("note", ""))
        return Response(s.NeedSerializer(need).data, status=status.HTTP_201_CREATED)


class MeNeedDetailApi(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, kind: str) -> Response:
        services.resident_need_remove(user=_user(request), kind=kind)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeSubscriptionListApi(generics.ListAPIView[Subscription]):
    serializer_class = s.SubscriptionSerializer

    def get_queryset(self) -> QuerySet[Subscription]:
        return Subscription.objects.filter(user=_user(self.request))

    @extend_schema(request=s.SubscriptionSerializer, responses={201: s.SubscriptionSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(s.SubscriptionSerializer, request.data)
        subscription = services.subscription_add(user=_user(request), area=data["area"])
        return Response(s.SubscriptionSerializer(subscription).data, status=status.HTTP_201_CREATED)


class MeSubscriptionDetailApi(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, subscription_id: int) -> Response:
        subscription = Subscription.objects.filter(pk=subscription_id, user=_user(request)).first()
        if subscription is None:
            raise NotFound(f"You have no subscription with id {subscription_id}.")
        services.subscription_remove(user=_user(request), subscription=subscription)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeChannelListApi(generics.ListAPIView[ChannelIdentity]):
    serializer_class = s.ChannelIdentitySerializer

    def get_queryset(self) -> QuerySet[ChannelIdentity]:
        return ChannelIdentity.objects.filter(user=_user(self.request))


class MeChannelDetailApi(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, identity_id: int) -> Response:
        identity = ChannelIdentity.objects.filter(pk=identity_id, user=_user(request)).first()
        if identity is None:
            raise NotFound(f"You have no channel with id {identity_id}.")
        services.channel_identity_deactivate(identity=identity, reason="stopped by the person")
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeExportApi(APIView):
    """Everything the platform holds about the signed-in person, in one document."""

    @extend_schema(responses={200: {"type": "object"}})
    def get(self, request: Request) -> Response:
        user = _user(request)
        profile = ResidentProfile.objects.filter(user=user).prefetch_related("needs").first()
        return Response(
            {
                "account": s.MeSerializer(user).data,
                "profile": s.ResidentSerializer(profile).data if profile else None,
                "consents": s.ConsentSerializer(Consent.objects.filter(user=user), many=True).data,
                "subscriptions": s.SubscriptionSerializer(Subscription.objects.filter(user=user), many=True).data,
                "channels": s.ChannelIdentitySerializer(ChannelIdentity.objects.filter(user=user), many=True).data,
                "memberships": s.MembershipSerializer(
                    Membership.objects.filter(user=user).select_related("organisation", "user"), many=True
                ).data,
            }
        )


# The audit record, for auditors.


class AuditEventListApi(generics.ListAPIView[AuditEvent]):
    serializer_class = s.AuditEventSerializer

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return selectors.audit_events_for_user(user=_user(self.request)).order_by("-seq")


class AuditVerifyApi(APIView):
    @extend_schema(responses=s.ChainReportSerializer)
    def get(self, request: Request) -> Response:
        selectors.audit_events_for_user(user=_user(request))  # raises unless the reader is an auditor
        report = audit_chain_verify()
        return Response(
            {"ok": report.ok, "checked": report.checked, "broken_seq": report.broken_seq, "reason": report.reason}
        )
