"""The Celery app: named queues declared, each task family routed to its queue, beat schedule resolvable."""

from django.conf import settings

from commsplatform.celery import app


def _queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_named_queues_are_declared():
    declared = {q.name for q in app.conf.task_queues}
    assert {
        "default",
        "alerts",
        "classifier",
        "deliveries.websocket",
        "deliveries.email",
        "deliveries.telegram",
    } <= declared


def test_tasks_are_routed_by_family():
    assert _queue_of("alerts.dispatch") == "alerts"
    assert _queue_of("classifier.classify_batch") == "classifier"
    assert _queue_of("accounts.permissions_refresh") == "default"
    assert _queue_of("something.else") == "default"


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry["task"]
