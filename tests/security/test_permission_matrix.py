"""The permission matrix: every API endpoint and staff console route, by every role, on an object of the
role's area (city A), on the same kind of object in city B, and on an id that does not exist.

Expectations are written from what the roles are documented to allow (DESIGN.md: a role is held over an area
and acts there, not next door; accounts/permissions.py: what each role may do), not from what the code
returns. Outcomes: allowed is 2xx (a console form may answer with a redirect); refused is 401 for an anonymous
API call, a redirect to sign-in for an anonymous page, 403 or 404 for a signed-in person; never a 500. A
refused write changes nothing: every table's row count and the target's fields are the same after it (the
audit record, which may note the refusal, sessions and the lazily recomputed object permissions excepted).

`test_every_endpoint_has_an_expectation` fails for a new route or method without a row here.
"""

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from alerts.cap_xml import alert_to_cap_xml
from classifier.labels import label_set_active
from tests.alerts.factories import alert_api_body, rectangle
from tests.security.matrix import ANONYMOUS, BOX, MISSING_ID, ROLES, SPOT, World, build_world, object_state, routes
from tests.security.matrix import row_counts as _row_counts

PUBLIC = "public"  # everyone, signed in or not
SIGNED_IN = "signed-in"  # every signed-in person (their own data, or a list filtered to what they may see)

# Who holds what over their area (from the role definitions; written out here as the specification).
PARTICIPANTS = {"resident", "official", "moderator"}
COUNTS = {"official", "alert_drafter", "alert_approver", "shelter_manager", "auditor", "administrator"}
SEE_RESIDENTS = {"shelter_manager"}
ADMIN = {"administrator"}
DRAFT = {"alert_drafter"}
APPROVE = {"alert_approver"}
ALERT_STAFF = DRAFT | APPROVE
HOST = {"official"}
MODERATE = {"moderator"}
MANAGE_SHELTERS = {"shelter_manager"}
SEE_SHELTERS = {"official", "alert_drafter", "alert_approver", "shelter_manager"}
MANAGE_ASSETS = {"asset_owner"}
SEE_ASSETS = MANAGE_ASSETS | {"shelter_manager"}
AUDIT = {"auditor"}
NOBODY: set[str] = set()

Body = Callable[[World, str, str], Any]  # (world, "A" | "B", role) -> request data


@dataclass(frozen=True)
class Row:
    route: str  # URL name
    method: str
    who: str | frozenset[str]
    obj: str | None = None  # kind of object the route's id names ("own:<kind>": the caller's own)
    body: Body | None = None
    area_body: bool = False  # no id: the body (or query) names the place, so it is tried with A and with B
    scoped: bool = True  # False: allowed on both A and B for `who` (public data, or one's own action)
    kwargs: dict[str, str] = field(default_factory=dict)
    query: Body | None = None
    fmt: str = "json"
    variant: str = ""
    reason: str = ""
    refusal: frozenset[int] = frozenset()  # statuses besides 401/403/404 that mean "refused" here (with a reason)
    # A filtered list: what city B's objects show of themselves never appears (every role here is held over A),
    # and what city A's show does appear to `shown_to` (so that the first check cannot pass on an empty page).
    hides: Callable[[World], list[str]] | None = None
    shows: Callable[[World], list[str]] | None = None
    shown_to: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        return f"{self.route.removeprefix('web:')}[{self.method}]" + (f"-{self.variant}" if self.variant else "")


def R(route: str, method: str, who: str | set[str], **kw: Any) -> Row:
    return Row(route, method, who if isinstance(who, str) else frozenset(who), **kw)


def _point(w: World, where: str) -> dict[str, Any]:
    return {"type": "Point", "coordinates": list(SPOT[where])}


def _alert_content(w: World, where: str, role: str = "") -> dict[str, Any]:
    return alert_api_body(*BOX[where])


def _obj(w: World, where: str, kind: str) -> Any:
    return w.places[where].objects[kind]


def _pk(w: World, where: str, kind: str) -> int:
    return int(_obj(w, where, kind).pk)


def _future(days: int = 30) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


def _cap_file(w: World, where: str, role: str) -> dict[str, Any]:
    xml = alert_to_cap_xml(_obj(w, where, "alert_issued"))
    xml = re.sub(
        rb"<identifier>[^<]*</identifier>", b"<identifier>matrix-import-" + where.encode() + b"</identifier>", xml
    )
    xml = re.sub(rb"<msgType>[^<]*</msgType>", b"<msgType>Alert</msgType>", xml)
    xml = re.sub(rb"<references>[^<]*</references>", b"", xml)
    return {"file": SimpleUploadedFile("alert.xml", xml, content_type="application/xml")}


def _asset_csv(w: World, where: str, role: str) -> dict[str, Any]:
    lon, lat = SPOT[where]
    data = f"external_id,type,name,longitude,latitude\nUP-{where},pump,Pump {where},{lon},{lat}\n".encode()
    return {"owner": w.utility.pk, "file": SimpleUploadedFile("assets.csv", data, content_type="text/csv")}


def _filtered(markers: Callable[[World, str], list[str]], shown_to: set[str]) -> dict[str, Any]:
    return {
        "hides": lambda w: markers(w, "B"),
        "shows": lambda w: markers(w, "A"),
        "shown_to": frozenset(shown_to),
    }


# The API ---------------------------------------------------------------------------------------------------

API: list[Row] = [
    # accounts: areas are public geography; writes need the administrator role over the parent / the area.
    R("area-list", "GET", PUBLIC, reason="areas are public geography"),
    R(
        "area-list",
        "POST",
        ADMIN,
        area_body=True,
        body=lambda w, p, r: {
            "name": f"New {p}",
            "code": f"NEW-{p}",
            "level": "district",
            "parent": w.area(p).pk,
            "geometry": {"type": "MultiPolygon", "coordinates": [[[[x, y] for y, x in rectangle(*BOX[p])]]]},
        },
    ),
    R("area-detail", "GET", PUBLIC, obj="area", reason="areas are public geography"),
    R("area-detail", "PATCH", ADMIN, obj="area", body=lambda w, p, r: {"name": "Renamed"}),
    R("area-counts", "GET", COUNTS, obj="area"),
    R("area-residents", "GET", SEE_RESIDENTS, obj="area"),
    R(
        "resident-list",
        "GET",
        SIGNED_IN,
        reason="filtered to the areas where one sees residents",
        **_filtered(lambda w, p: [f"helper-resident-{p}"], SEE_RESIDENTS),
    ),
    R("resident-detail", "GET", SEE_RESIDENTS, obj="profile"),
    R("organisation-list", "GET", SIGNED_IN, reason="the directory of organisations"),
    R(
        "organisation-list",
        "POST",
        ADMIN,
        area_body=True,
        body=lambda w, p, r: {"name": f"Relief {p}", "kind": "ngo", "area": w.area(p).pk},
    ),
    R(
        "membership-list",
        "GET",
        SIGNED_IN,
        reason="one's own, and those of the areas one administers",
        **_filtered(lambda w, p: [f"helper-member-{p}"], ADMIN),
    ),
    R(
        "membership-list",
        "POST",
        ADMIN,
        area_body=True,
        body=lambda w, p, r: {
            "user": w.newcomer.pk,
            "organisation": w.organisation.pk,
            "role": "moderator",
            "area": w.area(p).pk,
        },
    ),
    R("membership-detail", "GET", ADMIN, obj="membership"),
    R("membership-detail", "PATCH", ADMIN, obj="membership", body=lambda w, p, r: {"valid_until": _future()}),
    R("membership-detail", "DELETE", ADMIN, obj="membership"),
    R("agreement-list", "GET", SIGNED_IN, reason="filtered to the agreements one administers"),
    R(
        "agreement-list",
        "POST",
        ADMIN,
        area_body=True,
        body=lambda w, p, r: {
            "grantor": w.organisation.pk,
            "grantee": w.utility.pk,
            "data_kinds": ["shelters"],
            "areas": [w.area(p).pk],
            "purpose": "Aid",
            "legal_reference": "Act 2",
            "valid_from": timezone.now().isoformat(),
            "valid_until": _future(),
        },
    ),
    R(
        "agreement-detail",
        "GET",
        ADMIN,
        obj="agreement",
        scoped=False,
        reason="an organisation's administrators see all of its agreements (accounts.selectors)",
    ),
    R("agreement-detail", "DELETE", ADMIN, obj="agreement"),
    R("me", "GET", SIGNED_IN, reason="one's own account"),
    R("me", "PATCH", SIGNED_IN, body=lambda w, p, r: {"preferred_language": "fr"}, reason="one's own account"),
    R("me-erase", "POST", SIGNED_IN, body=lambda w, p, r: {"confirm": True}, reason="one's own account"),
    R("me-export", "GET", SIGNED_IN, reason="one's own data"),
    R("me-home-location", "PUT", SIGNED_IN, body=lambda w, p, r: {"location": _point(w, "A")}, reason="own data"),
    R("me-shared-location", "POST", SIGNED_IN, body=lambda w, p, r: {"location": _point(w, "A")}, reason="own"),
    R("me-consent-list", "GET", SIGNED_IN, reason="one's own consents"),
    R(
        "me-consent-list",
        "POST",
        SIGNED_IN,
        body=lambda w, p, r: {"purpose": "training", "version": "1"},
        reason="one's own consents",
    ),
    R("me-consent-detail", "DELETE", SIGNED_IN, kwargs={"purpose": "terms"}, reason="one's own consent"),
    R("me-need-list", "GET", SIGNED_IN, reason="one's own needs"),
    R("me-need-list", "POST", SIGNED_IN, body=lambda w, p, r: {"kind": "medical"}, reason="one's own needs"),
    R("me-need-detail", "DELETE", SIGNED_IN, kwargs={"kind": "mobility"}, reason="one's own needs"),
    R("me-subscription-list", "GET", SIGNED_IN, reason="one's own subscriptions"),
    R(
        "me-subscription-list",
        "POST",
        SIGNED_IN,
        area_body=True,
        scoped=False,
        body=lambda w, p, r: {"area": w.area(p).pk},
        reason="anyone may follow any area",
    ),
    R("me-subscription-detail", "DELETE", SIGNED_IN, obj="own:subscription", reason="A: one's own; B: another's"),
    R("me-channel-list", "GET", SIGNED_IN, reason="one's own channels"),
    R("me-channel-detail", "DELETE", SIGNED_IN, obj="own:channel", reason="A: one's own; B: another's"),
    R("audit-events", "GET", AUDIT),
    R("audit-verify", "GET", AUDIT),
    # shelters: public to read (people must find them); managed by shelter managers of the area.
    R("shelter-list", "GET", PUBLIC, reason="people must find shelters"),
    R(
        "shelter-list",
        "POST",
        MANAGE_SHELTERS,
        area_body=True,
        body=lambda w, p, r: {"name": f"New hall {p}", "location": _point(w, p), "capacity": 40, "status": "open"},
    ),
    R(
        "shelter-nearest",
        "GET",
        SIGNED_IN,
        area_body=True,
        scoped=False,
        query=lambda w, p, r: {"lon": SPOT[p][0], "lat": SPOT[p][1]},
        reason="anyone signed in looks for a shelter anywhere",
    ),
    R("shelter-my-stay", "GET", SIGNED_IN, reason="one's own stay"),
    R("shelter-detail", "GET", PUBLIC, obj="shelter", reason="people must find shelters, as in the list"),
    R("shelter-detail", "PATCH", MANAGE_SHELTERS, obj="shelter", body=lambda w, p, r: {"capacity": 60}),
    R("shelter-status", "POST", MANAGE_SHELTERS, obj="shelter", body=lambda w, p, r: {"status": "closed"}),
    R("shelter-occupancy", "PUT", MANAGE_SHELTERS, obj="shelter", body=lambda w, p, r: {"occupancy": 3}),
    R(
        "shelter-check-in",
        "POST",
        SIGNED_IN,
        obj="shelter",
        scoped=False,
        body=lambda w, p, r: {"people": 1},
        reason="a person checks themself in anywhere",
    ),
    R(
        "shelter-check-out",
        "POST",
        MANAGE_SHELTERS,
        obj="occupied_shelter",
        body=lambda w, p, r: {"reference": _obj(w, p, "stay").reference},
        reason="another person's stay: the shelter's managers",
    ),
    R("shelter-history", "GET", SEE_SHELTERS, obj="shelter"),
    R("shelter-stays", "GET", MANAGE_SHELTERS, obj="shelter"),
    R("route-list", "GET", PUBLIC, reason="evacuation routes are public"),
    R(
        "route-list",
        "POST",
        MANAGE_SHELTERS,
        area_body=True,
        body=lambda w, p, r: {
            "name": "New route",
            "geometry": {"type": "LineString", "coordinates": [[SPOT[p][0] - 0.2, SPOT[p][1]], list(SPOT[p])]},
            "shelter": _pk(w, p, "shelter"),
        },
    ),
    R("route-detail", "GET", PUBLIC, obj="route", reason="evacuation routes are public, as in the list"),
    R("route-detail", "PATCH", MANAGE_SHELTERS, obj="route", body=lambda w, p, r: {"status": "blocked"}),
    R(
        "asset-list",
        "GET",
        SIGNED_IN,
        reason="filtered to the assets one owns or sees",
        **_filtered(lambda w, p: [f"PUMP-{p}"], SEE_ASSETS),
    ),
    R(
        "asset-list",
        "POST",
        MANAGE_ASSETS,
        area_body=True,
        body=lambda w, p, r: {
            "owner": w.utility.pk,
            "external_id": f"NEW-{p}",
            "asset_type": "generator",
            "name": "Generator",
            "location": _point(w, p),
        },
    ),
    R(
        "asset-upload",
        "POST",
        MANAGE_ASSETS,
        area_body=True,
        body=_asset_csv,
        fmt="multipart",
        refusal=frozenset({400}),
        reason="a row outside one's area is reported as that row's error (400), and nothing is written",
    ),
    R("asset-detail", "GET", SEE_ASSETS, obj="asset"),
    R("asset-detail", "PATCH", MANAGE_ASSETS, obj="asset", body=lambda w, p, r: {"state": "deployed"}),
    R("asset-detail", "DELETE", MANAGE_ASSETS, obj="asset"),
    # alerts: drafters draft, approvers (not the drafter) approve and issue, over their area.
    R(
        "alert-list",
        "GET",
        SIGNED_IN,
        reason="staff: their areas' alerts; others: issued public alerts",
        **_filtered(
            lambda w, p: [str(_obj(w, p, k).identifier) for k in ("alert_draft", "alert_submitted", "alert_approved")],
            ALERT_STAFF,
        ),
    ),
    R("alert-list", "POST", DRAFT, area_body=True, body=lambda w, p, r: _alert_content(w, p)),
    R("alert-mine", "GET", SIGNED_IN, reason="the alerts sent to me"),
    R("alert-me-web", "PUT", SIGNED_IN, reason="one's own channel"),
    R("alert-me-web", "DELETE", SIGNED_IN, reason="one's own channel"),
    R(
        "alert-template-list",
        "GET",
        SIGNED_IN,
        reason="filtered to the areas one drafts for",
        **_filtered(lambda w, p: [f"Flood {p}"], DRAFT),
    ),
    R(
        "alert-template-list",
        "POST",
        DRAFT,
        area_body=True,
        body=lambda w, p, r: {
            "name": "New template",
            "organisation": w.organisation.pk,
            "area": w.area(p).pk,
            "content": _alert_content(w, p),
        },
    ),
    R("alert-template-detail", "GET", DRAFT, obj="template"),
    R(
        "alert-template-detail",
        "PUT",
        DRAFT,
        obj="template",
        body=lambda w, p, r: {
            "name": "Renamed",
            "organisation": w.organisation.pk,
            "area": w.area(p).pk,
            "content": _alert_content(w, p),
        },
    ),
    R("alert-template-detail", "DELETE", DRAFT, obj="template"),
    R("alert-template-draft", "POST", DRAFT, obj="template"),
    R("report-list", "GET", SIGNED_IN, reason="one's own reports"),
    R(
        "report-list",
        "POST",
        SIGNED_IN,
        area_body=True,
        scoped=False,
        body=lambda w, p, r: {"text": "A tree fell", "longitude": SPOT[p][0], "latitude": SPOT[p][1]},
        reason="anyone signed in reports what they see, anywhere",
    ),
    R("report-triage", "GET", SIGNED_IN, reason="filtered to the areas one triages"),
    R("report-detail", "GET", DRAFT | SEE_RESIDENTS, obj="report", reason="its reporter, and staff of its area"),
    R("report-photo", "GET", DRAFT | SEE_RESIDENTS, obj="report", reason="its reporter, and staff of its area"),
    R(
        "report-status",
        "POST",
        DRAFT | SEE_RESIDENTS,
        obj="report",
        body=lambda w, p, r: {"status": "triaged", "note": ""},
    ),
    R("alert-detail", "GET", ALERT_STAFF, obj="alert_draft", reason="a draft: staff of its area"),
    R(
        "alert-detail",
        "GET",
        SIGNED_IN,
        obj="alert_issued",
        scoped=False,
        variant="issued",
        reason="an issued public alert: everyone signed in",
    ),
    R("alert-detail", "PUT", DRAFT, obj="alert_draft", body=lambda w, p, r: _alert_content(w, p)),
    R("alert-detail", "DELETE", DRAFT, obj="alert_draft"),
    R("alert-submit", "POST", DRAFT, obj="alert_draft"),
    R("alert-approve", "POST", APPROVE, obj="alert_submitted", body=lambda w, p, r: {"issue": False}),
    R("alert-reject", "POST", APPROVE, obj="alert_submitted", body=lambda w, p, r: {"reason": "Not yet"}),
    R("alert-issue", "POST", APPROVE, obj="alert_approved"),
    R("alert-update", "POST", DRAFT, obj="alert_issued", body=lambda w, p, r: _alert_content(w, p)),
    R("alert-cancel", "POST", DRAFT, obj="alert_issued", body=lambda w, p, r: {"note": "Over"}),
    R("alert-reach", "GET", ALERT_STAFF, obj="alert_draft"),
    R("alert-stats", "GET", ALERT_STAFF, obj="alert_issued"),
    R("alert-deliveries", "GET", ALERT_STAFF, obj="alert_issued"),
    R(
        "alert-reply",
        "POST",
        {"resident"},
        obj="alert_issued",
        body=lambda w, p, r: {"kind": "safe"},
        reason="those it concerns reply: of the people here, the resident living in city A",
    ),
    R("alert-reply-counts", "GET", ALERT_STAFF, obj="alert_issued"),
    R(
        "alert-need-help",
        "GET",
        ALERT_STAFF,
        obj="alert_issued",
        reason="alert staff; rows only where they see residents",
    ),
    R("alert-feed-atom", "GET", PUBLIC, reason="the public CAP feed of issued alerts"),
    R("alert-cap-xml", "GET", ALERT_STAFF, obj="alert_draft", reason="a draft: staff of its area"),
    R(
        "alert-cap-xml",
        "GET",
        PUBLIC,
        obj="alert_issued",
        scoped=False,
        variant="issued",
        reason="an issued public alert is published as CAP",
    ),
    R("cap-import", "POST", DRAFT, area_body=True, body=_cap_file, fmt="multipart"),
    R(
        "cap-feed-list",
        "GET",
        SIGNED_IN,
        reason="filtered to the feeds of one's areas",
        **_filtered(lambda w, p: [f"Feed {p}"], APPROVE),
    ),
    R(
        "cap-feed-list",
        "POST",
        APPROVE,
        area_body=True,
        body=lambda w, p, r: {
            "name": "Met",
            "url": f"https://example.net/{p}.atom",
            "organisation": w.organisation.pk,
            "area": w.area(p).pk,
        },
    ),
    R("cap-feed-detail", "GET", APPROVE, obj="feed"),
    R("cap-feed-detail", "PATCH", APPROVE, obj="feed", body=lambda w, p, r: {"poll_interval_seconds": 600}),
    R("cap-feed-detail", "DELETE", APPROVE, obj="feed"),
    R(
        "cap-trusted-sender-list",
        "GET",
        SIGNED_IN,
        reason="filtered to the trusted senders of one's areas",
        **_filtered(lambda w, p: [f"met-{p}@example.org"], APPROVE),
    ),
    R(
        "cap-trusted-sender-list",
        "POST",
        APPROVE,
        area_body=True,
        body=lambda w, p, r: {"sender": "new@example.org", "organisation": w.organisation.pk, "area": w.area(p).pk},
    ),
    R("cap-trusted-sender-detail", "GET", APPROVE, obj="trusted"),
    R("cap-trusted-sender-detail", "PATCH", APPROVE, obj="trusted", body=lambda w, p, r: {"require_signature": True}),
    R("cap-trusted-sender-detail", "DELETE", APPROVE, obj="trusted"),
    R(
        "sensor-list",
        "GET",
        SIGNED_IN,
        reason="filtered to the sensors of one's areas",
        **_filtered(lambda w, p: [f"gauge-{p}"], ALERT_STAFF),
    ),
    R(
        "sensor-list",
        "POST",
        DRAFT,
        area_body=True,
        body=lambda w, p, r: {
            "external_id": "new-gauge",
            "name": "New gauge",
            "kind": "rain_gauge",
            "location": _point(w, p),
            "organisation": w.organisation.pk,
            "area": w.area(p).pk,
        },
    ),
    R(
        "sensor-readings-webhook",
        "POST",
        NOBODY,
        body=lambda w, p, r: {"readings": []},
        reason="sensors authenticate by a signature, never by a person's session",
    ),
    R("sensor-detail", "GET", ALERT_STAFF, obj="sensor", reason="approvers read them: they make automatic rules"),
    R("sensor-detail", "PATCH", DRAFT, obj="sensor", body=lambda w, p, r: {"name": "Renamed gauge"}),
    R("sensor-detail", "DELETE", DRAFT, obj="sensor"),
    R("sensor-rule-list", "GET", ALERT_STAFF, obj="sensor", reason="approvers make the automatic rules"),
    R(
        "sensor-rule-list",
        "POST",
        DRAFT,
        obj="sensor",
        body=lambda w, p, r: {"name": "Higher", "operator": "gte", "threshold": 20, "template": _pk(w, p, "template")},
    ),
    R("sensor-reading-list", "GET", ALERT_STAFF, obj="sensor", reason="as the sensor itself"),
    R("sensor-rule-detail", "GET", ALERT_STAFF, obj="sensor_rule", reason="approvers make the automatic rules"),
    R("sensor-rule-detail", "PATCH", DRAFT, obj="sensor_rule", body=lambda w, p, r: {"threshold": 12}),
    R("sensor-rule-detail", "DELETE", DRAFT, obj="sensor_rule"),
    # rooms: an area town hall is for the people of its area; officials host and moderators moderate there.
    R(
        "room-list",
        "GET",
        SIGNED_IN,
        reason="filtered to the rooms one may enter",
        **_filtered(lambda w, p: [f"Town hall {p}"], PARTICIPANTS),
    ),
    R(
        "room-list",
        "POST",
        HOST,
        area_body=True,
        body=lambda w, p, r: {"title": "New hall", "kind": "town_hall", "visibility": "area", "area": w.area(p).pk},
    ),
    R("room-detail", "GET", PARTICIPANTS, obj="room"),
    R("room-detail", "PATCH", MODERATE, obj="room", body=lambda w, p, r: {"chat_open": True}),
    R("room-join", "POST", PARTICIPANTS, obj="room"),
    R(
        "room-leave",
        "POST",
        SIGNED_IN,
        obj="room",
        scoped=False,
        reason="leaving is idempotent: for one who is not in the room it changes nothing",
    ),
    R(
        "room-members",
        "POST",
        MODERATE,
        obj="room",
        body=lambda w, p, r: {"user_id": w.newcomer.pk, "role": "participant"},
    ),
    R("room-messages", "GET", PARTICIPANTS, obj="room"),
    R("room-questions", "GET", PARTICIPANTS, obj="room"),
    R("room-events", "GET", PARTICIPANTS, obj="room"),
    R("room-transcript", "GET", PARTICIPANTS, obj="room", reason="an area room's transcript: its participants"),
    R("room-verify", "GET", AUDIT, obj="room"),
    # classifier: the texts residents wrote are sensitive; staff who see residents of the area triage them.
    R("classifier-triage", "GET", SIGNED_IN, reason="filtered to the areas where one sees residents"),
    R("classifier-text", "GET", SEE_RESIDENTS, obj="text"),
    R(
        "classifier-text-label",
        "POST",
        SEE_RESIDENTS,
        obj="text",
        body=lambda w, p, r: {"label": label_set_active().labels[0]},
    ),
    R("classifier-assignments", "GET", SIGNED_IN, reason="filtered to the groups of one's areas"),
    R(
        "classifier-assignments",
        "POST",
        SEE_RESIDENTS,
        area_body=True,
        body=lambda w, p, r: {"group": _pk(w, p, "group"), "user": w.newcomer.pk, "reason": "Asked for it"},
    ),
    R(
        "classifier-assignment-end",
        "POST",
        SEE_RESIDENTS,
        obj="assignment",
        body=lambda w, p, r: {"reason": "Moved away"},
    ),
]

# The staff console. Sections open by role (web/context.py); each page still checks the object's area. A
# method a view does not take answers 405 to whoever passes the gate before it (refused, and nothing changes).
CONSOLE_ANY = set(ROLES) - {ANONYMOUS, "resident"}
REPORTS = COUNTS | DRAFT | SEE_RESIDENTS
GET_ONLY = "the view takes GET only: 405"
POST_ONLY = "the view takes POST only: 405"


def _composer(w: World, where: str, role: str) -> dict[str, Any]:
    x0, y0, x1, y1 = BOX[where]
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {
        "info_language": ["en"],
        "info_headline": ["Flood warning"],
        "info_event": ["Flood"],
        "info_description": ["The river is rising."],
        "info_instruction": ["Move to higher ground."],
        "category": "Met",
        "severity": "Severe",
        "urgency": "Expected",
        "certainty": "Likely",
        "area_desc": "Riverside",
        "polygons": json.dumps({"type": "MultiPolygon", "coordinates": [[ring]]}),
        "circles": "",
        "note": "",
        "action": "save",
    }


def _refused_method(route: str, method: str, obj: str | None = None, reason: str = "", **kw: Any) -> Row:
    return R(route, method, NOBODY, obj=obj, refusal=frozenset({405}), reason=reason, **kw)


CONSOLE: list[Row] = [
    R("web:console", "GET", CONSOLE_ANY, reason="the console's front page, for anyone with a staff role"),
    _refused_method("web:console", "POST", reason=GET_ONLY),
    R("web:console-alerts", "GET", ALERT_STAFF, reason="filtered to the alerts of one's areas"),
    _refused_method("web:console-alerts", "POST", reason=GET_ONLY),
    R("web:console-alert-new", "GET", ALERT_STAFF, reason="an empty composer; saving checks the area"),
    R("web:console-alert-new", "POST", DRAFT, area_body=True, body=_composer),
    _refused_method("web:console-alert-from-template", "GET", reason=POST_ONLY),
    R(
        "web:console-alert-from-template",
        "POST",
        DRAFT,
        area_body=True,
        body=lambda w, p, r: {"template": str(_pk(w, p, "template"))},
    ),
    R("web:console-alert", "GET", ALERT_STAFF, obj="alert_draft"),
    _refused_method("web:console-alert", "POST", obj="alert_draft", reason=GET_ONLY),
    R("web:console-alert-edit", "GET", ALERT_STAFF, obj="alert_draft", reason="the composer; saving checks the area"),
    R("web:console-alert-edit", "POST", DRAFT, obj="alert_draft", body=_composer),
    R("web:console-alert-reach", "GET", ALERT_STAFF, obj="alert_draft"),
    _refused_method("web:console-alert-reach", "POST", obj="alert_draft", reason=GET_ONLY),
    R("web:console-alert-replies", "GET", ALERT_STAFF, obj="alert_issued"),
    _refused_method("web:console-alert-replies", "POST", obj="alert_issued", reason=GET_ONLY),
    _refused_method(
        "web:console-alert-action", "GET", obj="alert_draft", kwargs={"action": "submit"}, reason=POST_ONLY
    ),
    R("web:console-alert-action", "POST", DRAFT, obj="alert_draft", kwargs={"action": "submit"}, variant="submit"),
    R("web:console-alert-action", "POST", DRAFT, obj="alert_draft", kwargs={"action": "delete"}, variant="delete"),
    R(
        "web:console-alert-action",
        "POST",
        APPROVE,
        obj="alert_submitted",
        kwargs={"action": "approve"},
        variant="approve",
    ),
    R(
        "web:console-alert-action",
        "POST",
        APPROVE,
        obj="alert_submitted",
        kwargs={"action": "reject"},
        body=lambda w, p, r: {"reason": "Not yet"},
        variant="reject",
    ),
    R("web:console-alert-action", "POST", APPROVE, obj="alert_approved", kwargs={"action": "issue"}, variant="issue"),
    R("web:console-alert-action", "POST", DRAFT, obj="alert_issued", kwargs={"action": "update"}, variant="update"),
    R("web:console-alert-action", "POST", DRAFT, obj="alert_issued", kwargs={"action": "cancel"}, variant="cancel"),
    R(
        "web:console-shelters",
        "GET",
        SEE_SHELTERS,
        reason="filtered to the shelters of one's areas",
        **_filtered(lambda w, p: [f"Hall {p}", f"Annex {p}"], SEE_SHELTERS),
    ),
    _refused_method("web:console-shelters", "POST", reason=GET_ONLY),
    R("web:console-shelter", "GET", SEE_SHELTERS, obj="shelter"),
    _refused_method("web:console-shelter", "POST", obj="shelter", reason=GET_ONLY),
    _refused_method("web:console-shelter-action", "GET", obj="shelter", kwargs={"action": "status"}, reason=POST_ONLY),
    R(
        "web:console-shelter-action",
        "POST",
        MANAGE_SHELTERS,
        obj="shelter",
        kwargs={"action": "status"},
        body=lambda w, p, r: {"status": "closed"},
        variant="status",
    ),
    R(
        "web:console-shelter-action",
        "POST",
        MANAGE_SHELTERS,
        obj="shelter",
        kwargs={"action": "capacity"},
        body=lambda w, p, r: {"capacity": "70"},
        variant="capacity",
    ),
    R(
        "web:console-shelter-action",
        "POST",
        MANAGE_SHELTERS,
        obj="shelter",
        kwargs={"action": "head-count"},
        body=lambda w, p, r: {"occupancy": "3"},
        variant="head-count",
    ),
    R(
        "web:console-shelter-action",
        "POST",
        MANAGE_SHELTERS,
        obj="shelter",
        kwargs={"action": "check-in"},
        body=lambda w, p, r: {"people": "2"},
        variant="check-in",
    ),
    R(
        "web:console-shelter-action",
        "POST",
        MANAGE_SHELTERS,
        obj="occupied_shelter",
        kwargs={"action": "check-out"},
        body=lambda w, p, r: {"reference": _obj(w, p, "stay").reference},
        variant="check-out",
    ),
    R(
        "web:console-assets",
        "GET",
        SEE_ASSETS,
        reason="filtered to the assets one owns or sees",
        **_filtered(lambda w, p: [f"Pump {p}"], SEE_ASSETS),
    ),
    _refused_method("web:console-assets", "POST", reason=GET_ONLY),
    R("web:console-assets-upload", "GET", MANAGE_ASSETS),
    R(
        "web:console-assets-upload",
        "POST",
        MANAGE_ASSETS,
        area_body=True,
        body=_asset_csv,
        refusal=frozenset({400}),
        reason="a row outside one's area is reported as that row's error (400), and nothing is written",
    ),
    R("web:console-asset", "GET", SEE_ASSETS, obj="asset"),
    _refused_method("web:console-asset", "POST", obj="asset", reason=GET_ONLY),
    R(
        "web:console-rooms",
        "GET",
        HOST | MODERATE,
        reason="filtered to the rooms one hosts or moderates",
        **_filtered(lambda w, p: [f"Town hall {p}"], HOST | MODERATE),
    ),
    R(
        "web:console-rooms",
        "POST",
        HOST,
        area_body=True,
        body=lambda w, p, r: {
            "title": "New hall",
            "kind": "town_hall",
            "area": str(w.area(p).pk),
            "visibility": "area",
            "audience": "general",
        },
        refusal=frozenset({400}),
        reason="the form offers only the areas one hosts rooms in: another area is an invalid choice (400)",
    ),
    R("web:console-room", "GET", HOST | MODERATE, obj="room"),
    _refused_method("web:console-room", "POST", obj="room", reason=GET_ONLY),
    _refused_method("web:console-room-act", "GET", obj="room", reason=POST_ONLY),
    R(
        "web:console-room-act",
        "POST",
        MODERATE,
        obj="room",
        body=lambda w, p, r: {"action": "room.update", "slow_mode_seconds": "5", "chat_open": "on"},
    ),
    R("web:console-reports", "GET", REPORTS, reason="filtered to the reports of one's areas"),
    _refused_method("web:console-reports", "POST", reason=GET_ONLY),
    _refused_method("web:console-report-status", "GET", obj="report", reason=POST_ONLY),
    R(
        "web:console-report-status",
        "POST",
        DRAFT | SEE_RESIDENTS,
        obj="report",
        body=lambda w, p, r: {"status": "triaged", "note": ""},
    ),
    _refused_method("web:console-report-relabel", "GET", obj="report", reason=POST_ONLY),
    R(
        "web:console-report-relabel",
        "POST",
        SEE_RESIDENTS,
        obj="report",
        body=lambda w, p, r: {"label": label_set_active().labels[0]},
    ),
    _refused_method("web:console-report-assign", "GET", obj="report", reason=POST_ONLY),
    R(
        "web:console-report-assign",
        "POST",
        SEE_RESIDENTS,
        obj="report",
        body=lambda w, p, r: {"group": str(_pk(w, p, "other_group")), "reason": "Asked for help"},
    ),
    _refused_method("web:console-assignment-end", "GET", obj="assignment", reason=POST_ONLY),
    R(
        "web:console-assignment-end",
        "POST",
        SEE_RESIDENTS,
        obj="assignment",
        body=lambda w, p, r: {"reason": "Moved away"},
    ),
    R("web:console-audit", "GET", AUDIT, reason="filtered to the audit events of one's areas"),
    _refused_method("web:console-audit", "POST", reason=GET_ONLY),
    R("web:console-chart-deliveries", "GET", ALERT_STAFF, obj="alert_issued"),
    _refused_method("web:console-chart-deliveries", "POST", obj="alert_issued", reason=GET_ONLY),
    R("web:console-chart-occupancy", "GET", SEE_SHELTERS, obj="shelter"),
    _refused_method("web:console-chart-occupancy", "POST", obj="shelter", reason=GET_ONLY),
]

ROWS = API + CONSOLE


# The world, once per module, rolled back at its end; each case runs in a savepoint rolled back after it.


@pytest.fixture(scope="module")
def matrix_world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        built: World | None = None
        try:
            built = build_world()
            yield built
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            if built is not None:
                from django.core.files.storage import default_storage

                for name in built.photos:
                    default_storage.delete(name)


@pytest.fixture
def case_db(matrix_world: World, db: None) -> Iterator[World]:
    """`db` wraps each case in a savepoint inside the world's transaction, rolled back after it. Marking it for
    rollback here also spares Django's constraint check before that rollback (a PRAGMA over every table on
    SQLite, most of a case's fixed cost)."""
    yield matrix_world
    transaction.set_rollback(True)


# The cases ------------------------------------------------------------------------------------------------


def _places(row: Row) -> list[str]:
    if row.obj is not None:
        return ["A", "B", "missing"]
    if row.area_body:
        return ["A", "B"]
    return ["any"]


def _allowed(row: Row, role: str, place: str) -> bool:
    if place == "missing":
        return False
    if row.who == PUBLIC:
        permitted = True
    elif row.who == SIGNED_IN:
        permitted = role != ANONYMOUS
    else:
        permitted = role in row.who
    return permitted and (place != "B" or not row.scoped or row.who == PUBLIC)


def _cases() -> Iterator[Any]:
    for row in ROWS:
        for role in ROLES:
            for place in _places(row):
                # A missing id, for those who would get past the door (a 404, never a 500) and for no one signed
                # in; a role refused both in A and in B is refused there before any lookup matters.
                if place == "missing" and role != ANONYMOUS and not _allowed(row, role, "A"):
                    continue
                yield pytest.param(
                    row, role, place, id=f"{row.key}-{role}-{'area' + place if len(place) == 1 else place}"
                )


def _target(w: World, row: Row, role: str, place: str) -> Any:
    if row.obj is None or place == "missing":
        return None
    if row.obj.startswith("own:"):
        kind = row.obj.removeprefix("own:")
        owner = role if place == "A" and role != ANONYMOUS else "newcomer"
        return w.own[owner][kind]
    if row.obj == "profile":
        return _obj(w, place, "report").reporter.resident_profile
    return _obj(w, place, row.obj)


def _url(w: World, row: Row, role: str, place: str) -> tuple[str, Any]:
    target = _target(w, row, role, place)
    kwargs: dict[str, Any] = dict(row.kwargs)
    if row.obj is not None:
        pattern = next(r.pattern for r in ROUTES if r.name == row.route)
        name = re.search(r"<int:(\w+)>", pattern)
        assert name is not None, pattern
        kwargs[name.group(1)] = MISSING_ID if target is None else target.pk
    return reverse(row.route, kwargs=kwargs), target


def _refused(row: Row, role: str, place: str, status: int, response: Any) -> bool:
    if (place == "missing" and status == 404) or status in row.refusal:
        return True
    if row.route.startswith("web:"):
        if role == ANONYMOUS:
            return status == 302 and "/login/" in response["Location"]
        return status in (403, 404)
    if role == ANONYMOUS:
        return status == 401
    return status in (403, 404)


def _ok(row: Row, status: int, response: Any) -> bool:
    if row.route.startswith("web:") and status == 302:
        return "/login/" not in response["Location"]
    return 200 <= status < 300


ROUTES = routes()


@pytest.mark.django_db
@pytest.mark.parametrize(("row", "role", "place"), list(_cases()))
def test_matrix(case_db: World, row: Row, role: str, place: str) -> None:
    w = case_db
    url, target = _url(w, row, role, place)
    where = "A" if place in ("any", "missing") else place
    data = row.body(w, where, role) if row.body else None
    query = row.query(w, where, role) if row.query else None
    # A fresh instance: a service may change the one it is given (erasure does), and the savepoint's rollback
    # restores the row, not a Python object shared by every case.
    person = None if role == ANONYMOUS else User.objects.get(pk=w.people[role].pk)
    writes = row.method != "GET"
    before = (_row_counts(), object_state(target)) if writes else None
    if row.route.startswith("web:"):
        client = Client()
        if person is not None:
            client.force_login(person)
        response = getattr(client, row.method.lower())(url, data or {})
    else:
        api = APIClient()
        if person is not None:
            api.force_authenticate(person)
        call = getattr(api, row.method.lower())
        if row.method == "GET":
            response = call(url, query or {})
        else:
            response = call(url, data if data is not None else {}, format=row.fmt)
    status = response.status_code
    content = b"".join(response.streaming_content) if response.streaming else response.content  # closes a file
    body = content[:300]
    assert status < 500, f"{status}: {body!r}"
    if _allowed(row, role, place):
        assert _ok(row, status, response), f"expected allowed, got {status}: {body!r}"
        text = content.decode(errors="replace")
        for marker in row.hides(w) if row.hides else []:
            assert marker not in text, f"the list shows city B's {marker!r}"
        if role in row.shown_to:
            for marker in row.shows(w) if row.shows else []:
                assert marker in text, f"the list leaves out city A's {marker!r}"
        return
    assert _refused(row, role, place, status, response), f"expected refused, got {status}: {body!r}"
    if before is not None:
        after = (_row_counts(), object_state(target))
        changed = {t: (before[0][t], after[0][t]) for t in before[0] if before[0][t] != after[0][t]}
        assert not changed, f"a refused {row.method} changed row counts: {changed}"
        assert before[1] == after[1], "a refused write changed the object"


def test_every_endpoint_has_an_expectation() -> None:
    """A route or method without a row fails here: a new endpoint needs its place in the matrix first."""
    expected = {(r.route, r.method) for r in ROWS}
    found = {(route.name, method) for route in ROUTES for method in route.methods}
    assert sorted(found - expected) == [], "endpoints without an expectation in the permission matrix"
    assert sorted(expected - found) == [], "rows for endpoints that do not exist"
    for row in ROWS:
        if row.who in (PUBLIC, SIGNED_IN) or not row.scoped or row.who == frozenset():
            assert row.reason, f"{row.key}: a public, own-data or nobody row says why"


@pytest.mark.django_db
def test_deleting_a_template_that_a_sensor_rule_uses_is_a_conflict(case_db: World) -> None:
    """Found by the matrix: the protected reference from a sensor rule made this DELETE a 500."""
    w = case_db
    template = _obj(w, "A", "rule_template")
    api = APIClient()
    api.force_authenticate(User.objects.get(pk=w.people["alert_drafter"].pk))
    response = api.delete(reverse("alert-template-detail", kwargs={"template_id": template.pk}))
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "template_in_use"
    assert type(template).objects.filter(pk=template.pk).exists()
