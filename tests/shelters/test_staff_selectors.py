"""Selectors of the staff console: the areas whose shelters a person follows, the shelters there, who manages."""

import pytest

from shelters import selectors
from tests.factories import UserFactory, grant
from tests.shelters.factories import ShelterFactory, staff

pytestmark = pytest.mark.django_db


def test_staff_areas_drop_areas_inside_another_held_area(tree):
    person = staff("official", tree.city_a, tree.organisation)
    staff_role_again = staff("shelter_manager", tree.district_a1, tree.organisation)
    grant(person, "shelter_manager", tree.district_a1, tree.organisation)
    grant(person, "official", tree.city_b, tree.organisation)

    assert selectors.shelter_staff_areas(user=person) == [tree.city_a, tree.city_b]
    assert selectors.shelter_staff_areas(user=staff_role_again) == [tree.district_a1]
    assert selectors.shelter_staff_areas(user=UserFactory.create()) == []


def test_shelters_for_staff_are_those_of_their_areas_and_manage_needs_the_manager_role(tree):
    inside = ShelterFactory.create(name="Inside", lon=2.0, lat=2.0)
    ShelterFactory.create(name="Outside", lon=25.0, lat=5.0)
    official = staff("official", tree.city_a, tree.organisation)
    manager = staff("shelter_manager", tree.city_a, tree.organisation)

    assert list(selectors.shelter_list_for_staff(user=official)) == [inside]
    assert list(selectors.shelter_list_for_staff(user=UserFactory.create())) == []
    assert not selectors.shelter_staff_may_manage(user=official, shelter=inside)
    assert selectors.shelter_staff_may_manage(user=manager, shelter=inside)
    assert not selectors.shelter_staff_may_manage(user=None, shelter=inside)
