"""Rules put people in groups (and say why); staff overrides stick and become consented training examples."""

import pytest
from django.contrib.gis.geos import Point

from accounts import services as accounts_services
from accounts.models import AreaLevel, ConsentPurpose, GroupMembership, Role
from alerts.services import reports
from classifier import inference, services
from classifier.labels import label_set_active
from classifier.models import ClassifiedText, GroupAssignment, LabelledExample
from classifier.selectors import training_examples
from commsplatform.core.models import AuditEvent
from tests.factories import UserFactory, grant, resident_at, square

pytestmark = pytest.mark.django_db


@pytest.fixture
def zone(tree):
    return accounts_services.area_create(
        actor=None, name="Zone 1", code="Z1", level=AreaLevel.ZONE, geometry=square(0, 0, 3, 3), parent=tree.city_a
    )


@pytest.fixture
def staff_a(tree):
    user = UserFactory.create()
    grant(user, Role.SHELTER_MANAGER, tree.city_a, tree.organisation)
    return user


@pytest.fixture
def staff_b(tree):
    user = UserFactory.create()
    grant(user, Role.SHELTER_MANAGER, tree.city_b, tree.organisation)
    return user


@pytest.fixture
def predict_as(monkeypatch):
    def use(label, score=0.9, language="en"):
        def fake(texts):
            return [inference.Result(label, score, {label: score}, language, 0.99) for _ in texts]

        monkeypatch.setattr(inference, "texts_predict", fake)

    return use


def test_mobility_need_in_zone_one_gives_assisted_evacuation(
    tree, zone, classifier_on, django_capture_on_commit_callbacks
):
    user = resident_at(1, 1)
    accounts_services.consent_give(user=user, purpose=ConsentPurpose.NEEDS_MOBILITY, version="1")
    with django_capture_on_commit_callbacks(execute=True):
        accounts_services.resident_need_set(user=user, kind="mobility")
    assignment = GroupAssignment.objects.get(user=user, rule="needs.mobility.zone")
    assert assignment.group.name == "Assisted evacuation, Zone 1"
    assert assignment.group.area == zone
    assert "mobility" in assignment.explanation
    assert GroupMembership.objects.filter(user=user, group=assignment.group, source="rule").exists()

    # Withdrawing the consent drops the need, and the rule-made membership goes with it.
    with django_capture_on_commit_callbacks(execute=True):
        accounts_services.consent_withdraw(user=user, purpose=ConsentPurpose.NEEDS_MOBILITY)
    assignment.refresh_from_db()
    assert assignment.ended_at is not None
    assert not assignment.overridden
    assert not GroupMembership.objects.filter(user=user, group=assignment.group).exists()


def test_withdrawing_location_consent_takes_the_zone_group_away(
    tree, zone, classifier_on, django_capture_on_commit_callbacks
):
    user = resident_at(1, 1)
    accounts_services.consent_give(user=user, purpose=ConsentPurpose.NEEDS_MOBILITY, version="1")
    with django_capture_on_commit_callbacks(execute=True):
        accounts_services.resident_need_set(user=user, kind="mobility")
    assert GroupAssignment.objects.filter(user=user, rule="needs.mobility.zone", ended_at__isnull=True).exists()
    with django_capture_on_commit_callbacks(execute=True):
        accounts_services.consent_withdraw(user=user, purpose=ConsentPurpose.LOCATION)
    assert not GroupAssignment.objects.filter(user=user, ended_at__isnull=True).exists()
    assert not GroupMembership.objects.filter(user=user).exists()


def test_needs_without_location_or_outside_a_zone_give_no_zone_group(tree, zone, classifier_on):
    user = resident_at(4, 4)  # in district A1, outside zone 1
    accounts_services.consent_give(user=user, purpose=ConsentPurpose.NEEDS_MOBILITY, version="1")
    accounts_services.resident_need_set(user=user, kind="mobility")
    services.assignments_apply(user=user)
    assert not GroupAssignment.objects.filter(user=user, rule="needs.mobility.zone").exists()


def test_offering_help_joins_the_district_volunteers_with_model_evidence(tree, classifier_on, predict_as):
    predict_as("rescue_volunteering_or_donation_effort", 0.83)
    user = resident_at(1, 1)
    reports.report_create(reporter=user, text="I have a truck and can carry people.", location=Point(1, 1, srid=4326))
    services.texts_classify(text_ids=list(ClassifiedText.objects.values_list("pk", flat=True)))
    assignment = GroupAssignment.objects.get(user=user, rule="prediction.offering_help.district")
    assert assignment.group.key == f"volunteers-{tree.district_a1.pk}"
    assert assignment.group.kind == "volunteers"
    assert assignment.score == pytest.approx(0.83)
    assert assignment.label == "rescue_volunteering_or_donation_effort"
    assert assignment.model_name == "tiny-test"
    assert assignment.model_version
    assert assignment.text is not None


def test_a_low_score_assigns_nothing(tree, classifier_on, predict_as):
    predict_as("rescue_volunteering_or_donation_effort", 0.3)
    user = resident_at(1, 1)
    reports.report_create(reporter=user, text="maybe I could help", location=Point(1, 1, srid=4326))
    services.texts_classify(text_ids=list(ClassifiedText.objects.values_list("pk", flat=True)))
    assert not GroupAssignment.objects.filter(user=user).exclude(rule__startswith="language").exists()


def test_another_language_joins_its_readers_group(tree, classifier_on, predict_as):
    predict_as("sympathy_and_support", 0.9, language="es")
    user = resident_at(1, 1)
    reports.report_create(
        reporter=user, text="Mucho ánimo a todas las familias afectadas.", location=Point(1, 1, srid=4326)
    )
    services.texts_classify(text_ids=list(ClassifiedText.objects.values_list("pk", flat=True)))
    assignment = GroupAssignment.objects.get(user=user, rule="language.detected")
    assert assignment.group.language == "es"
    assert assignment.model_name == "py3langid"


def test_staff_override_sticks_is_audited_and_area_scoped(tree, classifier_on, predict_as, api, staff_a, staff_b):
    predict_as("rescue_volunteering_or_donation_effort", 0.9)
    user = resident_at(1, 1)
    reports.report_create(reporter=user, text="I can help.", location=Point(1, 1, srid=4326))
    services.texts_classify(text_ids=list(ClassifiedText.objects.values_list("pk", flat=True)))
    assignment = GroupAssignment.objects.get(user=user, rule="prediction.offering_help.district")

    api.force_authenticate(staff_b)
    url = f"/api/classifier/assignments/{assignment.pk}/end/"
    assert api.post(url, {"reason": "not theirs"}, format="json").status_code == 404
    assert api.get("/api/classifier/assignments/").json()["results"] == []
    api.force_authenticate(user)
    assert api.post(url, {"reason": "me"}, format="json").status_code == 404

    api.force_authenticate(staff_a)
    assert api.post(url, {}, format="json").status_code == 400
    listed = api.get(f"/api/classifier/assignments/?user={user.pk}").json()["results"]
    assert [a["rule"] for a in listed] == ["prediction.offering_help.district"]
    assert api.get("/api/classifier/assignments/?user=abc").status_code == 400
    response = api.post(url, {"reason": "Asked to be left out."}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["overridden"] is True
    assert api.post(url, {"reason": "again"}, format="json").status_code == 409
    assert not GroupMembership.objects.filter(user=user, group=assignment.group).exists()
    assert AuditEvent.objects.filter(action="classifier.assignment_ended", actor_id=staff_a.pk).exists()

    services.assignments_apply(user=user)  # the rule fires again, but staff said no
    assert not GroupAssignment.objects.filter(user=user, group=assignment.group, ended_at__isnull=True).exists()

    # Staff can put someone in a group of their area by hand, not in another area's.
    response = api.post(
        "/api/classifier/assignments/",
        {"user": user.pk, "group": assignment.group.pk, "reason": "Back in."},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["source"] == "staff"
    assert (
        api.post(
            "/api/classifier/assignments/", {"user": 999999, "group": assignment.group.pk, "reason": "x"}, format="json"
        ).status_code
        == 404
    )
    api.force_authenticate(staff_b)
    assert (
        api.post(
            "/api/classifier/assignments/",
            {"user": user.pk, "group": assignment.group.pk, "reason": "x"},
            format="json",
        ).status_code
        == 403
    )


def test_relabel_becomes_an_example_only_with_training_consent(tree, classifier_on, predict_as, api, staff_a, staff_b):
    predict_as("not_humanitarian", 0.9)
    consenting = resident_at(1, 1)
    accounts_services.consent_give(user=consenting, purpose=ConsentPurpose.TRAINING, version="1")
    silent = resident_at(1, 2)
    for person in (consenting, silent):
        reports.report_create(reporter=person, text="Please help, water everywhere.", location=Point(1, 1, srid=4326))
    services.texts_classify(text_ids=list(ClassifiedText.objects.values_list("pk", flat=True)))
    texts = {t.author_id: t for t in ClassifiedText.objects.all()}

    api.force_authenticate(staff_b)
    assert (
        api.post(
            f"/api/classifier/texts/{texts[consenting.pk].pk}/label/", {"label": "requests_or_urgent_needs"}
        ).status_code
        == 404
    )
    api.force_authenticate(staff_a)
    assert api.post(f"/api/classifier/texts/{texts[consenting.pk].pk}/label/", {"label": "nonsense"}).status_code == 400
    for person in (consenting, silent):
        response = api.post(
            f"/api/classifier/texts/{texts[person.pk].pk}/label/", {"label": "requests_or_urgent_needs"}
        )
        assert response.status_code == 200, response.content
        assert response.json()["staff_label"] == "requests_or_urgent_needs"
        assert response.json()["urgency"] == 2

    assert list(LabelledExample.objects.values_list("author_id", flat=True)) == [consenting.pk]
    assert [e.label for e in training_examples(label_set=label_set_active())] == ["requests_or_urgent_needs"]
    # The correction feeds the rules as a certain label.
    assert GroupAssignment.objects.filter(
        user=silent, rule="prediction.urgent_needs.district", model_name="staff"
    ).exists()
    # Withdrawn consent: the example is no longer used for training.
    accounts_services.consent_withdraw(user=consenting, purpose=ConsentPurpose.TRAINING)
    assert training_examples(label_set=label_set_active()) == []

    triage = api.get("/api/classifier/triage/").json()["results"]
    assert [t["urgency"] for t in triage] == [2, 2]
    assert api.get("/api/classifier/triage/?status=weird").status_code == 400
    api.force_authenticate(consenting)
    assert api.get("/api/classifier/triage/").json()["results"] == []
    assert api.get(f"/api/classifier/texts/{texts[consenting.pk].pk}/").status_code == 404


def test_an_assignment_joins_the_open_rooms_of_the_group_in_the_persons_language(
    tree, zone, classifier_on, django_capture_on_commit_callbacks
):
    from rooms.models import Room, RoomMember

    group = accounts_services.communication_group_ensure(
        key=f"assisted-evacuation-{zone.pk}", name="Assisted evacuation, Zone 1", kind="needs", area=zone
    )
    # Rooms made directly: the rooms app's own services and permissions are not what this test is about.
    english = Room.objects.create(
        slug="evac-en", title="Evacuation help", kind="community", visibility="group", area=zone, languages=["en"]
    )
    french = Room.objects.create(
        slug="evac-fr", title="Aide", kind="community", visibility="group", area=zone, languages=["fr"]
    )
    english.groups.add(group)
    french.groups.add(group)

    user = resident_at(1, 1)
    accounts_services.consent_give(user=user, purpose=ConsentPurpose.NEEDS_MOBILITY, version="1")
    with django_capture_on_commit_callbacks(execute=True):
        accounts_services.resident_need_set(user=user, kind="mobility")
    assignment = GroupAssignment.objects.get(user=user, group=group)
    assert assignment.rooms == [english.pk]
    member = RoomMember.objects.get(room=english, user=user)
    assert (member.role, member.source) == ("participant", "rule")
    assert not RoomMember.objects.filter(room=french, user=user).exists()
