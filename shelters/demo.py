"""Demo data for shelters: New York City's evacuation centres (shared data) or a few made-up Demoville shelters,
with some assets of the demo utility and evacuation routes. Called once by the accounts demo loader."""

from pathlib import Path

from django.contrib.gis.geos import LineString, Point

from accounts.demo import DEMO_ORGANISATIONS
from accounts.models import AdministrativeArea, Organisation, OrganisationKind
from commsplatform.core.errors import ValidationFailed
from shelters.importers import shelter_import
from shelters.models import Shelter, ShelterStatus
from shelters.services import (
    asset_create,
    route_create,
    shelter_create,
    shelter_occupancy_set,
    shelter_set_status,
    shelter_update,
)

NYC_CENTRES = Path("shelters") / "nyc" / "nyc_hurricane_evacuation_centers_center.csv"
# The city's file has no capacity: the demo opens one centre per borough with a stated, made-up capacity.
NYC_DEMO_OPEN = {"1": 300, "2": 250, "3": 250, "4": 250, "5": 150}


def shelters_demo_load(*, city: AdministrativeArea, data_dir: Path | None) -> int:
    """Load the demo's shelters, routes and assets; returns how many shelters. Idempotent."""
    if Shelter.objects.filter(area__path__startswith=city.path).exists():
        return 0
    if city.code == "NYC" and data_dir is not None and (data_dir / NYC_CENTRES).is_file():
        shelters = _nyc(city, data_dir / NYC_CENTRES)
    else:
        shelters = _demoville()
    _routes(shelters)
    _assets(shelters)
    return len(shelters)


def _nyc(city: AdministrativeArea, path: Path) -> list[Shelter]:
    result = shelter_import(actor=None, path=path, file_format="nyc", area=city)
    opened: list[Shelter] = []
    for borough, capacity in NYC_DEMO_OPEN.items():
        shelter = next(
            (s for s in result.created if s.properties.get("borough_code") == borough and s.step_free_access), None
        )
        if shelter is None:
            continue
        shelter = shelter_update(
            actor=None,
            shelter=shelter,
            fields={"capacity": capacity, "notes": "Demo: the capacity is made up (the city's file has none)."},
        )
        shelter = shelter_set_status(actor=None, shelter=shelter, status=ShelterStatus.OPEN)
        shelter_occupancy_set(actor=None, shelter=shelter, occupancy=capacity // 3)
        opened.append(shelter)
    return opened


def _demoville() -> list[Shelter]:
    specs = [
        ("Old Town Primary School", 0.010, 0.010, 120, ShelterStatus.OPEN, 45, {"step_free_access": True}),
        ("Riverside Sports Hall", 0.030, 0.025, 80, ShelterStatus.OPEN, 80, {"pets_allowed": True}),
        ("Hillcrest Community Centre", 0.050, 0.030, 150, ShelterStatus.OPEN, 20, {"medical_care": True}),
        ("Castle Hill Library", 0.012, 0.032, 40, ShelterStatus.PLANNED, 0, {}),
    ]
    shelters = []
    for name, lon, lat, capacity, status, people, flags in specs:
        shelter = shelter_create(
            actor=None,
            fields={
                "name": name,
                "names": {"en": name, "fr": f"Abri {name}"},
                "location": Point(lon, lat, srid=4326),
                "street": "High Street",
                "postcode": "DV1 1AA",
                "address": f"{name}, High Street, Demoville DV1 1AA",
                "capacity": capacity,
                "beds": {"women": capacity // 4, "children": capacity // 4},
                "hazards": ["flood", "storm"],
                "languages": ["en", "fr"],
                "power": True,
                "water": True,
                **flags,  # type: ignore[typeddict-item]  # the flags are ShelterFields booleans
            },
            status=status,
            source="demo",
            external_id=name.lower().replace(" ", "-"),
        )
        if people:
            shelter = shelter_occupancy_set(actor=None, shelter=shelter, occupancy=people)
        shelters.append(shelter)
    return shelters


def _routes(shelters: list[Shelter]) -> None:
    """An open route to the first shelter and a blocked one to the second (short, so they stay on land)."""
    made = 0
    for shelter in shelters:
        if made == 2:
            return
        x, y = shelter.location.x, shelter.location.y
        try:
            route_create(
                actor=None,
                fields={
                    "name": f"Evacuation route to {shelter.name}",
                    "geometry": LineString(((x + 0.0015, y - 0.0015), (x + 0.0007, y - 0.0004), (x, y)), srid=4326),
                    "status": "open" if made == 0 else "blocked",
                    "status_note": "" if made == 0 else "Demo: fallen tree across the road.",
                    "shelter": shelter,
                },
            )
        except ValidationFailed:
            continue  # the line would leave the city (a shore nearby): try the next shelter
        made += 1


def _assets(shelters: list[Shelter]) -> None:
    owner = Organisation.objects.filter(name=DEMO_ORGANISATIONS[OrganisationKind.UTILITY]).first()
    if owner is None or not shelters:
        return
    kinds = [
        ("generator", "Mobile generator 100 kVA", 2, "units", "available"),
        ("pump", "Trailer pump 150 mm", 3, "units", "deployed"),
        ("sandbags", "Filled sandbags", 2000, "bags", "available"),
        ("boat", "Rescue boat", 1, "units", "maintenance"),
    ]
    for index, (asset_type, name, quantity, unit, state) in enumerate(kinds):
        near = shelters[index % len(shelters)].location
        asset_create(
            actor=None,
            owner=owner,
            external_id=f"DEMO-{index + 1:03d}",
            fields={
                "asset_type": asset_type,
                "name": name,
                "quantity": quantity,
                "unit": unit,
                "state": state,
                "location": Point(near.x, near.y, srid=4326),  # kept at the shelter
            },
        )
