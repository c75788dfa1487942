"""Reads of the classifier: the triage queue, texts and assignments for staff of the area, training examples."""

from __future__ import annotations

from django.contrib.gis.geos import Point
from django.db.models import Q, QuerySet

from accounts import permissions
from accounts.models import (
    NEED_CONSENT,
    AdministrativeArea,
    AreaLevel,
    CommunicationGroup,
    Consent,
    ConsentPurpose,
    NeedKind,
    ResidentNeed,
    ResidentProfile,
    User,
)
from classifier.labels import LabelSet
from classifier.models import ClassifiedText, GroupAssignment, LabelledExample, TextStatus
from classifier.rules import RuleContext, TextEvidence
from classifier.training_types import Example
from commsplatform.core.errors import NotFound

# Texts residents wrote and their group assignments reveal needs and whereabouts: only staff who may see
# individual residents of the area (VIEW_RESIDENTS) read them or correct them.
STAFF_PERM = permissions.VIEW_RESIDENTS


def _covered_filter(user: User, field: str) -> Q | None:
    """None when the user covers everything (superuser); otherwise a filter on `field` (an area FK)."""
    if user.is_active and user.is_superuser:
        return None
    return Q(**{f"{field}__in": permissions.areas_covered(user, STAFF_PERM)})


def text_triage_list_for_user(*, user: User, status: str | None = None) -> QuerySet[ClassifiedText]:
    """Classified texts of the user's areas, most urgent first, then oldest first (waiting longest)."""
    texts = ClassifiedText.objects.select_related("content_type")
    scope = _covered_filter(user, "area")
    if scope is not None:
        texts = texts.filter(scope)
    if status:
        texts = texts.filter(status=status)
    return texts.order_by("-urgency", "created_at", "id")


def text_get_for_user(*, user: User, text_id: int) -> ClassifiedText:
    text = text_triage_list_for_user(user=user).filter(pk=text_id).first()
    if text is None:
        raise NotFound("No such text in your areas.")
    return text


def assignment_list_for_user(*, user: User, resident_id: int | None = None) -> QuerySet[GroupAssignment]:
    assignments = GroupAssignment.objects.select_related("group")
    scope = _covered_filter(user, "group__area")
    if scope is not None:
        assignments = assignments.filter(scope)
    if resident_id is not None:
        assignments = assignments.filter(user_id=resident_id)
    return assignments


def assignment_get_for_user(*, user: User, assignment_id: int) -> GroupAssignment:
    assignment = assignment_list_for_user(user=user).filter(pk=assignment_id).first()
    if assignment is None:
        raise NotFound("No such assignment in your areas.")
    return assignment


def group_list_for_user(*, user: User) -> QuerySet[CommunicationGroup]:
    """Active communication groups of the user's areas: the groups staff may put a person in."""
    groups = CommunicationGroup.objects.filter(is_active=True)
    scope = _covered_filter(user, "area")
    if scope is not None:
        groups = groups.filter(scope)
    return groups.order_by("name", "pk")


def consented_needs(*, user: User) -> frozenset[str]:
    purposes = set(Consent.objects.filter(user=user, withdrawn_at__isnull=True).values_list("purpose", flat=True))
    kinds = ResidentNeed.objects.filter(profile__user=user).values_list("kind", flat=True)
    return frozenset(k for k in kinds if NEED_CONSENT[NeedKind(k)] in purposes)


def has_training_consent(*, user: User | None) -> bool:
    if user is None:
        return False
    return Consent.objects.filter(user=user, purpose=ConsentPurpose.TRAINING, withdrawn_at__isnull=True).exists()


def _home(user: User) -> Point | None:
    row = ResidentProfile.objects.filter(user=user).values_list("home_location", "last_location").first()
    if row is None:
        return None
    return row[0] or row[1]


def areas_at(point: Point | None) -> dict[str, AdministrativeArea]:
    """The areas containing a point, by level (the deepest of each level)."""
    if point is None:
        return {}
    found: dict[str, AdministrativeArea] = {}
    for area in AdministrativeArea.objects.filter(geometry__intersects=point).order_by("path"):
        found[area.level] = area
    return found


def area_finest_at(point: Point | None) -> AdministrativeArea | None:
    found = areas_at(point)
    for level in (AreaLevel.NEIGHBOURHOOD, AreaLevel.DISTRICT, AreaLevel.ZONE, AreaLevel.CITY):
        if level in found:
            return found[level]
    return None


def resident_area(*, user: User) -> AdministrativeArea | None:
    return area_finest_at(_home(user))


def rule_context(*, user: User, label_set: LabelSet) -> RuleContext:
    """What the rules may use about a person: consented needs, where they live, language, their texts."""
    found = areas_at(_home(user))
    district = found.get(AreaLevel.DISTRICT)
    texts = list(
        ClassifiedText.objects.filter(author=user, status=TextStatus.CLASSIFIED).order_by("-classified_at", "-id")[:200]
    )
    evidence = [
        TextEvidence(
            text_id=t.pk,
            label=t.effective_label,
            score=1.0 if t.staff_label else float(t.score or 0.0),
            model_name=t.model_name,
            model_version=t.model_version,
            staff_labelled=bool(t.staff_label),
        )
        for t in texts
    ]
    detected = [t for t in texts if t.language and len(t.text) >= 20]
    if detected:
        language, language_score = detected[0].language, detected[0].language_score
    else:
        language, language_score = user.preferred_language, None
    return RuleContext(
        user_id=user.pk,
        needs=consented_needs(user=user),
        zone=found.get(AreaLevel.ZONE),
        district=district,
        city=found.get(AreaLevel.CITY),
        language=language,
        language_score=language_score,
        texts=evidence,
        offering_help=label_set.offering_help,
    )


def training_examples(*, label_set: LabelSet) -> list[Example]:
    """Staff-labelled examples of this label set whose author still consents to training (none otherwise)."""
    consenting = Consent.objects.filter(purpose=ConsentPurpose.TRAINING, withdrawn_at__isnull=True).values("user_id")
    rows = LabelledExample.objects.filter(label_set=label_set.name, author__in=consenting, author__erased_at=None)
    return [Example(text=text, label=label) for text, label in rows.values_list("text", "label") if label]
