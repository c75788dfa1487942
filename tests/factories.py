"""factory_boy factories and builders; every object is made through the services, as in production."""

from dataclasses import dataclass
from typing import Any

import factory
import factory.random
from django.contrib.gis.geos import MultiPolygon, Point, Polygon

from accounts import services
from accounts.models import AdministrativeArea, AreaLevel, ConsentPurpose, Membership, Organisation, User

# The same names in every run, so that a finding of the log scan can be reproduced.
factory.random.reseed_random("commsplatform-tests")


def square(x0: float, y0: float, x1: float, y1: float) -> MultiPolygon:
    return MultiPolygon(Polygon(((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))), srid=4326)


class UserFactory(factory.Factory[User]):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"person{n}")
    password = "a-test-password-42"
    # Real-looking names and addresses: the scan of the run's logs for personal data (tests/personal_data.py)
    # looks for them, so they must look like what a leak would print.
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(
        lambda o: (
            "".join(c for c in f"{o.first_name}.{o.last_name}.{o.username}" if c.isalnum() or c == ".").lower()
            + "@example.org"
        )
    )
    preferred_language = "en"

    @classmethod
    def _create(cls, model_class: type[User], *args: Any, **kwargs: Any) -> User:
        return services.user_create(**kwargs)


class OrganisationFactory(factory.Factory[Organisation]):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    kind = "civil_protection"
    area = None

    @classmethod
    def _create(cls, model_class: type[Organisation], *args: Any, **kwargs: Any) -> Organisation:
        return services.organisation_create(actor=None, **kwargs)


def grant(user: User, role: str, area: AdministrativeArea, organisation: Organisation, **kwargs: Any) -> Membership:
    return services.membership_grant(actor=None, user=user, organisation=organisation, role=role, area=area, **kwargs)


def resident_at(lon: float, lat: float, **kwargs: Any) -> User:
    """A resident who consented to location use and lives at (lon, lat)."""
    user = UserFactory.create(**kwargs)
    services.consent_give(user=user, purpose=ConsentPurpose.TERMS, version="1")
    services.consent_give(user=user, purpose=ConsentPurpose.LOCATION, version="1")
    services.resident_set_home(user=user, location=Point(lon, lat, srid=4326))
    return user


@dataclass
class AreaTree:
    """Nation ⊃ region ⊃ city A ⊃ district A1, and city B beside A; one civil-protection organisation."""

    nation: AdministrativeArea
    region: AdministrativeArea
    city_a: AdministrativeArea
    district_a1: AdministrativeArea
    city_b: AdministrativeArea
    organisation: Organisation


def make_area_tree() -> AreaTree:
    nation = services.area_create(
        actor=None, name="Testland", code="TL", level=AreaLevel.NATION, geometry=square(0, 0, 40, 20)
    )
    region = services.area_create(
        actor=None, name="North", code="TL-N", level=AreaLevel.REGION, geometry=square(0, 0, 40, 20), parent=nation
    )
    city_a = services.area_create(
        actor=None, name="Alphaville", code="A", level=AreaLevel.CITY, geometry=square(0, 0, 10, 10), parent=region
    )
    district_a1 = services.area_create(
        actor=None, name="Alpha One", code="A1", level=AreaLevel.DISTRICT, geometry=square(0, 0, 5, 5), parent=city_a
    )
    city_b = services.area_create(
        actor=None, name="Betatown", code="B", level=AreaLevel.CITY, geometry=square(20, 0, 30, 10), parent=region
    )
    organisation = OrganisationFactory.create(name="Civil Protection", kind="civil_protection", area=region)
    return AreaTree(nation, region, city_a, district_a1, city_b, organisation)
