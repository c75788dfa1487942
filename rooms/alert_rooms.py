"""Alerts meet rooms: an issued alert is announced in the open rooms whose area it touches, in each room's language."""

from typing import Any

from django.db import transaction

from alerts.models import Alert, AlertState, CapStatus, Info, MsgType, Scope
from rooms import services
from rooms.selectors import rooms_of_areas_meeting

PREFIX = {MsgType.ALERT: "ALERT", MsgType.UPDATE: "UPDATE", MsgType.CANCEL: "CANCELLED"}


def _info_for(infos: list[Info], languages: list[str]) -> Info:
    for tag in languages:
        for info in infos:
            if info.language.lower() == tag.lower():
                return info
    for tag in languages:
        for info in infos:
            if info.language.split("-")[0].lower() == tag.split("-")[0].lower():
                return info
    return infos[0]


def announcement_text(alert: Alert, info: Info) -> str:
    title = info.headline or info.event
    parts = [f"{PREFIX.get(MsgType(alert.msg_type), 'ALERT')} ({info.severity}, {info.urgency}): {title}"]
    if info.description:
        parts.append(info.description)
    if info.instruction:
        parts.append(info.instruction)
    return "\n\n".join(parts)


def alert_announce(*, alert_id: int) -> int:
    alert = Alert.objects.filter(pk=alert_id).first()
    # Only real public alerts: exercises, tests and restricted alerts stay out of public rooms.
    if (
        alert is None
        or alert.state != AlertState.ISSUED
        or alert.geometry is None
        or alert.status != CapStatus.ACTUAL
        or alert.scope != Scope.PUBLIC
    ):
        return 0
    infos = list(alert.infos.order_by("pk"))
    if not infos:
        return 0
    posted = 0
    for room in rooms_of_areas_meeting(geometry=alert.geometry):
        info = _info_for(infos, list(room.languages))
        if services.room_alert_announce(
            room_id=room.pk, alert_id=alert.pk, body=announcement_text(alert, info), language=info.language
        ):
            posted += 1
    return posted


def on_alert_issued(sender: Any, alert: Alert, **kwargs: Any) -> None:
    from rooms.tasks import alert_announce as task

    alert_id = alert.pk
    transaction.on_commit(lambda: task.delay(alert_id))
