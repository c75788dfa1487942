"""CAP-shaped alerts (Alert, Info per language, Area), their lifecycle, deliveries, replies, templates and sensors.

Field names follow CAP 1.2 (OASIS) so that an alert maps to and from CAP XML one element at a time; what CAP
does not carry (lifecycle state, who drafted and approved, the resolved target geometry) sits beside it.
"""

from typing import Any

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import AdministrativeArea, ChannelIdentity, Organisation
from commsplatform.core.models import TimeStampedModel


class CapStatus(models.TextChoices):
    ACTUAL = "Actual", _("Actual")
    EXERCISE = "Exercise", _("Exercise")
    SYSTEM = "System", _("System")
    TEST = "Test", _("Test")
    DRAFT = "Draft", _("Draft")


class MsgType(models.TextChoices):
    ALERT = "Alert", _("Alert")
    UPDATE = "Update", _("Update")
    CANCEL = "Cancel", _("Cancel")
    ACK = "Ack", _("Acknowledgement")
    ERROR = "Error", _("Error")


class Scope(models.TextChoices):
    PUBLIC = "Public", _("Public")
    RESTRICTED = "Restricted", _("Restricted")
    PRIVATE = "Private", _("Private")


class Category(models.TextChoices):
    GEO = "Geo", _("Geophysical")
    MET = "Met", _("Meteorological")
    SAFETY = "Safety", _("Public safety")
    SECURITY = "Security", _("Security")
    RESCUE = "Rescue", _("Rescue and recovery")
    FIRE = "Fire", _("Fire")
    HEALTH = "Health", _("Health")
    ENV = "Env", _("Environmental")
    TRANSPORT = "Transport", _("Transport")
    INFRA = "Infra", _("Infrastructure")
    CBRNE = "CBRNE", _("Chemical, biological, radiological, nuclear or explosive")
    OTHER = "Other", _("Other")


class ResponseType(models.TextChoices):
    SHELTER = "Shelter", _("Shelter")
    EVACUATE = "Evacuate", _("Evacuate")
    PREPARE = "Prepare", _("Prepare")
    EXECUTE = "Execute", _("Execute")
    AVOID = "Avoid", _("Avoid")
    MONITOR = "Monitor", _("Monitor")
    ASSESS = "Assess", _("Assess")
    ALL_CLEAR = "AllClear", _("All clear")
    NONE = "None", _("None")


class Urgency(models.TextChoices):
    IMMEDIATE = "Immediate", _("Immediate")
    EXPECTED = "Expected", _("Expected")
    FUTURE = "Future", _("Future")
    PAST = "Past", _("Past")
    UNKNOWN = "Unknown", _("Unknown")


class Severity(models.TextChoices):
    EXTREME = "Extreme", _("Extreme")
    SEVERE = "Severe", _("Severe")
    MODERATE = "Moderate", _("Moderate")
    MINOR = "Minor", _("Minor")
    UNKNOWN = "Unknown", _("Unknown")


class Certainty(models.TextChoices):
    OBSERVED = "Observed", _("Observed")
    LIKELY = "Likely", _("Likely")
    POSSIBLE = "Possible", _("Possible")
    UNLIKELY = "Unlikely", _("Unlikely")
    UNKNOWN = "Unknown", _("Unknown")


class AlertState(models.TextChoices):
    """Where an alert is in its life here (CAP's own <status> is a separate field)."""

    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted for approval")
    APPROVED = "approved", _("Approved")
    ISSUED = "issued", _("Issued")
    UPDATED = "updated", _("Superseded by an update")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


class AlertOrigin(models.TextChoices):
    DRAFTED = "drafted", _("Drafted here")
    TEMPLATE = "template", _("From a template")
    CAP_FILE = "cap_file", _("Imported CAP file")
    CAP_FEED = "cap_feed", _("Polled CAP feed")
    SENSOR = "sensor", _("Sensor threshold")


class Alert(TimeStampedModel):
    """One CAP <alert> message and its lifecycle. Updates and cancels are alerts of their own that reference it."""

    # CAP <alert> elements.
    identifier = models.CharField(max_length=255, unique=True)
    sender = models.CharField(max_length=255)
    sent = models.DateTimeField(null=True, blank=True, help_text="Set when issued (or as imported).")
    status = models.CharField(max_length=16, choices=CapStatus.choices, default=CapStatus.ACTUAL)
    msg_type = models.CharField(max_length=16, choices=MsgType.choices, default=MsgType.ALERT)
    source = models.CharField(max_length=255, blank=True)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.PUBLIC)
    restriction = models.TextField(blank=True)
    addresses = models.TextField(blank=True)
    codes = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)
    references = models.JSONField(default=list, blank=True, help_text='CAP references: "sender,identifier,sent".')
    incidents = models.TextField(blank=True)

    # Lifecycle here.
    state = models.CharField(max_length=16, choices=AlertState.choices, default=AlertState.DRAFT, db_index=True)
    origin = models.CharField(max_length=16, choices=AlertOrigin.choices, default=AlertOrigin.DRAFTED)
    original = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="followups",
        help_text="For an Update or Cancel: the first alert of the chain it continues.",
    )  # fmt: skip
    supersedes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by",
        help_text="For an Update or Cancel: the alert it replaces.",
    )  # fmt: skip
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    drafted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    issued_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When it was updated, cancelled or expired.")
    rejection_reason = models.TextField(blank=True)

    # Derived when the content changes: the union of every area's geometry, the latest expiry, the priority.
    geometry = models.MultiPolygonField(srid=4326, null=True, blank=True, spatial_index=True)
    expires = models.DateTimeField(null=True, blank=True, db_index=True)
    priority = models.PositiveSmallIntegerField(default=5, help_text="0 = life-safety first … 9 = lowest.")

    # Dispatch progress, so that a lost dispatch is re-driven.
    dispatch_started_at = models.DateTimeField(null=True, blank=True)
    dispatch_completed_at = models.DateTimeField(null=True, blank=True)
    targeted_count = models.PositiveIntegerField(null=True, blank=True, help_text="People inside the area.")

    # CAP content this model does not map field by field (e.g. a signature's outcome), kept for export.
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["state", "dispatch_completed_at"], name="alert_state_dispatch_idx")]

    def __str__(self) -> str:
        return f"{self.msg_type} {self.identifier} ({self.state})"

    @property
    def languages(self) -> list[str]:
        return [info.language for info in self.infos.all()]


class Info(models.Model):
    """One CAP <info> block: the message in one language."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="infos")
    position = models.PositiveSmallIntegerField(default=0)
    language = models.CharField(max_length=35, default="en-US")
    categories = models.JSONField(default=list, help_text="One or more Category values.")
    event = models.CharField(max_length=255)
    response_types = models.JSONField(default=list, blank=True)
    urgency = models.CharField(max_length=16, choices=Urgency.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    certainty = models.CharField(max_length=16, choices=Certainty.choices)
    audience = models.TextField(blank=True)
    event_codes = models.JSONField(default=list, blank=True, help_text='[{"valueName": …, "value": …}]')
    effective = models.DateTimeField(null=True, blank=True)
    onset = models.DateTimeField(null=True, blank=True)
    expires = models.DateTimeField(null=True, blank=True)
    sender_name = models.CharField(max_length=255, blank=True)
    headline = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    instruction = models.TextField(blank=True)
    web = models.CharField(max_length=1000, blank=True)
    contact = models.CharField(max_length=500, blank=True)
    parameters = models.JSONField(default=list, blank=True, help_text='[{"valueName": …, "value": …}]')
    resources = models.JSONField(
        default=list, blank=True, help_text="[{resourceDesc, mimeType, size, uri, derefUri, digest}]"
    )

    class Meta:
        ordering = ["alert_id", "position", "id"]

    def __str__(self) -> str:
        return f"{self.language}: {self.headline or self.event}"


class Area(models.Model):
    """One CAP <area>: drawn polygons and circles, geocodes, or administrative areas and zones picked here.

    `geometry` is what they resolve to together (circles as polygons), in WGS84; the alert's geometry is
    the union of its areas'.
    """

    info = models.ForeignKey(Info, on_delete=models.CASCADE, related_name="areas")
    position = models.PositiveSmallIntegerField(default=0)
    area_desc = models.TextField()
    polygons = models.JSONField(default=list, blank=True, help_text="Rings of [lat, lon] pairs, as CAP writes them.")
    circles = models.JSONField(default=list, blank=True, help_text='[{"lat": …, "lon": …, "radius_km": …}]')
    geocodes = models.JSONField(default=list, blank=True, help_text='[{"valueName": …, "value": …}]')
    admin_areas = models.ManyToManyField(AdministrativeArea, blank=True, related_name="+")
    altitude = models.FloatField(null=True, blank=True)
    ceiling = models.FloatField(null=True, blank=True)
    geometry = models.MultiPolygonField(srid=4326, null=True, blank=True)

    class Meta:
        ordering = ["info_id", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ceiling__isnull=True) | Q(altitude__isnull=False), name="area_ceiling_needs_altitude"
            )
        ]

    def __str__(self) -> str:
        return self.area_desc[:80]


class AlertTemplate(TimeStampedModel):
    """A recurring alert kept ready: `content` holds what alert_draft_create accepts (infos with their areas)."""

    name = models.CharField(max_length=200)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="alert_templates")
    area = models.ForeignKey(AdministrativeArea, on_delete=models.PROTECT, related_name="+")
    content = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="alert_template_unique_name")]

    def __str__(self) -> str:
        return self.name


class DeliveryState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    CLAIMED = "claimed", _("Being sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    BLOCKED = "blocked", _("Blocked by the recipient")
    EXPIRED = "expired", _("Not sent: the alert had expired")
    SUPERSEDED = "superseded", _("Not sent: the alert was updated or cancelled first")


DELIVERY_FINAL_STATES = (
    DeliveryState.SENT,
    DeliveryState.FAILED,
    DeliveryState.BLOCKED,
    DeliveryState.EXPIRED,
    DeliveryState.SUPERSEDED,
)


class Delivery(models.Model):
    """One message of one alert to one person on one transport; the database makes it unique."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deliveries")
    transport = models.CharField(max_length=32)
    identity = models.ForeignKey(ChannelIdentity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    language = models.CharField(max_length=35)
    priority = models.PositiveSmallIntegerField(default=5)
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_reason = models.CharField(max_length=500, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "recipient", "transport"], name="delivery_unique_per_transport")
        ]
        indexes = [
            models.Index(fields=["alert", "state"], name="delivery_alert_state_idx"),
            models.Index(fields=["state", "claimed_at"], name="delivery_state_claimed_idx"),
            models.Index(fields=["recipient", "alert"], name="delivery_recipient_idx"),
        ]

    def __str__(self) -> str:
        return f"alert {self.alert_id} → {self.recipient_id} by {self.transport}: {self.state}"


class ReplyKind(models.TextChoices):
    SAFE = "safe", _("I'm safe")
    NEED_HELP = "need_help", _("I need help")


class Reply(models.Model):
    """A recipient's answer to an alert, linked to the delivery it answers; the latest one per person counts."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="replies")
    delivery = models.ForeignKey(Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_replies")
    kind = models.CharField(max_length=16, choices=ReplyKind.choices)
    message = models.CharField(max_length=1000, blank=True)
    location = models.PointField(srid=4326, null=True, blank=True)
    area = models.ForeignKey(
        AdministrativeArea, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The smallest administrative area containing where the person is, for per-area counts.",
    )  # fmt: skip
    is_latest = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "user"], condition=Q(is_latest=True), name="reply_one_latest_per_person"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.alert_id}: {self.kind}"


class CapFeed(TimeStampedModel):
    """A CAP feed (Atom/RSS of CAP links, or CAP documents) polled for alerts to import."""

    name = models.CharField(max_length=200)
    url = models.URLField(max_length=1000, unique=True)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="cap_feeds")
    area = models.ForeignKey(AdministrativeArea, on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True)
    poll_interval_seconds = models.PositiveIntegerField(default=300)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    etag = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class TrustedSender(TimeStampedModel):
    """A CAP sender whose alerts are issued as soon as they are imported, within an area (or drafted otherwise)."""

    sender = models.CharField(max_length=255)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="trusted_senders")
    area = models.ForeignKey(AdministrativeArea, on_delete=models.PROTECT, related_name="+")
    auto_issue = models.BooleanField(default=False)
    require_signature = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["sender", "organisation"], name="trusted_sender_unique")]

    def __str__(self) -> str:
        return self.sender


class Sensor(TimeStampedModel):
    """An IoT sensor (river gauge, rain gauge…) that posts readings to the signed webhook."""

    external_id = models.CharField(max_length=128, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=64)
    unit = models.CharField(max_length=32, blank=True)
    location = models.PointField(srid=4326, null=True, blank=True)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="sensors")
    area = models.ForeignKey(AdministrativeArea, on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class ThresholdOperator(models.TextChoices):
    GTE = "gte", _("at or above")
    LTE = "lte", _("at or below")


class SensorRule(TimeStampedModel):
    """When a sensor's reading crosses `threshold`, draft (or, if automatic, issue) an alert from `template`."""

    sensor = models.ForeignKey(Sensor, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=200)
    operator = models.CharField(max_length=8, choices=ThresholdOperator.choices)
    threshold = models.FloatField()
    template = models.ForeignKey(AlertTemplate, on_delete=models.PROTECT, related_name="+")
    automatic = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    is_crossed = models.BooleanField(default=False, help_text="Whether the last reading was beyond the threshold.")
    last_alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    def crossed_by(self, value: float) -> bool:
        return value >= self.threshold if self.operator == ThresholdOperator.GTE else value <= self.threshold


class SensorReading(models.Model):
    """A reading as received; the sensor's own reading id makes a replayed or duplicated reading a no-op."""

    sensor = models.ForeignKey(Sensor, on_delete=models.CASCADE, related_name="readings")
    reading_id = models.CharField(max_length=128)
    value = models.FloatField()
    measured_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    triggered: Any = models.ManyToManyField(SensorRule, blank=True, related_name="+")

    class Meta:
        ordering = ["-measured_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["sensor", "reading_id"], name="sensor_reading_unique")]

    def __str__(self) -> str:
        return f"{self.sensor_id}#{self.reading_id} = {self.value}"


class ReportStatus(models.TextChoices):
    NEW = "new", _("New")
    TRIAGED = "triaged", _("Triaged")
    VERIFIED = "verified", _("Verified")
    DISMISSED = "dismissed", _("Dismissed")


# Fact-checking before a citizen report is trusted: new → triaged → verified or dismissed (a clear hoax or
# duplicate may be dismissed straight away).
REPORT_TRANSITIONS: dict[str, frozenset[str]] = {
    ReportStatus.NEW: frozenset({ReportStatus.TRIAGED, ReportStatus.DISMISSED}),
    ReportStatus.TRIAGED: frozenset({ReportStatus.VERIFIED, ReportStatus.DISMISSED}),
    ReportStatus.VERIFIED: frozenset(),
    ReportStatus.DISMISSED: frozenset(),
}


class CitizenReport(TimeStampedModel):
    """What a resident saw (text, where, an optional photo), triaged by staff of the area before it is trusted.

    `category`, `urgency` and the model fields are written by the classifier; urgency orders the triage queue.
    """

    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="citizen_reports")
    text = models.TextField()
    location = models.PointField(srid=4326, null=True, blank=True)
    area = models.ForeignKey(AdministrativeArea, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    photo = models.FileField(upload_to="reports/%Y/%m/", blank=True, max_length=200)
    photo_content_type = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=16, choices=ReportStatus.choices, default=ReportStatus.NEW)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    staff_note = models.CharField(max_length=1000, blank=True)
    category = models.CharField(max_length=64, blank=True)
    category_score = models.FloatField(null=True, blank=True)
    urgency = models.PositiveSmallIntegerField(default=0)
    model_name = models.CharField(max_length=200, blank=True)
    model_version = models.CharField(max_length=100, blank=True)
    classified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "-urgency", "created_at"], name="report_triage_queue")]
        constraints = [models.CheckConstraint(condition=Q(urgency__lte=2), name="report_urgency_range")]

    def __str__(self) -> str:
        return f"report {self.pk} ({self.status})"
