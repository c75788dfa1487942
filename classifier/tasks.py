"""Celery tasks of the classifier (queue "classifier" by name prefix, settings.CELERY_TASK_ROUTES).

Thin and idempotent: they take ids, re-fetch, and treat "gone or already classified" as done.
"""

from celery import shared_task

from accounts.models import User
from classifier import services


@shared_task(
    name="classifier.classify_texts",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=240,
    time_limit=270,
)
def classify_texts(text_ids: list[int]) -> int:
    """Classify these texts and up to a batch of other waiting ones (CLASSIFIER_BATCH_SIZE)."""
    return services.texts_classify(text_ids=[int(i) for i in text_ids])


@shared_task(name="classifier.assign_user", acks_late=True, soft_time_limit=60, time_limit=90)
def assign_user(user_id: int) -> int:
    """Re-run the group rules for one person (their needs, consent or home changed)."""
    user = User.objects.filter(pk=user_id, erased_at__isnull=True).first()
    if user is None:
        return 0
    return len(services.assignments_apply(user=user))
