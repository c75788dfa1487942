from django.urls import path

from accounts.api import views

urlpatterns = [
    path("areas/", views.AreaListApi.as_view(), name="area-list"),
    path("areas/<int:area_id>/", views.AreaDetailApi.as_view(), name="area-detail"),
    path("areas/<int:area_id>/counts/", views.AreaCountsApi.as_view(), name="area-counts"),
    path("areas/<int:area_id>/residents/", views.AreaResidentsApi.as_view(), name="area-residents"),
    path("residents/", views.ResidentListApi.as_view(), name="resident-list"),
    path("residents/<int:profile_id>/", views.ResidentDetailApi.as_view(), name="resident-detail"),
    path("organisations/", views.OrganisationListApi.as_view(), name="organisation-list"),
    path("memberships/", views.MembershipListApi.as_view(), name="membership-list"),
    path("memberships/<int:membership_id>/", views.MembershipDetailApi.as_view(), name="membership-detail"),
    path("agreements/", views.AgreementListApi.as_view(), name="agreement-list"),
    path("agreements/<int:agreement_id>/", views.AgreementDetailApi.as_view(), name="agreement-detail"),
    path("me/", views.MeApi.as_view(), name="me"),
    path("me/erase/", views.MeEraseApi.as_view(), name="me-erase"),
    path("me/export/", views.MeExportApi.as_view(), name="me-export"),
    path("me/home-location/", views.MeHomeLocationApi.as_view(), name="me-home-location"),
    path("me/shared-location/", views.MeSharedLocationApi.as_view(), name="me-shared-location"),
    path("me/consents/", views.MeConsentListApi.as_view(), name="me-consent-list"),
    path("me/consents/<str:purpose>/", views.MeConsentDetailApi.as_view(), name="me-consent-detail"),
    path("me/needs/", views.MeNeedListApi.as_view(), name="me-need-list"),
    path("me/needs/<str:kind>/", views.MeNeedDetailApi.as_view(), name="me-need-detail"),
    path("me/subscriptions/", views.MeSubscriptionListApi.as_view(), name="me-subscription-list"),
    path(
        "me/subscriptions/<int:subscription_id>/",
        views.MeSubscriptionDetailApi.as_view(),
        name="me-subscription-detail",
    ),
    path("me/channels/", views.MeChannelListApi.as_view(), name="me-channel-list"),
    path("me/channels/<int:identity_id>/", views.MeChannelDetailApi.as_view(), name="me-channel-detail"),
    path("audit/events/", views.AuditEventListApi.as_view(), name="audit-events"),
    path("audit/verify/", views.AuditVerifyApi.as_view(), name="audit-verify"),
]
