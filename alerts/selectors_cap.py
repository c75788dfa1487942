"""Reads for CAP: who may export which alert as CAP XML, and which feeds and trusted senders someone manages.

A CAP export is public for an alert that was issued to the public (issued, then perhaps updated, cancelled or
expired, with scope Public); any other alert is exported only to staff who may see it (alerts.selectors).
Feeds and trusted senders are shown to who may approve alerts over their area, for their organisation.
"""

from django.db.models import Q, QuerySet

from accounts import permissions
from accounts.models import AdministrativeArea, Organisation, User
from alerts import selectors
from alerts.models import Alert, AlertState, CapFeed, Scope, TrustedSender
from commsplatform.core.errors import NotFound

PUBLISHED_STATES = (AlertState.ISSUED, AlertState.UPDATED, AlertState.CANCELLED, AlertState.EXPIRED)


def alert_public_get(*, alert_id: int) -> Alert | None:
    """The alert if anyone may read it as CAP (issued to the public at some point), else None."""
    return Alert.objects.filter(pk=alert_id, scope=Scope.PUBLIC, state__in=PUBLISHED_STATES).first()


def alert_cap_get_for_user(*, user: User, alert_id: int) -> Alert:
    """Staff export: a published public alert, or any alert the user may see as staff; NotFound otherwise."""
    alert = alert_public_get(alert_id=alert_id)
    if alert is not None:
        return alert
    return selectors.alert_get_for_user(user=user, alert_id=alert_id)


def area_get(*, area_id: int) -> AdministrativeArea:
    area = AdministrativeArea.objects.filter(pk=area_id).first()
    if area is None:
        raise NotFound("No such area.")
    return area


def organisation_get(*, organisation_id: int) -> Organisation:
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        raise NotFound("No such organisation.")
    return organisation


def _approver_scope(user: User) -> Q:
    if user.is_superuser:
        return Q()
    organisations = user.memberships.active().values("organisation_id")
    covered = permissions.areas_covered(user, permissions.APPROVE_ALERTS)
    return Q(organisation__in=organisations, area__in=covered)


def cap_feed_list_for_user(*, user: User) -> QuerySet[CapFeed]:
    return CapFeed.objects.filter(_approver_scope(user)).select_related("organisation", "area")


def cap_feed_get_for_user(*, user: User, feed_id: int) -> CapFeed:
    feed = cap_feed_list_for_user(user=user).filter(pk=feed_id).first()
    if feed is None:
        raise NotFound("No such feed.")
    return feed


def trusted_sender_list_for_user(*, user: User) -> QuerySet[TrustedSender]:
    return TrustedSender.objects.filter(_approver_scope(user)).select_related("organisation", "area")


def trusted_sender_get_for_user(*, user: User, trusted_id: int) -> TrustedSender:
    trusted = trusted_sender_list_for_user(user=user).filter(pk=trusted_id).first()
    if trusted is None:
        raise NotFound("No such trusted sender.")
    return trusted
