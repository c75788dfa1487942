"""Factories and builders for shelters, routes and assets; everything is made through the services."""

from typing import Any, cast

import factory
from django.contrib.gis.geos import LineString, Point

from accounts.models import AdministrativeArea, Organisation, User
from shelters import services
from shelters.models import Asset, EvacuationRoute, Shelter
from tests.factories import OrganisationFactory, UserFactory, grant


class ShelterFactory(factory.Factory[Shelter]):
    """`ShelterFactory.create(lon=2, lat=2, capacity=100, status="open")`; other keywords are shelter fields."""

    class Meta:
        model = Shelter

    name = factory.Sequence(lambda n: f"Shelter {n}")
    lon = 2.0
    lat = 2.0
    capacity: int | None = 100
    status = "open"

    @classmethod
    def _create(cls, model_class: type[Shelter], *args: Any, **kwargs: Any) -> Shelter:
        lon, lat = kwargs.pop("lon"), kwargs.pop("lat")
        status = kwargs.pop("status")
        actor = kwargs.pop("actor", None)
        source = kwargs.pop("source", "")
        external_id = kwargs.pop("external_id", "")
        fields = cast(services.ShelterFields, {"location": Point(lon, lat, srid=4326), **kwargs})
        return services.shelter_create(
            actor=actor, fields=fields, status=status, source=source, external_id=external_id
        )


class AssetFactory(factory.Factory[Asset]):
    class Meta:
        model = Asset

    owner: Organisation | None = None
    external_id = factory.Sequence(lambda n: f"A-{n:05d}")
    name = factory.Sequence(lambda n: f"Pump {n}")
    asset_type = "pump"
    lon = 2.0
    lat = 2.0

    @classmethod
    def _create(cls, model_class: type[Asset], *args: Any, **kwargs: Any) -> Asset:
        owner = kwargs.pop("owner") or OrganisationFactory.create(kind="utility")
        lon, lat = kwargs.pop("lon"), kwargs.pop("lat")
        external_id = kwargs.pop("external_id")
        actor = kwargs.pop("actor", None)
        fields = cast(services.AssetFields, {"location": Point(lon, lat, srid=4326), **kwargs})
        return services.asset_create(actor=actor, owner=owner, external_id=external_id, fields=fields)


def route_to(shelter: Shelter, *, start: tuple[float, float], status: str = "open") -> EvacuationRoute:
    line = LineString((start, (shelter.location.x, shelter.location.y)), srid=4326)
    return services.route_create(
        actor=None, fields={"name": f"Route to {shelter.name}", "geometry": line, "status": status, "shelter": shelter}
    )


def staff(role: str, area: AdministrativeArea, organisation: Organisation, **kwargs: Any) -> User:
    """A new person holding `role` in `organisation` over `area`."""
    user = UserFactory.create(**kwargs)
    grant(user, role, area, organisation)
    return user
