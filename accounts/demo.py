"""The local demo: an area tree (New York City from the shared data, or the made-up Demoville), organisations,
one login per role. Loading is idempotent: once the demo organisations exist, nothing is changed again.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.db import transaction

from accounts import services
from accounts.area_import import area_file_union, area_import
from accounts.models import (
    AdministrativeArea,
    AreaLevel,
    ConsentPurpose,
    Membership,
    Organisation,
    OrganisationKind,
    Role,
    User,
)

DEMO_PASSWORD_DEFAULT = "demo-password-2026"  # noqa: S105 - a local demo's documented password, not a secret
DEMO_SUPERUSER = "demo-admin"
DEMO_CONSENT_VERSION = "demo-1"

NYC_BOROUGHS = Path("shelters") / "nyc" / "nyc_borough_boundaries.geojson"
NYC_ZONES = Path("shelters") / "nyc" / "nyc_hurricane_evacuation_zones.topojson"
NYC_ZONES_LAYER = "zone-weeded"
# NYC borough codes, as in the BOROCODE column of the city's evacuation-centre data.
NYC_BOROUGH_CODES = {"Manhattan": "1", "Bronx": "2", "Brooklyn": "3", "Queens": "4", "Staten Island": "5"}

# One organisation per kind, all based in the demo city.
DEMO_ORGANISATIONS: dict[str, str] = {
    OrganisationKind.CIVIL_PROTECTION: "Demo Civil Protection",
    OrganisationKind.CITY_DEPARTMENT: "Demo Mayor's Office",
    OrganisationKind.PUBLIC_HEALTH: "Demo Public Health Department",
    OrganisationKind.UTILITY: "Demo Power and Water",
    OrganisationKind.HOSPITAL: "Demo General Hospital",
    OrganisationKind.NGO: "Demo Red Cross",
    OrganisationKind.COMMUNITY_GROUP: "Demo Neighbours Association",
    OrganisationKind.MEDIA: "Demo City Radio",
    OrganisationKind.BUSINESS: "Demo Supermarkets",
}


@dataclass(frozen=True)
class _DemoRole:
    role: str
    organisation_kind: str
    over_district: bool  # over the first district rather than the whole city


DEMO_ROLES: Sequence[_DemoRole] = (
    _DemoRole(Role.RESIDENT, OrganisationKind.COMMUNITY_GROUP, over_district=True),
    _DemoRole(Role.OFFICIAL, OrganisationKind.CITY_DEPARTMENT, over_district=False),
    _DemoRole(Role.ALERT_DRAFTER, OrganisationKind.CIVIL_PROTECTION, over_district=False),
    _DemoRole(Role.ALERT_APPROVER, OrganisationKind.CIVIL_PROTECTION, over_district=False),
    _DemoRole(Role.SHELTER_MANAGER, OrganisationKind.NGO, over_district=True),
    _DemoRole(Role.ASSET_OWNER, OrganisationKind.UTILITY, over_district=False),
    _DemoRole(Role.MODERATOR, OrganisationKind.COMMUNITY_GROUP, over_district=False),
    _DemoRole(Role.AUDITOR, OrganisationKind.CITY_DEPARTMENT, over_district=False),
    _DemoRole(Role.ADMINISTRATOR, OrganisationKind.CIVIL_PROTECTION, over_district=False),
)


def demo_username(role: str) -> str:
    return f"demo-{role.replace('_', '-')}"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    area: str
    organisation: str


@dataclass(frozen=True)
class DemoSummary:
    created: bool  # False: the demo was there already and nothing was changed
    city: AdministrativeArea
    logins: list[DemoLogin]
    note: str = ""


def demo_load(*, data_dir: Path | None, password: str) -> DemoSummary:
    """Load the demo once: New York City when `data_dir` holds the NYC files, else Demoville; then people."""
    existing = _demo_city()
    if existing is not None:
        return DemoSummary(created=False, city=existing, logins=demo_logins())
    note = ""
    nyc = data_dir is not None and (data_dir / NYC_BOROUGHS).is_file() and (data_dir / NYC_ZONES).is_file()
    if data_dir is not None and not nyc:
        note = f"{data_dir} lacks {NYC_BOROUGHS} or {NYC_ZONES}: loaded Demoville instead of New York City."
    with transaction.atomic():
        city = nyc_areas_load(data_dir) if nyc and data_dir is not None else _load_demoville()
        district = city.children.filter(level=AreaLevel.DISTRICT).order_by("code").first()
        if district is None:  # pragma: no cover - both trees have districts
            raise RuntimeError("The demo city has no district.")
        _load_people(city=city, district=district, password=password)
        _load_shelters(city=city, data_dir=data_dir)
    return DemoSummary(created=True, city=city, logins=demo_logins(), note=note)


def demo_logins() -> list[DemoLogin]:
    """Who can sign in to the demo, with their role, area and organisation (from the database)."""
    logins = [
        DemoLogin(username=DEMO_SUPERUSER, role="superuser", area="everywhere", organisation="-")
        for _ in User.objects.filter(username=DEMO_SUPERUSER, is_superuser=True)
    ]
    memberships = (
        Membership.objects.active()
        .filter(user__username__in=[demo_username(r.role) for r in DEMO_ROLES])
        .select_related("user", "area", "organisation")
        .order_by("id")
    )
    logins += [
        DemoLogin(username=m.user.username, role=m.role, area=m.area.name, organisation=m.organisation.name)
        for m in memberships
    ]
    return logins


def _demo_city() -> AdministrativeArea | None:
    organisation = (
        Organisation.objects.filter(name=DEMO_ORGANISATIONS[OrganisationKind.CIVIL_PROTECTION])
        .select_related("area")
        .first()
    )
    return organisation.area if organisation is not None else None


# Areas -----------------------------------------------------------------------------------------------


def _box(x0: float, y0: float, x1: float, y1: float) -> MultiPolygon:
    return MultiPolygon(Polygon(((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))), srid=4326)


def _area(
    name: str, code: str, level: str, geometry: MultiPolygon, parent: AdministrativeArea | None
) -> AdministrativeArea:
    return services.area_create(
        actor=None, name=name, code=code, level=level, geometry=geometry, parent=parent, source="demo"
    )


def nyc_areas_load(data_dir: Path) -> AdministrativeArea:
    """United States > New York State > New York City > 5 boroughs, and the 7 hurricane evacuation zones.

    Boroughs are coded "1"…"5" (as the centres' BOROCODE), zones "0"…"6". The benchmarks load the same tree."""
    # Rough boxes around the contiguous United States and New York State: enough for a demo tree.
    nation = _area("United States", "US", AreaLevel.NATION, _box(-125.0, 24.4, -66.9, 49.4), None)
    region = _area("New York State", "US-NY", AreaLevel.REGION, _box(-79.8, 40.4, -71.8, 45.1), nation)
    # The source polygons have self-touching rings (invalid under OGC rules): repaired, not refused.
    city = services.area_create(
        actor=None,
        name="New York City",
        code="NYC",
        level=AreaLevel.CITY,
        geometry=area_file_union(path=data_dir / NYC_BOROUGHS),
        parent=region,
        source=NYC_BOROUGHS.name,
    )
    area_import(
        actor=None,
        path=data_dir / NYC_BOROUGHS,
        level=AreaLevel.DISTRICT,
        name_field="boro_name",
        code_field="boro_name",
        code_map=NYC_BOROUGH_CODES,
        parent=f"{AreaLevel.CITY}:NYC",
        make_valid=True,
    )
    area_import(
        actor=None,
        path=data_dir / NYC_ZONES,
        layer=NYC_ZONES_LAYER,
        level=AreaLevel.ZONE,
        name_field="zone",
        name_format="Hurricane evacuation zone {}",
        code_field="zone",
        parent=f"{AreaLevel.CITY}:NYC",
        make_valid=True,
    )
    return city


def _load_demoville() -> AdministrativeArea:
    """A made-up town at 0°N 0°E (open sea, so it is never mistaken for a real place), about 6.7 x 4.4 km.

    Demoland > Demo County > Demoville > Old Town (with Market Quarter and Castle Hill), Riverside, Hillcrest;
    evacuation zones A (along the river) and B under the city.
    """
    nation = _area("Demoland", "DL", AreaLevel.NATION, _box(-1.0, -1.0, 1.0, 1.0), None)
    region = _area("Demo County", "DL-DC", AreaLevel.REGION, _box(-0.5, -0.5, 0.5, 0.5), nation)
    city = _area("Demoville", "DV", AreaLevel.CITY, _box(0.0, 0.0, 0.06, 0.04), region)
    old_town = _area("Old Town", "DV-OT", AreaLevel.DISTRICT, _box(0.0, 0.0, 0.02, 0.04), city)
    _area("Riverside", "DV-RS", AreaLevel.DISTRICT, _box(0.02, 0.0, 0.04, 0.04), city)
    _area("Hillcrest", "DV-HC", AreaLevel.DISTRICT, _box(0.04, 0.0, 0.06, 0.04), city)
    _area("Market Quarter", "DV-OT-MQ", AreaLevel.NEIGHBOURHOOD, _box(0.0, 0.0, 0.02, 0.02), old_town)
    _area("Castle Hill", "DV-OT-CH", AreaLevel.NEIGHBOURHOOD, _box(0.0, 0.02, 0.02, 0.04), old_town)
    _area("Evacuation zone A (river)", "DV-EZ-A", AreaLevel.ZONE, _box(0.015, 0.0, 0.045, 0.01), city)
    _area("Evacuation zone B", "DV-EZ-B", AreaLevel.ZONE, _box(0.015, 0.01, 0.045, 0.02), city)
    return city


# Shelters --------------------------------------------------------------------------------------------


def _load_shelters(*, city: AdministrativeArea, data_dir: Path | None) -> None:
    """Shelters, assets and evacuation routes: the shelters app says what they are."""
    from shelters.demo import shelters_demo_load  # imported here: shelters depends on accounts, not the reverse

    shelters_demo_load(city=city, data_dir=data_dir)


# People ----------------------------------------------------------------------------------------------


def _load_people(*, city: AdministrativeArea, district: AdministrativeArea, password: str) -> None:
    organisations = {
        kind: services.organisation_create(actor=None, name=name, kind=kind, area=city)
        for kind, name in DEMO_ORGANISATIONS.items()
    }
    for spec in DEMO_ROLES:
        user = services.user_create(username=demo_username(spec.role), password=password, first_name="Demo")
        services.membership_grant(
            actor=None,
            user=user,
            organisation=organisations[spec.organisation_kind],
            role=spec.role,
            area=district if spec.over_district else city,
        )
        if spec.role == Role.RESIDENT:
            services.consent_give(user=user, purpose=ConsentPurpose.TERMS, version=DEMO_CONSENT_VERSION)
            services.consent_give(user=user, purpose=ConsentPurpose.LOCATION, version=DEMO_CONSENT_VERSION)
            home = district.geometry.point_on_surface
            services.resident_set_home(user=user, location=Point(home.x, home.y, srid=4326))
            services.subscription_add(user=user, area=city)
    admin = services.user_create(username=DEMO_SUPERUSER, password=password, first_name="Demo")
    services.user_set_staff(actor=None, user=admin, is_staff=True, is_superuser=True)
