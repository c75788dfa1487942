"""manage.py room_verify ROOM [ROOM ...] | --all: prove each room's record intact.

ROOM is a room id or slug. Prints `room <id> (<slug>): ok, <n> events` or each problem found, naming the event,
and exits with status 1 when any room's record was altered, cut short, or disagrees with the room's messages.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rooms.models import Room
from rooms.record import room_verify


class Command(BaseCommand):
    help = "Verify the hash chain of rooms' records and that every message is in it unaltered."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("rooms", nargs="*", help="room ids or slugs")
        parser.add_argument("--all", action="store_true", help="verify every room")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["all"]:
            rooms = list(Room.objects.order_by("pk"))
        elif options["rooms"]:
            rooms = [self._room(ref) for ref in options["rooms"]]
        else:
            raise CommandError("Name at least one room, or --all.")
        failed = 0
        for room in rooms:
            result = room_verify(room=room)
            if result.ok:
                self.stdout.write(f"room {room.pk} ({room.slug}): ok, {result.events} events")
                continue
            failed += 1
            for problem in result.problems:
                self.stdout.write(f"room {room.pk} ({room.slug}): FAILED: {problem}")
        if failed:
            raise CommandError(f"{failed} room record(s) failed verification.", returncode=1)

    def _room(self, ref: str) -> Room:
        room = Room.objects.filter(pk=int(ref)).first() if ref.isdigit() else Room.objects.filter(slug=ref).first()
        if room is None:
            raise CommandError(f"No room {ref!r}.")
        return room
