"""A resident's alerts: the list (sent to me, or the public alerts in force), one alert with its area on a map, and
the "I'm safe" / "I need help" answer. Live arrivals come over the websocket (web/static/web/alerts.js)."""

import json
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.models import ChannelIdentity, ChannelKind, User
from alerts import selectors, selectors_resident, targeting
from alerts.models import Alert, AlertState, Info, Reply, ReplyKind, Severity, Urgency
from alerts.services import replies
from commsplatform.core.errors import DomainError, NotFound, ValidationFailed
from web.views.common import error_page, parse_point, resident_required, signed_in_user

MAX_MESSAGE = 1000


@dataclass
class AlertCard:
    """One alert as the resident reads it: the info in their language, their own answer if any."""

    alert: Alert
    info: Info | None
    reply: Reply | None
    may_answer: bool

    @property
    def severity(self) -> str:
        return self.info.severity.lower() if self.info else ""

    @property
    def area_names(self) -> list[str]:
        return [area.area_desc for area in self.info.areas.all()] if self.info else []

    @property
    def in_force(self) -> bool:
        return self.alert.state == AlertState.ISSUED


def info_for(alert: Alert, language: str) -> Info | None:
    """The alert's info in the reader's language, falling back as the dispatch does (targeting.best_language)."""
    infos = list(alert.infos.all())
    if not infos:
        return None
    wanted = targeting.best_language(language, [info.language for info in infos])
    return next(info for info in infos if info.language == wanted)


def reply_label(kind: str) -> str:
    return _("Your answer: %(answer)s") % {"answer": ReplyKind(kind).label}


def _cards(request: HttpRequest, alerts: list[Alert], *, answerable: bool) -> list[AlertCard]:
    language = get_language() or "en"
    answers: dict[int, Reply] = {}
    if answerable:
        answers = selectors_resident.reply_latest_by_alert(
            user=signed_in_user(request), alert_ids=[a.pk for a in alerts]
        )
    return [AlertCard(alert, info_for(alert, language), answers.get(alert.pk), answerable) for alert in alerts]


def _web_alerts_on(user: User) -> bool:
    return ChannelIdentity.objects.filter(user=user, kind=ChannelKind.WEB, is_active=True).exists()


def _labels() -> dict[str, Any]:
    """Words the page's script shows on cards it builds itself, in the reader's language."""
    return {
        "severity": {value: str(label) for value, label in Severity.choices},
        "urgency": {value: str(label) for value, label in Urgency.choices},
        "update": _("Update"),
        "cancel": _("Cancelled"),
        "replaced": _("Replaced by an update"),
        "failed": _("Your answer could not be sent. Try again."),
        "sending": _("Sending your answer…"),
    }


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Signed in: the alerts sent to me or concerning me now, newest first, then the other public alerts in force
    (elsewhere in the city: read only). Otherwise the public alerts in force."""
    if request.user.is_authenticated:
        user = signed_in_user(request)
        mine = selectors_resident.alert_list_for_recipient(user=user)
        others = list(selectors.alert_active_list().exclude(pk__in=[a.pk for a in mine]).order_by("-pk")[:20])
        context: dict[str, Any] = {
            "cards": _cards(request, mine, answerable=True),
            "other_cards": _cards(request, others, answerable=False),
            "web_alerts_on": _web_alerts_on(user),
            "labels": _labels(),
            # The live connection asks for what was sent after the page was rendered (ws/alerts/?after=&have=).
            "live_deliveries": selectors_resident.delivery_recent_ids(user=user),
        }
    else:
        alerts = list(selectors.alert_active_list().order_by("-pk")[:50])
        context = {"cards": _cards(request, alerts, answerable=False)}
    return render(request, "web/alerts/home.html", context)


def _alert_for(request: HttpRequest, alert_id: int) -> Alert:
    """An alert the reader may see: a public one, one of their own, or one their roles cover."""
    if request.user.is_authenticated:
        user = signed_in_user(request)
        mine = selectors_resident.alert_get_for_recipient(user=user, alert_id=alert_id)
        return mine or selectors.alert_get_for_user(user=user, alert_id=alert_id)
    alert = selectors.alert_active_list().filter(pk=alert_id).first()
    if alert is None:
        raise NotFound(_("No such alert."))
    return alert


def _mine(request: HttpRequest, alert: Alert) -> bool:
    if not request.user.is_authenticated:
        return False
    return any(a.pk == alert.pk for a in selectors_resident.alert_list_for_recipient(user=signed_in_user(request)))


@require_GET
def detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    try:
        alert = _alert_for(request, alert_id)
    except DomainError as exc:
        return error_page(request, exc)
    card = _cards(request, [alert], answerable=_mine(request, alert))[0]
    geometry = json.loads(alert.geometry.geojson) if alert.geometry is not None else None
    return render(request, "web/alerts/detail.html", {"card": card, "geometry": geometry})


@require_GET
def card(request: HttpRequest, alert_id: int) -> HttpResponse:
    """One alert card as the list renders it, for the page's script to insert when it arrives live."""
    try:
        alert = _alert_for(request, alert_id)
    except DomainError as exc:
        return error_page(request, exc)
    card = _cards(request, [alert], answerable=_mine(request, alert))[0]
    return render(request, "web/alerts/_card.html", {"card": card, "next": reverse("web:home")})


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _back(request: HttpRequest, alert_id: int) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("web:alert", args=[alert_id])


@require_POST
@resident_required
def reply(request: HttpRequest, alert_id: int) -> HttpResponse:
    """Record "I'm safe" / "I need help" (with an optional message and where I am) and show the answer."""
    try:
        kind = request.POST.get("kind", "")
        if kind not in ReplyKind.values:
            raise ValidationFailed(_("Choose “I'm safe” or “I need help”."), fields={"kind": "unknown"})
        message = request.POST.get("message", "").strip()
        if len(message) > MAX_MESSAGE:
            raise ValidationFailed(
                _("The message is too long (%(max)s characters at most).") % {"max": MAX_MESSAGE},
                fields={"message": "too long"},
            )
        location = parse_point(request.POST, required=False)
        alert = _alert_for(request, alert_id)
        answer = replies.reply_record(
            user=signed_in_user(request), alert=alert, kind=kind, message=message, location=location
        )
    except DomainError as exc:
        if _wants_json(request):
            return JsonResponse({"error": exc.message, "code": exc.code}, status=exc.status)
        return error_page(request, exc)
    label = reply_label(answer.kind)
    if _wants_json(request):
        return JsonResponse({"alert_id": alert_id, "kind": answer.kind, "status": label}, status=201)
    messages.success(request, label)
    return redirect(_back(request, alert_id))
