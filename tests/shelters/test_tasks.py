"""The periodic occupancy snapshot: a named task on the default queue, scheduled by beat."""

import pytest
from django.conf import settings

from commsplatform.celery import app
from shelters.models import OccupancySnapshot
from shelters.tasks import occupancy_snapshot
from tests.shelters.factories import ShelterFactory


def test_the_snapshot_task_is_scheduled_and_routed_to_the_default_queue():
    app.loader.import_default_modules()
    entry = settings.CELERY_BEAT_SCHEDULE["shelters.occupancy_snapshot"]
    assert entry["task"] in app.tasks
    assert app.amqp.router.route({}, "shelters.occupancy_snapshot")["queue"].name == "default"


@pytest.mark.django_db
def test_the_task_records_every_open_shelter(tree):
    ShelterFactory.create(capacity=10)
    ShelterFactory.create(capacity=10, status="planned")

    assert occupancy_snapshot.apply().get() == 1
    assert OccupancySnapshot.objects.filter(reason="periodic").count() == 1
