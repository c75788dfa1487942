"""Demo data for rooms: a town hall, a press conference, a coordination room, a community room for vulnerable
residents and a guidance room on reaching shelters, over the demo city, hosted by the demo official."""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.demo import demo_username
from accounts.models import AdministrativeArea, Role, User
from rooms import services
from rooms.models import Room, RoomAudience, RoomKind, RoomVisibility
from shelters.models import Shelter, ShelterStatus


@dataclass(frozen=True)
class _DemoRoom:
    title: str
    kind: str
    visibility: str = RoomVisibility.PUBLIC
    audience: str = RoomAudience.GENERAL
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    official_post: str = ""


DEMO_ROOMS = (
    _DemoRoom(
        title="Flood preparedness town hall",
        kind=RoomKind.TOWN_HALL,
        description="The mayor's office answers residents' questions on the flood season. Questions are moderated.",
        options={"languages": ["en", "es"], "starts_in_hours": 24},
        official_post="Welcome. The town hall starts tomorrow; ask your questions now and vote for the ones you "
        "want answered first.",
    ),
    _DemoRoom(
        title="Press briefing: storm response",
        kind=RoomKind.PRESS_CONFERENCE,
        description="Daily briefing for the press. Listeners may raise a hand to ask a question.",
        audience=RoomAudience.PRESS,
        options={"starts_in_hours": 2},
    ),
    _DemoRoom(
        title="Civil protection coordination",
        kind=RoomKind.COORDINATION,
        description="Staff of the city's agencies: situation, resources, decisions.",
        audience=RoomAudience.CIVIL_PROTECTION,
        options={"chat_open": True},
    ),
    _DemoRoom(
        title="Support for vulnerable residents",
        kind=RoomKind.COMMUNITY,
        visibility=RoomVisibility.AREA,
        description="For residents who need help to evacuate, their carers and neighbours.",
        audience=RoomAudience.VULNERABLE,
        options={"languages": ["en", "es"], "slow_mode_seconds": 10},
    ),
    _DemoRoom(
        title="How to reach shelters",
        kind=RoomKind.GUIDANCE,
        description="Where the shelters are, how to get there and what to bring. Ask if something is unclear.",
    ),
)


def _guidance(city: AdministrativeArea) -> str:
    shelters = Shelter.objects.filter(area__path__startswith=city.path, status=ShelterStatus.OPEN).order_by("name")
    names = [s.name for s in shelters[:5]]
    where = f"Open shelters now: {', '.join(names)}." if names else "The map lists the shelters that are open."
    return (
        f"{where}\n\n"
        "1. Check on the map which open shelter is nearest and has room; it shows how full each one is.\n"
        "2. Go on foot or by car along the marked evacuation routes; avoid underpasses and flooded streets.\n"
        "3. Bring your medicines, papers, a phone charger, water and something warm.\n"
        "4. If you cannot get there alone, ask here or in the support room: volunteers will help."
    )


def rooms_demo_load(*, city: AdministrativeArea) -> int:
    """Create the demo's rooms that do not exist yet; returns how many were created. Idempotent."""
    host = User.objects.filter(username=demo_username(Role.OFFICIAL)).first()
    if host is None:
        return 0
    created = 0
    now = timezone.now()
    for spec in DEMO_ROOMS:
        if Room.objects.filter(title=spec.title, area=city).exists():
            continue
        options = dict(spec.options)
        starts_in = options.pop("starts_in_hours", None)
        with transaction.atomic():
            room = services.room_create(
                actor=host, title=spec.title, kind=spec.kind, visibility=spec.visibility, audience=spec.audience,
                area=city, description=spec.description,
                starts_at=now + timedelta(hours=starts_in) if starts_in is not None else None, **options,
            )  # fmt: skip
            if spec.official_post:
                services.message_post(actor=host, room_id=room.pk, kind="official", body=spec.official_post)
            if spec.kind == RoomKind.GUIDANCE:
                # Guidance posts are pinned when posted.
                services.message_post(actor=host, room_id=room.pk, kind="guidance", body=_guidance(city))
        created += 1
    return created
