"""A fake Telegram Bot API server on loopback: real HTTP for real python-telegram-bot code, with Telegram's
validation, flood limits (429 + retry_after) and injectable faults, recording everything the bot sends.

    with FakeTelegram() as fake:
        bot = telegram.Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
        ...
        fake.wait_for(chat_id, lambda m: "Welcome" in m["text"])

Run by hand: `python -m tests.fakes.telegram_api --port 8081 --token 123:ABC` (prints its base URL; serves until
SIGTERM/SIGINT). There, `GET /_fake/sent?chat_id=N`, `GET /_fake/stats` and `POST /_fake/message`
(`{"chat_id": N, "text": "..."}`, queued for getUpdates) stand in for the Python API.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import math
import random
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from html.parser import HTMLParser
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

from aiohttp import web

__all__ = ["SEND_METHODS", "FakeTelegram", "Fault", "Limits"]

_LOG = logging.getLogger(__name__)

JSONDict = dict[str, Any]
FaultKind = Literal["5xx", "timeout", "403", "chat_not_found", "429"]
FAULT_KINDS: frozenset[str] = frozenset({"5xx", "timeout", "403", "chat_not_found", "429"})
# The methods that send a message: only these count against the flood limits, and faults hit them by default.
SEND_METHODS: frozenset[str] = frozenset({"sendMessage", "sendPhoto", "sendVenue", "sendLocation"})

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64  # bytes
MAX_UPLOAD = 50 * 1024 * 1024
# Telegram supergroup and channel ids are -100 followed by at least ten digits.
_SUPERGROUP_BELOW = -1_000_000_000_000

_FORBIDDEN_PRIVATE = "Forbidden: bot was blocked by the user"
_FORBIDDEN_GROUP = "Forbidden: bot was kicked from the group chat"
_CHAT_NOT_FOUND = "Bad Request: chat not found"
_HTTP_PHRASES = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}

# Form fields arrive as strings (PTB JSON-encodes every non-string value); these say how to read them back.
_JSON_FIELDS = frozenset(
    (
        "reply_markup link_preview_options allowed_updates commands scope entities caption_entities"
        " reply_parameters media"
    ).split()
)
_INT_FIELDS = frozenset(
    (
        "message_id offset limit max_connections cache_time live_period heading proximity_alert_radius"
        " message_thread_id reply_to_message_id"
    ).split()
)
_FLOAT_FIELDS = frozenset({"latitude", "longitude", "horizontal_accuracy", "timeout"})
_BOOL_FIELDS = frozenset(
    (
        "disable_notification protect_content drop_pending_updates show_alert disable_web_page_preview"
        " allow_sending_without_reply has_spoiler show_caption_above_media allow_paid_broadcast"
    ).split()
)
_INLINE_ACTIONS = frozenset(
    (
        "url callback_data web_app login_url switch_inline_query switch_inline_query_current_chat"
        " switch_inline_query_chosen_chat copy_text callback_game pay"
    ).split()
)
_CHAT_ACTIONS = frozenset(
    (
        "typing upload_photo record_video upload_video record_voice upload_voice upload_document"
        " choose_sticker find_location record_video_note upload_video_note"
    ).split()
)
# Update kinds getUpdates leaves out unless asked for by allowed_updates.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_WEBHOOK_PORTS = frozenset({80, 88, 443, 8443})
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_BOT_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_INT = re.compile(r"-?\d+")
# Every key of a sent() entry, so that tests can read any of them whatever the method.
_SENT_KEYS = (
    "text",
    "parse_mode",
    "reply_markup",
    "link_preview_options",
    "latitude",
    "longitude",
    "title",
    "address",
    "photo",
    "caption",
)


class _ApiError(Exception):
    """A Bot API error answer: HTTP status = error_code, with Telegram's description."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


@dataclasses.dataclass
class Limits:
    """Token buckets: `rate_*` tokens per second, at most `burst_*` saved up; one token per sent message."""

    enabled: bool
    rate_per_bot: float
    burst_per_bot: float
    rate_per_chat: float
    burst_per_chat: float
    rate_per_group: float
    burst_per_group: float


@dataclasses.dataclass
class _Bucket:
    rate: float
    burst: float
    tokens: float
    stamp: float

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0 if one is there now)."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


@dataclasses.dataclass
class Fault:
    """One injected fault; `fired` counts the requests it answered."""

    kind: str
    methods: frozenset[str]  # lower-case method names
    count: int | None
    rate: float | None
    chat_ids: frozenset[int] | None
    status: int
    delay: float
    retry_after: int
    fired: int = 0

    def matches(self, method: str, chat_id: object) -> bool:
        if self.count is not None and self.fired >= self.count:
            return False
        if method.lower() not in self.methods:
            return False
        return self.chat_ids is None or chat_id in self.chat_ids


@dataclasses.dataclass
class _Chat:
    id: int
    type: str
    title: str | None = None
    first_name: str | None = None
    username: str | None = None
    blocked: bool = False
    last_message_id: int = 0

    def as_dict(self) -> JSONDict:
        chat: JSONDict = {"id": self.id, "type": self.type}
        if self.type == "private":
            chat["first_name"] = self.first_name or "Ada"
        else:
            chat["title"] = self.title or f"Group {self.id}"
        if self.username:
            chat["username"] = self.username
        return chat


@dataclasses.dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes

    def as_dict(self) -> JSONDict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


@dataclasses.dataclass
class _Upload:
    filename: str
    data: bytes


class FakeTelegram:
    """A Bot API server for one bot token, run in a background thread with its own event loop."""

    def __init__(
        self,
        token: str = "123:ABC",  # noqa: S107 - the fake's default test token, not a secret
        *,
        port: int = 0,
        rate_per_bot: float = 30.0,
        burst_per_bot: float | None = None,
        rate_per_chat: float = 1.0,
        burst_per_chat: float = 3.0,
        rate_per_group: float = 20 / 60,
        burst_per_group: float = 20.0,
        limits: bool = True,
        seed: int = 0,
        bot_username: str = "fake_bot",
        bot_first_name: str = "Fake Bot",
    ) -> None:
        self.token = token
        head = token.split(":", 1)[0]
        self.bot_id = int(head) if head.isdigit() else 123
        self._bot_user: JSONDict = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self._requested_port = port
        self._port: int | None = None
        self._random = random.Random(seed)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)

        self._limits = Limits(
            enabled=limits,
            rate_per_bot=rate_per_bot,
            burst_per_bot=rate_per_bot if burst_per_bot is None else burst_per_bot,
            rate_per_chat=rate_per_chat,
            burst_per_chat=burst_per_chat,
            rate_per_group=rate_per_group,
            burst_per_group=burst_per_group,
        )
        self._check_limits(self._limits)
        self._bot_bucket: _Bucket | None = None
        self._chat_buckets: dict[int, _Bucket] = {}

        self._chats: dict[int, _Chat] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        # What the bot sent for each of its text messages (raw text, parse mode, inline keyboard): an edit to the
        # same is "message is not modified", as in Telegram.
        self._sources: dict[tuple[int, int], tuple[Any, ...]] = {}
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._file_counter = 0
        self._callbacks: dict[str, int] = {}  # unanswered callback query id -> chat id
        self._callback_counter = 0

        self._updates: list[JSONDict] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._webhook: JSONDict = {"url": ""}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}

        self._sent: list[JSONDict] = []
        self._sent_by_chat: dict[int, list[JSONDict]] = {}
        self._calls: list[JSONDict] = []
        self._count_429 = 0
        self._faults: list[Fault] = []
        self._fault_counts: dict[str, int] = dict.fromkeys(sorted(FAULT_KINDS), 0)

        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._updates_event: asyncio.Event | None = None
        self._stopping = False

        self._handlers: dict[str, Callable[[JSONDict, dict[str, _Upload]], Any]] = {
            "getMe": self._get_me,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendLocation": self._send_location,
            "sendVenue": self._send_venue,
            "sendPhoto": self._send_photo,
            "sendChatAction": self._send_chat_action,
            "getFile": self._get_file,
        }
        # Bot API method names are case-insensitive.
        self._methods = {name.lower(): name for name in [*self._handlers, "getUpdates"]}

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        if self._thread is not None:
            raise RuntimeError("FakeTelegram is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", self._requested_port))
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        self._stopping = False
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run, args=(sock, ready, failure), name=f"fake-telegram:{self._port}", daemon=True
        )
        self._thread.start()
        if not ready.wait(10) or failure:
            self.stop()
            raise RuntimeError("the fake Telegram server did not start") from (failure[0] if failure else None)
        return self

    def stop(self) -> None:
        """Stop serving: long polls and injected timeouts end at once; joins the server thread."""
        thread, loop, stop_event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and stop_event is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop_event.set)
            except RuntimeError:  # the loop closed in between
                pass
        thread.join(15)
        self._thread = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """PTB's `base_url`: PTB appends the token."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def _run(self, sock: socket.socket, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(sock, ready))
        except BaseException as exc:  # noqa: BLE001 - handed to start(), which raises it in the caller's thread
            failure.append(exc)
            ready.set()
        finally:
            sock.close()
            loop.close()

    async def _serve(self, sock: socket.socket, ready: threading.Event) -> None:
        self._stop_event = asyncio.Event()
        self._updates_event = asyncio.Event()
        app = web.Application(client_max_size=MAX_UPLOAD)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        app.router.add_get("/_fake/sent", self._control_sent)
        app.router.add_get("/_fake/stats", self._control_stats)
        app.router.add_post("/_fake/message", self._control_message)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        ready.set()
        try:
            await self._stop_event.wait()
        finally:
            self._stopping = True
            self._updates_event.set()
            await runner.cleanup()

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but no longer than until stop()."""
        if self._stop_event is None:
            return
        try:
            await asyncio.wait_for(self._stop_event.wait(), seconds)
        except TimeoutError:
            pass

    def _wake_pollers(self) -> None:
        loop, event = self._loop, self._updates_event
        if loop is not None and event is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # the loop closed in between: nobody is polling
                pass

    # -- what the bot did ----------------------------------------------------------------------------------------

    def sent(self, chat_id: int, *, method: str | None = None) -> list[JSONDict]:
        """What the bot sent to this chat, oldest first: send*, edits, deletions, callback answers."""
        with self._lock:
            entries = self._sent_by_chat.get(chat_id, [])
            return [dict(e) for e in entries if method is None or e["method"] == method]

    def all_sent(self, *, method: str | None = None) -> list[JSONDict]:
        with self._lock:
            return [dict(e) for e in self._sent if method is None or e["method"] == method]

    @property
    def calls(self) -> list[JSONDict]:
        """Every request: method, params, status, description (errors), fault, chat_id, time."""
        with self._lock:
            return list(self._calls)

    @property
    def count_429(self) -> int:
        with self._lock:
            return self._count_429

    @property
    def fault_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._fault_counts)

    def clear(self) -> None:
        """Forget what was recorded (sent, calls, the 429 and fault counts); chats, messages and faults stay."""
        with self._lock:
            self._sent.clear()
            self._sent_by_chat.clear()
            self._calls.clear()
            self._count_429 = 0
            self._fault_counts = dict.fromkeys(sorted(FAULT_KINDS), 0)

    def wait_for(
        self, chat_id: int, predicate: Callable[[JSONDict], bool] | None = None, timeout: float = 10.0
    ) -> JSONDict:
        """The first thing sent to the chat that satisfies predicate, waiting up to timeout seconds for it."""
        deadline = time.monotonic() + timeout
        checked = 0
        with self._changed:
            while True:
                entries = self._sent_by_chat.get(chat_id, [])
                checked = min(checked, len(entries))  # clear() in between
                for entry in entries[checked:]:
                    if predicate is None or predicate(entry):
                        return dict(entry)
                checked = len(entries)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"nothing sent to chat {chat_id} matched within {timeout} s; sent: {_summary(entries)}"
                    )
                self._changed.wait(remaining)

    async def wait_for_async(
        self, chat_id: int, predicate: Callable[[JSONDict], bool] | None = None, timeout: float = 10.0
    ) -> JSONDict:
        """wait_for without blocking the calling event loop."""
        return await asyncio.to_thread(self.wait_for, chat_id, predicate, timeout)

    def file_bytes(self, file_id: str) -> bytes:
        with self._lock:
            return self._files[file_id].data

    @property
    def webhook(self) -> JSONDict:
        """The webhook as last set: url ("" when none), secret_token, allowed_updates, max_connections."""
        with self._lock:
            return dict(self._webhook)

    def commands(self, *, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        with self._lock:
            return list(self._commands.get(_commands_key(scope, language_code), []))

    # -- chats and inbound updates -------------------------------------------------------------------------------

    def add_chat(
        self,
        chat_id: int,
        *,
        chat_type: str | None = None,
        title: str | None = None,
        first_name: str = "Ada",
        username: str | None = None,
    ) -> None:
        with self._lock:
            chat = self._ensure_chat(chat_id, first_name=first_name)
            if chat_type is not None:
                chat.type = chat_type
            if title is not None:
                chat.title = title
            if username is not None:
                chat.username = username

    def block(self, chat_id: int) -> None:
        """Every request for this chat fails with 403, as after the user blocked the bot."""
        with self._lock:
            self._ensure_chat(chat_id).blocked = True

    def unblock(self, chat_id: int) -> None:
        with self._lock:
            self._ensure_chat(chat_id).blocked = False

    def push_update(self, update: JSONDict) -> JSONDict:
        """Queue an update for getUpdates (update_id assigned if missing); returns it."""
        with self._lock:
            self._assign_update_id(update)
            self._updates.append(update)
        self._wake_pollers()
        return update

    def pending_updates(self) -> list[JSONDict]:
        """The updates getUpdates has not had confirmed yet."""
        with self._lock:
            return list(self._updates)

    def user_message(
        self,
        chat_id: int,
        text: str,
        *,
        first_name: str = "Ada",
        language_code: str = "en",
        user_id: int | None = None,
        deliver: Literal["polling"] | None = None,
    ) -> JSONDict:
        with self._lock:
            message = self._user_message(chat_id, first_name, language_code, user_id)
            message["text"] = text
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
            return self._update({"message": message}, deliver)

    def user_location(
        self,
        chat_id: int,
        latitude: float,
        longitude: float,
        *,
        first_name: str = "Ada",
        language_code: str = "en",
        user_id: int | None = None,
        deliver: Literal["polling"] | None = None,
    ) -> JSONDict:
        with self._lock:
            message = self._user_message(chat_id, first_name, language_code, user_id)
            message["location"] = {"latitude": latitude, "longitude": longitude}
            return self._update({"message": message}, deliver)

    def user_photo(
        self,
        chat_id: int,
        photo_bytes: bytes,
        caption: str = "",
        *,
        first_name: str = "Ada",
        language_code: str = "en",
        user_id: int | None = None,
        deliver: Literal["polling"] | None = None,
    ) -> JSONDict:
        """A photo from the user; its file is registered, so getFile and the download work."""
        with self._lock:
            message = self._user_message(chat_id, first_name, language_code, user_id)
            message["photo"] = self._photo_sizes(self._store_file(photo_bytes))
            if caption:
                message["caption"] = caption
            return self._update({"message": message}, deliver)

    def user_callback(
        self,
        chat_id: int,
        data: str,
        message_id: int | None = None,
        *,
        first_name: str = "Ada",
        language_code: str = "en",
        user_id: int | None = None,
        deliver: Literal["polling"] | None = None,
    ) -> JSONDict:
        """A button press on a message the bot sent (by default its latest one with an inline keyboard)."""
        with self._lock:
            message = self._callback_message(chat_id, message_id)
            self._callback_counter += 1
            query_id = str(4_000_000_000_000 + self._callback_counter)
            self._callbacks[query_id] = chat_id
            query = {
                "id": query_id,
                "from": self._user_dict(chat_id, first_name, language_code, user_id),
                "message": json.loads(json.dumps(message)),
                "chat_instance": str(abs(chat_id) * 7919 + 1),
                "data": data,
            }
            return self._update({"callback_query": query}, deliver)

    # -- limits and faults ---------------------------------------------------------------------------------------

    @property
    def limits(self) -> Limits:
        with self._lock:
            return dataclasses.replace(self._limits)

    def set_limits(
        self,
        *,
        enabled: bool | None = None,
        rate_per_bot: float | None = None,
        burst_per_bot: float | None = None,
        rate_per_chat: float | None = None,
        burst_per_chat: float | None = None,
        rate_per_group: float | None = None,
        burst_per_group: float | None = None,
    ) -> None:
        """Change the given limits (the others stay); every bucket starts full again. enabled=False: no 429s."""
        changes: dict[str, Any] = {
            "enabled": enabled,
            "rate_per_bot": rate_per_bot,
            "burst_per_bot": burst_per_bot,
            "rate_per_chat": rate_per_chat,
            "burst_per_chat": burst_per_chat,
            "rate_per_group": rate_per_group,
            "burst_per_group": burst_per_group,
        }
        with self._lock:
            limits = dataclasses.replace(self._limits, **{k: v for k, v in changes.items() if v is not None})
            self._check_limits(limits)
            self._limits = limits
            self._bot_bucket = None
            self._chat_buckets.clear()

    def inject(
        self,
        kind: FaultKind,
        *,
        methods: Iterable[str] | None = None,
        count: int | None = None,
        rate: float | None = None,
        chat_ids: Iterable[int] | None = None,
        status: int = 502,
        delay: float = 30.0,
        retry_after: int = 1,
    ) -> Fault:
        """Fail matching requests (methods: default the send methods; chat_ids: default all) instead of serving
        them: the next `count` ones, each with probability `rate`, or (neither given) all until clear_faults().
        Nothing a fault answers is recorded as sent.

        kinds: "5xx" (status 500/502/503/504, JSON body), "timeout" (answers 504 only after `delay` seconds),
        "403" (bot blocked), "chat_not_found" (400), "429" (retry_after seconds).
        """
        if isinstance(methods, str):
            methods = [methods]
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(FAULT_KINDS)}")
        if kind == "5xx" and status not in _HTTP_PHRASES:
            raise ValueError(f"status must be one of {sorted(_HTTP_PHRASES)}")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise ValueError("rate is a probability, between 0 and 1")
        fault = Fault(
            kind=kind,
            methods=frozenset(m.lower() for m in (SEND_METHODS if methods is None else methods)),
            count=count,
            rate=rate,
            chat_ids=None if chat_ids is None else frozenset(chat_ids),
            status=status,
            delay=delay,
            retry_after=max(1, retry_after),
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # -- HTTP ----------------------------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._answer(name, {}, _ApiError(401, "Unauthorized"))
        method = self._methods.get(name.lower())
        if method is None:
            return self._answer(name, {}, _ApiError(404, "Not Found"))
        try:
            params, files = await _read_params(request)
        except _ApiError as error:
            return self._answer(method, {}, error)
        with self._lock:
            fault = self._fault_pick(method, params.get("chat_id"))
        if fault is not None:
            return await self._fault_answer(fault, method, params, files)
        try:
            if method == "getUpdates":
                result = await self._get_updates(params)
            else:
                with self._lock:
                    result = self._handlers[method](params, files)
        except _ApiError as error:
            return self._answer(method, params, error, files=files)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # a parameter of the wrong shape
            return self._answer(method, params, _bad(f"wrong parameter: {exc}"), files=files)
        return self._answer(method, params, result, files=files)

    def _answer(
        self,
        method: str,
        params: JSONDict,
        outcome: Any,
        *,
        files: dict[str, _Upload] | None = None,
        fault: str | None = None,
    ) -> web.Response:
        if isinstance(outcome, _ApiError):
            status = outcome.status
            body: JSONDict = {"ok": False, "error_code": status, "description": outcome.description}
            if outcome.parameters:
                body["parameters"] = outcome.parameters
        else:
            status, body = 200, {"ok": True, "result": outcome}
        call = {
            "method": method,
            "params": params,
            "files": {name: {"filename": f.filename, "size": len(f.data)} for name, f in (files or {}).items()},
            "chat_id": params.get("chat_id"),
            "status": status,
            "description": body.get("description"),
            "fault": fault,
            "time": time.time(),
        }
        with self._lock:
            self._calls.append(call)
        return web.Response(
            status=status, body=json.dumps(body, ensure_ascii=False).encode(), content_type="application/json"
        )

    def _fault_pick(self, method: str, chat_id: object) -> Fault | None:
        chosen = None
        for fault in self._faults:
            if fault.matches(method, chat_id) and (fault.rate is None or self._random.random() < fault.rate):
                fault.fired += 1
                self._fault_counts[fault.kind] += 1
                chosen = fault
                break
        self._faults = [f for f in self._faults if f.count is None or f.fired < f.count]
        return chosen

    async def _fault_answer(
        self, fault: Fault, method: str, params: JSONDict, files: dict[str, _Upload]
    ) -> web.Response:
        error: _ApiError
        if fault.kind == "5xx":
            error = _ApiError(fault.status, _HTTP_PHRASES[fault.status])
        elif fault.kind == "timeout":
            response = self._answer(method, params, _ApiError(504, "Gateway Timeout"), files=files, fault="timeout")
            await self._sleep(fault.delay)
            return response
        elif fault.kind == "403":
            error = _ApiError(403, _FORBIDDEN_PRIVATE)
        elif fault.kind == "chat_not_found":
            error = _ApiError(400, _CHAT_NOT_FOUND)
        else:
            with self._lock:
                self._count_429 += 1
            error = _too_many_requests(fault.retry_after)
        return self._answer(method, params, error, files=files, fault=fault.kind)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _json_error(401, "Unauthorized")
        with self._lock:
            stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return _json_error(404, "Not Found")
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def _control_sent(self, request: web.Request) -> web.StreamResponse:
        chat_id = request.query.get("chat_id")
        entries = self.all_sent() if chat_id is None else self.sent(int(chat_id))
        return web.json_response(entries)

    async def _control_stats(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            stats = {
                "sent": len(self._sent),
                "calls": len(self._calls),
                "count_429": self._count_429,
                "fault_counts": dict(self._fault_counts),
                "pending_updates": len(self._updates),
            }
        return web.json_response(stats)

    async def _control_message(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        update = self.user_message(int(body["chat_id"]), str(body["text"]), deliver="polling")
        return web.json_response(update)

    # -- getUpdates ----------------------------------------------------------------------------------------------

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        assert self._updates_event is not None
        limit = min(100, max(1, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        with self._lock:
            if self._webhook["url"]:
                raise _ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            self._poll_generation += 1
            generation = self._poll_generation
            if params.get("allowed_updates") is not None:
                self._allowed_updates = list(params["allowed_updates"])
            self._confirm_updates(params.get("offset"))
        self._updates_event.set()  # an older long poll ends with 409, as in Telegram
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._updates_event.clear()
            with self._lock:
                if generation != self._poll_generation:
                    raise _ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                batch = self._updates_batch(limit)
            remaining = deadline - loop.time()
            if batch or self._stopping or remaining <= 0:
                return batch
            try:
                await asyncio.wait_for(self._updates_event.wait(), remaining)
            except TimeoutError:
                pass

    def _confirm_updates(self, offset: int | None) -> None:
        if not offset:
            return
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        else:
            self._updates = self._updates[offset:]

    def _updates_batch(self, limit: int) -> list[JSONDict]:
        allowed = self._allowed_updates
        batch = []
        for update in self._updates:
            kind = next((key for key in update if key != "update_id"), "")
            if (kind in allowed) if allowed else (kind not in _OPT_IN_UPDATES):
                batch.append(update)
                if len(batch) == limit:
                    break
        return batch

    def _assign_update_id(self, update: JSONDict) -> None:
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)

    def _update(self, update: JSONDict, deliver: str | None) -> JSONDict:
        if deliver is None:
            self._assign_update_id(update)
            return update
        if deliver != "polling":
            raise ValueError('deliver is "polling" or None')
        return self.push_update(update)

    # -- methods (called with the lock held) ---------------------------------------------------------------------

    def _get_me(self, params: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        return {
            **self._bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _set_webhook(self, params: JSONDict, files: dict[str, _Upload]) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return self._delete_webhook(params, files)
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if (parts.port or 443) not in _WEBHOOK_PORTS:
            raise _bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
            raise _bad("bad webhook: secret token contains unallowed characters")
        max_connections = int(params.get("max_connections") or 40)
        if not 1 <= max_connections <= 100:
            raise _bad("bad webhook: max_connections must be between 1 and 100")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": max_connections,
            "allowed_updates": params.get("allowed_updates"),
        }
        if params.get("allowed_updates") is not None:
            self._allowed_updates = list(params["allowed_updates"])
        return True

    def _delete_webhook(self, params: JSONDict, files: dict[str, _Upload]) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._webhook = {"url": ""}
        return True

    def _get_webhook_info(self, params: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        info: JSONDict = {
            "url": self._webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook["url"]:
            info["max_connections"] = self._webhook["max_connections"]
            if self._webhook.get("allowed_updates") is not None:
                info["allowed_updates"] = self._webhook["allowed_updates"]
        return info

    def _set_my_commands(self, params: JSONDict, files: dict[str, _Upload]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not _BOT_COMMAND.fullmatch(str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = _commands_key(params.get("scope"), str(params.get("language_code") or ""))
        self._commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        return True

    def _get_my_commands(self, params: JSONDict, files: dict[str, _Upload]) -> list[JSONDict]:
        return list(self._commands.get(_commands_key(params.get("scope"), str(params.get("language_code") or "")), []))

    def _delete_my_commands(self, params: JSONDict, files: dict[str, _Upload]) -> bool:
        self._commands.pop(_commands_key(params.get("scope"), str(params.get("language_code") or "")), None)
        return True

    def _send_message(self, params: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        chat = self._chat_for(params)
        text = _str_or_none(params.get("text"))
        parse_mode = _parse_mode(params.get("parse_mode"))
        visible = _checked_text(text, parse_mode, TEXT_LIMIT, "message text is empty", "message is too long")
        markup = _checked_markup(params.get("reply_markup"))
        reply_to = self._reply_to(chat, params)
        self._take_send_token(chat)
        message = self._bot_message(chat, {"text": visible}, markup, reply_to)
        self._sources[(chat.id, message["message_id"])] = (text, parse_mode, _inline(markup))
        self._record_sent(
            "sendMessage",
            chat.id,
            params,
            message["message_id"],
            text=text,
            parse_mode=parse_mode,
            reply_markup=markup,
            link_preview_options=params.get("link_preview_options"),
        )
        return message

    def _send_location(self, params: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        chat = self._chat_for(params)
        latitude, longitude = _checked_location(params)
        markup = _checked_markup(params.get("reply_markup"))
        reply_to = self._reply_to(chat, params)
        self._take_send_token(chat)
        location = {"latitude": latitude, "longitude": longitude}
        message = self._bot_message(chat, {"location": location}, markup, reply_to)
        self._record_sent(
            "sendLocation",
            chat.id,
            params,
            message["message_id"],
            latitude=latitude,
            longitude=longitude,
            reply_markup=markup,
        )
        return message

    def _send_venue(self, params: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        chat = self._chat_for(params)
        latitude, longitude = _checked_location(params)
        title = _str_or_none(params.get("title"))
        address = _str_or_none(params.get("address"))
        if not title:
            raise _bad("title is empty")
        if not address:
            raise _bad("address is empty")
        markup = _checked_markup(params.get("reply_markup"))
        reply_to = self._reply_to(chat, params)
        self._take_send_token(chat)
        location = {"latitude": latitude, "longitude": longitude}
        venue: JSONDict = {"location": location, "title": title, "address": address}
        for extra in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
            if params.get(extra):
                venue[extra] = str(params[extra])
        message = self._bot_message(chat, {"location": location, "venue": venue}, markup, reply_to)
        self._record_sent(
            "sendVenue",
            chat.id,
            params,
            message["message_id"],
            latitude=latitude,
            longitude=longitude,
            title=title,
            address=address,
            reply_markup=markup,
        )
        return message

    def _send_photo(self, params: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        chat = self._chat_for(params)
        photo = params.get("photo")
        upload = files.get("photo")
        if upload is None and isinstance(photo, str) and photo.startswith("attach://"):
            upload = files.get(photo.removeprefix("attach://"))
        stored: _StoredFile | None = None
        if upload is None:
            if not photo:
                raise _bad("there is no photo in the request")
            stored = self._files.get(str(photo))
            if stored is None and not str(photo).startswith(("http://", "https://")):
                raise _bad("wrong file identifier/HTTP URL specified")
        caption = _str_or_none(params.get("caption")) or ""
        parse_mode = _parse_mode(params.get("parse_mode"))
        visible_caption = _visible_text(caption, parse_mode) if caption else ""
        if len(visible_caption) > CAPTION_LIMIT:
            raise _bad("message caption is too long")
        markup = _checked_markup(params.get("reply_markup"))
        reply_to = self._reply_to(chat, params)
        self._take_send_token(chat)
        if stored is None:
            stored = self._store_file(upload.data if upload is not None else b"")
        content: JSONDict = {"photo": self._photo_sizes(stored)}
        if visible_caption:
            content["caption"] = visible_caption
        message = self._bot_message(chat, content, markup, reply_to)
        self._record_sent(
            "sendPhoto",
            chat.id,
            params,
            message["message_id"],
            photo=stored.file_id,
            caption=caption or None,
            parse_mode=parse_mode,
            reply_markup=markup,
        )
        return message

    def _send_chat_action(self, params: JSONDict, files: dict[str, _Upload]) -> bool:
        self._chat_for(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    def _edit_message_text(self, params: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        chat, message = self._message_to_edit(params)
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        text = _str_or_none(params.get("text"))
        parse_mode = _parse_mode(params.get("parse_mode"))
        visible = _checked_text(text, parse_mode, TEXT_LIMIT, "message text is empty", "message is too long")
        markup = _checked_inline_markup(params.get("reply_markup"))
        key = (chat.id, message["message_id"])
        source = (text, parse_mode, _inline(markup))
        if self._sources.get(key) == source:
            raise _not_modified()
        self._sources[key] = source
        message["text"] = visible
        message["edit_date"] = int(time.time())
        self._set_markup(message, markup)
        self._record_sent(
            "editMessageText",
            chat.id,
            params,
            message["message_id"],
            text=text,
            parse_mode=parse_mode,
            reply_markup=markup,
            link_preview_options=params.get("link_preview_options"),
        )
        return json.loads(json.dumps(message))

    def _edit_message_reply_markup(self, params: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        chat, message = self._message_to_edit(params)
        markup = _checked_inline_markup(params.get("reply_markup"))
        if message.get("reply_markup") == _inline(markup):
            raise _not_modified()
        key = (chat.id, message["message_id"])
        if key in self._sources:
            self._sources[key] = (*self._sources[key][:2], _inline(markup))
        message["edit_date"] = int(time.time())
        self._set_markup(message, markup)
        self._record_sent("editMessageReplyMarkup", chat.id, params, message["message_id"], reply_markup=markup)
        return json.loads(json.dumps(message))

    def _delete_message(self, params: JSONDict, files: dict[str, _Upload]) -> bool:
        chat = self._chat_for(params)
        message_id = params.get("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        if self._messages.pop((chat.id, message_id), None) is None:
            raise _bad("message to delete not found")
        self._sources.pop((chat.id, message_id), None)
        self._record_sent("deleteMessage", chat.id, params, message_id)
        return True

    def _answer_callback_query(self, params: JSONDict, files: dict[str, _Upload]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        chat_id = self._callbacks.pop(query_id, None)
        if chat_id is None:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = _str_or_none(params.get("text"))
        if text is not None and len(text) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        self._record_sent("answerCallbackQuery", chat_id, params, None, text=text)
        return True

    def _get_file(self, params: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _bad("invalid file_id")
        return stored.as_dict()

    # -- helpers (lock held) -------------------------------------------------------------------------------------

    def _ensure_chat(self, chat_id: int, *, first_name: str | None = None) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_id > 0:
                chat_type = "private"
            elif chat_id <= _SUPERGROUP_BELOW:
                chat_type = "supergroup"
            else:
                chat_type = "group"
            chat = _Chat(id=chat_id, type=chat_type, first_name=first_name)
            self._chats[chat_id] = chat
        return chat

    def _chat_for(self, params: JSONDict) -> _Chat:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty")
        if isinstance(chat_id, int):
            chat = self._chats.get(chat_id)
        else:
            username = str(chat_id).removeprefix("@")
            chat = next((c for c in self._chats.values() if c.username == username), None)
        if chat is None:
            raise _ApiError(400, _CHAT_NOT_FOUND)
        if chat.blocked:
            raise _ApiError(403, _FORBIDDEN_PRIVATE if chat.type == "private" else _FORBIDDEN_GROUP)
        return chat

    def _take_send_token(self, chat: _Chat) -> None:
        limits = self._limits
        if not limits.enabled:
            return
        now = time.monotonic()
        if self._bot_bucket is None:
            self._bot_bucket = _Bucket(limits.rate_per_bot, limits.burst_per_bot, limits.burst_per_bot, now)
        bucket = self._chat_buckets.get(chat.id)
        if bucket is None:
            if chat.type == "private":
                rate, burst = limits.rate_per_chat, limits.burst_per_chat
            else:
                rate, burst = limits.rate_per_group, limits.burst_per_group
            bucket = self._chat_buckets[chat.id] = _Bucket(rate, burst, burst, now)
        wait = max(self._bot_bucket.wait(now), bucket.wait(now))
        if wait > 0:
            self._count_429 += 1
            raise _too_many_requests(max(1, math.ceil(wait)))
        self._bot_bucket.tokens -= 1
        bucket.tokens -= 1

    def _reply_to(self, chat: _Chat, params: JSONDict) -> JSONDict | None:
        reply = params.get("reply_parameters")
        message_id = reply.get("message_id") if isinstance(reply, dict) else params.get("reply_to_message_id")
        if message_id is None:
            return None
        message = self._messages.get((chat.id, int(message_id)))
        allow = params.get("allow_sending_without_reply") or (
            isinstance(reply, dict) and reply.get("allow_sending_without_reply")
        )
        if message is None and not allow:
            raise _bad("message to be replied not found")
        return message

    def _bot_message(
        self, chat: _Chat, content: JSONDict, markup: JSONDict | None, reply_to: JSONDict | None
    ) -> JSONDict:
        chat.last_message_id += 1
        message: JSONDict = {
            "message_id": chat.last_message_id,
            "from": self._bot_user,
            "chat": chat.as_dict(),
            "date": int(time.time()),
            **content,
        }
        if reply_to is not None:
            message["reply_to_message"] = {k: v for k, v in reply_to.items() if k != "reply_to_message"}
        self._set_markup(message, markup)
        self._messages[(chat.id, chat.last_message_id)] = message
        return json.loads(json.dumps(message))

    @staticmethod
    def _set_markup(message: JSONDict, markup: JSONDict | None) -> None:
        # A Message carries only inline keyboards: reply keyboards and their removal do not come back.
        inline = _inline(markup)
        if inline is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = inline

    def _message_to_edit(self, params: JSONDict) -> tuple[_Chat, JSONDict]:
        if params.get("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        chat = self._chat_for(params)
        message_id = params.get("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        message = self._messages.get((chat.id, message_id))
        if message is None:
            raise _bad("message to edit not found")
        if message["from"]["id"] != self.bot_id:
            raise _bad("message can't be edited")
        return chat, message

    def _record_sent(self, method: str, chat_id: int, params: JSONDict, message_id: int | None, **fields: Any) -> None:
        entry: JSONDict = {"method": method, "chat_id": chat_id, "message_id": message_id}
        entry.update(dict.fromkeys(_SENT_KEYS))
        entry.update(fields)
        entry["params"] = params
        entry["time"] = time.time()
        self._sent.append(entry)
        self._sent_by_chat.setdefault(chat_id, []).append(entry)
        self._changed.notify_all()
        _LOG.debug("%s to %s: %s", method, chat_id, entry.get("text") or entry.get("title") or "")

    def _user_dict(self, chat_id: int, first_name: str, language_code: str, user_id: int | None) -> JSONDict:
        if user_id is None:
            user_id = chat_id if chat_id > 0 else 1_000_001
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}

    def _user_message(self, chat_id: int, first_name: str, language_code: str, user_id: int | None) -> JSONDict:
        chat = self._ensure_chat(chat_id, first_name=first_name)
        if chat.type == "private":
            chat.first_name = first_name
        chat.last_message_id += 1
        message = {
            "message_id": chat.last_message_id,
            "from": self._user_dict(chat_id, first_name, language_code, user_id),
            "chat": chat.as_dict(),
            "date": int(time.time()),
        }
        self._messages[(chat_id, chat.last_message_id)] = message
        return message

    def _callback_message(self, chat_id: int, message_id: int | None) -> JSONDict:
        if message_id is not None:
            message = self._messages.get((chat_id, message_id))
            if message is None or message["from"]["id"] != self.bot_id:
                raise ValueError(f"the bot has no message {message_id} in chat {chat_id}")
            return message
        own = [m for (c, _), m in self._messages.items() if c == chat_id and m["from"]["id"] == self.bot_id]
        if not own:
            raise ValueError(f"the bot has sent no message to chat {chat_id}: nothing to press a button on")
        with_keyboard = [m for m in own if "reply_markup" in m]
        return max(with_keyboard or own, key=lambda m: m["message_id"])

    def _store_file(self, data: bytes) -> _StoredFile:
        self._file_counter += 1
        n = self._file_counter
        stored = _StoredFile(
            file_id=f"AgACAgIAAxkBAAI{n:010d}",
            file_unique_id=f"AQAD{n:08d}",
            file_path=f"photos/file_{n}.jpg",
            data=data,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    @staticmethod
    def _photo_sizes(stored: _StoredFile) -> list[JSONDict]:
        width, height = _image_size(stored.data)
        return [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.data),
                "width": width,
                "height": height,
            }
        ]

    @staticmethod
    def _check_limits(limits: Limits) -> None:
        for name in ("rate_per_bot", "burst_per_bot", "rate_per_chat", "burst_per_chat"):
            if getattr(limits, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if limits.rate_per_group <= 0 or limits.burst_per_group <= 0:
            raise ValueError("rate_per_group and burst_per_group must be positive")


# -- request parsing ---------------------------------------------------------------------------------------------


async def _read_params(request: web.Request) -> tuple[JSONDict, dict[str, _Upload]]:
    """Query string, then a JSON, urlencoded or multipart body, with values read back to their types."""
    raw: JSONDict = dict(request.query)
    files: dict[str, _Upload] = {}
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as exc:
                raise _bad("can't parse JSON object") from exc
            if not isinstance(body, dict):
                raise _bad("can't parse JSON object")
            raw.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    files[key] = _Upload(value.filename, value.file.read())
                elif isinstance(value, bytes | bytearray):
                    raw[key] = bytes(value).decode("utf-8", "replace")
                else:
                    raw[key] = value
    return {key: _coerce(key, value) for key, value in raw.items()}, files


def _coerce(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if name == "chat_id":
        return int(value) if _INT.fullmatch(value) else value
    try:
        if name in _JSON_FIELDS:
            return json.loads(value)
        if name in _INT_FIELDS:
            return int(value)
        if name in _FLOAT_FIELDS:
            return float(value)
    except ValueError as exc:
        if name == "reply_markup":
            raise _bad("can't parse reply keyboard markup JSON object") from exc
        raise _bad(f"can't parse {name}") from exc
    if name in _BOOL_FIELDS:
        return value.lower() in ("true", "1")
    return value


# -- Telegram's checks -------------------------------------------------------------------------------------------


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _parse_mode(value: Any) -> str | None:
    if value is None or value == "":
        return None
    mode = {"html": "HTML", "markdown": "Markdown", "markdownv2": "MarkdownV2"}.get(str(value).lower())
    if mode is None:
        raise _bad(f"unsupported parse_mode {value}")
    return mode


def _checked_text(text: str | None, parse_mode: str | None, limit: int, empty: str, too_long: str) -> str:
    if text is None or not text.strip():
        raise _bad(empty)
    visible = _visible_text(text, parse_mode)
    if not visible.strip():
        raise _bad(empty)
    if len(visible) > limit:
        raise _bad(too_long)
    return visible


def _visible_text(text: str, parse_mode: str | None) -> str:
    """The text a user sees (markup parsed away), or Telegram's "can't parse entities" error."""
    if parse_mode == "HTML":
        return _html_visible(text)
    if parse_mode == "MarkdownV2":
        return _markdown_v2_visible(text)
    return text


def _checked_location(params: JSONDict) -> tuple[float, float]:
    latitude, longitude = params.get("latitude"), params.get("longitude")
    if latitude is None:
        raise _bad("latitude is empty")
    if longitude is None:
        raise _bad("longitude is empty")
    latitude, longitude = float(latitude), float(longitude)
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        raise _bad("wrong location")
    return latitude, longitude


def _checked_markup(markup: Any) -> JSONDict | None:
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad("can't parse inline keyboard markup JSON object")
        for row in rows:
            for button in row:
                _check_inline_button(button)
        return markup
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad("can't parse reply keyboard markup JSON object")
        for row in rows:
            for button in row:
                if not (isinstance(button, str) or (isinstance(button, dict) and isinstance(button.get("text"), str))):
                    raise _bad('can\'t parse keyboard button: Field "text" must be of type String')
        return markup
    if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
        return markup
    raise _bad("can't parse reply keyboard markup JSON object")


def _checked_inline_markup(markup: Any) -> JSONDict | None:
    checked = _checked_markup(markup)
    if checked is not None and "inline_keyboard" not in checked:
        raise _bad("inline keyboard expected")
    return checked


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
    if not _INLINE_ACTIONS & button.keys():
        raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
    data = button.get("callback_data")
    if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
        raise _bad("BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None:
        parts = urlsplit(str(url))
        # Telegram refuses buttons that point at hosts without a domain, such as localhost.
        if parts.scheme == "tg" or (parts.scheme in ("http", "https") and "." in (parts.hostname or "")):
            return
        raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def _inline(markup: JSONDict | None) -> JSONDict | None:
    if markup is None or not markup.get("inline_keyboard"):
        return None
    return {"inline_keyboard": markup["inline_keyboard"]}


def _not_modified() -> _ApiError:
    return _bad(
        "message is not modified: specified new message content and reply markup are exactly the same "
        "as a current content and reply markup of the message"
    )


def _too_many_requests(retry_after: int) -> _ApiError:
    return _ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


def _entities_error(detail: str) -> _ApiError:
    return _bad(f"can't parse entities: {detail}")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


_HTML_TAGS = frozenset("b strong i em u ins s strike del span tg-spoiler a code pre blockquote tg-emoji".split())


class _TelegramHtml(HTMLParser):
    """Telegram's HTML: a handful of tags, properly nested; anything else is a parse error."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text = text
        self.visible: list[str] = []
        self.stack: list[str] = []
        self.error: str | None = None
        self._line_starts = [0]
        for line in text.splitlines(keepends=True):
            self._line_starts.append(self._line_starts[-1] + len(line))

    def byte_position(self) -> int:
        line, column = self.getpos()
        return _byte_offset(self.text, self._line_starts[line - 1] + column)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.error is not None:
            return
        if tag not in _HTML_TAGS:
            self.error = f'Unsupported start tag "{tag}" at byte offset {self.byte_position()}'
        elif tag == "span" and dict(attrs).get("class") != "tg-spoiler":
            self.error = f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte_position()}'
        else:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.error is not None:
            return
        if not self.stack:
            self.error = f"Unexpected end tag at byte offset {self.byte_position()}"
        elif self.stack[-1] != tag:
            expected = self.stack[-1]
            self.error = (
                f'Unmatched end tag at byte offset {self.byte_position()}, expected "</{expected}>", found "</{tag}>"'
            )
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.visible.append(data)


def _html_visible(text: str) -> str:
    parser = _TelegramHtml(text)
    parser.feed(text)
    parser.close()
    if parser.error is None and parser.stack:
        parser.error = f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
    if parser.error is not None:
        raise _entities_error(parser.error)
    return "".join(parser.visible)


_MD2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD2_ENTITIES = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough", "||": "Spoiler"}


def _find_unescaped(text: str, char: str, start: int) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == char:
            return i
        else:
            i += 1
    return -1


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def _markdown_v2_visible(text: str) -> str:
    """Telegram's MarkdownV2: reserved characters escaped, entities closed; returns the visible text."""
    out: list[str] = []
    open_at: dict[str, int] = {}
    links: list[int] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        line_start = i == 0 or text[i - 1] == "\n"
        if c == "\\":
            if i + 1 >= n:
                raise _entities_error("Character '\\' is reserved and must be escaped with the preceding '\\'")
            out.append(text[i + 1])
            i += 2
            continue
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            if end < 0:
                raise _entities_error(f"Can't find end of Pre entity at byte offset {_byte_offset(text, i)}")
            body = text[i + 3 : end]
            first, newline, rest = body.partition("\n")
            if newline and first and " " not in first:  # the language line
                body = rest
            out.append(_unescape(body))
            i = end + 3
            continue
        if c == "`":
            end = _find_unescaped(text, "`", i + 1)
            if end < 0:
                raise _entities_error(f"Can't find end of Code entity at byte offset {_byte_offset(text, i)}")
            out.append(_unescape(text[i + 1 : end]))
            i = end + 1
            continue
        if c == "!" and text.startswith("[", i + 1):  # custom emoji: ![👍](tg://emoji?id=...)
            i += 1
            continue
        if c == "[":
            links.append(i)
            i += 1
            continue
        if c == "]":
            if not links:
                raise _entities_error("Character ']' is reserved and must be escaped with the preceding '\\'")
            start = links.pop()
            if text.startswith("(", i + 1):
                end = _find_unescaped(text, ")", i + 2)
                if end < 0:
                    raise _entities_error(f"Can't find end of a URL at byte offset {_byte_offset(text, start)}")
                i = end + 1
            else:
                i += 1
            continue
        if line_start and text.startswith("**>", i):  # expandable block quotation
            i += 3
            continue
        if c == ">" and line_start:  # block quotation
            i += 1
            continue
        if c == "|" and text.startswith("||", i):
            marker = "||"
        elif c == "_":
            marker = "__" if text.startswith("__", i) else "_"
        elif c in "*~":
            marker = c
        elif c in _MD2_RESERVED:
            raise _entities_error(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
        else:
            out.append(c)
            i += 1
            continue
        if marker in open_at:
            del open_at[marker]
        else:
            open_at[marker] = i
        i += len(marker)
    if open_at:
        marker, start = min(open_at.items(), key=lambda item: item[1])
        raise _entities_error(
            f"Can't find end of {_MD2_ENTITIES[marker]} entity at byte offset {_byte_offset(text, start)}"
        )
    if links:
        raise _entities_error(f"Can't find end of TextUrl entity at byte offset {_byte_offset(text, links[0])}")
    return "".join(out)


# -- small helpers -----------------------------------------------------------------------------------------------


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _commands_key(scope: Any, language_code: str) -> tuple[str, str]:
    return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code


def _image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG or JPEG; a plausible size for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 <= len(data) and data[i] == 0xFF:
            marker = data[i + 1]
            length = int.from_bytes(data[i + 2 : i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
            i += 2 + length
    return 320, 240


def _json_error(status: int, description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": status, "description": description}, status=status)


def _summary(entries: list[JSONDict]) -> str:
    if not entries:
        return "nothing"
    shown = [
        f"{e['method']} #{e['message_id']}: {(e.get('text') or e.get('title') or e.get('photo') or '')[:80]!r}"
        for e in entries[-20:]
    ]
    more = f" (and {len(entries) - 20} earlier)" if len(entries) > 20 else ""
    return "; ".join(shown) + more


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A fake Telegram Bot API server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--token", default="123:ABC")
    parser.add_argument("--no-limits", action="store_true", help="never answer 429")
    parser.add_argument("--rate-per-bot", type=float, default=30.0)
    parser.add_argument("--rate-per-chat", type=float, default=1.0)
    parser.add_argument("--rate-per-group", type=float, default=20 / 60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="log every message the bot sends")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.verbose:
        _LOG.setLevel(logging.DEBUG)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    fake = FakeTelegram(
        args.token,
        port=args.port,
        rate_per_bot=args.rate_per_bot,
        rate_per_chat=args.rate_per_chat,
        rate_per_group=args.rate_per_group,
        limits=not args.no_limits,
        seed=args.seed,
    )
    with fake:
        sys.stdout.write(f"{fake.base_url}\n")
        sys.stdout.flush()
        _LOG.info("fake Telegram Bot API on %s (token %s); SIGTERM or Ctrl-C stops it", fake.base_url, args.token)
        while not stop.wait(0.5):
            pass
    _LOG.info("stopped: %d messages sent, %d answered 429", len(fake.all_sent()), fake.count_429)
    return 0


if __name__ == "__main__":
    sys.exit(main())
