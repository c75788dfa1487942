"""Reads of sensors, their rules and readings, scoped to the staff who may see them.

Staff see a sensor when they hold a role in the sensor's organisation that lets them draft or approve alerts
over the sensor's area (directly or over an area containing it). Everyone else is told it does not exist.
"""

from django.db.models import Q, QuerySet

from accounts import permissions
from accounts.models import AdministrativeArea, Membership, Organisation, User
from alerts.models import Sensor, SensorReading, SensorRule
from commsplatform.core.errors import NotFound

SENSOR_PERMS = frozenset({permissions.DRAFT_ALERTS, permissions.APPROVE_ALERTS})


def _roles_granting(perms: frozenset[str]) -> list[str]:
    return [role for role, granted in permissions.ROLE_PERMISSIONS.items() if granted & perms]


def sensor_perms_of(*, user: User, organisation: Organisation, area: AdministrativeArea) -> set[str]:
    """Which of draft_alerts / approve_alerts the user holds over `area` through a role in `organisation`.

    Both halves must hold: the permission over the area (accounts.permissions, the authority on it) and a
    role in this organisation that grants it there, so a drafter for one organisation cannot manage the
    sensors of another that happens to cover the same area.
    """
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return set(SENSOR_PERMS)
    roles = Membership.objects.active().filter(
        user=user, organisation=organisation, area_id__in=area.ancestor_ids or [area.pk]
    )
    from_roles: set[str] = set()
    for role in roles.values_list("role", flat=True):
        from_roles |= permissions.ROLE_PERMISSIONS[role] & SENSOR_PERMS
    return {perm for perm in from_roles if permissions.user_has_area_perm(user, perm, area)}


def sensor_list_for_user(*, user: User) -> QuerySet[Sensor]:
    if not user.is_authenticated or not user.is_active:
        return Sensor.objects.none()
    sensors = Sensor.objects.select_related("organisation", "area")
    if user.is_superuser:
        return sensors.all()
    condition = Q(pk__in=[])
    memberships = Membership.objects.active().filter(user=user, role__in=_roles_granting(SENSOR_PERMS))
    for organisation_id, path in memberships.values_list("organisation_id", "area__path"):
        condition |= Q(organisation_id=organisation_id, area__path__startswith=path)
    return sensors.filter(condition)


def sensor_get_for_user(*, user: User, sensor_id: int) -> Sensor:
    sensor = sensor_list_for_user(user=user).filter(pk=sensor_id).first()
    if sensor is None:
        raise NotFound(f"No sensor with id {sensor_id} that you may see.")
    return sensor


def sensor_get_by_external_id(*, external_id: str) -> Sensor:
    """For the signed webhook: the sensor a delivery names."""
    sensor = Sensor.objects.select_related("organisation", "area").filter(external_id=external_id).first()
    if sensor is None:
        raise NotFound(f"No sensor with external id {external_id!r} is registered.", code="unknown_sensor")
    return sensor


def sensor_rule_list(*, sensor: Sensor) -> QuerySet[SensorRule]:
    return SensorRule.objects.filter(sensor=sensor).order_by("pk")


def sensor_rule_get_for_user(*, user: User, rule_id: int) -> SensorRule:
    rule = (
        SensorRule.objects.filter(pk=rule_id, sensor__in=sensor_list_for_user(user=user))
        .select_related("sensor__organisation", "sensor__area", "template")
        .first()
    )
    if rule is None:
        raise NotFound(f"No sensor rule with id {rule_id} that you may see.")
    return rule


def sensor_reading_list(*, sensor: Sensor) -> QuerySet[SensorReading]:
    """Newest measurement first, with the rules each reading set off."""
    return SensorReading.objects.filter(sensor=sensor).prefetch_related("triggered").order_by("-measured_at", "-pk")
