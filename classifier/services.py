"""Writes of the classifier: queueing texts, classifying them in batches, assigning groups, staff corrections.

Texts come from other apps through `text_classify_enqueue` (reports, room questions, alert replies, need notes);
the `classifier.classify_texts` task classifies them in batches after commit; the rules then put the author in
communication groups (and their rooms). Staff may relabel a text or end/add an assignment; their labels become
training examples when the author consented to training.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import permissions
from accounts import services as accounts_services
from accounts.models import CommunicationGroup, GroupMembership, GroupMembershipSource, User
from classifier import rooms_adapter, selectors
from classifier.labels import label_set_active
from classifier.models import AssignmentSource, ClassifiedText, GroupAssignment, LabelledExample, TextStatus
from classifier.rules import Match, rules_evaluate
from commsplatform.core.audit import audit_record
from commsplatform.core.errors import Conflict, PermissionDenied, ValidationFailed

logger = logging.getLogger(__name__)

# A claim older than this is taken to belong to a worker that died; the texts are claimed again.
CLAIM_TIMEOUT = timedelta(minutes=10)


def _source_area(source: models.Model, author: User | None) -> Any:
    """The area a text is about: the source's own area (a report's, a reply's, a room's), else the author's home."""
    area_id = getattr(source, "area_id", None)
    if area_id is None:
        room = getattr(source, "room", None)
        area_id = getattr(room, "area_id", None)
    if area_id is not None:
        return area_id
    area = selectors.resident_area(user=author) if author is not None else None
    return area.pk if area is not None else None


def text_classify_enqueue(*, source: models.Model, text: str, author: User | None) -> ClassifiedText | None:
    """Queue the text of `source` (any model instance) for classification after the caller's commit.

    One row per source object: a changed text is classified again; an empty one removes the row.
    """
    if source.pk is None:
        raise ValidationFailed("Save the source before queueing its text.")
    content_type = ContentType.objects.get_for_model(source)
    text = (text or "").strip()[: settings.CLASSIFIER_MAX_TEXT_CHARS]
    existing = ClassifiedText.objects.filter(content_type=content_type, object_id=source.pk).first()
    if not text:
        if existing is not None:
            existing.delete()
        return None
    if author is not None and author.erased_at is not None:
        return None
    if existing is not None and existing.text == text:
        return existing
    area_id = _source_area(source, author)
    with transaction.atomic():
        item, _created = ClassifiedText.objects.update_or_create(
            content_type=content_type,
            object_id=source.pk,
            defaults={
                "author": author,
                "area_id": area_id,
                "text": text,
                "status": TextStatus.PENDING,
                "claimed_at": None,
                "label": "",
                "score": None,
                "scores": {},
                "urgency": 0,
                "created_at": timezone.now(),
            },
        )
    if settings.CLASSIFIER_ENABLED:
        from classifier import tasks

        item_id = item.pk
        transaction.on_commit(lambda: tasks.classify_texts.delay([item_id]))
    return item


def _claim(text_ids: list[int]) -> list[ClassifiedText]:
    """Claim the given pending texts and fill the batch with the oldest other pending ones (conditional update)."""
    now = timezone.now()
    claimable = Q(status=TextStatus.PENDING) & (Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
    batch = settings.CLASSIFIER_BATCH_SIZE
    wanted = list(ClassifiedText.objects.filter(claimable, pk__in=text_ids[:batch]).values_list("pk", flat=True))
    if len(wanted) < batch:
        others = ClassifiedText.objects.filter(claimable).exclude(pk__in=wanted).order_by("created_at", "id")
        wanted += list(others.values_list("pk", flat=True)[: batch - len(wanted)])
    if not wanted:
        return []
    ClassifiedText.objects.filter(claimable, pk__in=wanted).update(claimed_at=now)
    return list(ClassifiedText.objects.filter(pk__in=wanted, claimed_at=now, status=TextStatus.PENDING))


def texts_classify(*, text_ids: list[int]) -> int:
    """Classify these texts (and other waiting ones, up to a batch); return how many were classified.

    Idempotent: texts already classified, gone, or claimed by another worker are skipped.
    """
    from classifier import inference

    items = _claim(list(text_ids))
    if not items:
        return 0
    label_set = label_set_active()
    results = inference.texts_predict([item.text for item in items])
    name, version, labels = inference.model_identity()
    now = timezone.now()
    authors: dict[int, User] = {}
    for item, result in zip(items, results, strict=True):
        item.status = TextStatus.CLASSIFIED
        item.label = result.label
        item.score = result.score
        item.scores = result.scores
        item.language = result.language
        item.language_score = result.language_score
        item.model_name = name
        item.model_version = version
        item.label_set = labels
        item.urgency = label_set.urgency(result.label) if result.score >= settings.CLASSIFIER_URGENT_MIN_SCORE else 0
        item.classified_at = now
        item.claimed_at = None
    with transaction.atomic():
        for item in items:
            # Only rows still claimed by this run are written (an erased author's rows are gone).
            ClassifiedText.objects.filter(pk=item.pk, status=TextStatus.PENDING).update(
                status=item.status,
                label=item.label,
                score=item.score,
                scores=item.scores,
                language=item.language,
                language_score=item.language_score,
                model_name=name,
                model_version=version,
                label_set=labels,
                urgency=item.urgency,
                classified_at=now,
                claimed_at=None,
            )
            _notify_source(item)
            if item.author_id is not None and item.author_id not in authors:
                author = User.objects.filter(pk=item.author_id, erased_at__isnull=True).first()
                if author is not None:
                    authors[author.pk] = author
    for author in authors.values():
        assignments_apply(user=author)
    logger.info("classified %d texts with %s %s", len(items), name, version)
    return len(items)


def _notify_source(item: ClassifiedText) -> None:
    """Sources that keep the classification themselves (citizen reports order their triage queue by it)."""
    model = item.content_type.model_class()
    if model is not None and model._meta.label == "alerts.CitizenReport":
        from alerts.services import reports

        reports.report_classification_set(
            report_id=item.object_id,
            category=item.label,
            score=float(item.score or 0.0),
            urgency=item.urgency,
            model_name=item.model_name,
            model_version=item.model_version,
        )


def _group_for(match: Match) -> CommunicationGroup:
    spec = match.group
    return accounts_services.communication_group_ensure(
        key=spec.key,
        name=spec.name,
        kind=spec.kind,
        area=spec.area,
        language=spec.language,
        description=spec.description,
    )


def assignments_apply(*, user: User) -> list[GroupAssignment]:
    """Run the rules for one person: add the groups (and rooms) that now apply, end rule-made ones that do not.

    A group staff took someone out of is never given back by a rule; staff-made assignments are left alone.
    """
    if user.erased_at is not None:
        return []
    label_set = label_set_active()
    ctx = selectors.rule_context(user=user, label_set=label_set)
    matches = rules_evaluate(ctx)
    created: list[GroupAssignment] = []
    with transaction.atomic():
        wanted_keys = set()
        for match in matches:
            group = _group_for(match)
            wanted_keys.add(group.key)
            history = GroupAssignment.objects.filter(user=user, group=group)
            if history.filter(overridden=True).exists() or history.filter(ended_at__isnull=True).exists():
                continue
            accounts_services.group_member_add(group=group, user=user, source=GroupMembershipSource.RULE)
            room_ids = rooms_adapter.rooms_join(group=group, user=user, language=ctx.language)
            assignment = GroupAssignment.objects.create(
                user=user,
                group=group,
                source=AssignmentSource.RULE,
                rule=match.rule,
                explanation=match.explanation[:500],
                text_id=match.evidence.text_id if match.evidence else None,
                label=match.evidence.label if match.evidence else "",
                score=match.score,
                model_name=match.model_name,
                model_version=match.model_version,
                rooms=room_ids,
            )
            audit_record(
                action="classifier.assignment_made",
                target=assignment,
                area_id=group.area_id,
                data={"user": user.pk, "group": group.pk, "rule": match.rule, "rooms": room_ids},
            )
            created.append(assignment)
        stale = GroupAssignment.objects.filter(user=user, source=AssignmentSource.RULE, ended_at__isnull=True).exclude(
            group__key__in=wanted_keys
        )
        for assignment in stale.select_related("group"):
            _assignment_close(assignment, actor=None, reason="The rule no longer applies.", overridden=False)
    return created


def _assignment_close(assignment: GroupAssignment, *, actor: User | None, reason: str, overridden: bool) -> None:
    assignment.ended_at = timezone.now()
    assignment.ended_by = actor
    assignment.overridden = overridden
    assignment.reason = reason[:500]
    assignment.save(update_fields=["ended_at", "ended_by", "overridden", "reason"])
    membership = GroupMembership.objects.filter(group=assignment.group, user_id=assignment.user_id).first()
    # A rule takes out only what a rule put in; staff end any assignment.
    if membership is not None and (actor is not None or membership.source == GroupMembershipSource.RULE):
        accounts_services.group_member_remove(group=assignment.group, user=assignment.user)
    audit_record(
        action="classifier.assignment_ended",
        target=assignment,
        actor_id=actor.pk if actor else None,
        area_id=assignment.group.area_id,
        data={"user": assignment.user_id, "group": assignment.group_id, "overridden": overridden},
    )


def _require_staff(actor: User, area_id: int | None, what: str) -> None:
    from accounts.models import AdministrativeArea

    if actor.is_active and actor.is_superuser:
        return
    area = AdministrativeArea.objects.filter(pk=area_id).first() if area_id else None
    if area is None or not permissions.user_has_area_perm(actor, selectors.STAFF_PERM, area):
        raise PermissionDenied(f"You may not {what} here.")


def assignment_end(*, actor: User, assignment: GroupAssignment, reason: str) -> GroupAssignment:
    """Staff override: take the person out of the group; the rule will not put them back."""
    _require_staff(actor, assignment.group.area_id, "change group assignments")
    if not reason.strip():
        raise ValidationFailed("Say why.", fields={"reason": "required"})
    with transaction.atomic():
        locked = GroupAssignment.objects.select_for_update().select_related("group", "user").get(pk=assignment.pk)
        if locked.ended_at is not None:
            raise Conflict("This assignment has already ended.")
        _assignment_close(locked, actor=actor, reason=reason.strip(), overridden=True)
    return locked


def assignment_add(*, actor: User, user: User, group: CommunicationGroup, reason: str) -> GroupAssignment:
    """Staff override: put a person in a group (and the group's rooms)."""
    _require_staff(actor, group.area_id, "change group assignments")
    if user.erased_at is not None or not user.is_active:
        raise ValidationFailed("This account cannot be assigned.", fields={"user": "inactive"})
    if not group.is_active:
        raise ValidationFailed("This group is not active.", fields={"group": "inactive"})
    with transaction.atomic():
        if GroupAssignment.objects.filter(user=user, group=group, ended_at__isnull=True).exists():
            raise Conflict("The person is already assigned to this group.")
        accounts_services.group_member_add(group=group, user=user, source=GroupMembershipSource.STAFF)
        room_ids = rooms_adapter.rooms_join(group=group, user=user, language=user.preferred_language)
        assignment = GroupAssignment.objects.create(
            user=user,
            group=group,
            source=AssignmentSource.STAFF,
            rule="staff",
            explanation=reason.strip()[:500],
            created_by=actor,
            rooms=room_ids,
        )
        audit_record(
            action="classifier.assignment_added",
            target=assignment,
            actor_id=actor.pk,
            area_id=group.area_id,
            data={"user": user.pk, "group": group.pk, "rooms": room_ids},
        )
    return assignment


def text_relabel(*, actor: User, text: ClassifiedText, label: str) -> ClassifiedText:
    """Staff correction of a prediction: kept beside it, made a training example (with consent), rules re-run."""
    label_set = label_set_active()
    if label not in label_set.labels:
        raise ValidationFailed(f"Unknown label {label!r}.", fields={"label": "unknown"})
    _require_staff(actor, text.area_id, "correct classifications")
    with transaction.atomic():
        locked = ClassifiedText.objects.select_for_update().get(pk=text.pk)
        locked.staff_label = label
        locked.staff_labelled_by = actor
        locked.urgency = max(label_set.urgency(label), 0)
        locked.save(update_fields=["staff_label", "staff_labelled_by", "urgency"])
        example_made = False
        if selectors.has_training_consent(user=locked.author):
            LabelledExample.objects.update_or_create(
                source_text=locked,
                defaults={
                    "text": locked.text,
                    "label": label,
                    "label_set": label_set.name,
                    "author": locked.author,
                    "labelled_by": actor,
                },
            )
            example_made = True
        audit_record(
            action="classifier.text_relabelled",
            target=locked,
            actor_id=actor.pk,
            area_id=locked.area_id,
            data={"from": locked.label, "to": label, "example": example_made},
        )
        _notify_source_label(locked, label_set.urgency(label))
        if locked.author is not None:
            assignments_apply(user=locked.author)
    return locked


def _notify_source_label(item: ClassifiedText, urgency: int) -> None:
    model = item.content_type.model_class()
    if model is not None and model._meta.label == "alerts.CitizenReport":
        from alerts.services import reports

        reports.report_classification_set(
            report_id=item.object_id,
            category=item.staff_label,
            score=1.0,
            urgency=urgency,
            model_name="staff",
            model_version="",
        )


def classifier_erase_user(*, user: User) -> None:
    """Drop what the classifier holds of a person (their texts, predictions, examples, assignments)."""
    LabelledExample.objects.filter(author=user).delete()
    ClassifiedText.objects.filter(author=user).delete()
    GroupAssignment.objects.filter(user=user).delete()


def training_consent_withdrawn(*, user: User) -> int:
    """Drop the examples made from a person's texts once they no longer consent to training."""
    deleted, _ = LabelledExample.objects.filter(author=user).delete()
    return deleted
