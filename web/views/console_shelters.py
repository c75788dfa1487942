"""Staff console for shelters and assets: the occupancy board, managing one shelter (check-in and check-out,
status, capacity, head count), the assets map and table, and the bulk upload of assets with its row-level report.

Thin: each view parses the form, calls one selector or service of the shelters app (which check the person's
right over the shelter's or asset's area), and renders. A refused write re-renders the page with the service's
message and its 4xx status; nothing is half written (each service is one transaction).
"""

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts.models import AdministrativeArea, Organisation, User
from commsplatform.core.errors import DomainError, PermissionDenied, ValidationFailed
from shelters import selectors, services
from shelters.models import (
    AssetState,
    AssetType,
    BedCategory,
    Shelter,
    ShelterStatus,
    ShelterStay,
)
from shelters.search import MAX_QUERY_CHARS, PlaceQuery
from shelters.services import bulk_upload
from shelters.services.shelters import MANUAL_STATUSES
from web.views.common import console_required, error_page, paginate, parse_int, signed_in_user

# The console takes smaller files than the API: a browser upload of tens of megabytes is better sent by API.
MAX_CONSOLE_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_STAYS_SHOWN = 200
BOARD_PAGE_SIZE = 100
ASSETS_PAGE_SIZE = 50
MAX_MAP_ASSETS = 500
# Any whole number is read from the form; the service says which ones it takes (and why the others not).
ANY_COUNT = 10**9


def _choice(value: str | None, allowed: list[str]) -> str:
    return value if value in allowed else ""


def _text(request: HttpRequest, name: str) -> str:
    return request.GET.get(name, "").strip()[:MAX_QUERY_CHARS]


# Occupancy board ---------------------------------------------------------------------------------------------


@console_required("shelters")
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    status = _choice(request.GET.get("status"), list(ShelterStatus.values))
    area_id: int | None = None
    try:
        if request.GET.get("area"):
            area_id = parse_int(request.GET, "area", minimum=1, maximum=2**31 - 1)
        shelters = selectors.shelter_list_for_staff(
            user=user,
            query=selectors.ShelterQuery(
                place=PlaceQuery(q=_text(request, "q")), status=(status,) if status else (), area_id=area_id
            ),
        )
        page = paginate(request, shelters, per_page=BOARD_PAGE_SIZE)
    except DomainError as exc:
        return error_page(request, exc)
    areas = selectors.shelter_staff_areas(user=user)
    choices: list[AdministrativeArea] = []
    for root in areas:
        choices.append(root)
        choices.extend(account_selectors.area_list(parent_id=root.pk).order_by("name"))
    return render(
        request,
        "console/shelters/board.html",
        {
            "page": page,
            "shelters": list(page.object_list),
            "live_areas": [area.pk for area in areas],
            "area_choices": choices,
            "statuses": ShelterStatus.choices,
            "status_labels": dict(ShelterStatus.choices),
            "filters": {"status": status, "area": area_id, "q": _text(request, "q")},
        },
    )


# One shelter ---------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a POST on the shelter page did: a message for the page, or the refusal and the form it concerns."""

    form: str
    error: DomainError | None = None
    values: dict[str, str] | None = None


def _shelter_for_staff(user: User, shelter_id: int) -> Shelter:
    shelter = selectors.shelter_get(shelter_id=shelter_id)
    if not selectors.shelter_staff_may_view(user=user, shelter=shelter):
        raise PermissionDenied(_("You may not manage shelters in %(area)s.") % {"area": shelter.area.name})
    return shelter


def _open_stays(user: User, shelter: Shelter) -> tuple[bool, list[ShelterStay]]:
    """Whether the person manages the shelter, and its open stays when they do (the selector audits the read)."""
    if not selectors.shelter_staff_may_manage(user=user, shelter=shelter):
        return False, []
    stays: QuerySet[ShelterStay] = selectors.stay_list_for_user(user=user, shelter=shelter)
    return True, list(stays[:MAX_STAYS_SHOWN])


def _render_shelter(
    request: HttpRequest, shelter: Shelter, *, outcome: Outcome | None = None, status: int = 200
) -> HttpResponse:
    user = signed_in_user(request)
    manages, stays = _open_stays(user, shelter)
    beds = list(shelter.beds.all())
    return render(
        request,
        "console/shelters/manage.html",
        {
            "shelter": shelter,
            "beds": beds,
            "bed_labels": dict(BedCategory.choices),
            "manages": manages,
            "stays": stays,
            "statuses": [(value, label) for value, label in ShelterStatus.choices if value in MANUAL_STATUSES],
            "status_labels": dict(ShelterStatus.choices),
            "outcome": outcome,
            "values": (outcome.values if outcome else None) or {},
        },
        status=status,
    )


@console_required("shelters")
@require_GET
def shelter_manage(request: HttpRequest, shelter_id: int) -> HttpResponse:
    try:
        shelter = _shelter_for_staff(signed_in_user(request), shelter_id)
    except DomainError as exc:
        return error_page(request, exc)
    return _render_shelter(request, shelter)


def _check_in(request: HttpRequest, user: User, shelter: Shelter) -> str:
    people = parse_int(request.POST, "people", minimum=-ANY_COUNT, maximum=ANY_COUNT)
    beds: dict[str, int] = {}
    for category in BedCategory.values:
        if request.POST.get(f"bed_{category}", "").strip():
            beds[category] = parse_int(request.POST, f"bed_{category}", minimum=-ANY_COUNT, maximum=ANY_COUNT)
    stay = services.shelter_check_in(actor=user, shelter=shelter, people=people, beds=beds)
    return _("Checked in %(people)s. Reference for check-out: %(reference)s.") % {
        "people": stay.people,
        "reference": stay.reference,
    }


def _check_out(request: HttpRequest, user: User, shelter: Shelter) -> str:
    stay_id = parse_int(request.POST, "stay", minimum=1, maximum=2**63 - 1) if request.POST.get("stay") else None
    reference = request.POST.get("reference", "").strip()[:12]
    stay = selectors.stay_get_for_user(user=user, shelter=shelter, stay_id=stay_id, reference=reference or None)
    stay = services.shelter_check_out(actor=user, stay=stay)
    return _("Checked out %(people)s (reference %(reference)s).") % {
        "people": stay.people,
        "reference": stay.reference,
    }


def _set_status(request: HttpRequest, user: User, shelter: Shelter) -> str:
    updated = services.shelter_set_status(actor=user, shelter=shelter, status=request.POST.get("status", ""))
    return _("Status is now: %(status)s.") % {"status": updated.get_status_display()}


def _set_capacity(request: HttpRequest, user: User, shelter: Shelter) -> str:
    capacity: int | None = None
    if request.POST.get("capacity", "").strip():
        capacity = parse_int(request.POST, "capacity", minimum=-ANY_COUNT, maximum=ANY_COUNT)
    updated = services.shelter_update(actor=user, shelter=shelter, fields={"capacity": capacity})
    if updated.capacity is None:
        return _("Capacity is now unknown.")
    return _("Capacity is now %(capacity)s.") % {"capacity": updated.capacity}


def _head_count(request: HttpRequest, user: User, shelter: Shelter) -> str:
    occupancy = parse_int(request.POST, "occupancy", minimum=-ANY_COUNT, maximum=ANY_COUNT)
    updated = services.shelter_occupancy_set(actor=user, shelter=shelter, occupancy=occupancy)
    return _("Head count recorded: %(occupancy)s people.") % {"occupancy": updated.occupancy}


ACTIONS = {
    "check-in": _check_in,
    "check-out": _check_out,
    "status": _set_status,
    "capacity": _set_capacity,
    "head-count": _head_count,
}


@require_POST
@console_required("shelters")
def shelter_action(request: HttpRequest, shelter_id: int, action: str) -> HttpResponse:
    user = signed_in_user(request)
    try:
        shelter = _shelter_for_staff(user, shelter_id)
    except DomainError as exc:
        return error_page(request, exc)
    handler = ACTIONS.get(action)
    if handler is None:
        return error_page(request, ValidationFailed(_("Unknown action.")))
    if not selectors.shelter_staff_may_manage(user=user, shelter=shelter):
        # The check-in service would check a person who does not manage the shelter in as a resident: the
        # console only acts as the shelter's staff.
        return error_page(
            request, PermissionDenied(_("You may not manage shelters in %(area)s.") % {"area": shelter.area.name})
        )
    try:
        message = handler(request, user, shelter)
    except DomainError as exc:
        values = {key: str(value)[:50] for key, value in request.POST.items() if key != "csrfmiddlewaretoken"}
        fresh = selectors.shelter_get(shelter_id=shelter.pk)
        return _render_shelter(
            request, fresh, outcome=Outcome(form=action, error=exc, values=values), status=exc.status
        )
    messages.success(request, message)
    return redirect("web:console-shelter", shelter_id=shelter.pk)


# Assets ------------------------------------------------------------------------------------------------------


def _owner_organisations(user: User) -> list[Organisation]:
    """Organisations whose assets the person uploads (their asset-owner roles)."""
    ids = selectors.asset_owner_organisation_ids(user=user)
    return list(account_selectors.organisation_list().filter(pk__in=ids).order_by("name"))


@console_required("assets")
@require_GET
def assets(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    asset_type = _choice(request.GET.get("type"), list(AssetType.values))
    state = _choice(request.GET.get("state"), list(AssetState.values))
    q = _text(request, "q")
    found = selectors.asset_list_for_user(
        user=user, query=selectors.AssetQuery(place=PlaceQuery(q=q), asset_type=asset_type or None, state=state or None)
    )
    page = paginate(request, found, per_page=ASSETS_PAGE_SIZE)
    markers = [
        {
            "id": asset.pk,
            "name": asset.name,
            "type": asset.get_asset_type_display(),
            "state": asset.state,
            "state_label": asset.get_state_display(),
            "quantity": asset.quantity,
            "lon": asset.location.x,
            "lat": asset.location.y,
        }
        for asset in found[:MAX_MAP_ASSETS]
    ]
    return render(
        request,
        "console/assets/list.html",
        {
            "page": page,
            "assets": list(page.object_list),
            "markers": markers,
            "types": AssetType.choices,
            "states": AssetState.choices,
            "filters": {"type": asset_type, "state": state, "q": q},
            "may_upload": bool(_owner_organisations(user)),
        },
    )


@console_required("assets")
@require_GET
def asset_detail(request: HttpRequest, asset_id: int) -> HttpResponse:
    try:
        asset = selectors.asset_get_for_user(user=signed_in_user(request), asset_id=asset_id)
    except DomainError as exc:
        return error_page(request, exc)
    marker = {"id": asset.pk, "name": asset.name, "lon": asset.location.x, "lat": asset.location.y}
    return render(request, "console/assets/detail.html", {"asset": asset, "markers": [marker]})


class UploadLimit(FileUploadHandler):
    """Stops reading a file past the console's limit (marking the request) instead of storing all of it first."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > MAX_CONSOLE_UPLOAD_BYTES:
            self.request.upload_too_large = True  # type: ignore[union-attr]
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


@csrf_exempt
def asset_upload(request: HttpRequest) -> HttpResponse:
    """The upload handlers are set before anything reads the body, then the CSRF check runs as usual."""
    request.upload_handlers = [UploadLimit(request), *request.upload_handlers]
    return _asset_upload(request)


@csrf_protect
@require_http_methods(["GET", "POST"])
@console_required("assets")
def _asset_upload(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    owners = _owner_organisations(user)
    context: dict[str, Any] = {
        "owners": owners,
        "max_mb": MAX_CONSOLE_UPLOAD_BYTES // (1024 * 1024),
        "max_rows": bulk_upload.MAX_ROWS,
    }
    if not owners:
        return error_page(request, PermissionDenied(_("You do not upload assets for any organisation.")))
    if request.method != "POST":
        return render(request, "console/assets/upload.html", context)
    try:
        report = _upload(request, user, owners)
    except services.AssetUploadFailed as exc:
        context.update(failed=exc, row_errors=exc.errors, error_total=exc.total)
        return render(request, "console/assets/upload.html", context, status=exc.status)
    except DomainError as exc:
        context["error"] = exc
        return render(request, "console/assets/upload.html", context, status=exc.status)
    context["report"] = report
    return render(request, "console/assets/upload.html", context)


def _too_large() -> ValidationFailed:
    return ValidationFailed(
        _("The file is larger than %(mb)s MB: split it or send it through the API.")
        % {"mb": MAX_CONSOLE_UPLOAD_BYTES // (1024 * 1024)},
        fields={"file": "too large"},
    )


def _upload(request: HttpRequest, user: User, owners: list[Organisation]) -> services.AssetUploadReport:
    owner_id = parse_int(request.POST, "owner", minimum=1, maximum=2**31 - 1)
    owner = next((organisation for organisation in owners if organisation.pk == owner_id), None)
    if owner is None:
        raise PermissionDenied(_("You do not upload assets for that organisation."))
    upload = request.FILES.get("file")
    if getattr(request, "upload_too_large", False) or (
        upload is not None and (upload.size or 0) > MAX_CONSOLE_UPLOAD_BYTES
    ):
        raise _too_large()
    if upload is None:
        raise ValidationFailed(_("Choose a CSV or GeoJSON file."), fields={"file": "required"})
    file_format = _choice(request.POST.get("format"), list(bulk_upload.FORMATS)) or None
    return services.asset_upload(
        actor=user, owner=owner, content=upload.read(), filename=upload.name or "", file_format=file_format
    )
