"""Check-in and check-out: counts, automatic full/open, refusals that point elsewhere, history and audit."""

import pytest

from commsplatform.core.errors import Conflict, PermissionDenied, ValidationFailed
from commsplatform.core.models import AuditEvent
from shelters import services
from shelters.models import OccupancySnapshot, Shelter, ShelterStay
from tests.factories import UserFactory
from tests.shelters.factories import ShelterFactory, staff


@pytest.fixture
def manager(tree):
    return staff("shelter_manager", tree.city_a, tree.organisation)


def reload(shelter: Shelter) -> Shelter:
    return Shelter.objects.get(pk=shelter.pk)


@pytest.mark.django_db
def test_check_in_and_out_count_people_and_record_history(tree, manager):
    shelter = ShelterFactory.create(lon=2, lat=2, capacity=10)

    family = services.shelter_check_in(actor=manager, shelter=shelter, people=4)
    single = services.shelter_check_in(actor=manager, shelter=shelter, people=1)
    assert reload(shelter).occupancy == 5
    services.shelter_check_out(actor=manager, stay=family)

    shelter = reload(shelter)
    assert shelter.occupancy == 1
    assert shelter.free_places == 9
    assert ShelterStay.objects.get(pk=family.pk).checked_out_at is not None
    assert ShelterStay.objects.get(pk=single.pk).checked_out_at is None
    history = list(OccupancySnapshot.objects.filter(shelter=shelter).values_list("reason", "occupancy"))
    assert history == [("status", 0), ("check_in", 4), ("check_in", 5), ("check_out", 1)]
    actions = list(
        AuditEvent.objects.filter(object_type="shelters.shelter", object_id=str(shelter.pk)).values_list(
            "action", flat=True
        )
    )
    assert actions == ["shelters.shelter_created", "shelters.checked_in", "shelters.checked_in", "shelters.checked_out"]


@pytest.mark.django_db
def test_status_turns_full_and_open_by_itself(tree, manager):
    shelter = ShelterFactory.create(capacity=3)

    stay = services.shelter_check_in(actor=manager, shelter=shelter, people=3)
    assert reload(shelter).status == "full"
    services.shelter_check_out(actor=manager, stay=stay)
    assert reload(shelter).status == "open"


@pytest.mark.django_db
def test_refusal_names_the_nearest_open_shelter_with_space(tree, manager):
    full = ShelterFactory.create(name="Full School", lon=2, lat=2, capacity=2)
    ShelterFactory.create(name="Far Hall", lon=9, lat=9, capacity=50)
    ShelterFactory.create(name="Near Gym", lon=2.5, lat=2, capacity=5)
    ShelterFactory.create(name="Closed Gym", lon=2.1, lat=2, capacity=50, status="closed")
    services.shelter_check_in(actor=manager, shelter=full, people=2)
    before = ShelterStay.objects.count()

    with pytest.raises(services.ShelterFull) as refused:
        services.shelter_check_in(actor=manager, shelter=full, people=1)

    assert refused.value.code == "shelter_full"
    assert refused.value.alternative.shelter.name == "Near Gym"
    assert 55_000 < refused.value.alternative.distance_m < 56_000  # half a degree of longitude at 2°N
    assert "Near Gym" in refused.value.message
    assert ShelterStay.objects.count() == before
    assert reload(full).occupancy == 2


@pytest.mark.django_db
def test_a_household_larger_than_the_free_places_is_refused_whole(tree, manager):
    shelter = ShelterFactory.create(capacity=5)
    services.shelter_check_in(actor=manager, shelter=shelter, people=3)

    with pytest.raises(services.ShelterFull):
        services.shelter_check_in(actor=manager, shelter=shelter, people=3)

    assert reload(shelter).occupancy == 3
    assert services.shelter_check_in(actor=manager, shelter=shelter, people=2).people == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "capacity", "code"), [("planned", 10, "shelter_not_open"), ("open", None, "capacity_unknown")]
)
def test_check_in_needs_an_open_shelter_with_known_capacity(tree, manager, status, capacity, code):
    shelter = ShelterFactory.create(capacity=capacity, status=status)
    with pytest.raises(services.ShelterFull) as refused:
        services.shelter_check_in(actor=manager, shelter=shelter, people=1)
    assert refused.value.code == code
    assert reload(shelter).occupancy == 0


@pytest.mark.django_db
def test_beds_by_category_are_counted_and_refused_when_taken(tree, manager):
    shelter = ShelterFactory.create(capacity=10, beds={"women": 2, "children": 3})

    stay = services.shelter_check_in(actor=manager, shelter=shelter, people=3, beds={"women": 1, "children": 2})
    with pytest.raises(services.ShelterFull) as refused:
        services.shelter_check_in(actor=manager, shelter=shelter, people=2, beds={"children": 2})

    assert "children" in refused.value.message
    assert reload(shelter).occupancy == 3, "the refused check-in changed nothing"
    assert {b.category: b.occupied for b in shelter.beds.all()} == {"children": 2, "women": 1}
    services.shelter_check_out(actor=manager, stay=stay)
    assert {b.category: b.occupied for b in shelter.beds.all()} == {"children": 0, "women": 0}


@pytest.mark.django_db
def test_a_resident_checks_in_and_out_themself_once(tree):
    resident = UserFactory.create()
    shelter = ShelterFactory.create(capacity=10)
    other = ShelterFactory.create(capacity=10)

    stay = services.shelter_check_in(actor=resident, shelter=shelter, people=3)
    assert stay.resident == resident
    with pytest.raises(Conflict) as again:
        services.shelter_check_in(actor=resident, shelter=other, people=1)
    assert again.value.code == "already_checked_in"
    with pytest.raises(ValidationFailed):
        services.shelter_check_in(actor=resident, shelter=other, people=11)
    services.shelter_check_out(actor=resident, stay=stay)
    assert reload(shelter).occupancy == 0
    with pytest.raises(Conflict):
        services.shelter_check_out(actor=resident, stay=stay)


@pytest.mark.django_db
def test_residents_cannot_check_in_or_out_others(tree, manager):
    resident = UserFactory.create()
    neighbour = UserFactory.create()
    shelter = ShelterFactory.create(capacity=10)

    with pytest.raises(PermissionDenied):
        services.shelter_check_in(actor=resident, shelter=shelter, people=1, resident=neighbour)
    stay = services.shelter_check_in(actor=manager, shelter=shelter, people=1, resident=neighbour)
    with pytest.raises(PermissionDenied):
        services.shelter_check_out(actor=resident, stay=stay)
    assert reload(shelter).occupancy == 1


@pytest.mark.django_db
def test_managers_act_only_in_their_area(tree):
    district_manager = staff("shelter_manager", tree.district_a1, tree.organisation)
    inside = ShelterFactory.create(lon=2, lat=2, capacity=10)
    outside = ShelterFactory.create(lon=7, lat=7, capacity=10)  # city A, outside district A1

    services.shelter_check_in(actor=district_manager, shelter=inside, people=2, resident=None)
    with pytest.raises(PermissionDenied):
        services.shelter_occupancy_set(actor=district_manager, shelter=outside, occupancy=3)
    with pytest.raises(PermissionDenied):
        services.shelter_set_status(actor=district_manager, shelter=outside, status="closed")
    assert reload(outside).occupancy == 0
    assert reload(outside).status == "open"


@pytest.mark.django_db
def test_head_count_may_exceed_capacity_and_blocks_check_ins(tree, manager):
    shelter = ShelterFactory.create(capacity=100)

    services.shelter_occupancy_set(actor=manager, shelter=shelter, occupancy=120)
    assert reload(shelter).status == "full"
    with pytest.raises(services.ShelterFull):
        services.shelter_check_in(actor=manager, shelter=shelter, people=1)
    services.shelter_occupancy_set(actor=manager, shelter=shelter, occupancy=40)
    assert reload(shelter).status == "open"
    assert reload(shelter).free_places == 60


@pytest.mark.django_db
def test_closing_needs_an_empty_shelter(tree, manager):
    shelter = ShelterFactory.create(capacity=10)
    services.shelter_check_in(actor=manager, shelter=shelter, people=2)

    with pytest.raises(Conflict) as refused:
        services.shelter_set_status(actor=manager, shelter=shelter, status="closed")
    assert refused.value.code == "shelter_occupied"
    services.shelter_occupancy_set(actor=manager, shelter=shelter, occupancy=0)
    services.shelter_set_status(actor=manager, shelter=shelter, status="closed")

    assert reload(shelter).status == "closed"
    assert not ShelterStay.objects.filter(shelter=shelter, checked_out_at__isnull=True).exists()


@pytest.mark.django_db
def test_lowering_capacity_below_occupancy_makes_the_shelter_full(tree, manager):
    shelter = ShelterFactory.create(capacity=10)
    services.shelter_check_in(actor=manager, shelter=shelter, people=6)

    services.shelter_update(actor=manager, shelter=shelter, fields={"capacity": 5})

    shelter = reload(shelter)
    assert (shelter.status, shelter.occupancy, shelter.free_places) == ("full", 6, 0)


@pytest.mark.django_db
def test_periodic_snapshot_records_each_open_shelter(tree, manager):
    open_one = ShelterFactory.create(capacity=10)
    ShelterFactory.create(capacity=10, status="closed")
    services.shelter_check_in(actor=manager, shelter=open_one, people=4)

    assert services.occupancy_snapshot_record() == 1
    periodic = OccupancySnapshot.objects.get(reason="periodic")
    assert (periodic.shelter_id, periodic.occupancy, periodic.capacity) == (open_one.pk, 4, 10)
