"""Texts from other apps reach the classifier after commit, are classified in batches, and leave with erasure."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.contrib.gis.geos import Point

from accounts import services as accounts_services
from accounts.models import ConsentPurpose
from alerts.models import CitizenReport
from alerts.services import reports
from classifier import inference, services
from classifier.models import ClassifiedText, TextStatus
from tests.factories import resident_at

pytestmark = pytest.mark.django_db


def _report(user, text="The bridge on the main road collapsed."):
    return reports.report_create(reporter=user, text=text, location=Point(1, 1, srid=4326))


def test_a_report_is_classified_after_commit_with_the_model_identity(
    tree, classifier_on, django_capture_on_commit_callbacks
):
    user = resident_at(1, 1)
    with django_capture_on_commit_callbacks(execute=True):
        report = _report(user)
    text = ClassifiedText.objects.get(object_id=report.pk, content_type=ContentType.objects.get_for_model(report))
    assert text.status == TextStatus.CLASSIFIED
    _name, version, labels = inference.model_identity()
    assert (text.model_name, text.model_version, text.label_set) == ("tiny-test", version, labels)
    assert text.label in labels
    assert text.area == tree.district_a1
    report.refresh_from_db()
    assert report.category == text.label
    assert report.model_version == version
    assert classifier_on == [[text.pk]]


def test_texts_are_classified_in_batches_and_only_once(tree, classifier_on, settings):
    settings.CLASSIFIER_ENABLED = False  # queue without running
    user = resident_at(1, 1)
    made = [_report(user, f"Water is rising in street number {i}.") for i in range(5)]
    ids = list(ClassifiedText.objects.values_list("pk", flat=True))
    assert len(ids) == len(made)
    settings.CLASSIFIER_BATCH_SIZE = 3
    assert services.texts_classify(text_ids=[ids[0]]) == 3  # its own text and the two oldest waiting
    assert services.texts_classify(text_ids=[ids[0]]) == 2  # already done: the batch is filled with the rest
    assert services.texts_classify(text_ids=ids) == 0
    assert not ClassifiedText.objects.exclude(status=TextStatus.CLASSIFIED).exists()


def test_urgent_categories_raise_the_report_in_the_triage_queue(tree, classifier_on, monkeypatch):
    user = resident_at(1, 1)

    def fake_predict(texts):
        return [
            inference.Result(
                label="requests_or_urgent_needs" if "help" in t else "sympathy_and_support",
                score=0.9,
                scores={},
                language="en",
                language_score=0.99,
            )
            for t in texts
        ]

    monkeypatch.setattr(inference, "texts_predict", fake_predict)
    calm = reports.report_create(reporter=user, text="Thinking of everyone tonight.", location=Point(1, 1, srid=4326))
    urgent = reports.report_create(reporter=user, text="Please help, we are trapped.", location=Point(1, 1, srid=4326))
    services.texts_classify(text_ids=list(ClassifiedText.objects.values_list("pk", flat=True)))
    assert CitizenReport.objects.get(pk=urgent.pk).urgency == 2
    assert CitizenReport.objects.get(pk=calm.pk).urgency == 0
    first = ClassifiedText.objects.order_by("-urgency", "created_at").first()
    assert first.object_id == urgent.pk


def test_alert_replies_and_need_notes_are_queued(tree, classifier_on, django_capture_on_commit_callbacks):
    user = resident_at(1, 1)
    accounts_services.consent_give(user=user, purpose=ConsentPurpose.NEEDS_MOBILITY, version="1")
    with django_capture_on_commit_callbacks(execute=True):
        need = accounts_services.resident_need_set(user=user, kind="mobility", note="I use a wheelchair")
    text = ClassifiedText.objects.get(object_id=need.pk, content_type=ContentType.objects.get_for_model(need))
    assert text.status == TextStatus.CLASSIFIED
    assert text.author == user

    # An emptied note takes its text away; removing the need drops it as well.
    accounts_services.resident_need_set(user=user, kind="mobility", note="")
    assert not ClassifiedText.objects.filter(pk=text.pk).exists()


def test_generic_enqueue_from_any_source_and_language(tree, classifier_on, django_capture_on_commit_callbacks):
    user = resident_at(1, 1)
    source = _report(user)
    with django_capture_on_commit_callbacks(execute=True):
        item = services.text_classify_enqueue(
            source=source, text="Necesitamos agua potable y mantas en el refugio, por favor.", author=user
        )
    item.refresh_from_db()
    assert item.language == "es"
    assert services.text_classify_enqueue(source=source, text="   ", author=user) is None
    assert not ClassifiedText.objects.filter(pk=item.pk).exists()


def test_erasure_removes_texts_predictions_and_reports(tree, classifier_on, django_capture_on_commit_callbacks):
    user = resident_at(1, 1)
    with django_capture_on_commit_callbacks(execute=True):
        _report(user)
    assert ClassifiedText.objects.filter(author=user).exists()
    accounts_services.user_erase(actor=user, user=user)
    assert not ClassifiedText.objects.filter(author=user).exists()
    assert not CitizenReport.objects.filter(reporter=user).exists()


def test_an_erased_author_is_not_queued(tree, classifier_on):
    user = resident_at(1, 1)
    report = _report(user)
    accounts_services.user_erase(actor=user, user=user)
    assert services.text_classify_enqueue(source=report, text="again", author=user) is None
