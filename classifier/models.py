"""What the classifier holds: texts residents wrote with their prediction, group assignments, labelled examples.

Every prediction keeps the model name, version and label set it came from; every assignment keeps the rule
that fired and the score behind it, so staff can see why someone is in a group and correct it.
"""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import AdministrativeArea, CommunicationGroup


class TextStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the classifier")
    CLASSIFIED = "classified", _("Classified")
    FAILED = "failed", _("Could not be classified")


class ClassifiedText(models.Model):
    """One text from one source object (a citizen report, a room question, an alert reply, a need's note)."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="classified_texts"
    )
    area = models.ForeignKey(AdministrativeArea, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()
    status = models.CharField(max_length=16, choices=TextStatus.choices, default=TextStatus.PENDING)
    language = models.CharField(max_length=16, blank=True)
    language_score = models.FloatField(null=True, blank=True)
    label = models.CharField(max_length=64, blank=True)
    score = models.FloatField(null=True, blank=True)
    scores = models.JSONField(default=dict, blank=True)
    model_name = models.CharField(max_length=200, blank=True)
    model_version = models.CharField(max_length=100, blank=True)
    label_set = models.JSONField(default=list, blank=True)
    urgency = models.PositiveSmallIntegerField(default=0)
    staff_label = models.CharField(max_length=64, blank=True)
    staff_labelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    classified_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_type", "object_id"], name="classified_text_one_per_source"),
            models.CheckConstraint(condition=Q(urgency__lte=2), name="classified_text_urgency_range"),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="classified_text_queue"),
            models.Index(fields=["-urgency", "created_at"], name="classified_text_triage"),
        ]

    def __str__(self) -> str:
        return f"text {self.pk} ({self.content_type_id}:{self.object_id}) {self.label or self.status}"

    @property
    def effective_label(self) -> str:
        """The staff correction when there is one, the model's label otherwise."""
        return self.staff_label or self.label


class AssignmentSource(models.TextChoices):
    RULE = "rule", _("Assigned by a rule")
    STAFF = "staff", _("Assigned by staff")


class GroupAssignment(models.Model):
    """Why a person is (or was) in a communication group: the rule or the staff member, and the evidence."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="group_assignments")
    group = models.ForeignKey(CommunicationGroup, on_delete=models.CASCADE, related_name="assignments")
    source = models.CharField(max_length=8, choices=AssignmentSource.choices)
    rule = models.CharField(max_length=100, blank=True)
    explanation = models.CharField(max_length=500, blank=True)
    text = models.ForeignKey(
        ClassifiedText, null=True, blank=True, on_delete=models.SET_NULL, related_name="assignments"
    )
    label = models.CharField(max_length=64, blank=True)
    score = models.FloatField(null=True, blank=True)
    model_name = models.CharField(max_length=200, blank=True)
    model_version = models.CharField(max_length=100, blank=True)
    rooms = models.JSONField(default=list, blank=True, help_text="Ids of the rooms the person was added to.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Ended by staff (an override: the rule will not put the person back) or because the rule no longer fires.
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    overridden = models.BooleanField(default=False)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "group"], condition=Q(ended_at__isnull=True), name="group_assignment_one_active"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.group_id} ({self.source} {self.rule})"


class LabelledExample(models.Model):
    """A text with its correct label, from a staff correction; used by `train_classifier --from-db`.

    Only made from residents who consented to training, and only used while that consent holds.
    """

    text = models.TextField()
    label = models.CharField(max_length=64)
    label_set = models.CharField(max_length=64)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="labelled_examples"
    )
    source_text = models.OneToOneField(
        ClassifiedText, null=True, blank=True, on_delete=models.SET_NULL, related_name="example"
    )
    labelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"example {self.pk}: {self.label}"
