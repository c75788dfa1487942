"""A resident's own data: consent before location and needs, withdrawal, export and erasure."""

import pytest
from django.contrib.gis.geos import Point

from accounts import services
from accounts.models import (
    ChannelIdentity,
    Consent,
    ResidentNeed,
    ResidentProfile,
    Subscription,
    User,
)
from commsplatform.core.audit import audit_chain_verify
from commsplatform.core.errors import PermissionDenied
from tests.factories import UserFactory, grant, resident_at

POINT = {"type": "Point", "coordinates": [2.5, 2.5]}


@pytest.mark.django_db
def test_location_needs_consent_first(api):
    user = UserFactory.create()
    api.force_authenticate(user)

    refused = api.put("/api/accounts/me/home-location/", {"location": POINT}, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "consent_required"
    assert ResidentProfile.objects.get(user=user).home_location is None

    assert (
        api.post("/api/accounts/me/consents/", {"purpose": "location", "version": "2026-1"}, format="json").status_code
        == 201
    )
    assert api.put("/api/accounts/me/home-location/", {"location": POINT}, format="json").status_code == 204
    assert ResidentProfile.objects.get(user=user).home_location.coords == (2.5, 2.5)


@pytest.mark.django_db
def test_withdrawing_consent_drops_the_data_held_under_it(api):
    user = resident_at(1, 1)
    services.consent_give(user=user, purpose="needs_mobility", version="1")
    services.resident_need_set(user=user, kind="mobility", note="wheelchair")
    services.resident_share_location(user=user, location=Point(3, 3, srid=4326))
    api.force_authenticate(user)

    assert api.delete("/api/accounts/me/consents/needs_mobility/").status_code == 204
    assert not ResidentNeed.objects.filter(profile__user=user).exists()
    assert api.delete("/api/accounts/me/consents/location/").status_code == 204
    profile = ResidentProfile.objects.get(user=user)
    assert profile.home_location is None
    assert profile.last_location is None
    assert Consent.objects.filter(user=user, purpose="location", withdrawn_at__isnull=False).exists()


@pytest.mark.django_db
def test_a_need_without_its_own_consent_is_refused():
    user = resident_at(1, 1)
    with pytest.raises(PermissionDenied):
        services.resident_need_set(user=user, kind="medical")
    assert not ResidentNeed.objects.exists()


@pytest.mark.django_db
def test_giving_the_same_consent_twice_keeps_one_and_a_new_version_replaces_it():
    user = UserFactory.create()
    first = services.consent_give(user=user, purpose="terms", version="1")
    again = services.consent_give(user=user, purpose="terms", version="1")
    newer = services.consent_give(user=user, purpose="terms", version="2")
    assert first.pk == again.pk
    assert Consent.objects.filter(user=user, purpose="terms", withdrawn_at__isnull=True).get().pk == newer.pk


@pytest.mark.django_db
def test_export_contains_what_is_held(api, tree):
    user = resident_at(2, 2)
    services.subscription_add(user=user, area=tree.city_a)
    api.force_authenticate(user)

    export = api.get("/api/accounts/me/export/").json()

    assert export["account"]["username"] == user.username
    assert export["profile"]["home_location"]["coordinates"] == [2.0, 2.0]
    assert [s["area"] for s in export["subscriptions"]] == [tree.city_a.pk]
    assert {c["purpose"] for c in export["consents"]} == {"terms", "location"}


@pytest.mark.django_db
def test_erasure_removes_personal_data_and_keeps_counts(api, tree):
    shelter_manager = UserFactory.create()
    grant(shelter_manager, "shelter_manager", tree.city_a, tree.organisation)
    user = resident_at(2, 2, first_name="Ana", last_name="Lima", email="ana@example.org")
    services.subscription_add(user=user, area=tree.city_a)
    services.channel_identity_link(user=user, kind="telegram", external_id="123456")
    api.force_authenticate(user)

    assert api.post("/api/accounts/me/erase/", {"confirm": False}, format="json").status_code == 400
    assert User.objects.get(pk=user.pk).erased_at is None
    assert api.post("/api/accounts/me/erase/", {"confirm": True}, format="json").status_code == 204

    erased = User.objects.get(pk=user.pk)
    assert erased.erased_at is not None
    assert not erased.is_active
    assert (erased.username, erased.first_name, erased.last_name, erased.email) == (f"erased-{user.pk}", "", "", "")
    assert not erased.has_usable_password()
    assert not ResidentProfile.objects.filter(user=user).exists()
    assert not Subscription.objects.filter(user=user).exists()
    assert not ChannelIdentity.objects.filter(user=user).exists()
    assert User.objects.count() == 2, "the pseudonymous row stays so aggregate counts still add up"
    api.force_authenticate(shelter_manager)
    assert api.get(f"/api/accounts/areas/{tree.city_a.pk}/residents/").json()["results"] == []
    assert audit_chain_verify().ok


@pytest.mark.django_db
def test_nobody_erases_someone_else():
    user, other = UserFactory.create(), UserFactory.create()
    with pytest.raises(PermissionDenied):
        services.user_erase(actor=other, user=user)
    assert User.objects.get(pk=user.pk).erased_at is None


@pytest.mark.django_db
def test_subscriptions_are_private(api, tree):
    owner, other = UserFactory.create(), UserFactory.create()
    subscription = services.subscription_add(user=owner, area=tree.city_a)
    api.force_authenticate(other)
    assert api.delete(f"/api/accounts/me/subscriptions/{subscription.pk}/").status_code == 404
    assert Subscription.objects.filter(pk=subscription.pk).exists()
    api.force_authenticate(owner)
    assert api.delete(f"/api/accounts/me/subscriptions/{subscription.pk}/").status_code == 204


@pytest.mark.django_db
def test_a_channel_identity_cannot_be_taken_from_someone_else():
    owner, other = UserFactory.create(), UserFactory.create()
    services.channel_identity_link(user=owner, kind="telegram", external_id="42")
    from commsplatform.core.errors import Conflict

    with pytest.raises(Conflict):
        services.channel_identity_link(user=other, kind="telegram", external_id="42")
    assert ChannelIdentity.objects.get(kind="telegram", external_id="42").user_id == owner.pk
