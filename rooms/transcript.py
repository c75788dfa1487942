"""Transcripts of a room, built from its record: JSON, Markdown and HTML.

The auditors' transcript has every event in full, hidden messages with who hid them and why, and the hashes to
check the chain against. The public transcript is what a participant saw: hidden messages, questions refused
before publication and what concerned individual members are left out; the number of hidden messages is
stated, so that moderation itself stays visible.
"""

from typing import Any

from django.template import Context, Engine

from accounts.models import User
from rooms.events import event_view
from rooms.models import STAFF_ROLES, Message, Room, RoomEvent, RoomMember
from rooms.record import room_verify

KIND_LABEL = {
    "official": "Official update",
    "chat": "Message",
    "question": "Question",
    "answer": "Answer",
    "announcement": "Announcement",
    "guidance": "Guidance",
}


def _names(room: Room) -> dict[int, str]:
    """Staff are named (they speak for the organisers); everyone else is a numbered participant."""
    staff = RoomMember.objects.filter(room=room, role__in=STAFF_ROLES).values_list("user_id", flat=True)
    names = {}
    for user in User.objects.filter(pk__in=list(staff)):
        names[user.pk] = user.get_full_name() or user.username
    return names


def carries_hidden_text(data: dict[str, Any], hidden: set[int]) -> bool:
    """An event that repeats a now-hidden message's text: its approval, or its being shown again before it was
    hidden again. `event_view` only drops the message's posting, so the public views drop these too."""
    return "body" in data and data.get("message_id") in hidden


def transcript_build(*, room: Room, audit: bool) -> dict[str, Any]:
    hidden = set(Message.objects.filter(room=room, hidden_at__isnull=False).values_list("pk", flat=True))
    entries = []
    for event in RoomEvent.objects.filter(room=room).order_by("seq").iterator(chunk_size=2000):
        data = event_view(event.type, event.data, event.actor_id, moderator=audit, viewer_id=None, hidden_ids=hidden)
        if data is None or (not audit and (event.type == "message.hidden" or carries_hidden_text(data, hidden))):
            continue
        entry: dict[str, Any] = {"id": event.seq, "at": event.at.isoformat(), "type": event.type,
                                 "actor_id": event.actor_id, "data": data}  # fmt: skip
        if audit:
            entry["hash"] = event.hash
            entry["prev_hash"] = event.prev_hash
            if event.type == "message.posted" and data.get("message_id") in hidden:
                entry["hidden"] = True
        entries.append(entry)
    transcript: dict[str, Any] = {
        "room": {"id": room.pk, "slug": room.slug, "title": room.title, "kind": room.kind,
                 "area_id": room.area_id, "opens_at": room.opens_at.isoformat(),
                 "ends_at": room.ends_at.isoformat() if room.ends_at else None},
        "audit": audit,
        "hidden_messages": len(hidden),
        "names": {str(k): v for k, v in _names(room).items()},
        "events": entries,
    }  # fmt: skip
    if audit:
        result = room_verify(room=room)
        transcript["head"] = {"seq": room.last_seq, "hash": room.last_hash}
        transcript["verification"] = {"ok": result.ok, "events": result.events, "problems": result.problems}
    return transcript


def _who(names: dict[str, str], user_id: Any) -> str:
    if user_id is None:
        return "the system"
    return names.get(str(user_id), f"participant #{user_id}")


def _line(entry: dict[str, Any], names: dict[str, str], audit: bool) -> str | None:
    data, kind = entry["data"], entry["type"]
    who = _who(names, entry["actor_id"])
    if kind in {"message.posted", "message.unhidden", "question.approved"}:
        if kind == "question.approved":
            return f"question #{data['message_id']} approved by {who}"
        label = KIND_LABEL.get(data["kind"], data["kind"])
        author = _who(names, data.get("author_id"))
        edit = f" (new version of #{data['supersedes_id']})" if data.get("supersedes_id") else ""
        answer = f" (answer to question #{data['answers_id']})" if data.get("answers_id") else ""
        pending = " [waiting for approval]" if data.get("question_state") == "pending" else ""
        hidden = " [HIDDEN]" if entry.get("hidden") else ""
        shown = "shown again: " if kind == "message.unhidden" else ""
        return f"{shown}{label} #{data['message_id']} by {author}{edit}{answer}{pending}{hidden}: {data['body']}"
    if kind == "message.hidden":
        return f"message #{data['message_id']} hidden by {who}; reason: {data.get('reason', '')}"
    if kind == "question.rejected":
        return f"question #{data['message_id']} refused by {who}; reason: {data.get('reason', '')}"
    if kind == "question.answered":
        return f"question #{data['message_id']} answered by #{data['answer_id']}"
    if kind == "question.voted":
        return None if not audit else f"question #{data['message_id']} now has {data['votes']} votes"
    if kind == "poll.opened":
        return f"poll #{data['poll_id']} opened by {who}: {data['question']} ({' / '.join(data['choices'])})"
    if kind == "poll.closed":
        return f"poll #{data['poll_id']} closed; results: {data['results']}"
    if kind == "poll.voted":
        return None
    if kind.startswith("hand."):
        return f"{kind.split('.')[1]}: hand of {_who(names, data['user_id'])}" + (
            f" (by {who})" if kind in {"hand.granted", "hand.revoked"} else ""
        )
    details = ", ".join(f"{k}={v}" for k, v in data.items() if k != "subject_id")
    subject = f" {_who(names, data['subject_id'])}" if "subject_id" in data else ""
    return f"{kind}{subject} by {who}" + (f" ({details})" if details else "")


def transcript_markdown(transcript: dict[str, Any]) -> str:
    room, names, audit = transcript["room"], transcript["names"], transcript["audit"]
    out = [f"# {room['title']}", "", f"Room {room['id']} ({room['kind']}), opened {room['opens_at']}."]
    if audit:
        verification = transcript["verification"]
        state = "intact" if verification["ok"] else "FAILED: " + "; ".join(verification["problems"])
        out.append(f"Auditors' transcript. Record of {verification['events']} events, {state}.")
        out.append(f"Head: event #{transcript['head']['seq']}, hash `{transcript['head']['hash']}`.")
    else:
        out.append(f"Public transcript. {transcript['hidden_messages']} message(s) were hidden by moderators.")
    out.append("")
    for entry in transcript["events"]:
        line = _line(entry, names, audit)
        if line is not None:
            body = line.replace("\n", "\n  ")
            out.append(f"- `{entry['at'][:19]}` #{entry['id']} {body}")
    return "\n".join(out) + "\n"


HTML = Engine(autoescape=True).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ room.title }}: transcript</title>
<style>body{font-family:sans-serif;max-width:60rem;margin:auto}li{margin:.3rem 0;white-space:pre-wrap}
.meta{color:#555}</style></head>
<body><h1>{{ room.title }}</h1>
<p class="meta">Room {{ room.id }} ({{ room.kind }}), opened {{ room.opens_at }}.
{% if audit %}Auditors' transcript: {{ verification.events }} events,
{% if verification.ok %}record intact{% else %}record FAILED: {{ verification.problems|join:"; " }}{% endif %}.
Head hash <code>{{ head.hash }}</code>.{% else %}Public transcript;
{{ hidden_messages }} message(s) were hidden by moderators.{% endif %}</p>
<ol>{% for line in lines %}<li><span class="meta">{{ line.0 }} #{{ line.1 }}</span> {{ line.2 }}</li>{% endfor %}</ol>
</body></html>
"""
)


def transcript_html(transcript: dict[str, Any]) -> str:
    lines = []
    for entry in transcript["events"]:
        line = _line(entry, transcript["names"], transcript["audit"])
        if line is not None:
            lines.append((entry["at"][:19], entry["id"], line))
    return HTML.render(Context({**transcript, "lines": lines}))
