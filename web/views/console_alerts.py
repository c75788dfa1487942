"""Staff console for alerts: the lists by state (and the approval queue), the composer, an alert's page with its
lifecycle actions and live dispatch progress, the reach check and the replies map's GeoJSON.

The composer is a normal form: areas picked from selects, shapes drawn on the map kept in hidden inputs (GeoJSON
polygons in longitude/latitude; circles as latitude, longitude and radius in km). The form's values are turned
into the API's own content shape and validated by the API's serializer, then given to the lifecycle services.
"""

import json
import math
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import permissions
from accounts.models import AreaLevel, User
from accounts.selectors import area_list, perms_held
from alerts import selectors, targeting
from alerts.api.serializers import AlertContentSerializer
from alerts.content import AlertContent
from alerts.models import Alert, AlertState, Category, Certainty, MsgType, ReplyKind, Severity, Urgency
from alerts.services import lifecycle
from commsplatform.core.errors import DomainError, PermissionDenied, ValidationFailed
from web.views.common import console_required, error_page, signed_in_user

# What a drawn-shapes field may weigh: a few hundred detailed polygons, not a country's surveyed border.
MAX_SHAPES_CHARS = 200_000
MAX_TEXT_CHARS = 20_000
MAX_AREA_IDS = 500
LIST_LIMIT = 50
PICKABLE_LEVELS = (AreaLevel.CITY, AreaLevel.DISTRICT, AreaLevel.NEIGHBOURHOOD)
ENDED_STATES = (AlertState.UPDATED, AlertState.CANCELLED, AlertState.EXPIRED)
INFO_TEXT_FIELDS = ("headline", "event", "description", "instruction")


class FormErrors(Exception):
    """The composer's input is wrong; each message names the field in plain words."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


# Lists ------------------------------------------------------------------------------------------------------


@console_required("alerts")
@require_GET
def alert_list(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    alerts = selectors.alert_list_for_user(user=user)
    held = perms_held(user=user)
    groups = [
        ("drafts", _("Drafts"), alerts.filter(state=AlertState.DRAFT)),
        ("queue", _("Awaiting approval"), alerts.filter(state__in=[AlertState.SUBMITTED, AlertState.APPROVED])),
        ("issued", _("Issued"), alerts.filter(state=AlertState.ISSUED)),
        ("ended", _("Ended"), alerts.filter(state__in=ENDED_STATES)),
    ]
    return render(
        request,
        "console/alerts/list.html",
        {
            "groups": [(key, title, list(rows[:LIST_LIMIT])) for key, title, rows in groups],
            "may_draft": permissions.DRAFT_ALERTS in held or user.is_superuser,
            "may_approve": permissions.APPROVE_ALERTS in held or user.is_superuser,
            "templates": selectors.template_list_for_user(user=user)[:100],
        },
    )


# Composer ---------------------------------------------------------------------------------------------------


def _site_languages() -> list[tuple[str, str]]:
    return [(code, str(name)) for code, name in settings.LANGUAGES]


def _same_language(a: str, b: str) -> bool:
    return a.lower() == b.lower() or a.lower().split("-", 1)[0] == b.lower().split("-", 1)[0]


def _blank_form() -> dict[str, Any]:
    return {
        "infos": [
            {"language": code, "name": name, **dict.fromkeys(INFO_TEXT_FIELDS, "")} for code, name in _site_languages()
        ],
        "category": Category.MET,
        "severity": Severity.SEVERE,
        "urgency": Urgency.EXPECTED,
        "certainty": Certainty.LIKELY,
        "area_desc": "",
        "area_ids": [],
        "polygons": "",
        "circles": "",
        "note": "",
    }


def _form_from_content(content: AlertContent) -> dict[str, Any]:
    """The composer's fields for an existing draft (its areas shown together as one)."""
    form = _blank_form()
    for info in content.infos:
        slot = next((s for s in form["infos"] if _same_language(s["language"], info.language)), None)
        if slot is None:
            slot = {"language": info.language, "name": info.language}
            form["infos"].append(slot)
        slot.update({name: getattr(info, name) for name in INFO_TEXT_FIELDS})
        slot["language"] = info.language
    if content.infos:
        first = content.infos[0]
        form.update(
            category=first.categories[0] if first.categories else Category.OTHER,
            severity=first.severity,
            urgency=first.urgency,
            certainty=first.certainty,
        )
        areas = first.areas
        form["area_desc"] = "; ".join(area.area_desc for area in areas)
        form["area_ids"] = [str(i) for area in areas for i in area.admin_area_ids]
        features = [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Polygon", "coordinates": [[[lon, lat] for lat, lon in ring]]},
            }
            for area in areas
            for ring in area.polygons
        ]
        circles = [{"lat": c.lat, "lon": c.lon, "radius_km": c.radius_km} for area in areas for c in area.circles]
        form["polygons"] = json.dumps({"type": "FeatureCollection", "features": features}) if features else ""
        form["circles"] = json.dumps(circles) if circles else ""
    form["note"] = content.note
    return form


def _form_from_post(data: Any) -> dict[str, Any]:
    form = _blank_form()
    languages = data.getlist("info_language")
    slots = []
    for index, language in enumerate(languages[:20]):
        name = next((n for code, n in _site_languages() if code == language), language)
        slot = {"language": str(language)[:35], "name": name}
        for field in INFO_TEXT_FIELDS:
            values = data.getlist(f"info_{field}")
            slot[field] = values[index] if index < len(values) else ""
        slots.append(slot)
    if slots:
        form["infos"] = slots
    for name in ("category", "severity", "urgency", "certainty", "area_desc", "polygons", "circles", "note"):
        form[name] = data.get(name, "")
    form["area_ids"] = data.getlist("area_ids") + data.getlist("zone_ids")
    return form


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError
    return float(value)


def _shapes_json(raw: str, unreadable: str) -> Any:
    """The drawn shapes' JSON from a hidden field, refused when too large or not JSON."""
    if len(raw) > MAX_SHAPES_CHARS:
        raise FormErrors([_("The drawn shapes are too large; draw simpler shapes.")])
    try:
        return json.loads(raw)
    except ValueError:
        raise FormErrors([unreadable]) from None


def _rings_from_geojson(raw: str) -> list[list[list[float]]]:
    """CAP rings ([lat, lon] pairs, closed) from the drawn shapes: a FeatureCollection, a Feature or a geometry
    of Polygons and MultiPolygons in GeoJSON's longitude/latitude order. Holes are not part of CAP: outer rings."""
    if not raw.strip():
        return []
    data = _shapes_json(raw, _("The drawn shapes could not be read (not valid GeoJSON)."))
    geometries: list[Any] = []
    if isinstance(data, dict) and data.get("type") == "FeatureCollection" and isinstance(data.get("features"), list):
        geometries = [f.get("geometry") if isinstance(f, dict) else None for f in data["features"]]
    elif isinstance(data, dict) and data.get("type") == "Feature":
        geometries = [data.get("geometry")]
    else:
        geometries = [data]
    rings: list[list[list[float]]] = []
    try:
        for geometry in geometries:
            if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
                raise ValueError
            polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
            for polygon in polygons:
                outer = polygon[0]
                ring = [[_number(point[1]), _number(point[0])] for point in outer if len(point) in (2, 3)]
                if len(ring) != len(outer) or len(ring) < 3:
                    raise ValueError
                if any(not (-90 <= lat <= 90 and -180 <= lon <= 180) for lat, lon in ring):
                    raise FormErrors([_("A drawn shape lies outside the range of latitudes and longitudes.")])
                if ring[0] != ring[-1]:
                    ring.append(list(ring[0]))
                if len(ring) < 4:
                    raise ValueError
                rings.append(ring)
    except (ValueError, TypeError, KeyError, IndexError):
        raise FormErrors(
            [_("The drawn shapes could not be read: each must be a polygon of at least 3 points.")]
        ) from None
    return rings


def _circles_from_json(raw: str) -> list[Any]:
    if not raw.strip():
        return []
    data = _shapes_json(raw, _("The drawn circles could not be read."))
    if not isinstance(data, list):
        raise FormErrors([_("The drawn circles could not be read.")])
    return data


def _area_ids(values: list[str]) -> list[int]:
    if len(values) > MAX_AREA_IDS:
        raise FormErrors([_("Too many areas picked.")])
    ids = []
    for value in values:
        value = value.strip()
        if not value.isdigit() or len(value) > 12:
            raise FormErrors([_("An area picked is not a known area.")])
        ids.append(int(value))
    return list(dict.fromkeys(ids))


def _serializer_errors(errors: Any, prefix: str = "") -> list[str]:
    """The serializer's nested errors as plain lines ("infos 1 headline: …")."""
    lines: list[str] = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            lines += _serializer_errors(value, f"{prefix} {key}".strip())
    elif isinstance(errors, list):
        for index, value in enumerate(errors):
            if isinstance(value, dict | list):
                lines += _serializer_errors(value, f"{prefix} {index + 1}".strip())
            else:
                lines.append(f"{prefix}: {value}" if prefix else str(value))
    else:
        lines.append(f"{prefix}: {errors}" if prefix else str(errors))
    return lines


def _content_from_form(form: dict[str, Any], existing: AlertContent | None) -> AlertContent:
    """Validate the composer's fields and build the alert's content; FormErrors lists every problem found."""
    errors: list[str] = []
    area: dict[str, Any] = {
        "area_desc": str(form["area_desc"]).strip() or _("Area of the alert"),
        "polygons": [],
        "circles": [],
        "admin_area_ids": [],
    }
    for key, parse, raw in (
        ("polygons", _rings_from_geojson, form["polygons"]),
        ("circles", _circles_from_json, form["circles"]),
        ("admin_area_ids", _area_ids, form["area_ids"]),
    ):
        try:
            area[key] = parse(raw)
        except FormErrors as exc:
            errors += exc.errors
    infos = []
    for slot in form["infos"]:
        texts = {name: str(slot.get(name, "")).strip() for name in INFO_TEXT_FIELDS}
        if not any(texts.values()):
            continue
        if any(len(text) > MAX_TEXT_CHARS for text in texts.values()):
            errors.append(_("%(language)s: a text is too long.") % {"language": slot["name"]})
        if not texts["headline"]:
            errors.append(_("%(language)s: the headline is required.") % {"language": slot["name"]})
        if not texts["event"]:
            errors.append(_("%(language)s: the event is required (for example: Flood).") % {"language": slot["name"]})
        infos.append(
            {
                "language": slot["language"],
                "categories": [form["category"]],
                "urgency": form["urgency"],
                "severity": form["severity"],
                "certainty": form["certainty"],
                **texts,
                "areas": [area],
            }
        )
    if not infos:
        errors.append(_("Write the alert in at least one language: a headline and an event."))
    if len(str(form["note"])) > 5000:
        errors.append(_("The note is too long."))
    if errors:
        raise FormErrors(errors)
    serializer = AlertContentSerializer(data={"note": str(form["note"]).strip(), "infos": infos})
    if not serializer.is_valid():
        raise FormErrors(_serializer_errors(serializer.errors))
    content = serializer.to_content()
    if existing is not None:
        content = _keep_unshown(content, existing)
    return content


def _keep_unshown(content: AlertContent, existing: AlertContent) -> AlertContent:
    """What the composer does not show (an Update's references, CAP fields from a template) stays as it was."""
    infos = []
    for info in content.infos:
        before = next((i for i in existing.infos if _same_language(i.language, info.language)), None)
        if before is not None:
            info = replace(
                before,
                **{name: getattr(info, name) for name in ("categories", "urgency", "severity", "certainty", "areas")},
                **{name: getattr(info, name) for name in INFO_TEXT_FIELDS},
            )
        infos.append(info)
    return replace(existing, infos=infos, note=content.note)


def _save(user: User, alert: Alert | None, content: AlertContent) -> Alert:
    if alert is None:
        return lifecycle.alert_draft_create(actor=user, content=content)
    return lifecycle.alert_draft_update(actor=user, alert=alert, content=content)


def _reach(user: User, alert: Alert) -> dict[str, Any]:
    selectors.alert_require_staff(user=user, alert=alert)
    return targeting.reach(alert)


def _focus(user: User) -> str:
    """Where the composer's map opens: the extent of the areas the person drafts for ("w,s,e,n"), or nothing."""
    extent: list[float] | None = None
    for area in permissions.areas_held(user, permissions.DRAFT_ALERTS)[:50]:
        west, south, east, north = area.geometry.extent
        if extent is None:
            extent = [west, south, east, north]
        else:
            extent = [min(extent[0], west), min(extent[1], south), max(extent[2], east), max(extent[3], north)]
    return ",".join(f"{value:.6f}" for value in extent) if extent else ""


def _composer_context(request: HttpRequest, form: dict[str, Any], alert: Alert | None) -> dict[str, Any]:
    areas = area_list().only("pk", "name", "level", "path").order_by("path")
    user = signed_in_user(request)
    return {
        "form": form,
        "alert": alert,
        "area_choices": list(areas.filter(level__in=PICKABLE_LEVELS)[:2000]),
        "zone_choices": list(areas.filter(level=AreaLevel.ZONE)[:2000]),
        "picked": set(form["area_ids"]),
        "focus": _focus(user),
        "categories": Category.choices,
        "severities": Severity.choices,
        "urgencies": Urgency.choices,
        "certainties": Certainty.choices,
        "templates": selectors.template_list_for_user(user=user)[:100] if alert is None else [],
    }


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _compose(request: HttpRequest, alert: Alert | None) -> HttpResponse:
    user = signed_in_user(request)
    if request.method != "POST":
        form = _form_from_content(lifecycle.alert_content(alert)) if alert is not None else _blank_form()
        return render(request, "console/alerts/composer.html", _composer_context(request, form, alert))
    form = _form_from_post(request.POST)
    action = request.POST.get("action", "save")
    errors: list[str] = []
    reach: dict[str, Any] | None = None
    status = 200
    try:
        existing = lifecycle.alert_content(alert) if alert is not None else None
        content = _content_from_form(form, existing)
        with transaction.atomic():
            saved = _save(user, alert, content)
            if action == "submit":
                lifecycle.alert_submit(actor=user, alert=saved)
            elif action == "reach":
                reach = _reach(user, saved)
    except FormErrors as exc:
        errors, status = exc.errors, 400
    except DomainError as exc:
        errors, status = [exc.message], exc.status
    if errors:
        if _wants_json(request):
            html = render_to_string("console/alerts/_errors.html", {"errors": errors}, request=request)
            return JsonResponse({"html": html, "errors": errors}, status=status)
        context = {**_composer_context(request, form, alert), "errors": errors}
        return render(request, "console/alerts/composer.html", context, status=status)
    edit_url = reverse("web:console-alert-edit", args=[saved.pk])
    if action == "submit":
        messages.success(request, _("Submitted for approval."))
        return redirect("web:console-alert", alert_id=saved.pk)
    if action == "reach" and reach is not None:
        if _wants_json(request):
            html = render_to_string("console/alerts/_reach.html", {"reach": reach}, request=request)
            return JsonResponse(
                {"html": html, "alert_id": saved.pk, "edit_url": edit_url, "people": reach["recipients"]}
            )
        form = _form_from_content(lifecycle.alert_content(saved))
        return render(
            request, "console/alerts/composer.html", {**_composer_context(request, form, saved), "reach": reach}
        )
    messages.success(request, _("Draft saved."))
    return redirect(edit_url)


@console_required("alerts")
@require_http_methods(["GET", "POST"])
def alert_new(request: HttpRequest) -> HttpResponse:
    return _compose(request, None)


@console_required("alerts")
@require_http_methods(["GET", "POST"])
def alert_edit(request: HttpRequest, alert_id: int) -> HttpResponse:
    try:
        alert = selectors.alert_get_for_user(user=signed_in_user(request), alert_id=alert_id)
    except DomainError as exc:
        return error_page(request, exc)
    if alert.state != AlertState.DRAFT:
        messages.error(request, _("Only a draft can be edited."))
        return redirect("web:console-alert", alert_id=alert.pk)
    return _compose(request, alert)


@console_required("alerts")
@require_POST
def alert_from_template(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    try:
        template_id = int(request.POST.get("template", ""))
    except ValueError:
        return error_page(request, ValidationFailed(_("Pick a template.")))
    try:
        template = selectors.template_get_for_user(user=user, template_id=template_id)
        alert = lifecycle.alert_draft_from_template(actor=user, template=template)
    except DomainError as exc:
        return error_page(request, exc)
    messages.success(request, _("Draft created from the template."))
    return redirect("web:console-alert-edit", alert_id=alert.pk)


# One alert --------------------------------------------------------------------------------------------------


def _staff_figures(user: User, alert: Alert) -> dict[str, Any] | None:
    """Dispatch figures and reply counts, for staff over the alert's area; None for anyone else."""
    try:
        selectors.alert_require_staff(user=user, alert=alert)
    except PermissionDenied:
        return None
    stats = selectors.alert_stats(alert=alert)
    by_area = sorted(
        selectors.reply_counts_by_area(user=user, alert=alert), key=lambda row: (-row["need_help"], row["name"])
    )
    need_help = list(selectors.reply_need_help_list_for_user(user=user, alert=alert)[:200])
    sent = stats["by_state"].get("sent", 0)
    total = stats["deliveries"] or 0
    return {
        "stats": stats,
        "by_area": by_area,
        "need_help": need_help,
        "sent": sent,
        "percent": round(100 * sent / total) if total else 0,
    }


@console_required("alerts")
@require_GET
def alert_detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    user = signed_in_user(request)
    try:
        alert = selectors.alert_get_for_user(user=user, alert_id=alert_id)
    except DomainError as exc:
        return error_page(request, exc)
    held = perms_held(user=user)
    may_approve = (permissions.APPROVE_ALERTS in held or user.is_superuser) and alert.drafted_by_id != user.pk
    may_draft = permissions.DRAFT_ALERTS in held or user.is_superuser
    figures = _staff_figures(user, alert) if alert.state != AlertState.DRAFT else None
    # Whoever approves sees whom the alert will reach before deciding.
    reach = None
    if figures is not None and alert.state in (AlertState.SUBMITTED, AlertState.APPROVED):
        reach = targeting.reach(alert)
    return render(
        request,
        "console/alerts/detail.html",
        {
            "alert": alert,
            "infos": alert.infos.all().prefetch_related("areas__admin_areas"),
            "may_approve": may_approve,
            "may_draft": may_draft,
            "figures": figures,
            "reach": reach,
            "followups": alert.superseded_by.all().order_by("pk"),
            "state_labels": {value: str(label) for value, label in AlertState.choices},
            "geometry": json.loads(alert.geometry.geojson) if alert.geometry is not None else None,
            "states": AlertState,
        },
    )


def _act(request: HttpRequest, alert_id: int, action: str) -> HttpResponse:
    user = signed_in_user(request)
    try:
        alert = selectors.alert_get_for_user(user=user, alert_id=alert_id)
        if action == "submit":
            lifecycle.alert_submit(actor=user, alert=alert)
            done = _("Submitted for approval.")
        elif action == "approve":
            issue = request.POST.get("issue") == "1"
            lifecycle.alert_approve(actor=user, alert=alert, issue=issue)
            done = _("Approved and issued.") if issue else _("Approved.")
        elif action == "reject":
            reason = request.POST.get("reason", "")
            if len(reason) > 2000:
                raise ValidationFailed(_("The reason is too long (2000 characters at most)."))
            lifecycle.alert_reject(actor=user, alert=alert, reason=reason)
            done = _("Sent back to the drafter.")
        elif action == "issue":
            lifecycle.alert_issue(actor=user, alert=alert)
            done = _("Issued.")
        elif action in ("update", "cancel"):
            note = request.POST.get("note", "")[:5000]
            msg_type = MsgType.UPDATE if action == "update" else MsgType.CANCEL
            followup = lifecycle.alert_followup_draft(actor=user, alert=alert, msg_type=msg_type, note=note)
            messages.success(request, _("A draft follow-up was made; submit it for approval."))
            if action == "update":
                return redirect("web:console-alert-edit", alert_id=followup.pk)
            return redirect("web:console-alert", alert_id=followup.pk)
        elif action == "delete":
            lifecycle.alert_draft_delete(actor=user, alert=alert)
            messages.success(request, _("Draft deleted."))
            return redirect("web:console-alerts")
        else:
            raise ValidationFailed(_("Unknown action."))
    except DomainError as exc:
        return error_page(request, exc)
    messages.success(request, done)
    return redirect("web:console-alert", alert_id=alert_id)


@console_required("alerts")
@require_POST
def alert_action(request: HttpRequest, alert_id: int, action: str) -> HttpResponse:
    return _act(request, alert_id, action)


@console_required("alerts")
@require_GET
def alert_reach(request: HttpRequest, alert_id: int) -> HttpResponse:
    """The number of people the alert reaches, as a fragment (or JSON when asked)."""
    user = signed_in_user(request)
    try:
        alert = selectors.alert_get_for_user(user=user, alert_id=alert_id)
        reach = _reach(user, alert)
    except DomainError as exc:
        return error_page(request, exc)
    if _wants_json(request):
        return JsonResponse(reach)
    return render(request, "console/alerts/reach.html", {"reach": reach, "alert": alert})


@console_required("alerts")
@require_GET
def alert_replies_geojson(request: HttpRequest, alert_id: int) -> HttpResponse:
    """Replies on the map: individual "need help" points only where the reader may see residents, otherwise
    counts per administrative area (at a point inside the area); need help first."""
    user = signed_in_user(request)
    try:
        alert = selectors.alert_get_for_user(user=user, alert_id=alert_id)
        counts = selectors.reply_counts_by_area(user=user, alert=alert)
        need_help = selectors.reply_need_help_list_for_user(user=user, alert=alert)
    except DomainError as exc:
        return JsonResponse({"error": exc.message}, status=exc.status)
    features: list[dict[str, Any]] = []
    for reply in need_help.filter(location__isnull=False)[:500]:
        assert reply.location is not None
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [reply.location.x, reply.location.y]},
                "properties": {
                    "kind": "person",
                    "reply": ReplyKind.NEED_HELP,
                    "area": reply.area.name if reply.area else "",
                    "at": reply.created_at.isoformat(),
                },
            }
        )
    places = {a.pk: a for a in area_list().filter(pk__in=[row["area_id"] for row in counts if row["area_id"]])}
    for row in sorted(counts, key=lambda r: (-r["need_help"], r["name"])):
        place = places.get(row["area_id"])
        point = place.geometry.point_on_surface if place is not None else None
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [point.x, point.y]} if point is not None else None,
                "properties": {
                    "kind": "area",
                    "name": row["name"],
                    "level": row["level"],
                    "safe": row["safe"],
                    "need_help": row["need_help"],
                },
            }
        )
    return JsonResponse({"type": "FeatureCollection", "features": features})
