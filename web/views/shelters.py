"""Shelters for residents: the nearest open shelters with free places (a list that works without JavaScript, and a
map), and one shelter's public page whose free places change live (web/static/web/shelters.js)."""

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from commsplatform.core.errors import DomainError
from shelters import selectors
from shelters.api import params
from shelters.models import BedCategory, Hazard, ShelterStatus
from shelters.search import PlaceQuery, distance_in_metres
from web.views.common import error_page, signed_in_user

MAX_LISTED = 50
NEAREST_LIMIT = 20


def need_labels() -> dict[str, str]:
    return {
        "accessible": _("Step-free access"),
        "pets": _("Pets allowed"),
        "medical": _("Medical care"),
        "power": _("Power"),
        "water": _("Water"),
    }


def local_name(shelter: Any, language: str) -> str:
    """The shelter's name in the reader's language when it has one, else its local name."""
    names: dict[str, str] = getattr(shelter, "names", None) or {}
    wanted = language.lower()
    for tag, name in names.items():
        if tag.lower() == wanted:
            return name
    for tag, name in names.items():
        if tag.lower().split("-", 1)[0] == wanted.split("-", 1)[0]:
            return name
    return str(shelter.name)


@dataclass
class ShelterRow:
    shelter: Any  # a Shelter, or the nearest query's PublicShelter (same attribute names)
    name: str
    distance_m: float | None

    @property
    def amenities(self) -> list[str]:
        labels = need_labels()
        return [labels[need] for need, field in selectors.NEED_FIELDS.items() if getattr(self.shelter, field)]

    @property
    def distance_text(self) -> str:
        if self.distance_m is None:
            return ""
        if self.distance_m < 1000:
            return _("%(metres)s m") % {"metres": int(round(self.distance_m, -1))}
        return _("%(km)s km") % {"km": f"{self.distance_m / 1000:.1f}"}


def _search(request: HttpRequest) -> dict[str, Any]:
    """Parse the form and ask one selector: the nearest open shelters with room from a point, or a search."""
    query = request.GET
    point = params.point(query)
    from_profile = False
    if point is None and request.user.is_authenticated:
        point = selectors.resident_point(user=signed_in_user(request))
        from_profile = point is not None
    needs = params.choice_list({"needs": ",".join(query.getlist("needs"))}, "needs", selectors.NEED_FIELDS)
    people = params.integer(query, "people", low=1, high=500, default=1)
    text, street, postcode = params.text(query, "q"), params.text(query, "street"), params.text(query, "postcode")
    show_all = params.boolean(query, "all")
    hazard = params.choice(query, "hazard", Hazard.values)
    language = get_language() or "en"
    if point is not None and not (text or street or postcode or show_all):
        nearest = selectors.shelter_nearest(point=point, people=people, needs=needs, hazard=hazard, limit=NEAREST_LIMIT)
        rows = [ShelterRow(item.shelter, local_name(item.shelter, language), item.distance_m) for item in nearest]
    else:
        found = selectors.shelter_list(
            query=selectors.ShelterQuery(
                place=PlaceQuery(q=text, street=street, postcode=postcode, near=point),
                hazard=hazard,
                with_space=not show_all,
                needs=needs,
            )
        )[:MAX_LISTED]
        rows = [
            ShelterRow(
                shelter,
                local_name(shelter, language),
                distance_in_metres(getattr(shelter, "distance", None)) if point is not None else None,
            )
            for shelter in found
        ]
    return {
        "rows": rows,
        "point": point,
        "from_profile": from_profile,
        "needs": needs,
        "people": people,
        "show_all": show_all,
        "hazard": hazard or "",
        "searched": bool(text or street or postcode),
    }


def _map_features(rows: list[ShelterRow]) -> list[dict[str, Any]]:
    return [
        {
            "id": row.shelter.pk,
            "name": row.name,
            "lat": row.shelter.location.y,
            "lon": row.shelter.location.x,
            "free": row.shelter.free_places,
            "capacity": row.shelter.capacity,
            "status": row.shelter.status,
            "url": reverse("web:shelter", args=[row.shelter.pk]),
        }
        for row in rows
    ]


@require_GET
def shelter_list(request: HttpRequest) -> HttpResponse:
    form = {
        "lat": request.GET.get("lat", ""),
        "lon": request.GET.get("lon", ""),
        "q": request.GET.get("q", ""),
        "street": request.GET.get("street", ""),
        "postcode": request.GET.get("postcode", ""),
        "people": request.GET.get("people", "1"),
    }
    context: dict[str, Any] = {
        "form": form,
        "need_choices": need_labels().items(),
        "hazard_choices": [(value, str(label)) for value, label in Hazard.choices],
    }
    try:
        context.update(_search(request))
    except DomainError as exc:
        context.update({"error": exc, "rows": [], "needs": request.GET.getlist("needs")})
        return render(request, "web/shelters/list.html", context, status=exc.status)
    point = context["point"]
    context["map_data"] = {
        "shelters": _map_features(context["rows"]),
        "point": [point.y, point.x] if point is not None else None,
        "labels": {"free": _("Free places"), "full": _("Full"), "unknown": _("Free places unknown"), "you": _("You")},
    }
    return render(request, "web/shelters/list.html", context)


@require_GET
def shelter_detail(request: HttpRequest, shelter_id: int) -> HttpResponse:
    try:
        shelter = selectors.shelter_get(shelter_id=shelter_id)
    except DomainError as exc:
        return error_page(request, exc)
    hazards = [Hazard(h).label for h in shelter.hazards if h in Hazard.values]
    beds = [
        {"label": BedCategory(b.category).label, "capacity": b.capacity, "free": b.free}
        for b in shelter.beds.all()
        if b.category in BedCategory.values
    ]
    row = ShelterRow(shelter, local_name(shelter, get_language() or "en"), None)
    context = {
        "shelter": shelter,
        "row": row,
        "hazards": hazards,
        "beds": beds,
        "status_labels": {value: str(label) for value, label in ShelterStatus.choices},
        "map_data": {"shelters": _map_features([row]), "point": None, "labels": {"free": _("Free places")}},
    }
    return render(request, "web/shelters/detail.html", context)
