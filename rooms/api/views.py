"""Rooms API: list, create and change rooms, join and invite, read messages and events, transcripts and
verification. The live actions (posting, questions, hands, polls, moderation) go over the WebSocket
(docs/rooms.md); each view here parses input, calls one service or selector, and formats the result."""

import json
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from accounts.models import User
from commsplatform.api_helpers import request_user as _user
from commsplatform.api_helpers import validated as _valid
from commsplatform.core.audit import audit_record
from commsplatform.core.errors import NotFound, PermissionDenied, ValidationFailed
from commsplatform.core.throttling import AnonRateThrottle, UserRateThrottle
from rooms import events, selectors, services, transcript
from rooms.api import serializers as s
from rooms.models import Room, RoomVisibility
from rooms.record import room_verify


def _room_for(request: Request, room_id: int) -> tuple[Room, selectors.RoomAccess]:
    room = selectors.room_get(room_id=room_id)
    return room, selectors.room_access(room=room, user=_user(request))


class RoomListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.RoomSerializer(many=True), summary="Rooms the signed-in person may enter")
    def get(self, request: Request) -> Response:
        return Response(s.RoomSerializer(selectors.room_list_for_user(user=_user(request)), many=True).data)

    @extend_schema(request=s.RoomCreateSerializer, responses={201: s.RoomSerializer}, summary="Create a room")
    def post(self, request: Request) -> Response:
        data = _valid(s.RoomCreateSerializer, request.data)
        room = services.room_create(actor=_user(request), **data)
        return Response(s.RoomSerializer(room).data, status=status.HTTP_201_CREATED)


class RoomDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.RoomSerializer, summary="One room (for those who may enter it)")
    def get(self, request: Request, room_id: int) -> Response:
        room, access = _room_for(request, room_id)
        return Response({**s.RoomSerializer(room).data, "my_role": access.role})

    @extend_schema(request=s.RoomUpdateSerializer, responses=s.RoomSerializer, summary="Change how a room runs")
    def patch(self, request: Request, room_id: int) -> Response:
        changes = _valid(s.RoomUpdateSerializer, request.data)
        room = services.room_update(actor=_user(request), room_id=room_id, changes=changes)
        return Response(s.RoomSerializer(room).data)


class RoomJoinApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: dict}, summary="Join a room")
    def post(self, request: Request, room_id: int) -> Response:
        access = services.room_join(user=_user(request), room_id=room_id)
        return Response({"room_id": room_id, "role": access.role})


class RoomLeaveApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None}, summary="Leave a room")
    def post(self, request: Request, room_id: int) -> Response:
        services.room_leave(user=_user(request), room_id=room_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoomMemberAddApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=s.MemberAddSerializer, responses={201: dict}, summary="Invite someone (hosts, moderators)")
    def post(self, request: Request, room_id: int) -> Response:
        data = _valid(s.MemberAddSerializer, request.data)
        room = selectors.room_get(room_id=room_id)
        # Only those who may add people learn whether a person exists: no probing of ids by participants.
        if not selectors.room_access(room=room, user=_user(request)).is_moderator:
            raise PermissionDenied("Only hosts and moderators add people to a room.")
        invitee = User.objects.filter(pk=data["user_id"], is_active=True).first()
        if invitee is None:
            raise NotFound("No such person.")
        added = services.room_member_add(
            room=room, user=invitee, role=data["role"], source="invite", actor=_user(request)
        )
        return Response({"added": added}, status=status.HTTP_201_CREATED if added else status.HTTP_200_OK)


class RoomMessageListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.MessageSerializer(many=True), summary="Current messages, newest first")
    def get(self, request: Request, room_id: int) -> Response:
        _room, access = _room_for(request, room_id)
        messages = selectors.message_list_for(access=access)
        serializer = s.ModeratorMessageSerializer if access.is_moderator else s.MessageSerializer
        return Response(serializer(messages, many=True).data)


class RoomQuestionListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.MessageSerializer(many=True), summary="The question queue, most votes first")
    def get(self, request: Request, room_id: int) -> Response:
        _room, access = _room_for(request, room_id)
        return Response(s.MessageSerializer(selectors.question_queue(access=access), many=True).data)


class RoomEventListApi(APIView):
    """The room's events after `after`, as the live protocol sends them (catch-up over HTTP)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[OpenApiParameter("after", int, description="Last event id already seen (0 for all).")],
        responses={200: dict},
        summary="Events after an id",
    )
    def get(self, request: Request, room_id: int) -> Response:
        room, access = _room_for(request, room_id)
        raw = request.query_params.get("after", "0")
        if not raw.isdigit() or len(raw) > 18:
            raise ValidationFailed("after must be a non-negative integer.", fields={"after": "An event id."})
        stored = selectors.event_list_after(room=room, after=int(raw), limit=500)
        hidden = selectors.hidden_message_ids(room=room)
        frames = []
        for event in stored:
            view = events.event_view(event.type, event.data, event.actor_id, moderator=access.is_moderator,
                                     viewer_id=access.user_id, hidden_ids=hidden)  # fmt: skip
            if view is not None and (access.is_moderator or not transcript.carries_hidden_text(view, hidden)):
                frames.append(events.wire(event, view))
        return Response({"events": frames, "last_event_id": stored[-1].seq if stored else int(raw)})


FORMATS = {"json", "md", "html"}


class TranscriptNegotiation(DefaultContentNegotiation):
    """Here `?format=` names the transcript's format, not one of DRF's renderers (which would answer 404 to
    `md`); the view renders the transcript itself, and errors are JSON."""

    def select_renderer(self, request: Any, renderers: Any, format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


class RoomTranscriptApi(APIView):
    """The transcript. `audit=1` (auditors of the area, and the room's hosts and moderators) includes hidden
    messages with their reasons and the hashes; the public transcript of a public room is open to anyone."""

    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle, UserRateThrottle]
    content_negotiation_class = TranscriptNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=sorted(FORMATS), description="json (default), md or html."),
            OpenApiParameter("audit", bool, description="The auditors' transcript."),
        ],
        responses={200: dict},
        summary="Transcript of a room",
    )
    def get(self, request: Request, room_id: int) -> HttpResponse:
        fmt = request.query_params.get("format", "json")
        if fmt not in FORMATS:
            raise ValidationFailed("format must be json, md or html.", fields={"format": "json, md or html."})
        audit = request.query_params.get("audit") in {"1", "true"}
        room = selectors.room_get(room_id=room_id)
        user = request.user
        if not isinstance(user, User) and (audit or room.visibility != RoomVisibility.PUBLIC):
            raise NotAuthenticated("Sign in to read this transcript.")  # a 401 with the challenge
        if audit:
            if not isinstance(user, User) or not (
                permissions.user_has_area_perm(user, permissions.VIEW_AUDIT, room.area)
                or selectors.room_access(room=room, user=user).is_moderator
            ):
                raise PermissionDenied("The auditors' transcript is for auditors and the room's moderators.")
            audit_record(action="rooms.transcript_read", target=room, area_id=room.area_id, actor_id=user.pk)
        elif room.visibility != RoomVisibility.PUBLIC:
            if not isinstance(user, User):
                raise PermissionDenied("Sign in to read this room's transcript.", code="unauthenticated")
            selectors.room_access(room=room, user=user)
        built = transcript.transcript_build(room=room, audit=audit)
        name = f"room-{room.pk}-{'audit' if audit else 'public'}"
        if fmt == "md":
            response = HttpResponse(transcript.transcript_markdown(built), content_type="text/markdown; charset=utf-8")
        elif fmt == "html":
            response = HttpResponse(transcript.transcript_html(built), content_type="text/html; charset=utf-8")
        else:
            response = HttpResponse(json.dumps(built, ensure_ascii=False), content_type="application/json")
        response["Content-Disposition"] = f'inline; filename="{name}.{fmt}"'
        return response


class RoomVerifyApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: dict}, summary="Verify a room's record (auditors)")
    def get(self, request: Request, room_id: int) -> Response:
        room = selectors.room_get(room_id=room_id)
        if not permissions.user_has_area_perm(_user(request), permissions.VIEW_AUDIT, room.area):
            raise PermissionDenied("Verifying a room's record is for auditors of its area.")
        result = room_verify(room=room)
        return Response({"room_id": room.pk, "ok": result.ok, "events": result.events, "problems": result.problems})
