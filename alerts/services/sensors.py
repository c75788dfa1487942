"""Sensors, their threshold rules, and the readings they post through the signed webhook.

A reading that crosses a rule's threshold drafts an alert from the rule's template (and issues it at once when
an approver marked the rule automatic). Rules are edge-triggered: `is_crossed` remembers whether the last
reading the rule evaluated was beyond its threshold, so a river that stays high drafts once, and again only
after it has dropped back and risen again. A reading is identified by the sensor's own reading id: a duplicate
or a replayed delivery is acknowledged and changes nothing.
"""

import hashlib
import hmac
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Literal

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts import permissions
from accounts.models import AdministrativeArea, Organisation, User
from alerts.models import AlertOrigin, AlertTemplate, Sensor, SensorReading, SensorRule, ThresholdOperator
from alerts.selectors_sensors import sensor_perms_of
from alerts.services.lifecycle import alert_draft_from_template, alert_issue_automatically
from commsplatform.core.audit import audit_record
from commsplatform.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed

MAX_READINGS_PER_DELIVERY = 500
SIGNATURE_SCHEME = "sha256"
TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")
SIGNATURE_RE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")
EXTERNAL_ID_RE = re.compile(r"^[A-Za-z0-9._:@/-]{1,128}$")


class Keep(Enum):
    """For an optional argument where None means "clear it": leave the value as it is."""

    KEEP = "keep"


class SignatureRefused(DomainError):
    """The delivery is not signed, or not signed with our secret, or signed too long ago (or in the future)."""

    status = 401
    code = "bad_signature"


class WebhookDisabled(DomainError):
    """No secret is configured, so no signature can be checked: every delivery is refused until one is set."""

    status = 503
    code = "webhook_disabled"


@dataclass(frozen=True)
class ReadingIn:
    """One reading as a sensor sends it."""

    reading_id: str
    value: float
    measured_at: datetime


@dataclass(frozen=True)
class Crossing:
    """A reading that crossed a rule's threshold, and what came of it (`error` when no alert could be made)."""

    rule_id: int
    reading_id: str
    alert_id: int | None
    alert_state: str
    error: str = ""


@dataclass
class ReadingsRecorded:
    """What a delivery did, by the sensor's own reading ids."""

    sensor_id: int
    external_id: str
    new: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    crossings: list[Crossing] = field(default_factory=list)


# Signatures --------------------------------------------------------------------------------------------


def sensor_signature_compute(*, secret: str, timestamp: str, body: bytes) -> str:
    """The X-Sensor-Signature header value a gateway sends: HMAC-SHA256 of "<timestamp>.<raw body>"."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_SCHEME}={digest}"


def sensor_signature_verify(
    *, timestamp: str | None, signature: str | None, body: bytes, now: datetime | None = None
) -> None:
    """Refuse a delivery unless it is signed with settings.SENSOR_WEBHOOK_SECRET within the allowed clock skew.

    The timestamp is part of what is signed, so an old delivery cannot be replayed with a fresh timestamp;
    within the window, a replay is harmless because readings are idempotent.
    """
    if not timestamp or not signature:
        raise SignatureRefused(
            "Sign the delivery: send X-Sensor-Timestamp (Unix seconds) and X-Sensor-Signature (sha256=<hex>).",
            code="signature_missing",
        )
    if not TIMESTAMP_RE.match(timestamp):
        raise SignatureRefused("X-Sensor-Timestamp must be the Unix time in whole seconds.", code="bad_timestamp")
    match = SIGNATURE_RE.match(signature)
    if match is None:
        raise SignatureRefused("X-Sensor-Signature must be sha256= followed by 64 hex digits.", code="bad_signature")
    secret: str = settings.SENSOR_WEBHOOK_SECRET
    if not secret:
        raise WebhookDisabled("The sensor webhook is switched off on this server: SENSOR_WEBHOOK_SECRET is not set.")
    now = now or timezone.now()
    skew = abs(now.timestamp() - int(timestamp))
    max_skew: int = settings.SENSOR_WEBHOOK_MAX_SKEW_SECONDS
    if skew > max_skew:
        raise SignatureRefused(
            f"X-Sensor-Timestamp is {int(skew)} s away from the server's clock; at most {max_skew} s is accepted.",
            code="stale_timestamp",
        )
    expected = sensor_signature_compute(secret=secret, timestamp=timestamp, body=body)
    if not hmac.compare_digest(expected, f"{SIGNATURE_SCHEME}={match.group(1).lower()}"):
        raise SignatureRefused("The signature does not match the body and timestamp.", code="bad_signature")


# Permissions -------------------------------------------------------------------------------------------


def _require(actor: User | None, perm: str, organisation: Organisation, area: AdministrativeArea, what: str) -> None:
    """The actor holds `perm` over the area through a role in the organisation (None: the system itself)."""
    if actor is None or actor.is_superuser:
        return
    if perm not in sensor_perms_of(user=actor, organisation=organisation, area=area):
        verb = "draft" if perm == permissions.DRAFT_ALERTS else "approve"
        raise PermissionDenied(
            f"You may not {what}: that needs a role in {organisation.name} that may {verb} alerts in {area.name}."
        )


def _full_clean(instance: Any, exclude: Sequence[str] = ()) -> None:
    try:
        instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        fields = {name: " ".join(errors) for name, errors in exc.message_dict.items()}
        raise ValidationFailed("Invalid input.", fields=fields) from exc


def _check_external_id(external_id: str) -> str:
    external_id = external_id.strip()
    if not EXTERNAL_ID_RE.match(external_id):
        raise ValidationFailed(
            "A sensor's external id is 1 to 128 letters, digits or . _ : @ / -.", fields={"external_id": "invalid"}
        )
    return external_id


def _check_location(location: Any) -> Point | None:
    if location is not None and not isinstance(location, Point):
        raise ValidationFailed("A sensor's location is a point.", fields={"location": "not a point"})
    return location


# Sensors -----------------------------------------------------------------------------------------------


def sensor_create(
    *,
    actor: User | None,
    external_id: str,
    name: str,
    kind: str,
    organisation: Organisation,
    area: AdministrativeArea,
    unit: str = "",
    location: Point | None = None,
    is_active: bool = True,
) -> Sensor:
    """Register a sensor of `organisation` watching `area`; the actor must draft alerts there for it."""
    _require(actor, permissions.DRAFT_ALERTS, organisation, area, "register sensors here")
    sensor = Sensor(
        external_id=_check_external_id(external_id),
        name=name.strip(),
        kind=kind.strip(),
        unit=unit.strip(),
        location=_check_location(location),
        organisation=organisation,
        area=area,
        is_active=is_active,
    )
    _full_clean(sensor)
    with transaction.atomic():
        try:
            with transaction.atomic():
                sensor.save()
        except IntegrityError as exc:
            raise Conflict(
                f"A sensor with external id {sensor.external_id!r} is already registered.",
                code="duplicate_sensor",
                fields={"external_id": "duplicate"},
            ) from exc
        audit_record(
            action="alerts.sensor_created",
            target=sensor,
            area_id=area.pk,
            actor_id=actor.pk if actor else None,
            data={"organisation_id": organisation.pk, "is_active": is_active},
        )
    return sensor


def sensor_update(
    *,
    actor: User | None,
    sensor: Sensor,
    external_id: str | None = None,
    name: str | None = None,
    kind: str | None = None,
    unit: str | None = None,
    location: Point | Literal[Keep.KEEP] | None = Keep.KEEP,
    area: AdministrativeArea | None = None,
    is_active: bool | None = None,
) -> Sensor:
    """Change a sensor; moving it to another area needs the right over both. `location=None` clears it."""
    _require(actor, permissions.DRAFT_ALERTS, sensor.organisation, sensor.area, "change this sensor")
    if area is not None and area.pk != sensor.area_id:
        _require(actor, permissions.DRAFT_ALERTS, sensor.organisation, area, f"move this sensor to {area.name}")
    with transaction.atomic():
        locked = Sensor.objects.select_for_update().get(pk=sensor.pk)
        changes: dict[str, Any] = {}
        if external_id is not None:
            changes["external_id"] = _check_external_id(external_id)
        for name_, value in (("name", name), ("kind", kind), ("unit", unit)):
            if value is not None:
                changes[name_] = value.strip()
        if location is not Keep.KEEP:
            changes["location"] = _check_location(location)
        if area is not None:
            changes["area"] = area
        if is_active is not None:
            changes["is_active"] = is_active
        changed = [key for key, value in changes.items() if getattr(locked, key) != value]
        if not changed:
            return locked
        for key in changed:
            setattr(locked, key, changes[key])
        _full_clean(locked)
        try:
            with transaction.atomic():
                locked.save(update_fields=[*changed, "updated_at"])
        except IntegrityError as exc:
            raise Conflict(
                f"A sensor with external id {locked.external_id!r} is already registered.",
                code="duplicate_sensor",
                fields={"external_id": "duplicate"},
            ) from exc
        audit_record(
            action="alerts.sensor_updated",
            target=locked,
            area_id=locked.area_id,
            actor_id=actor.pk if actor else None,
            data={"fields": sorted(changed), "is_active": locked.is_active},
        )
    return locked


def sensor_delete(*, actor: User | None, sensor: Sensor) -> None:
    """Remove a sensor that never reported; one with readings on record is deactivated instead (409)."""
    _require(actor, permissions.DRAFT_ALERTS, sensor.organisation, sensor.area, "delete this sensor")
    with transaction.atomic():
        locked = Sensor.objects.select_for_update().get(pk=sensor.pk)
        readings = SensorReading.objects.filter(sensor=locked).count()
        if readings:
            raise Conflict(
                f"This sensor has {readings} readings on record, which stay: deactivate it (is_active false) instead.",
                code="has_readings",
            )
        audit_record(
            action="alerts.sensor_deleted",
            target=locked,
            area_id=locked.area_id,
            actor_id=actor.pk if actor else None,
            data={"rules": locked.rules.count()},
        )
        locked.delete()


# Rules -------------------------------------------------------------------------------------------------


def _check_rule_fields(*, sensor: Sensor, operator: str, threshold: float, template: AlertTemplate) -> None:
    if operator not in ThresholdOperator.values:
        raise ValidationFailed(
            f"operator must be one of {', '.join(ThresholdOperator.values)}.", fields={"operator": "invalid"}
        )
    if not math.isfinite(threshold):
        raise ValidationFailed("threshold must be a finite number.", fields={"threshold": "invalid"})
    if template.organisation_id != sensor.organisation_id:
        raise ValidationFailed(
            f"No template with id {template.pk} in this sensor's organisation.", fields={"template": "unknown"}
        )


def _require_rule_rights(
    actor: User | None, sensor: Sensor, template: AlertTemplate, *, draft: bool = True, approve: bool = False
) -> None:
    """Drafting and/or approving rights over the sensor's area and the template's (where its alerts go).

    With neither asked for, either right will do (e.g. switching automatic issuing off, which an approver
    may undo as much as a drafter).
    """
    if actor is None or actor.is_superuser:
        return
    for area in (sensor.area, template.area):
        if draft:
            _require(actor, permissions.DRAFT_ALERTS, sensor.organisation, area, "manage this sensor's rules")
        if approve:
            _require(
                actor,
                permissions.APPROVE_ALERTS,
                sensor.organisation,
                area,
                "let this rule issue alerts automatically (it skips the second person, so an approver decides)",
            )
        if not draft and not approve and not sensor_perms_of(user=actor, organisation=sensor.organisation, area=area):
            raise PermissionDenied(f"You may not manage this sensor's rules in {area.name}.")


def _rule_audit_data(rule: SensorRule, **extra: Any) -> dict[str, Any]:
    return {
        "sensor_id": rule.sensor_id,
        "template_id": rule.template_id,
        "operator": rule.operator,
        "threshold": rule.threshold,
        "automatic": rule.automatic,
        "is_active": rule.is_active,
        **extra,
    }


def sensor_rule_create(
    *,
    actor: User | None,
    sensor: Sensor,
    name: str,
    operator: str,
    threshold: float,
    template: AlertTemplate,
    automatic: bool = False,
    is_active: bool = True,
) -> SensorRule:
    """Add a threshold rule. An automatic rule issues without a second person, so only an approver makes one."""
    _check_rule_fields(sensor=sensor, operator=operator, threshold=threshold, template=template)
    _require_rule_rights(actor, sensor, template, draft=True, approve=automatic)
    rule = SensorRule(
        sensor=sensor,
        name=name.strip(),
        operator=operator,
        threshold=threshold,
        template=template,
        automatic=automatic,
        is_active=is_active,
    )
    _full_clean(rule)
    with transaction.atomic():
        rule.save()
        audit_record(
            action="alerts.sensor_rule_created",
            target=rule,
            area_id=sensor.area_id,
            actor_id=actor.pk if actor else None,
            data=_rule_audit_data(rule),
        )
    return rule


def sensor_rule_update(
    *,
    actor: User | None,
    rule: SensorRule,
    name: str | None = None,
    operator: str | None = None,
    threshold: float | None = None,
    template: AlertTemplate | None = None,
    automatic: bool | None = None,
    is_active: bool | None = None,
) -> SensorRule:
    """Change a rule. Drafting rights are needed for any change but `automatic`. Approving rights are needed to
    mark it automatic, and for any change but its name that leaves it automatic and active (what it issues
    without a second person is what the approver agreed to). Switching a rule off, or its automatic issuing
    off, only adds a person: a drafter may do it.

    A rule whose operator or threshold changes, or that is switched back on, forgets whether it was crossed:
    the next reading beyond its (new) threshold drafts.
    """
    with transaction.atomic():
        locked = SensorRule.objects.select_for_update().get(pk=rule.pk)
        sensor = Sensor.objects.select_related("organisation", "area").get(pk=locked.sensor_id)
        new_template = template if template is not None else locked.template
        wanted: dict[str, Any] = {
            "name": name.strip() if name is not None else None,
            "operator": operator,
            "threshold": threshold,
            "template_id": template.pk if template is not None else None,
            "automatic": automatic,
            "is_active": is_active,
        }
        changed = sorted(key for key, value in wanted.items() if value is not None and getattr(locked, key) != value)
        automatic_after = automatic if automatic is not None else locked.automatic
        active_after = is_active if is_active is not None else locked.is_active
        _check_rule_fields(
            sensor=sensor,
            operator=operator if operator is not None else locked.operator,
            threshold=threshold if threshold is not None else locked.threshold,
            template=new_template,
        )
        _require_rule_rights(
            actor,
            sensor,
            new_template,
            draft=bool(set(changed) - {"automatic"}),
            approve=(automatic is True and not locked.automatic)
            or (automatic_after and active_after and bool(set(changed) - {"name"})),
        )
        if not changed:
            return locked
        for key in changed:
            setattr(locked, key, wanted[key])
        update_fields = [*changed, "updated_at"]
        if {"operator", "threshold"} & set(changed) or ("is_active" in changed and locked.is_active):
            locked.is_crossed = False
            update_fields.append("is_crossed")
        _full_clean(locked)
        locked.save(update_fields=update_fields)
        audit_record(
            action="alerts.sensor_rule_updated",
            target=locked,
            area_id=sensor.area_id,
            actor_id=actor.pk if actor else None,
            data=_rule_audit_data(locked, fields=[key.removesuffix("_id") for key in changed]),
        )
    return locked


def sensor_rule_delete(*, actor: User | None, rule: SensorRule) -> None:
    """Remove a rule that never fired; one that did stays on record and is deactivated instead (409)."""
    with transaction.atomic():
        locked = SensorRule.objects.select_for_update().get(pk=rule.pk)
        sensor = Sensor.objects.select_related("organisation", "area").get(pk=locked.sensor_id)
        _require_rule_rights(actor, sensor, locked.template, draft=True)
        fired = SensorReading.triggered.through.objects.filter(sensorrule_id=locked.pk).exists()
        if fired or locked.last_alert_id is not None:
            raise Conflict(
                "This rule has drafted alerts and stays on record to explain them: deactivate it (is_active false).",
                code="has_fired",
            )
        audit_record(
            action="alerts.sensor_rule_deleted",
            target=locked,
            area_id=sensor.area_id,
            actor_id=actor.pk if actor else None,
            data=_rule_audit_data(locked),
        )
        locked.delete()


# Readings ----------------------------------------------------------------------------------------------


def _check_readings(readings: Sequence[ReadingIn], now: datetime) -> None:
    if not readings:
        raise ValidationFailed("Send at least one reading.", fields={"readings": "empty"})
    if len(readings) > MAX_READINGS_PER_DELIVERY:
        raise ValidationFailed(
            f"At most {MAX_READINGS_PER_DELIVERY} readings per delivery; this one has {len(readings)}.",
            code="too_many_readings",
            fields={"readings": f"at most {MAX_READINGS_PER_DELIVERY}"},
        )
    latest_allowed = now + timedelta(seconds=settings.SENSOR_WEBHOOK_MAX_SKEW_SECONDS)
    problems: dict[str, str] = {}
    for index, reading in enumerate(readings):
        if not reading.reading_id or len(reading.reading_id) > 128:
            problems[f"readings[{index}].id"] = "A reading id is 1 to 128 characters."
        if not math.isfinite(reading.value):
            problems[f"readings[{index}].value"] = "A reading's value must be a finite number."
        if reading.measured_at.tzinfo is None:
            problems[f"readings[{index}].measured_at"] = "measured_at must carry a time-zone offset."
        elif reading.measured_at > latest_allowed:
            problems[f"readings[{index}].measured_at"] = "measured_at is in the future (beyond the allowed skew)."
    if problems:
        raise ValidationFailed(
            "Some readings are invalid; none of this delivery was recorded: "
            + "; ".join(f"{key}: {message}" for key, message in list(problems.items())[:5]),
            fields=problems,
        )


def _note(sensor: Sensor, rule: SensorRule, reading: ReadingIn) -> str:
    unit = f" {sensor.unit}" if sensor.unit else ""
    operator = ThresholdOperator(rule.operator).label
    return (
        f"Drafted by sensor rule {rule.name!r}: sensor {sensor.name} ({sensor.external_id}) read "
        f"{reading.value:g}{unit} at {reading.measured_at.isoformat()}, {operator} the threshold "
        f"{rule.threshold:g}{unit}."
    )


def _fire(sensor: Sensor, rule: SensorRule, reading: ReadingIn) -> Crossing:
    """Draft (and, for an automatic rule, issue) the rule's alert. A broken template does not lose the reading:
    the failure is recorded, and the rule stays uncrossed so that the next reading beyond tries again."""
    base = {"sensor_id": sensor.pk, "rule_id": rule.pk, "reading_id": reading.reading_id}
    try:
        with transaction.atomic():
            alert = alert_draft_from_template(
                actor=None, template=rule.template, origin=AlertOrigin.SENSOR, note=_note(sensor, rule, reading)
            )
    except DomainError as exc:
        audit_record(
            action="alerts.sensor_rule_failed",
            target=rule,
            area_id=sensor.area_id,
            actor_id=None,
            data={**base, "stage": "draft", "code": exc.code},
        )
        return Crossing(rule.pk, reading.reading_id, None, "", error=f"{exc.code}: {exc.message}")
    rule.is_crossed = True
    rule.last_alert = alert
    audit_record(
        action="alerts.sensor_threshold_crossed",
        target=rule,
        area_id=sensor.area_id,
        actor_id=None,
        data={
            **base,
            "alert_id": alert.pk,
            "value": reading.value,
            "operator": rule.operator,
            "threshold": rule.threshold,
            "automatic": rule.automatic,
        },
    )
    if not rule.automatic:
        return Crossing(rule.pk, reading.reading_id, alert.pk, alert.state)
    try:
        with transaction.atomic():
            alert = alert_issue_automatically(
                alert=alert, reason=f"sensor rule {rule.pk} marked automatic by an approver"
            )
    except DomainError as exc:
        # The draft stays, for people to approve by hand.
        audit_record(
            action="alerts.sensor_rule_failed",
            target=rule,
            area_id=sensor.area_id,
            actor_id=None,
            data={**base, "stage": "issue", "code": exc.code, "alert_id": alert.pk},
        )
        return Crossing(rule.pk, reading.reading_id, alert.pk, alert.state, error=f"{exc.code}: {exc.message}")
    return Crossing(rule.pk, reading.reading_id, alert.pk, alert.state)


def sensor_readings_record(
    *, sensor: Sensor, readings: Sequence[ReadingIn], now: datetime | None = None
) -> ReadingsRecorded:
    """Store a delivery of readings and evaluate the sensor's rules, all or nothing, in one transaction.

    The sensor's row is locked first, then its rules, so concurrent deliveries of the same readings queue
    and the later one finds them recorded. Readings are evaluated in the order they were measured; one
    measured before the latest already on record is stored but changes no rule.
    """
    now = now or timezone.now()
    _check_readings(readings, now)
    result = ReadingsRecorded(sensor_id=sensor.pk, external_id=sensor.external_id)
    with transaction.atomic():
        locked = Sensor.objects.select_for_update().filter(pk=sensor.pk).first()
        if locked is None:
            raise NotFound("No such sensor.")
        if not locked.is_active:
            raise Conflict(
                f"Sensor {locked.external_id!r} is inactive: its readings are refused until it is switched on.",
                code="sensor_inactive",
            )
        rules = list(SensorRule.objects.select_for_update().filter(sensor=locked, is_active=True).order_by("pk"))
        ids = list(dict.fromkeys(reading.reading_id for reading in readings))
        known = set(
            SensorReading.objects.filter(sensor=locked, reading_id__in=ids).values_list("reading_id", flat=True)
        )
        fresh: list[ReadingIn] = []
        seen: set[str] = set()
        for reading in readings:
            if reading.reading_id in known or reading.reading_id in seen:
                result.duplicates.append(reading.reading_id)
            else:
                fresh.append(reading)
            seen.add(reading.reading_id)
        if not fresh:
            return result  # a replay or a duplicate: nothing to write, not even an audit event
        latest: datetime | None = SensorReading.objects.filter(sensor=locked).aggregate(latest=Max("measured_at"))[
            "latest"
        ]
        try:
            with transaction.atomic():
                SensorReading.objects.bulk_create(
                    [
                        SensorReading(sensor=locked, reading_id=r.reading_id, value=r.value, measured_at=r.measured_at)
                        for r in fresh
                    ]
                )
        except IntegrityError as exc:  # only if a writer bypassed the lock; the sender retries and is told
            raise Conflict(
                "Some of these readings were recorded at the same moment by another delivery; send it again.",
                code="concurrent_delivery",
            ) from exc
        result.new = [r.reading_id for r in fresh]
        stored = dict(
            SensorReading.objects.filter(sensor=locked, reading_id__in=result.new).values_list("reading_id", "pk")
        )
        changed_rules: set[int] = set()
        failed_rules: set[int] = set()  # tried once in this delivery already
        # Oldest first: the rules see the readings in the order the river rose and fell.
        for reading in sorted(fresh, key=lambda r: r.measured_at):
            if latest is not None and reading.measured_at < latest:
                result.out_of_order.append(reading.reading_id)
                continue
            latest = reading.measured_at
            for rule in rules:
                beyond = rule.crossed_by(reading.value)
                if beyond and not rule.is_crossed and rule.pk not in failed_rules:
                    crossing = _fire(locked, rule, reading)
                    result.crossings.append(crossing)
                    if crossing.alert_id is None:
                        failed_rules.add(rule.pk)
                    else:
                        SensorReading.triggered.through.objects.create(
                            sensorreading_id=stored[reading.reading_id], sensorrule_id=rule.pk
                        )
                        changed_rules.add(rule.pk)
                elif not beyond and rule.is_crossed:
                    rule.is_crossed = False
                    changed_rules.add(rule.pk)
        for rule in rules:
            if rule.pk in changed_rules:
                rule.save(update_fields=["is_crossed", "last_alert", "updated_at"])
        audit_record(
            action="alerts.sensor_readings_received",
            target=locked,
            area_id=locked.area_id,
            actor_id=None,
            data={
                "new": len(result.new),
                "duplicates": len(result.duplicates),
                "out_of_order": len(result.out_of_order),
                "crossings": len(result.crossings),
            },
        )
    return result
