"""The reads the web pages use: rooms a person staffs, the rooms they joined, where they may create rooms, staff
names, polls with the reader's own vote, and the member list (moderators only)."""

import pytest

from accounts.models import Role
from commsplatform.core.errors import PermissionDenied
from rooms import selectors, services
from tests.factories import UserFactory, grant


def test_rooms_staffed_are_those_hosted_or_moderated_over_the_area(tree, people, town_hall):
    beta_official = UserFactory.create(username="beta-official")
    grant(beta_official, Role.OFFICIAL, tree.city_b, tree.organisation)
    beta = services.room_create(
        actor=beta_official, title="Betatown hall", kind="town_hall", visibility="public", area=tree.city_b
    )

    hosted = selectors.room_list_for_staff(user=people.host)
    moderated = selectors.room_list_for_staff(user=people.moderator)

    assert [(room.pk, access.role) for room, access in hosted] == [(town_hall.pk, "host")]
    assert [(room.pk, access.role) for room, access in moderated] == [(town_hall.pk, "moderator")]
    assert selectors.room_list_for_staff(user=people.alice) == []
    assert [(room.pk, access.role) for room, access in selectors.room_list_for_staff(user=beta_official)] == [
        (beta.pk, "host")
    ]


def test_rooms_joined_leave_out_rooms_left(people, town_hall):
    services.room_join(user=people.alice, room_id=town_hall.pk)
    services.room_join(user=people.bob, room_id=town_hall.pk)
    services.room_leave(user=people.bob, room_id=town_hall.pk)

    assert selectors.room_ids_joined(user=people.alice) == {town_hall.pk}
    assert selectors.room_ids_joined(user=people.bob) == set()


def test_host_areas_are_the_areas_under_the_official_role(tree, people):
    assert set(selectors.room_host_areas(user=people.host)) == {tree.city_a, tree.district_a1}
    assert not selectors.room_host_areas(user=people.alice).exists()


def test_staff_are_named_and_residents_are_not(people, town_hall):
    services.room_join(user=people.alice, room_id=town_hall.pk)

    names = selectors.room_staff_names(room=town_hall)

    assert names == {people.host.pk: people.host.get_full_name() or people.host.username}


def test_polls_carry_counts_and_the_readers_own_choices(people, town_hall):
    poll = services.poll_create(actor=people.host, room_id=town_hall.pk, question="Ready?", choices=["Yes", "No"])
    services.poll_vote(actor=people.alice, room_id=town_hall.pk, poll_id=poll.pk, choices=[1])

    alice = selectors.poll_list_for(access=selectors.room_access(room=town_hall, user=people.alice))
    bob = selectors.poll_list_for(access=selectors.room_access(room=town_hall, user=people.bob))

    assert [(p["poll"].pk, p["results"], p["my_choices"]) for p in alice] == [(poll.pk, [0, 1], [1])]
    assert [(p["results"], p["my_choices"]) for p in bob] == [([0, 1], None)]


def test_only_moderators_list_the_members(people, town_hall):
    services.room_join(user=people.alice, room_id=town_hall.pk)

    members = selectors.room_member_list(access=selectors.room_access(room=town_hall, user=people.host))

    assert {m.user_id for m in members} == {people.host.pk, people.alice.pk}
    with pytest.raises(PermissionDenied):
        selectors.room_member_list(access=selectors.room_access(room=town_hall, user=people.alice))
