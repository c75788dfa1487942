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


def test_the_bots_queue_is_declared_and_routed():
    assert "bots" in {q.name for q in app.conf.task_queues}
    assert _queue_of("bots.process_update") == "bots"
    assert _queue_of("rooms.alert_announce") == "default"


def test_every_tasks_soft_limit_comes_before_its_hard_limit():
    """Celery refuses to queue a task whose soft time limit is not below its hard one: a task that set only
    time_limit under the project's default soft limit could not be queued at all (alert issue then failed)."""
    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert "rooms.alert_announce" in ours
    for name, task in ours.items():
        soft = task.soft_time_limit or settings.CELERY_TASK_SOFT_TIME_LIMIT
        hard = task.time_limit or settings.CELERY_TASK_TIME_LIMIT
        assert soft < hard, f"{name}: soft limit {soft} s is not below the hard limit {hard} s"
