"""The stored object permissions follow memberships: granted, covering sub-areas, revoked, expired."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts import permissions, services
from accounts.models import AreaUserObjectPermission
from accounts.tasks import permissions_refresh
from tests.factories import UserFactory, grant


def _stored(user) -> set[tuple[str, int]]:
    return set(
        AreaUserObjectPermission.objects.filter(user=user).values_list("permission__codename", "content_object_id")
    )


@pytest.mark.django_db
def test_a_role_over_a_city_covers_its_districts_and_nothing_beside(tree):
    user = UserFactory.create()
    grant(user, "alert_drafter", tree.city_a, tree.organisation)

    assert permissions.user_has_area_perm(user, "draft_alerts", tree.city_a)
    assert permissions.user_has_area_perm(user, "draft_alerts", tree.district_a1)
    assert not permissions.user_has_area_perm(user, "draft_alerts", tree.city_b)
    assert not permissions.user_has_area_perm(user, "draft_alerts", tree.region)
    assert not permissions.user_has_area_perm(user, "approve_alerts", tree.city_a)
    assert set(permissions.areas_covered(user, "draft_alerts")) == {tree.city_a, tree.district_a1}
    assert permissions.area_perms_of(user, tree.district_a1) == {
        "draft_alerts",
        "view_resident_counts",
        "view_shelters",
    }


@pytest.mark.django_db
def test_revoking_removes_the_stored_permissions(tree):
    user = UserFactory.create()
    membership = grant(user, "moderator", tree.city_a, tree.organisation)
    assert ("moderate_rooms", tree.city_a.pk) in _stored(user)

    services.membership_revoke(actor=None, membership=membership)

    assert _stored(user) == set()
    assert not permissions.user_has_area_perm(user, "moderate_rooms", tree.city_a)


@pytest.mark.django_db
def test_two_roles_over_one_area_keep_what_the_other_still_grants(tree):
    user = UserFactory.create()
    official = grant(user, "official", tree.city_a, tree.organisation)
    grant(user, "auditor", tree.city_a, tree.organisation)

    services.membership_revoke(actor=None, membership=official)

    assert permissions.user_has_area_perm(user, "view_resident_counts", tree.city_a), "the auditor role grants it too"
    assert not permissions.user_has_area_perm(user, "host_rooms", tree.city_a)


@pytest.mark.django_db
def test_the_periodic_task_removes_expired_permissions_from_storage(tree):
    user = UserFactory.create()
    now = timezone.now()
    grant(user, "moderator", tree.city_a, tree.organisation, valid_until=now + timedelta(minutes=5))
    assert _stored(user)

    with time_machine.travel(now + timedelta(minutes=6), tick=False):
        refreshed = permissions_refresh.apply().get()

    assert refreshed == 1
    assert _stored(user) == set()


@pytest.mark.django_db
def test_a_membership_can_only_be_granted_by_an_administrator_over_that_area(tree):
    admin_a = UserFactory.create()
    grant(admin_a, "administrator", tree.city_a, tree.organisation)
    newcomer = UserFactory.create()
    from commsplatform.core.errors import PermissionDenied

    services.membership_grant(
        actor=admin_a, user=newcomer, organisation=tree.organisation, role="moderator", area=tree.district_a1
    )
    with pytest.raises(PermissionDenied):
        services.membership_grant(
            actor=admin_a, user=newcomer, organisation=tree.organisation, role="moderator", area=tree.city_b
        )
    assert permissions.user_has_area_perm(newcomer, "moderate_rooms", tree.district_a1)
    assert not permissions.user_has_area_perm(newcomer, "moderate_rooms", tree.city_b)


@pytest.mark.django_db
def test_an_erased_person_keeps_no_permission(tree):
    user = UserFactory.create()
    grant(user, "shelter_manager", tree.city_a, tree.organisation)

    services.user_erase(actor=user, user=user)

    assert _stored(user) == set()
