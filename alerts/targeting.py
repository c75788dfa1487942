"""Who an alert reaches, computed in the database with its spatial indexes and streamed as ids.

Recipients are residents whose home, or location shared within the last hours, lies inside the alert's
geometry, plus those subscribed to an area whose interior meets it; active, not erased, and consenting to
receive alerts. An Update or Cancel also reaches everyone the alert it continues reached. No Python loop
over residents and no model instances for them: the delivery rows are written by one INSERT … SELECT.
"""

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import MultiPolygon
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.models import AdministrativeArea, AreaLevel, ChannelIdentity, ConsentPurpose, ResidentProfile, User
from accounts.models import Subscription as AreaSubscription
from alerts.models import Alert, Delivery, DeliveryState
from alerts.transports import transport_for_channel

# Interiors meet (DE-9IM): an area that only shares a border with the alert's area is not in it.
INTERIORS_MEET = "T********"


def _spatialite_index(table: str, column: str, geometry: MultiPolygon) -> Q:
    """On SpatiaLite, a lookup uses the R*Tree only when asked to: restrict candidates through SpatialIndex."""
    sql = (
        "SELECT ROWID FROM SpatialIndex WHERE f_table_name = %s AND f_geometry_column = %s "
        "AND search_frame = GeomFromText(%s, 4326)"
    )
    return Q(pk__in=RawSQL(sql, (table, column, geometry.envelope.wkt)))  # noqa: S611 - constant SQL, values are parameters


def _profiles_at(column: str, geometry: MultiPolygon) -> QuerySet[ResidentProfile]:
    profiles = ResidentProfile.objects.filter(**{f"{column}__intersects": geometry})
    if connection.vendor == "sqlite":
        profiles = profiles.filter(_spatialite_index(ResidentProfile._meta.db_table, column, geometry))
    return profiles


def located_user_ids(geometry: MultiPolygon, *, now: datetime | None = None) -> QuerySet[ResidentProfile, Any]:
    """User ids (one column, possibly repeated) of people whose home or recent location is inside."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.ALERT_LAST_LOCATION_MAX_AGE_HOURS)
    home = _profiles_at("home_location", geometry).values("user_id")
    recent = _profiles_at("last_location", geometry).filter(last_location_at__gte=cutoff).values("user_id")
    return home.union(recent, all=True)


def subscribed_user_ids(geometry: MultiPolygon) -> QuerySet[AreaSubscription, Any]:
    areas = AdministrativeArea.objects.filter(geometry__intersects=geometry).filter(
        geometry__relate=(geometry, INTERIORS_MEET)
    )
    return AreaSubscription.objects.filter(area__in=areas.values("pk")).values("user_id")


def _eligible(users: QuerySet[User]) -> QuerySet[User]:
    return users.filter(
        is_active=True,
        erased_at__isnull=True,
        consents__purpose=ConsentPurpose.TERMS,
        consents__withdrawn_at__isnull=True,
    )


def recipients(alert: Alert, *, now: datetime | None = None) -> QuerySet[User]:
    """The alert's recipients as a lazy queryset of users (for counting or as a subquery; never iterate it all)."""
    # Every source of ids goes into ONE `IN (… UNION ALL …)`: PostgreSQL hash-joins it. `IN (…) OR IN (…)`
    # cannot be a join; once a subquery's ids outgrow work_mem it is re-scanned for every user (hours at 1M).
    ids: QuerySet[Any, Any] | None = None
    if alert.geometry is not None:
        geometry = alert.geometry
        ids = located_user_ids(geometry, now=now).union(subscribed_user_ids(geometry), all=True)
    if alert.original_id is not None:
        chain = Alert.objects.filter(Q(pk=alert.original_id) | Q(original_id=alert.original_id)).exclude(pk=alert.pk)
        earlier = Delivery.objects.filter(alert__in=chain.values("pk")).values("recipient_id").order_by()
        ids = earlier if ids is None else ids.union(earlier, all=True)
    return _eligible(User.objects.filter(pk__in=ids) if ids is not None else User.objects.none())


def recipient_ids(alert: Alert, *, chunk_size: int = 5000) -> Iterator[int]:
    """Stream the recipients' ids from the database (a server-side cursor on PostgreSQL)."""
    return recipients(alert).values_list("pk", flat=True).distinct().iterator(chunk_size=chunk_size)


def best_language(preferred: str, languages: Sequence[str]) -> str:
    """The alert language for someone who prefers `preferred`: exact, then same primary subtag, then the first."""
    wanted = preferred.lower()
    for language in languages:
        if language.lower() == wanted:
            return language
    primary = wanted.split("-", 1)[0]
    for language in languages:
        if language.lower().split("-", 1)[0] == primary:
            return language
    return languages[0]


def _language_case(languages: Sequence[str]) -> tuple[str, list[str]]:
    """SQL CASE mapping each configured interface language to the alert language it falls back to."""
    whens: list[str] = []
    params: list[str] = []
    for code, _name in settings.LANGUAGES:
        whens.append("WHEN u.preferred_language = %s THEN %s")
        params += [code, best_language(code, languages)]
    return f"CASE {' '.join(whens)} ELSE %s END", [*params, languages[0]]


def deliveries_create(alert: Alert, *, now: datetime | None = None) -> int:
    """Write one queued Delivery per (recipient, transport) in one statement; existing ones are left alone.

    Returns how many rows the statement inserted (0 when replayed).
    """
    now = now or timezone.now()
    languages = list(alert.infos.values_list("language", flat=True)) or ["en"]
    kinds = transport_for_channel()
    if not kinds:
        return 0
    recipient_sql, recipient_params = recipients(alert, now=now).values("pk").query.sql_with_params()
    language_sql, language_params = _language_case(languages)
    transport_whens = " ".join("WHEN ci.kind = %s THEN %s" for _ in kinds)
    transport_params: list[str] = [value for pair in kinds.items() for value in pair]
    kind_placeholders = ", ".join("%s" for _ in kinds)
    delivery = Delivery._meta.db_table
    sql = f"""
        INSERT INTO {delivery}
            (alert_id, recipient_id, transport, identity_id, language, priority, state, attempts, created_at,
             claim_token, failed_reason, provider_message_id)
        SELECT %s, ci.user_id, CASE {transport_whens} END, MIN(ci.id), {language_sql}, %s, %s, 0, %s, '', '', ''
        FROM {ChannelIdentity._meta.db_table} ci
        JOIN {User._meta.db_table} u ON u.id = ci.user_id
        WHERE ci.is_active AND ci.receives_alerts AND ci.kind IN ({kind_placeholders})
          AND ci.user_id IN ({recipient_sql})
        GROUP BY ci.user_id, ci.kind, u.preferred_language
        ON CONFLICT (alert_id, recipient_id, transport) DO NOTHING
    """  # noqa: S608 - table names come from models; every value is a parameter
    params = [
        alert.pk,
        *transport_params,
        *language_params,
        alert.priority,
        DeliveryState.QUEUED,
        now,
        *kinds.keys(),
        *recipient_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def reach(alert: Alert) -> dict[str, object]:
    """What staff see before approving: how many people, on which transports, in which areas."""
    people = recipients(alert).values("pk").distinct().count()
    kinds = transport_for_channel()
    by_channel = dict.fromkeys(kinds.values(), 0)
    reachable = (
        ChannelIdentity.objects.filter(
            user__in=recipients(alert).values("pk"), is_active=True, receives_alerts=True, kind__in=list(kinds)
        )
        .values_list("kind", "user_id")
        .distinct()
    )
    for kind in kinds:
        by_channel[kinds[kind]] = reachable.filter(kind=kind).values("user_id").distinct().count()
    areas: list[dict[str, object]] = []
    if alert.geometry is not None:
        touched = (
            AdministrativeArea.objects.filter(geometry__intersects=alert.geometry)
            .filter(geometry__relate=(alert.geometry, INTERIORS_MEET))
            .exclude(level__in=[AreaLevel.NATION, AreaLevel.REGION])
            .order_by("path")
            .values("pk", "name", "level", "code")[:200]
        )
        areas = [dict(area) for area in touched]
    return {"recipients": people, "by_transport": by_channel, "areas": areas}
