"""What a recipient reads: an alert rendered in one of its languages, for any transport."""

from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from alerts.models import Alert, Info, MsgType


def _interface_language(language: str) -> str:
    """The interface language closest to an alert language, for the few words we add around it."""
    codes = [code for code, _name in settings.LANGUAGES]
    wanted = language.lower()
    for code in codes:
        if code == wanted or code == wanted.split("-", 1)[0]:
            return code
    return settings.LANGUAGE_CODE


def _info_for(alert: Alert, language: str) -> Info | None:
    infos = list(alert.infos.all())
    for info in infos:
        if info.language == language:
            return info
    return infos[0] if infos else None


def alert_message(alert: Alert, language: str) -> dict[str, Any]:
    """The message for one language: structured fields for web clients, and subject and text for the others."""
    info = _info_for(alert, language)
    with translation.override(_interface_language(language)):
        kind = {
            MsgType.UPDATE: _("Update"),
            MsgType.CANCEL: _("Cancelled"),
        }.get(MsgType(alert.msg_type), _("Alert"))
        headline = (info.headline or info.event) if info else ""
        lines = [f"{kind}: {headline}"]
        if info is not None:
            if info.description:
                lines.append(info.description)
            if info.instruction:
                lines.append(_("What to do: %(instruction)s") % {"instruction": info.instruction})
            if info.expires is not None:
                lines.append(_("Valid until %(expires)s") % {"expires": info.expires.isoformat(timespec="minutes")})
        lines.append(_("Reply: I'm safe / I need help"))
        severity = info.severity if info else ""
        subject = f"[{severity}] {kind}: {headline}" if severity else f"{kind}: {headline}"
    return {
        "alert_id": alert.pk,
        "identifier": alert.identifier,
        "msg_type": alert.msg_type,
        "language": info.language if info else language,
        "event": info.event if info else "",
        "severity": severity,
        "urgency": info.urgency if info else "",
        "certainty": info.certainty if info else "",
        "headline": headline,
        "description": info.description if info else "",
        "instruction": info.instruction if info else "",
        "expires": info.expires.isoformat() if info and info.expires else None,
        "subject": subject[:200],
        "text": "\n\n".join(lines),
    }
