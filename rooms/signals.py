"""Signals other apps listen to, so that rooms never imports them."""

from django.dispatch import Signal

# Sent after the commit that appended `event` (a RoomEvent) to a room's record, once per event. Receivers queue
# their work (a task by id) and must be quick; an exception they raise is logged, never the caller's problem.
room_event_published = Signal()
