"""Signal receivers: texts written through apps whose services the classifier does not own, and erasure.

Alert replies (alerts.Reply.message) and need notes (accounts.ResidentNeed.note) are queued here on save,
because their services live in files other teams own; reports and room questions call
`classifier.services.text_classify_enqueue` explicitly. A need added or removed re-runs the person's rules.
"""

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from accounts.models import ResidentNeed, ResidentProfile, User
from classifier import services
from classifier.models import ClassifiedText


def _assign_later(user_id: int) -> None:
    if settings.CLASSIFIER_ENABLED:
        from classifier import tasks

        transaction.on_commit(lambda: tasks.assign_user.delay(user_id))


def reply_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if raw or not (instance.message or "").strip():
        return
    services.text_classify_enqueue(source=instance, text=instance.message, author=instance.user)


def need_saved(sender: Any, instance: ResidentNeed, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    user = instance.profile.user
    services.text_classify_enqueue(source=instance, text=instance.note, author=user)
    _assign_later(user.pk)


def need_deleted(sender: Any, instance: ResidentNeed, **kwargs: Any) -> None:
    source_deleted(sender, instance)
    user_id = ResidentProfile.objects.filter(pk=instance.profile_id).values_list("user_id", flat=True).first()
    if user_id is not None:
        _assign_later(user_id)


def profile_saved(sender: Any, instance: ResidentProfile, raw: bool = False, **kwargs: Any) -> None:
    """A home set, moved or cleared (location consent withdrawn): zone and district groups may change."""
    fields = kwargs.get("update_fields")
    if raw or (fields is not None and "home_location" not in fields):
        return
    _assign_later(instance.user_id)


def source_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A source object is gone: so is its text and prediction."""
    content_type = ContentType.objects.get_for_model(instance)
    ClassifiedText.objects.filter(content_type=content_type, object_id=instance.pk).delete()


def user_erased(sender: Any, user: User, **kwargs: Any) -> None:
    from alerts.services import reports

    services.classifier_erase_user(user=user)
    reports.reports_erase_for_user(user=user)
