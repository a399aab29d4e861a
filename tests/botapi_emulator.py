"""An in-process Telegram Bot API emulator for end-to-end tests.

The emulator is an :mod:`aiohttp` web server that speaks the Bot API wire format that
python-telegram-bot (v22) sends and parses:

* ``POST``/``GET`` ``/bot{token}/{method}`` (method names are case-insensitive),
* ``GET`` ``/file/bot{token}/{file_path}`` for file downloads.

Point a bot at it with ``Bot(token, base_url=emu.base_url, base_file_url=emu.base_file_url)``
(or the same two calls on ``ApplicationBuilder``).

Test code creates incoming updates (``private_message``, ``group_message``, ``callback_query``,
...), which are queued and handed out by ``getUpdates`` (long polling is supported), and
inspects what the bot did through ``calls``, ``calls_to``, ``sent_messages`` and
``wait_for_call``. Faults can be injected with ``fail_next`` and ``delay``; the server can be
stopped and restarted on the same port with ``stop``/``start`` while all state is kept.

Everything runs on the event loop of the test; the test-side API is plain synchronous Python
(except the ``wait_*`` helpers, ``start`` and ``stop``) and must be used from that loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import re
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, overload

from aiohttp import web

__all__ = [
    "DEFAULT_BOT_FIRST_NAME",
    "DEFAULT_BOT_USERNAME",
    "DEFAULT_TOKEN",
    "ApiError",
    "BotApiEmulator",
    "Call",
    "EntityParseError",
    "StoredFile",
    "UploadedFile",
    "auto_entities",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "utf16_len",
]

JSONDict = dict[str, Any]

DEFAULT_TOKEN = "987654321:AAH-fake-token-for-tests_0123456789"
DEFAULT_BOT_FIRST_NAME = "사고 안내봇"
DEFAULT_BOT_USERNAME = "kakao_outage_bot"
DEFAULT_GROUP_ID = -1001234567890

MAX_MESSAGE_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_RESULTS = 50
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_LONG_POLL_TIMEOUT = 50.0

QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
CONFLICT_OTHER_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)

DEFAULT_ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: CONFLICT_OTHER_POLL,
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

# Parameters whose form-encoded value is a JSON document.
JSON_PARAMS = frozenset(
    {
        "allowed_updates",
        "button",
        "caption_entities",
        "chat_permissions",
        "commands",
        "entities",
        "explanation_entities",
        "link_preview_options",
        "media",
        "menu_button",
        "message_ids",
        "options",
        "permissions",
        "reaction",
        "reply_markup",
        "reply_parameters",
        "results",
        "rights",
        "scope",
        "text_entities",
    }
)
INT_PARAMS = frozenset(
    {
        "cache_time",
        "chat_id",
        "duration",
        "from_chat_id",
        "height",
        "limit",
        "max_connections",
        "message_id",
        "message_thread_id",
        "offset",
        "reply_to_message_id",
        "until_date",
        "user_id",
        "width",
    }
)
FLOAT_PARAMS = frozenset({"timeout"})
BOOL_PARAMS = frozenset(
    {
        "allow_paid_broadcast",
        "allow_sending_without_reply",
        "disable_content_type_detection",
        "disable_notification",
        "disable_web_page_preview",
        "drop_pending_updates",
        "for_channels",
        "has_spoiler",
        "is_personal",
        "protect_content",
        "show_alert",
        "show_caption_above_media",
    }
)

# Update types Telegram does not send unless explicitly listed in allowed_updates.
OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
KNOWN_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
INLINE_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


# --------------------------------------------------------------------------------------------
# Errors and records
# --------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer of the Bot API (``{"ok": false, ...}``)."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class EntityParseError(ValueError):
    """Raised by the formatting parsers; the message is the part after "can't parse entities"."""


class _DroppedConnection(Exception):
    """The connection was (or is to be) closed without sending a response."""


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    content: bytes


@dataclass
class StoredFile:
    """A file known to the emulator (uploaded by the bot or created by the test)."""

    file_id: str
    file_unique_id: str
    content: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None

    @property
    def file_size(self) -> int:
        return len(self.content)


@dataclass
class Call:
    """One request received by the emulator.

    ``time`` is :func:`time.monotonic` at arrival. ``status`` is ``None`` while the request is
    still being processed, else the HTTP status that was (or would have been) sent; ``result``
    is the ``result`` of a successful answer and ``error`` the description of a failed one.
    ``dropped`` is true when the connection was closed without an answer (client gone during a
    delay, emulator stopped during a long poll).
    """

    method: str
    params: JSONDict
    time: float
    http_method: str = "POST"
    status: int | None = None
    result: Any = None
    error: str | None = None
    dropped: bool = False
    finished_at: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def done(self) -> bool:
        return self.status is not None or self.dropped

    def summary(self) -> str:
        shown = {k: v for k, v in self.params.items() if not isinstance(v, UploadedFile)}
        text = json.dumps(shown, ensure_ascii=False, default=str)
        if len(text) > 160:
            text = text[:157] + "..."
        state = "pending" if not self.done else ("dropped" if self.dropped else str(self.status))
        return f"{self.method}({text}) -> {state}" + (f" {self.error!r}" if self.error else "")


@dataclass
class _Fault:
    method: str
    status: int
    description: str
    retry_after: int | None
    remaining: int
    body: bytes | None


@dataclass
class _Delay:
    method: str
    seconds: float
    remaining: int
    process_first: bool


@dataclass
class _OpenTag:
    name: str
    start: int
    attrs: dict[str, str]
    byte_offset: int
    language: str | None = None


@dataclass
class _MdOpen:
    kind: str
    start: int
    byte_offset: int
    out_index: int
    argument: str = ""


@dataclass
class _CallbackQueryState:
    query: JSONDict
    answered: bool = False
    answer: JSONDict | None = None


@dataclass
class _InlineQueryState:
    query: JSONDict
    answered: bool = False
    answer: JSONDict | None = None


@dataclass
class _Chat:
    data: JSONDict


# --------------------------------------------------------------------------------------------
# Text helpers: UTF-16 lengths, automatic entities, formatting parsers
# --------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Bot API entity offsets."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _utf8_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


_COMMAND_RE = re.compile(r"(?<![^\s])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")
_MENTION_RE = re.compile(r"(?<![\w@/])@[A-Za-z][A-Za-z0-9_]{3,31}(?![\w@])")
_URL_RE = re.compile(r"(?<![\w@/])https?://[^\s<>\"']+")
_URL_TRAILING = ".,;:!?)]}'\""


def auto_entities(text: str) -> list[JSONDict]:
    """Entities Telegram detects in a user's plain text: bot commands, @mentions and URLs.

    Offsets and lengths are in UTF-16 code units.
    """
    spans: list[tuple[int, int, str]] = []
    for match in _COMMAND_RE.finditer(text):
        spans.append((match.start(), match.end(), "bot_command"))

    def overlaps(start: int, end: int) -> bool:
        return any(s < end and start < e for s, e, _ in spans)

    for match in _URL_RE.finditer(text):
        end = match.end()
        while end > match.start() and text[end - 1] in _URL_TRAILING:
            end -= 1
        if not overlaps(match.start(), end):
            spans.append((match.start(), end, "url"))
    for match in _MENTION_RE.finditer(text):
        if not overlaps(match.start(), match.end()):
            spans.append((match.start(), match.end(), "mention"))
    spans.sort()
    return [
        {
            "offset": utf16_len(text[:start]),
            "length": utf16_len(text[start:end]),
            "type": kind,
        }
        for start, end, kind in spans
    ]


_HTML_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,7}));")


def _decode_html_entity(match: re.Match[str]) -> str | None:
    if match.group(1):
        return _HTML_NAMED_ENTITIES[match.group(1)]
    code = int(match.group(2)) if match.group(2) else int(match.group(3), 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _decode_attribute(value: str) -> str:
    # Attribute values (URLs!) tolerate a bare '&', like Telegram does.
    def repl(match: re.Match[str]) -> str:
        decoded = _decode_html_entity(match)
        return match.group(0) if decoded is None else decoded

    return _HTML_ENTITY_RE.sub(repl, value)


def parse_html(
    source: str, *, users: dict[int, JSONDict] | None = None
) -> tuple[str, list[JSONDict]]:
    """Parse Telegram-flavoured HTML into ``(plain_text, entities)``.

    Raises :class:`EntityParseError` with Telegram's wording on malformed input. Unlike real
    Telegram (which lets a bare ``&`` through), a ``&`` that does not start one of the
    supported character references is an error, as is any bare ``<``.
    """
    out: list[str] = []
    pos = 0  # UTF-16 offset in the output
    stack: list[_OpenTag] = []
    entities: list[JSONDict] = []
    n = len(source)
    i = 0
    while i < n:
        ch = source[i]
        if ch == "&":
            match = _HTML_ENTITY_RE.match(source, i)
            decoded = _decode_html_entity(match) if match else None
            if match is None or decoded is None:
                raise EntityParseError(
                    f"Character '&' at byte offset {_utf8_offset(source, i)} must be escaped "
                    'as "&amp;" when it does not start an HTML entity'
                )
            out.append(decoded)
            pos += utf16_len(decoded)
            i = match.end()
            continue
        if ch != "<":
            out.append(ch)
            pos += 2 if ord(ch) > 0xFFFF else 1
            i += 1
            continue

        begin = i
        begin_bytes = _utf8_offset(source, begin)
        i += 1
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin_bytes}")
        if source[i] == "/":
            i += 1
            j = i
            while j < n and not source[j].isspace() and source[j] != ">":
                j += 1
            name = source[i:j].lower()
            while j < n and source[j].isspace():
                j += 1
            if j >= n or source[j] != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {begin_bytes}")
            i = j + 1
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {begin_bytes}")
            top = stack.pop()
            if name != top.name:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {begin_bytes}, expected "
                    f'"</{top.name}>", found "</{name}>"'
                )
            _close_html_tag(top, pos, stack, entities, out, users or {})
            continue

        j = i
        while j < n and not source[j].isspace() and source[j] != ">":
            j += 1
        if j >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin_bytes}")
        name = source[i:j].lower()
        if name not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {begin_bytes}')
        attrs: dict[str, str] = {}
        i = j
        while True:
            while i < n and source[i].isspace():
                i += 1
            if i >= n:
                raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {begin_bytes}')
            if source[i] == ">":
                i += 1
                break
            attr_begin = i
            while i < n and not source[i].isspace() and source[i] not in "=>":
                i += 1
            attr_name = source[attr_begin:i].lower()
            if not attr_name:
                raise EntityParseError(
                    f'Empty attribute name in the tag "{name}" at byte offset '
                    f"{_utf8_offset(source, attr_begin)}"
                )
            while i < n and source[i].isspace():
                i += 1
            if i >= n or source[i] != "=":
                attrs.setdefault(
                    attr_name, ""
                )  # valueless attribute, e.g. <blockquote expandable>
                continue
            i += 1
            while i < n and source[i].isspace():
                i += 1
            if i >= n:
                raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {begin_bytes}')
            if source[i] in "\"'":
                end = source.find(source[i], i + 1)
                if end < 0:
                    raise EntityParseError(
                        f'Unclosed start tag "{name}" at byte offset {begin_bytes}'
                    )
                raw_value = source[i + 1 : end]
                i = end + 1
            else:
                value_begin = i
                while i < n and not source[i].isspace() and source[i] != ">":
                    i += 1
                raw_value = source[value_begin:i]
            attrs.setdefault(attr_name, _decode_attribute(raw_value))
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {begin_bytes}'
            )
        if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise EntityParseError(
                f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {begin_bytes}'
            )
        stack.append(_OpenTag(name=name, start=pos, attrs=attrs, byte_offset=begin_bytes))

    if stack:
        raise EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"'
        )
    return "".join(out), _sorted_entities(entities)


def _close_html_tag(
    tag: _OpenTag,
    end: int,
    stack: list[_OpenTag],
    entities: list[JSONDict],
    out: list[str],
    users: dict[int, JSONDict],
) -> None:
    if tag.name == "code" and stack and stack[-1].name == "pre":
        language = tag.attrs.get("class", "")
        if language.startswith("language-") and stack[-1].start == tag.start:
            stack[-1].language = language[len("language-") :]
        return
    if any(t.name in ("code", "pre") for t in stack):
        return  # Telegram drops entities nested in code/pre
    length = end - tag.start
    if length <= 0:
        return
    kind = _HTML_TAGS[tag.name]
    entity: JSONDict = {"offset": tag.start, "length": length, "type": kind}
    if kind == "text_link":
        href = tag.attrs.get("href", "").strip()
        if not href:
            return
        user_match = re.fullmatch(r"tg://user\?id=(\d+)", href)
        if user_match and int(user_match.group(1)) in users:
            entity["type"] = "text_mention"
            entity["user"] = copy.deepcopy(users[int(user_match.group(1))])
        else:
            entity["url"] = href
    elif kind == "pre" and tag.language:
        entity["language"] = tag.language
    elif kind == "blockquote" and "expandable" in tag.attrs:
        entity["type"] = "expandable_blockquote"
    elif kind == "custom_emoji":
        entity["custom_emoji_id"] = tag.attrs["emoji-id"]
    entities.append(entity)


def _sorted_entities(entities: list[JSONDict]) -> list[JSONDict]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _char_at(text: str, index: int) -> str:
    return text[index] if index < len(text) else ""


def parse_markdown_v2(source: str) -> tuple[str, list[JSONDict]]:
    """Parse MarkdownV2 like Telegram (bold, italic, underline, strikethrough, spoiler, code,
    pre, links, custom emoji, ``>`` block quotes); raises :class:`EntityParseError`."""
    out: list[str] = []
    pos = 0
    stack: list[_MdOpen] = []
    entities: list[JSONDict] = []
    quote_start: int | None = None
    quote_end = 0
    n = len(source)
    i = 0

    def emit(text: str) -> None:
        nonlocal pos
        out.append(text)
        pos += utf16_len(text)

    def reserved_error(index: int) -> EntityParseError:
        return EntityParseError(
            f"Character '{source[index]}' is reserved and must be escaped with the preceding '\\'"
        )

    while i < n:
        ch = source[i]
        line_start = i == 0 or source[i - 1] == "\n"
        if line_start and not stack:
            if ch == ">":
                if quote_start is None:
                    quote_start = pos
                i += 1
                continue
            if quote_start is not None:
                entities.append(
                    {
                        "offset": quote_start,
                        "length": quote_end - quote_start,
                        "type": "blockquote",
                    }
                )
                quote_start = None
        if ch == "\n" and quote_start is not None and not stack:
            quote_end = pos
        if ch == "\\" and i + 1 < n and 0 < ord(source[i + 1]) <= 126:
            emit(source[i + 1])
            i += 2
            continue
        in_code = bool(stack) and stack[-1].kind in ("code", "pre")
        reserved = "`" if in_code else _MDV2_RESERVED
        if ch not in reserved:
            emit(ch)
            i += 1
            continue
        top = stack[-1].kind if stack else None
        nxt = _char_at(source, i + 1)
        is_end = (
            (top == "bold" and ch == "*")
            or (top == "italic" and ch == "_" and nxt != "_")
            or (top == "code" and ch == "`")
            or (top == "pre" and source.startswith("```", i))
            or (top in ("text_link", "custom_emoji") and ch == "]")
            or (top == "underline" and ch == "_" and nxt == "_")
            or (top == "strikethrough" and ch == "~")
            or (top == "spoiler" and ch == "|" and nxt == "|")
        )
        byte_offset = _utf8_offset(source, i)
        if not is_end:
            argument = ""
            if ch == "_":
                kind = "underline" if nxt == "_" else "italic"
                i += 2 if nxt == "_" else 1
            elif ch == "*":
                kind = "bold"
                i += 1
            elif ch == "~":
                kind = "strikethrough"
                i += 1
            elif ch == "|":
                if nxt != "|":
                    raise reserved_error(i)
                kind = "spoiler"
                i += 2
            elif ch == "[":
                kind = "text_link"
                i += 1
            elif ch == "!":
                if nxt != "[":
                    raise reserved_error(i)
                kind = "custom_emoji"
                i += 2
            elif ch == "`":
                if source.startswith("```", i):
                    kind = "pre"
                    i += 3
                    lang_end = i
                    while (
                        lang_end < n
                        and not source[lang_end].isspace()
                        and (source[lang_end] != "`")
                    ):
                        lang_end += 1
                    if i != lang_end and lang_end < n and source[lang_end] != "`":
                        argument = source[i:lang_end]
                        i = lang_end
                    if _char_at(source, i) in ("\n", "\r"):
                        pair = source[i : i + 2]
                        i += 2 if pair in ("\r\n", "\n\r") else 1
                else:
                    kind = "code"
                    i += 1
            else:
                raise reserved_error(i)
            stack.append(
                _MdOpen(
                    kind=kind,
                    start=pos,
                    byte_offset=byte_offset,
                    out_index=len(out),
                    argument=argument,
                )
            )
            continue

        opened = stack.pop()
        skip = pos == opened.start
        entity: JSONDict = {"offset": opened.start, "length": pos - opened.start}
        if opened.kind in ("underline", "spoiler"):
            i += 2
        elif opened.kind == "pre":
            i += 3
        elif opened.kind in ("text_link", "custom_emoji"):
            i += 1
            if _char_at(source, i) != "(":
                if opened.kind == "custom_emoji":
                    raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
                url = "".join(out[opened.out_index :])
            else:
                i += 1
                url_begin = _utf8_offset(source, i)
                url_chars: list[str] = []
                while i < n and source[i] != ")":
                    if source[i] == "\\" and i + 1 < n and 0 < ord(source[i + 1]) <= 126:
                        url_chars.append(source[i + 1])
                        i += 2
                        continue
                    url_chars.append(source[i])
                    i += 1
                if i >= n:
                    what = "a custom emoji URL" if opened.kind == "custom_emoji" else "a URL"
                    raise EntityParseError(f"Can't find end of {what} at byte offset {url_begin}")
                i += 1
                url = "".join(url_chars)
            if opened.kind == "custom_emoji":
                match = re.fullmatch(r"tg://emoji\?id=(\d+)", url)
                if match is None:
                    raise EntityParseError("Custom emoji URL must have an emoji identifier")
                entity["custom_emoji_id"] = match.group(1)
            elif not url.strip() or any(c.isspace() for c in url.strip()):
                skip = True
            else:
                entity["url"] = url.strip()
        else:
            i += 1
        if opened.kind == "pre" and opened.argument:
            entity["language"] = opened.argument
        entity["type"] = opened.kind
        if not skip:
            entities.append(entity)

    if stack:
        raise EntityParseError(
            f"Can't find end of {_MDV2_NAMES[stack[-1].kind]} entity at byte offset "
            f"{stack[-1].byte_offset}"
        )
    if quote_start is not None:
        entities.append({"offset": quote_start, "length": pos - quote_start, "type": "blockquote"})
    entities = [e for e in entities if e["length"] > 0]
    return "".join(out), _sorted_entities(entities)


def parse_markdown(source: str) -> tuple[str, list[JSONDict]]:
    """Parse legacy ``Markdown`` (no nesting): ``*bold*``, ``_italic_``, ```code```, pre,
    ``[text](url)``; raises :class:`EntityParseError`."""
    out: list[str] = []
    pos = 0
    entities: list[JSONDict] = []
    n = len(source)
    i = 0
    while i < n:
        ch = source[i]
        if ch == "\\" and _char_at(source, i + 1) in ("_", "*", "`", "["):
            out.append(source[i + 1])
            pos += 1
            i += 2
            continue
        if ch not in "_*`[":
            out.append(ch)
            pos += utf16_len(ch)
            i += 1
            continue
        begin_bytes = _utf8_offset(source, i)
        end_char = "]" if ch == "[" else ch
        is_pre = False
        language = ""
        if source.startswith("```", i):
            is_pre = True
            i += 3
            lang_end = i
            while lang_end < n and not source[lang_end].isspace() and source[lang_end] != "`":
                lang_end += 1
            if i != lang_end and lang_end < n and source[lang_end] != "`":
                language = source[i:lang_end]
                i = lang_end
            if _char_at(source, i) in ("\n", "\r"):
                i += 1
        else:
            i += 1
        start = pos
        while i < n and (source[i] != end_char or (is_pre and not source.startswith("```", i))):
            out.append(source[i])
            pos += utf16_len(source[i])
            i += 1
        if i >= n:
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {begin_bytes}"
            )
        entity: JSONDict | None = None
        if pos != start:
            if ch == "_":
                entity = {"type": "italic"}
            elif ch == "*":
                entity = {"type": "bold"}
            elif ch == "`":
                entity = {"type": "pre", "language": language} if is_pre else {"type": "code"}
                if is_pre and not language:
                    entity.pop("language")
        if ch == "[":
            url = ""
            if _char_at(source, i + 1) == "(":
                close = source.find(")", i + 2)
                if close >= 0:
                    url = source[i + 2 : close]
                    i = close
            if url and pos != start:
                entity = {"type": "text_link", "url": url}
        i += 3 if is_pre else 1
        if entity is not None:
            entity.update({"offset": start, "length": pos - start})
            entities.append(entity)
    return "".join(out), _sorted_entities(entities)


def _strip_formatted(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Trim surrounding whitespace like Telegram and shift/clip the entities accordingly."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    result: list[JSONDict] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------


Handler = Callable[[JSONDict, web.Request], Any]


class BotApiEmulator:
    """Telegram Bot API emulator; see the module docstring."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        first_name: str = DEFAULT_BOT_FIRST_NAME,
        username: str = DEFAULT_BOT_USERNAME,
        can_join_groups: bool = True,
        can_read_all_group_messages: bool = False,
        supports_inline_queries: bool = True,
        first_update_id: int = 100_000_001,
        strict_chats: bool = True,
    ) -> None:
        bot_id_part = token.split(":", 1)[0]
        if not bot_id_part.isdigit():
            raise ValueError(f"token must look like '<bot id>:<secret>', got {token!r}")
        self.token = token
        self.host = host
        self.port = port
        self.strict_chats = strict_chats
        self.bot_user: JSONDict = {
            "id": int(bot_id_part),
            "is_bot": True,
            "first_name": first_name,
            "username": username,
            "can_join_groups": can_join_groups,
            "can_read_all_group_messages": can_read_all_group_messages,
            "supports_inline_queries": supports_inline_queries,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

        # Recorded traffic
        self.calls: list[Call] = []
        self.file_downloads: list[str] = []
        self.deliveries: Counter[int] = Counter()
        self.enqueued_updates: list[JSONDict] = []
        self.internal_errors: list[Exception] = []

        # Update queue
        self._queue: list[JSONDict] = []
        self._next_update_id = first_update_id
        self.confirmed_offset = 0
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._updates_changed = asyncio.Event()
        self._calls_changed = asyncio.Event()

        # Webhook
        self.webhook: JSONDict = {}

        # World state
        self._users: dict[int, JSONDict] = {}
        self._chats: dict[int, _Chat] = {}
        self._blocked: set[int] = set()
        self._member_status: dict[tuple[int, int], str] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._deleted: set[tuple[int, int]] = set()
        self._bot_message_keys: list[tuple[int, int]] = []
        self._next_message_id: dict[int, int] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_counter = 0
        self._query_counter = 0
        self.callback_queries: dict[str, _CallbackQueryState] = {}
        self.inline_queries: dict[str, _InlineQueryState] = {}
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}

        # Fault injection
        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []

        # Server
        self._runner: web.AppRunner | None = None
        self._running = False
        self._stopping = asyncio.Event()
        self._inflight: dict[int, web.Request] = {}

        self._handlers: dict[str, Handler] = {
            "getMe": self._m_get_me,
            "getUpdates": self._m_get_updates,
            "setWebhook": self._m_set_webhook,
            "deleteWebhook": self._m_delete_webhook,
            "getWebhookInfo": self._m_get_webhook_info,
            "sendMessage": self._m_send_message,
            "editMessageText": self._m_edit_message_text,
            "editMessageCaption": self._m_edit_message_caption,
            "editMessageReplyMarkup": self._m_edit_message_reply_markup,
            "deleteMessage": self._m_delete_message,
            "answerCallbackQuery": self._m_answer_callback_query,
            "answerInlineQuery": self._m_answer_inline_query,
            "setMyCommands": self._m_set_my_commands,
            "getMyCommands": self._m_get_my_commands,
            "deleteMyCommands": self._m_delete_my_commands,
            "sendChatAction": self._m_send_chat_action,
            "getChat": self._m_get_chat,
            "getChatMember": self._m_get_chat_member,
            "getFile": self._m_get_file,
            "sendDocument": self._m_send_document,
            "sendPhoto": self._m_send_photo,
            "sendSticker": self._m_send_sticker,
            "close": self._m_true,
            "logOut": self._m_true,
        }
        self._canonical = {name.lower(): name for name in self._handlers}

    # ----------------------------------------------------------------------------------------
    # Lifecycle
    # ----------------------------------------------------------------------------------------

    @property
    def bot_id(self) -> int:
        return int(self.bot_user["id"])

    @property
    def base_url(self) -> str:
        """For ``Bot(base_url=...)``: ``http://127.0.0.1:PORT/bot`` (PTB appends the token)."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``Bot(base_file_url=...)``: ``http://127.0.0.1:PORT/file/bot``."""
        return f"http://{self.host}:{self.port}/file/bot"

    @property
    def running(self) -> bool:
        return self._running

    async def start(self) -> None:
        """Start serving; binds a free port the first time, the same port on restarts."""
        if self._running:
            return
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{file_path:.+}", self._handle_file)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
            sock.setblocking(False)
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self.port = sock.getsockname()[1]
        self._runner = runner
        self._stopping = asyncio.Event()
        self._running = True

    async def stop(self) -> None:
        """Stop serving (new connections are refused, open ones dropped); state is kept."""
        if self._runner is None:
            return
        self._running = False
        self._stopping.set()
        self._notify_updates()
        for request in list(self._inflight.values()):
            if request.transport is not None:
                request.transport.close()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ----------------------------------------------------------------------------------------
    # HTTP layer
    # ----------------------------------------------------------------------------------------

    async def _read_params(self, request: web.Request) -> JSONDict:
        raw: JSONDict = dict(request.query)
        ctype = request.content_type
        if request.body_exists:
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    raise bad_request("can't parse JSON request body")
                raw.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        raw[key] = UploadedFile(
                            filename=value.filename,
                            content_type=value.content_type,
                            content=value.file.read(),
                        )
                    else:
                        raw[key] = value
        for key, value in list(raw.items()):
            if isinstance(value, str) and value.startswith("attach://"):
                attached = raw.get(value[len("attach://") :])
                if isinstance(attached, UploadedFile):
                    raw[key] = attached
        return raw

    @staticmethod
    def _decode_params(raw: JSONDict) -> tuple[JSONDict, ApiError | None]:
        params: JSONDict = {}
        error: ApiError | None = None
        for key, value in raw.items():
            if isinstance(value, str):
                if key in JSON_PARAMS:
                    try:
                        value = json.loads(value)
                    except ValueError:
                        error = error or bad_request(f"can't parse {key} JSON object")
                elif key in INT_PARAMS and re.fullmatch(r"-?\d+", value.strip()):
                    value = int(value)
                elif key in FLOAT_PARAMS:
                    with contextlib.suppress(ValueError):
                        value = float(value)
                elif key in BOOL_PARAMS and value.lower() in ("true", "false", "1", "0"):
                    value = value.lower() in ("true", "1")
            params[key] = value
        return params, error

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._notify_calls()

    def _finish(
        self, call: Call, status: int, result: Any = None, error: str | None = None
    ) -> None:
        call.status = status
        call.result = result
        call.error = error
        call.finished_at = time.monotonic()
        self._notify_calls()

    @staticmethod
    def _client_gone(request: web.Request) -> bool:
        transport = request.transport
        return transport is None or transport.is_closing()

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        self._inflight[id(request)] = request
        try:
            return await self._dispatch(request)
        finally:
            self._inflight.pop(id(request), None)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        name = request.match_info["method"]
        canonical = self._canonical.get(name.lower())
        call = Call(
            method=canonical or name, params={}, time=time.monotonic(), http_method=request.method
        )
        self._record(call)
        try:
            raw = await self._read_params(request)
        except ApiError as exc:
            return self._error_response(call, exc)
        params, decode_error = self._decode_params(raw)
        call.params = params
        if token != self.token:
            return self._error_response(call, ApiError(401, "Unauthorized"))
        if canonical is None:
            return self._error_response(call, ApiError(404, "Not Found"))

        fault = self._take(self._faults, canonical)
        delay = self._take(self._delays, canonical)
        if delay is not None and not delay.process_first:
            await self._sleep(delay.seconds)
            if self._client_gone(request) or not self._running:
                return self._drop(call, request)

        response: web.StreamResponse
        if fault is not None:
            response = self._fault_response(call, fault)
        else:
            try:
                if decode_error is not None:
                    raise decode_error
                result = await self._handlers[canonical](params, request)
            except ApiError as exc:
                response = self._error_response(call, exc)
            except _DroppedConnection:
                return self._drop(call, request)
            except Exception as exc:  # a bug in the emulator: make it visible, don't hang
                self.internal_errors.append(exc)
                response = self._error_response(
                    call, ApiError(500, f"Internal Server Error: emulator bug: {exc!r}")
                )
            else:
                self._finish(call, 200, result=result)
                response = web.json_response({"ok": True, "result": result})

        if delay is not None and delay.process_first:
            await self._sleep(delay.seconds)
            if not self._running:
                return self._drop(call, request)
        return response

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up early when the emulator stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _drop(self, call: Call, request: web.Request) -> web.StreamResponse:
        call.dropped = True
        call.finished_at = time.monotonic()
        self._notify_calls()
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=503)

    def _error_response(self, call: Call, exc: ApiError) -> web.Response:
        self._finish(call, exc.status, error=exc.description)
        return web.json_response(exc.body(), status=exc.status)

    def _fault_response(self, call: Call, fault: _Fault) -> web.Response:
        self._finish(call, fault.status, error=fault.description)
        if fault.body is not None:
            return web.Response(
                body=fault.body, status=fault.status, content_type="text/html", charset="utf-8"
            )
        parameters = {"retry_after": fault.retry_after} if fault.retry_after is not None else None
        exc = ApiError(fault.status, fault.description, parameters)
        return web.json_response(exc.body(), status=fault.status)

    @staticmethod
    def _take(rules: list[Any], method: str) -> Any:
        for rule in rules:
            if rule.method in (method.lower(), "*"):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    rules.remove(rule)
                return rule
        return None

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        path = request.match_info["file_path"]
        self.file_downloads.append(path)
        stored = self._files_by_path.get(path)
        if stored is None:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        content_type = stored.mime_type or "application/octet-stream"
        return web.Response(body=stored.content, headers={"Content-Type": content_type})

    # ----------------------------------------------------------------------------------------
    # Notification helpers
    # ----------------------------------------------------------------------------------------

    def _notify_updates(self) -> None:
        self._updates_changed.set()
        self._updates_changed = asyncio.Event()

    def _notify_calls(self) -> None:
        self._calls_changed.set()
        self._calls_changed = asyncio.Event()

    # ----------------------------------------------------------------------------------------
    # Test-side API: fault injection
    # ----------------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        body: str | bytes | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (``"*"``: any method) with an error.

        429 answers carry ``parameters.retry_after`` (default 1 s) and the description
        ``"Too Many Requests: retry after N"``; other statuses get Telegram-like default
        descriptions. ``body`` sends a raw (non-JSON) body instead, like an nginx error page.
        The request is not processed.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = DEFAULT_ERROR_DESCRIPTIONS.get(status, f"Error {status}")
        raw_body = body.encode("utf-8") if isinstance(body, str) else body
        self._faults.append(
            _Fault(
                method=method.lower(),
                status=status,
                description=description,
                retry_after=retry_after,
                remaining=times,
                body=raw_body,
            )
        )

    def delay(
        self, method: str, seconds: float, times: int = 1, *, process_first: bool = True
    ) -> None:
        """Make the next ``times`` calls of ``method`` (``"*"``: any) slow by ``seconds``.

        With ``process_first`` (default) the request takes effect immediately and only the
        answer is late (the classic "timed out but was sent" case); otherwise the emulator waits
        first and drops the request if the client has gone away meanwhile.
        """
        self._delays.append(
            _Delay(
                method=method.lower(),
                seconds=seconds,
                remaining=times,
                process_first=process_first,
            )
        )

    def clear_faults(self) -> None:
        self._faults.clear()
        self._delays.clear()

    # ----------------------------------------------------------------------------------------
    # Test-side API: inspecting calls
    # ----------------------------------------------------------------------------------------

    def _canonical_name(self, method: str) -> str:
        return self._canonical.get(method.lower(), method)

    def calls_to(self, method: str) -> list[Call]:
        """All recorded calls of ``method`` (case-insensitive), including failed ones."""
        name = self._canonical_name(method)
        return [call for call in self.calls if call.method == name]

    def clear_calls(self) -> None:
        self.calls.clear()

    def calls_summary(self, *, limit: int = 15) -> str:
        counts = Counter(call.method for call in self.calls)
        parts = [", ".join(f"{name}×{n}" for name, n in counts.most_common()) or "no calls"]
        interesting = [call for call in self.calls if call.method != "getUpdates"][-limit:]
        parts.extend(f"  {call.summary()}" for call in interesting)
        return "\n".join(parts)

    @overload
    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = ...,
        timeout: float = ...,
        count: Literal[1] = ...,
        *,
        since: int = ...,
    ) -> Call: ...

    @overload
    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = ...,
        timeout: float = ...,
        count: int = ...,
        *,
        since: int = ...,
    ) -> list[Call]: ...

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,
        count: int = 1,
        *,
        since: int = 0,
    ) -> Call | list[Call]:
        """Wait until ``count`` finished calls of ``method`` (matching ``predicate``) exist.

        Only calls at index ``since`` or later of :attr:`calls` are considered (use
        ``since=len(emu.calls)`` to wait for new calls). Returns the call when ``count == 1``,
        else the list of the first ``count`` matching calls. Raises :class:`AssertionError` with
        a summary of the recorded calls on timeout.
        """
        name = self._canonical_name(method)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        def matching() -> list[Call]:
            return [
                call
                for call in self.calls[since:]
                if call.method == name and call.done and (predicate is None or predicate(call))
            ]

        while True:
            event = self._calls_changed
            found = matching()
            if len(found) >= count:
                return found[0] if count == 1 else found[:count]
            remaining = deadline - loop.time()
            if remaining <= 0:
                what = f"{count} call(s) to {name}" + (" matching predicate" if predicate else "")
                raise AssertionError(
                    f"Timed out after {timeout}s waiting for {what}; found {len(found)}.\n"
                    f"Recorded calls: {self.calls_summary()}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def sent_messages(
        self, chat_id: int | None = None, *, include_deleted: bool = False
    ) -> list[JSONDict]:
        """Messages sent by the bot (current state: edits applied), oldest first."""
        result = []
        for key in self._bot_message_keys:
            if chat_id is not None and key[0] != chat_id:
                continue
            if key in self._deleted and not include_deleted:
                continue
            result.append(copy.deepcopy(self._messages[key]))
        return result

    def last_sent_message(self, chat_id: int | None = None) -> JSONDict:
        messages = self.sent_messages(chat_id)
        if not messages:
            raise AssertionError(
                f"The bot sent no message{'' if chat_id is None else f' to {chat_id}'}.\n"
                f"Recorded calls: {self.calls_summary()}"
            )
        return messages[-1]

    def get_message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """Current state of any stored message (``None`` if unknown or deleted)."""
        key = (chat_id, message_id)
        if key in self._deleted or key not in self._messages:
            return None
        return copy.deepcopy(self._messages[key])

    def is_deleted(self, chat_id: int, message_id: int) -> bool:
        return (chat_id, message_id) in self._deleted

    def get_commands(
        self, scope: JSONDict | None = None, language_code: str = ""
    ) -> list[JSONDict]:
        return copy.deepcopy(self.commands.get(self._commands_key(scope, language_code), []))

    def file_content(self, file_id: str) -> bytes:
        return self._files[file_id].content

    # ----------------------------------------------------------------------------------------
    # Test-side API: update queue
    # ----------------------------------------------------------------------------------------

    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed (or dropped)."""
        return copy.deepcopy(self._queue)

    async def wait_until_confirmed(
        self, update: JSONDict | int | None = None, timeout: float = 5.0
    ) -> None:
        """Wait until ``update`` (default: every update enqueued so far) has been confirmed by a
        ``getUpdates`` offset."""
        if update is None:
            if not self.enqueued_updates:
                return
            update_id = int(self.enqueued_updates[-1]["update_id"])
        else:
            update_id = update if isinstance(update, int) else int(update["update_id"])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.confirmed_offset <= update_id:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"Update {update_id} not confirmed within {timeout}s (confirmed_offset="
                    f"{self.confirmed_offset}, deliveries={self.deliveries[update_id]}).\n"
                    f"Recorded calls: {self.calls_summary()}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._calls_changed.wait(), remaining)

    def assert_delivered_exactly_once(self, updates: Iterable[JSONDict] | None = None) -> None:
        """Every given (default: every enqueued) update was handed out exactly once."""
        wanted = list(self.enqueued_updates if updates is None else updates)
        problems = [
            f"update {u['update_id']} delivered {self.deliveries[u['update_id']]} times"
            for u in wanted
            if self.deliveries[u["update_id"]] != 1
        ]
        if problems:
            raise AssertionError("; ".join(problems))

    def raw_update(self, update: JSONDict) -> JSONDict:
        """Enqueue ``update`` as is (an ``update_id`` is added if missing)."""
        update = copy.deepcopy(update)
        if "update_id" not in update:
            update = {"update_id": self._next_update_id, **update}
        if isinstance(update["update_id"], int):
            self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
        self._queue.append(update)
        self.enqueued_updates.append(update)
        self._notify_updates()
        return copy.deepcopy(update)

    def _enqueue(self, kind: str, payload: JSONDict) -> JSONDict:
        return self.raw_update({"update_id": self._next_update_id, kind: payload})

    # ----------------------------------------------------------------------------------------
    # Test-side API: world state
    # ----------------------------------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        is_premium: bool | None = None,
        started: bool = True,
    ) -> JSONDict:
        """Register (or update) a user; ``started`` opens the private chat with the bot.

        New users get ``first_name`` ``"User<id>"`` and ``language_code`` ``"ko"`` unless
        given; ``None`` keeps the current value, ``""`` removes an optional field.
        """
        user = self._users.get(user_id)
        if user is None:
            user = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
            if language_code is None:
                language_code = "ko"
        if first_name:
            user["first_name"] = first_name
        for key, value in (
            ("last_name", last_name),
            ("username", username),
            ("language_code", language_code),
            ("is_premium", is_premium),
        ):
            if value == "" or value is False:
                user.pop(key, None)
            elif value is not None:
                user[key] = value
        self._users[user_id] = user
        if started or user_id in self._chats:
            self._private_chat(user_id)
        return copy.deepcopy(user)

    def add_chat(
        self,
        chat_id: int,
        chat_type: Literal["private", "group", "supergroup", "channel"] = "supergroup",
        *,
        title: str | None = None,
        username: str | None = None,
        is_forum: bool = False,
    ) -> JSONDict:
        """Register (or update) a chat. For private chats use :meth:`add_user`."""
        if chat_type == "private":
            self.add_user(chat_id)
            return copy.deepcopy(self._chats[chat_id].data)
        chat = self._chats.get(chat_id)
        data: JSONDict = chat.data if chat else {"id": chat_id}
        data["type"] = chat_type
        data["title"] = title or data.get("title") or f"Chat {chat_id}"
        if username is not None:
            data["username"] = username
        if is_forum:
            data["is_forum"] = True
        else:
            data.pop("is_forum", None)
        if chat is None:
            self._chats[chat_id] = _Chat(data=data)
        return copy.deepcopy(data)

    def set_blocked(self, user_id: int, blocked: bool = True) -> None:
        """Simulate a user who blocked the bot: sending to them answers 403."""
        if blocked:
            self._blocked.add(user_id)
        else:
            self._blocked.discard(user_id)

    def set_member_status(
        self,
        chat_id: int,
        user_id: int,
        status: Literal["creator", "administrator", "member", "restricted", "left", "kicked"],
    ) -> None:
        """Status reported by ``getChatMember`` (use the bot's id to change the bot's own)."""
        self._member_status[(chat_id, user_id)] = status

    def _user(self, user_id: int, first_name: str | None = None, **kw: Any) -> JSONDict:
        given = {key: value for key, value in kw.items() if value is not None}
        if user_id not in self._users or first_name is not None or given:
            self.add_user(user_id, first_name, started=False, **given)
        return copy.deepcopy(self._users[user_id])

    def _private_chat(self, user_id: int) -> JSONDict:
        user = self._users[user_id]
        data: JSONDict = {"id": user_id, "type": "private", "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if key in user:
                data[key] = user[key]
        if user_id in self._chats:
            self._chats[user_id].data.update(data)
        else:
            self._chats[user_id] = _Chat(data=data)
        return copy.deepcopy(self._chats[user_id].data)

    def _group_chat(self, chat_id: int, chat_type: str, is_forum: bool) -> JSONDict:
        chat = self._chats.get(chat_id)
        if (
            chat is None
            or chat.data.get("type") != chat_type
            or (bool(chat.data.get("is_forum")) != is_forum)
        ):
            title = chat.data.get("title") if chat else None
            self.add_chat(chat_id, chat_type, title=title, is_forum=is_forum)  # type: ignore[arg-type]
        return copy.deepcopy(self._chats[chat_id].data)

    def _take_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    @staticmethod
    def _now() -> int:
        return int(time.time())

    def _store(self, message: JSONDict) -> None:
        self._messages[(message["chat"]["id"], message["message_id"])] = copy.deepcopy(message)

    def _reply_target(self, chat_id: int, message_id: int | None) -> JSONDict | None:
        if message_id is None:
            return None
        key = (chat_id, message_id)
        if key not in self._messages or key in self._deleted:
            raise ValueError(f"no message {message_id} in chat {chat_id} to reply to")
        target = copy.deepcopy(self._messages[key])
        target.pop("reply_to_message", None)
        return target

    def _user_message(
        self,
        chat: JSONDict,
        user_id: int,
        *,
        text: str | None = None,
        entities: list[JSONDict] | None = None,
        reply_to_message_id: int | None = None,
        message_thread_id: int | None = None,
        extra: JSONDict | None = None,
    ) -> JSONDict:
        message: JSONDict = {
            "message_id": self._take_message_id(chat["id"]),
            "from": copy.deepcopy(self._users[user_id]),
            "chat": chat,
            "date": self._now(),
        }
        if message_thread_id is not None:
            message["message_thread_id"] = message_thread_id
            if chat.get("is_forum"):
                message["is_topic_message"] = True
        reply = self._reply_target(chat["id"], reply_to_message_id)
        if reply is not None:
            message["reply_to_message"] = reply
        if text is not None:
            message["text"] = text
            found = auto_entities(text) if entities is None else entities
            if found:
                message["entities"] = found
        if extra:
            message.update(copy.deepcopy(extra))
        self._store(message)
        return message

    def _user_chat(
        self, user_id: int, chat_type: str, chat_id: int | None, is_forum: bool = False
    ) -> JSONDict:
        if chat_type == "private":
            return self._private_chat(user_id)
        return self._group_chat(
            chat_id if chat_id is not None else DEFAULT_GROUP_ID, chat_type, is_forum
        )

    def private_message(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        entities: list[JSONDict] | None = None,
        reply_to_message_id: int | None = None,
        **extra: Any,
    ) -> JSONDict:
        """A text message from ``user_id`` in the private chat with the bot.

        ``entities`` default to the automatically detected ones; ``extra`` keys are merged into
        the message object.
        """
        self._user(
            user_id,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        chat = self._private_chat(user_id)
        message = self._user_message(
            chat,
            user_id,
            text=text,
            entities=entities,
            reply_to_message_id=reply_to_message_id,
            extra=extra,
        )
        return self._enqueue("message", message)

    def group_message(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        chat_type: Literal["group", "supergroup"] = "supergroup",
        reply_to_bot_message_id: int | None = None,
        message_thread_id: int | None = None,
        is_forum: bool = False,
        title: str | None = None,
        first_name: str | None = None,
        username: str | None = None,
        entities: list[JSONDict] | None = None,
        **extra: Any,
    ) -> JSONDict:
        """A text message from ``user_id`` in a group or supergroup (optionally a forum topic,
        optionally replying to a message of the chat, typically one the bot sent)."""
        self._user(user_id, first_name, username=username)
        chat = self._group_chat(chat_id, chat_type, is_forum)
        if title is not None:
            self._chats[chat_id].data["title"] = title
            chat["title"] = title
        message = self._user_message(
            chat,
            user_id,
            text=text,
            entities=entities,
            reply_to_message_id=reply_to_bot_message_id,
            message_thread_id=message_thread_id,
            extra=extra,
        )
        return self._enqueue("message", message)

    def channel_post(
        self,
        chat_id: int,
        text: str,
        *,
        title: str | None = None,
        username: str | None = None,
        author_signature: str | None = None,
        **extra: Any,
    ) -> JSONDict:
        """A post in a channel (no ``from``; ``sender_chat`` is the channel)."""
        known = self._chats.get(chat_id)
        if known is None or known.data.get("type") != "channel" or title or username:
            self.add_chat(chat_id, "channel", title=title, username=username)
        chat = copy.deepcopy(self._chats[chat_id].data)
        message: JSONDict = {
            "message_id": self._take_message_id(chat_id),
            "sender_chat": copy.deepcopy(chat),
            "chat": chat,
            "date": self._now(),
            "text": text,
        }
        if author_signature:
            message["author_signature"] = author_signature
        found = auto_entities(text)
        if found:
            message["entities"] = found
        message.update(copy.deepcopy(extra))
        self._store(message)
        return self._enqueue("channel_post", message)

    def edited_message(self, message: JSONDict, text: str, **extra: Any) -> JSONDict:
        """An edit of a previously created user message or channel post (pass the update or the
        message dict)."""
        original = message.get("message") or message.get("channel_post") or message
        key = (original["chat"]["id"], original["message_id"])
        current = copy.deepcopy(self._messages.get(key, original))
        current["text"] = text
        current.pop("entities", None)
        found = auto_entities(text)
        if found:
            current["entities"] = found
        current["edit_date"] = self._now()
        current.update(copy.deepcopy(extra))
        self._store(current)
        kind = "edited_channel_post" if current["chat"]["type"] == "channel" else "edited_message"
        return self._enqueue(kind, current)

    def callback_query(
        self,
        user_id: int,
        message: JSONDict,
        data: str,
        *,
        chat_instance: str | None = None,
    ) -> JSONDict:
        """A press on an inline button of ``message`` (a message the bot sent, as recorded) with
        callback ``data``. Uses the message's current state; deleted messages become
        inaccessible messages (``date`` 0)."""
        self._user(user_id)
        source = message.get("message") or message
        key = (source["chat"]["id"], source["message_id"])
        if key in self._deleted:
            current: JSONDict = {
                "chat": source["chat"],
                "message_id": source["message_id"],
                "date": 0,
            }
        else:
            current = copy.deepcopy(self._messages.get(key, source))
        self._query_counter += 1
        query_id = str(4_000_000_000_000_000_000 + self._query_counter * 7919)
        if chat_instance is None:
            digest = hashlib.sha256(str(key[0]).encode()).hexdigest()
            chat_instance = str(-(int(digest[:15], 16)))
        query: JSONDict = {
            "id": query_id,
            "from": copy.deepcopy(self._users[user_id]),
            "message": current,
            "chat_instance": chat_instance,
            "data": data,
        }
        self.callback_queries[query_id] = _CallbackQueryState(query=copy.deepcopy(query))
        return self._enqueue("callback_query", query)

    def inline_query(
        self,
        user_id: int,
        query: str,
        *,
        offset: str = "",
        chat_type: str | None = "sender",
    ) -> JSONDict:
        """An inline query ``@bot <query>`` typed by ``user_id``."""
        self._user(user_id)
        self._query_counter += 1
        query_id = str(5_000_000_000_000_000_000 + self._query_counter * 7919)
        payload: JSONDict = {
            "id": query_id,
            "from": copy.deepcopy(self._users[user_id]),
            "query": query,
            "offset": offset,
        }
        if chat_type is not None:
            payload["chat_type"] = chat_type
        self.inline_queries[query_id] = _InlineQueryState(query=copy.deepcopy(payload))
        return self._enqueue("inline_query", payload)

    def _store_file(
        self,
        content: bytes,
        folder: str,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        extension: str | None = None,
        prefix: str = "BQACAgUAAxkBAAI",
    ) -> StoredFile:
        self._file_counter += 1
        n = self._file_counter
        if extension is None:
            extension = file_name.rsplit(".", 1)[1] if file_name and "." in file_name else "bin"
        digest = hashlib.sha256(content + str(n).encode()).hexdigest()
        stored = StoredFile(
            file_id=f"{prefix}{n:05d}{digest[:24]}",
            file_unique_id=f"AgAD{n:04d}{digest[24:30]}",
            content=content,
            file_path=f"{folder}/file_{n}.{extension}",
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    @staticmethod
    def _document_object(stored: StoredFile) -> JSONDict:
        doc: JSONDict = {}
        if stored.file_name is not None:
            doc["file_name"] = stored.file_name
        if stored.mime_type is not None:
            doc["mime_type"] = stored.mime_type
        doc.update(
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": stored.file_size,
            }
        )
        return doc

    def _photo_sizes(self, content: bytes, width: int, height: int) -> list[JSONDict]:
        sizes = []
        for scale in (90, 320, max(width, height)):
            factor = min(1.0, scale / max(width, height))
            stored = self._store_file(
                content,
                "photos",
                mime_type="image/jpeg",
                extension="jpg",
                prefix="AgACAgUAAxkBAAI",
            )
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": stored.file_size,
                    "width": max(1, round(width * factor)),
                    "height": max(1, round(height * factor)),
                }
            )
        return sizes

    def _media_message(
        self,
        user_id: int,
        chat_type: str,
        chat_id: int | None,
        media: JSONDict,
        caption: str | None,
    ) -> JSONDict:
        self._user(user_id)
        chat = self._user_chat(user_id, chat_type, chat_id)
        extra = dict(media)
        if caption:
            extra["caption"] = caption
            found = auto_entities(caption)
            if found:
                extra["caption_entities"] = found
        message = self._user_message(chat, user_id, extra=extra)
        return self._enqueue("message", message)

    def document_message(
        self,
        user_id: int,
        file_name: str,
        content: bytes,
        chat_type: Literal["private", "group", "supergroup"] = "private",
        *,
        chat_id: int | None = None,
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> JSONDict:
        """A document sent by ``user_id``; ``content`` is stored for ``getFile`` + download."""
        if mime_type is None:
            mime_type = "text/plain" if file_name.endswith(".txt") else "application/octet-stream"
        stored = self._store_file(content, "documents", file_name=file_name, mime_type=mime_type)
        media = {"document": self._document_object(stored)}
        return self._media_message(user_id, chat_type, chat_id, media, caption)

    def photo_message(
        self,
        user_id: int,
        content: bytes = b"\xff\xd8\xff\xe0fake-jpeg",
        *,
        caption: str | None = None,
        chat_type: Literal["private", "group", "supergroup"] = "private",
        chat_id: int | None = None,
        width: int = 1280,
        height: int = 720,
    ) -> JSONDict:
        """A photo (three ``PhotoSize`` entries, all downloadable) sent by ``user_id``."""
        media = {"photo": self._photo_sizes(content, width, height)}
        return self._media_message(user_id, chat_type, chat_id, media, caption)

    def sticker_message(
        self,
        user_id: int,
        emoji: str = "👍",
        *,
        set_name: str | None = "kakao_friends",
        chat_type: Literal["private", "group", "supergroup"] = "private",
        chat_id: int | None = None,
        is_animated: bool = False,
        is_video: bool = False,
    ) -> JSONDict:
        """A (static by default) sticker sent by ``user_id``."""
        stored = self._store_file(
            b"RIFF\x00\x00\x00\x00WEBPVP8 ",
            "stickers",
            mime_type="image/webp",
            extension="webp",
            prefix="CAACAgIAAxkBAAI",
        )
        sticker: JSONDict = {
            "width": 512,
            "height": 512,
            "emoji": emoji,
            "is_animated": is_animated,
            "is_video": is_video,
            "type": "regular",
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
        }
        if set_name is not None:
            sticker["set_name"] = set_name
        return self._media_message(user_id, chat_type, chat_id, {"sticker": sticker}, None)

    # ----------------------------------------------------------------------------------------
    # Request helpers
    # ----------------------------------------------------------------------------------------

    def _resolve_chat(self, value: Any, *, sending: bool = True) -> JSONDict:
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        chat: _Chat | None = None
        if isinstance(value, str) and value.startswith("@"):
            wanted = value[1:].lower()
            chat = next(
                (
                    c
                    for c in self._chats.values()
                    if str(c.data.get("username", "")).lower() == wanted
                    and c.data["type"] != "private"
                ),
                None,
            )
            if chat is None:
                raise bad_request("chat not found")
        else:
            try:
                chat_id = int(value)
            except (TypeError, ValueError):
                raise bad_request("chat not found") from None
            chat = self._chats.get(chat_id)
            if chat is None:
                if not self.strict_chats:
                    if chat_id > 0:
                        self.add_user(chat_id)
                    else:
                        self.add_chat(chat_id, "supergroup")
                    chat = self._chats[chat_id]
                elif sending and chat_id > 0 and chat_id in self._users:
                    raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
                else:
                    raise bad_request("chat not found")
        if sending and chat.data["type"] == "private" and chat.data["id"] in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return copy.deepcopy(chat.data)

    def _format(
        self,
        text: Any,
        parse_mode: Any,
        entities: Any,
        *,
        caption: bool = False,
    ) -> tuple[str, list[JSONDict]]:
        text = "" if text is None else str(text)
        if entities is not None:
            if not isinstance(entities, list) or not all(
                isinstance(e, dict)
                and isinstance(e.get("type"), str)
                and isinstance(e.get("offset"), int)
                and isinstance(e.get("length"), int)
                for e in entities
            ):
                raise bad_request("can't parse entities JSON object")
            total = utf16_len(text)
            found = [
                copy.deepcopy(e)
                for e in entities
                if e["length"] > 0 and e["offset"] >= 0 and e["offset"] + e["length"] <= total
            ]
            plain = text
        elif parse_mode:
            mode = str(parse_mode).lower()
            try:
                if mode == "html":
                    plain, found = parse_html(text, users=self._users)
                elif mode == "markdownv2":
                    plain, found = parse_markdown_v2(text)
                elif mode == "markdown":
                    plain, found = parse_markdown(text)
                else:
                    raise bad_request("unsupported parse_mode")
            except EntityParseError as exc:
                raise bad_request(f"can't parse entities: {exc}") from None
        else:
            plain, found = text, []
        plain, found = _strip_formatted(plain, _sorted_entities(found))
        limit = MAX_CAPTION_LENGTH if caption else MAX_MESSAGE_LENGTH
        if utf16_len(plain) > limit:
            raise bad_request("message caption is too long" if caption else "message is too long")
        return plain, found

    def _message_text(self, params: JSONDict) -> tuple[str, list[JSONDict]]:
        if not str(params.get("text") or "").strip():
            raise bad_request("message text is empty")
        text, entities = self._format(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        if not text:
            raise bad_request("message text is empty")
        return text, entities

    @staticmethod
    def _validate_markup(markup: Any) -> JSONDict | None:
        """Validate ``reply_markup``; returns it when it is an inline keyboard."""
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise bad_request(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            for row in rows:
                for button in row:
                    if not isinstance(button, dict):
                        raise bad_request(
                            "can't parse inline keyboard button: InlineKeyboardButton must be "
                            "an Object"
                        )
                    text = button.get("text")
                    if not isinstance(text, str) or not text.strip():
                        raise bad_request("BUTTON_TEXT_INVALID")
                    if button.get("callback_data") == "" or not any(
                        key in button for key in INLINE_BUTTON_ACTIONS
                    ):
                        raise bad_request(
                            "can't parse inline keyboard button: Text buttons are unallowed in "
                            "the inline keyboard"
                        )
                    if "callback_data" in button:
                        data = button["callback_data"]
                        if (
                            not isinstance(data, str)
                            or len(data.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES
                        ):
                            raise bad_request("BUTTON_DATA_INVALID")
                    if "url" in button and not str(button["url"]).strip():
                        raise bad_request("BUTTON_URL_INVALID")
            return copy.deepcopy(markup)
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise bad_request("can't parse keyboard button: KeyboardButton must be an Object")
            for row in rows:
                for button in row:
                    text = button.get("text") if isinstance(button, dict) else button
                    if not isinstance(text, str) or not text.strip():
                        raise bad_request("BUTTON_TEXT_INVALID")
            return None
        if "remove_keyboard" in markup or "force_reply" in markup:
            return None
        raise bad_request("can't parse reply keyboard markup JSON object")

    def _new_bot_message(self, chat: JSONDict, params: JSONDict) -> JSONDict:
        message: JSONDict = {"message_id": self._take_message_id(chat["id"])}
        if chat["type"] == "channel":
            message["sender_chat"] = copy.deepcopy(chat)
        else:
            message["from"] = {
                key: self.bot_user[key] for key in ("id", "is_bot", "first_name", "username")
            }
        message["chat"] = chat
        message["date"] = self._now()
        thread_id = params.get("message_thread_id")
        if isinstance(thread_id, int):
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        reply = params.get("reply_parameters")
        if reply is None and params.get("reply_to_message_id") is not None:
            reply = {"message_id": params["reply_to_message_id"]}
        if reply is not None:
            if not isinstance(reply, dict) or "message_id" not in reply:
                raise bad_request("can't parse reply parameters JSON object")
            target_chat: Any = reply.get("chat_id", chat["id"])
            try:
                key = (int(target_chat), int(reply["message_id"]))
            except (TypeError, ValueError):
                raise bad_request("message to be replied not found") from None
            if key in self._messages and key not in self._deleted:
                target = copy.deepcopy(self._messages[key])
                target.pop("reply_to_message", None)
                message["reply_to_message"] = target
            elif not (
                reply.get("allow_sending_without_reply")
                or params.get("allow_sending_without_reply")
            ):
                raise bad_request("message to be replied not found")
        if params.get("protect_content"):
            message["has_protected_content"] = True
        return message

    def _commit_bot_message(self, message: JSONDict) -> JSONDict:
        self._store(message)
        self._bot_message_keys.append((message["chat"]["id"], message["message_id"]))
        return copy.deepcopy(message)

    def _editable_message(self, params: JSONDict, *, action: str = "edit") -> tuple[int, int]:
        chat = self._resolve_chat(params.get("chat_id"), sending=False)
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise bad_request("message identifier is not specified")
        key = (chat["id"], message_id)
        if key not in self._messages or key in self._deleted:
            raise bad_request(f"message to {action} not found")
        stored = self._messages[key]
        sender = stored.get("from", {}).get("id")
        if action == "edit" and sender != self.bot_id and chat["type"] != "channel":
            raise bad_request("message can't be edited")
        return key

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        if not scope:
            scope = {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    # ----------------------------------------------------------------------------------------
    # Bot API methods
    # ----------------------------------------------------------------------------------------

    async def _m_true(self, params: JSONDict, request: web.Request) -> bool:
        return True

    async def _m_get_me(self, params: JSONDict, request: web.Request) -> JSONDict:
        return copy.deepcopy(self.bot_user)

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._queue = [
                u
                for u in self._queue
                if isinstance(u["update_id"], int) and u["update_id"] >= offset
            ]
            self.confirmed_offset = max(self.confirmed_offset, offset)
        elif offset < 0:
            keep = self._queue[offset:]
            self._queue = keep
            new_offset = keep[0]["update_id"] if keep else self._next_update_id
            self.confirmed_offset = max(self.confirmed_offset, new_offset)
        self._notify_calls()

    def _deliverable(self, limit: int) -> list[JSONDict]:
        allowed = self._allowed_updates
        batch = []
        for update in self._queue:
            kind = next((k for k in update if k != "update_id"), None)
            if kind in KNOWN_UPDATE_TYPES:
                if allowed:
                    if kind not in allowed:
                        continue
                elif kind in OPT_IN_UPDATE_TYPES:
                    continue
            batch.append(update)
            if len(batch) >= limit:
                break
        return batch

    async def _m_get_updates(self, params: JSONDict, request: web.Request) -> list[JSONDict]:
        if self.webhook.get("url"):
            raise ApiError(409, CONFLICT_WEBHOOK)
        offset = params.get("offset", 0)
        limit = params.get("limit", 100)
        timeout = params.get("timeout", 0)
        if not isinstance(offset, int) or not isinstance(limit, int):
            raise bad_request("wrong parameter offset or limit in request")
        if not isinstance(timeout, int | float):
            raise bad_request("wrong parameter timeout in request")
        limit = min(max(limit, 1), 100)
        timeout = min(max(float(timeout), 0.0), MAX_LONG_POLL_TIMEOUT)
        allowed = params.get("allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list):
                raise bad_request("can't parse allowed_updates JSON object")
            self._allowed_updates = [str(a) for a in allowed] or None
        self._confirm(offset)

        self._poll_generation += 1
        generation = self._poll_generation
        self._notify_updates()  # terminates an older long poll with 409
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._updates_changed
            batch = self._deliverable(limit)
            remaining = deadline - loop.time()
            if batch or remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
            if not self._running or self._client_gone(request):
                raise _DroppedConnection
            if generation != self._poll_generation:
                raise ApiError(409, CONFLICT_OTHER_POLL)
        if self._client_gone(request):
            raise _DroppedConnection
        for update in batch:
            self.deliveries[update["update_id"]] += 1
        return copy.deepcopy(batch)

    async def _m_set_webhook(self, params: JSONDict, request: web.Request) -> bool:
        url = str(params.get("url") or "")
        if url and not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if params.get("drop_pending_updates"):
            self._queue.clear()
        if not url:
            self.webhook = {}
            return True
        self.webhook = {"url": url, "max_connections": params.get("max_connections", 40)}
        if isinstance(params.get("allowed_updates"), list):
            self.webhook["allowed_updates"] = params["allowed_updates"]
        if params.get("secret_token"):
            self.webhook["secret_token"] = params["secret_token"]
        return True

    async def _m_delete_webhook(self, params: JSONDict, request: web.Request) -> bool:
        self.webhook = {}
        if params.get("drop_pending_updates"):
            self._queue.clear()
        return True

    async def _m_get_webhook_info(self, params: JSONDict, request: web.Request) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.webhook.get("url"):
            info["max_connections"] = self.webhook["max_connections"]
            info["ip_address"] = "127.0.0.1"
            if "allowed_updates" in self.webhook:
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    async def _m_send_message(self, params: JSONDict, request: web.Request) -> JSONDict:
        chat = self._resolve_chat(params.get("chat_id"))
        text, entities = self._message_text(params)
        markup = self._validate_markup(params.get("reply_markup"))
        message = self._new_bot_message(chat, params)
        message["text"] = text
        if entities:
            message["entities"] = entities
        if isinstance(params.get("link_preview_options"), dict):
            message["link_preview_options"] = params["link_preview_options"]
        if markup is not None:
            message["reply_markup"] = markup
        return self._commit_bot_message(message)

    def _inline_message_edit(self, params: JSONDict) -> bool | None:
        inline_id = params.get("inline_message_id")
        if inline_id is None:
            return None
        if not str(inline_id).strip():
            raise bad_request("MESSAGE_ID_INVALID")
        return True

    async def _m_edit_message_text(self, params: JSONDict, request: web.Request) -> Any:
        text, entities = self._message_text(params)
        markup = self._validate_markup(params.get("reply_markup"))
        inline = self._inline_message_edit(params)
        if inline is not None:
            return inline
        key = self._editable_message(params)
        stored = self._messages[key]
        if "text" not in stored:
            raise bad_request("there is no text in the message to edit")
        if (
            stored["text"] == text
            and stored.get("entities", []) == entities
            and stored.get("reply_markup") == markup
        ):
            raise bad_request(NOT_MODIFIED)
        stored["text"] = text
        self._set_optional(stored, "entities", entities or None)
        self._set_optional(stored, "reply_markup", markup)
        stored["edit_date"] = self._now()
        return copy.deepcopy(stored)

    async def _m_edit_message_caption(self, params: JSONDict, request: web.Request) -> Any:
        caption, entities = self._format(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            caption=True,
        )
        markup = self._validate_markup(params.get("reply_markup"))
        inline = self._inline_message_edit(params)
        if inline is not None:
            return inline
        key = self._editable_message(params)
        stored = self._messages[key]
        if "text" in stored:
            raise bad_request("there is no caption in the message to edit")
        if (
            stored.get("caption", "") == caption
            and stored.get("caption_entities", []) == entities
            and stored.get("reply_markup") == markup
        ):
            raise bad_request(NOT_MODIFIED)
        self._set_optional(stored, "caption", caption or None)
        self._set_optional(stored, "caption_entities", entities or None)
        self._set_optional(stored, "reply_markup", markup)
        stored["edit_date"] = self._now()
        return copy.deepcopy(stored)

    async def _m_edit_message_reply_markup(self, params: JSONDict, request: web.Request) -> Any:
        markup = self._validate_markup(params.get("reply_markup"))
        inline = self._inline_message_edit(params)
        if inline is not None:
            return inline
        key = self._editable_message(params)
        stored = self._messages[key]
        if stored.get("reply_markup") == markup:
            raise bad_request(NOT_MODIFIED)
        self._set_optional(stored, "reply_markup", markup)
        stored["edit_date"] = self._now()
        return copy.deepcopy(stored)

    @staticmethod
    def _set_optional(target: JSONDict, key: str, value: Any) -> None:
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value

    async def _m_delete_message(self, params: JSONDict, request: web.Request) -> bool:
        key = self._editable_message(params, action="delete")
        self._deleted.add(key)
        return True

    async def _m_answer_callback_query(self, params: JSONDict, request: web.Request) -> bool:
        state = self.callback_queries.get(str(params.get("callback_query_id", "")))
        if state is None or state.answered:
            raise bad_request(QUERY_INVALID.removeprefix("Bad Request: "))
        text = params.get("text")
        if text is not None and len(str(text)) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        state.answered = True
        state.answer = copy.deepcopy(params)
        return True

    def _validate_inline_result(self, result: Any) -> None:
        if not isinstance(result, dict) or not isinstance(result.get("type"), str):
            raise bad_request(
                "can't parse inline query result: Inline query result must be an Object"
            )
        result_id = result.get("id")
        if not isinstance(result_id, str) or not 1 <= len(result_id.encode("utf-8")) <= 64:
            raise bad_request("RESULT_ID_INVALID")
        content = result.get("input_message_content")
        if isinstance(content, dict) and "message_text" in content:
            self._message_text(
                {
                    "text": content.get("message_text"),
                    "parse_mode": content.get("parse_mode"),
                    "entities": content.get("entities"),
                }
            )
        self._validate_markup(result.get("reply_markup"))

    async def _m_answer_inline_query(self, params: JSONDict, request: web.Request) -> bool:
        state = self.inline_queries.get(str(params.get("inline_query_id", "")))
        if state is None or state.answered:
            raise bad_request(QUERY_INVALID.removeprefix("Bad Request: "))
        results = params.get("results")
        if not isinstance(results, list):
            raise bad_request("can't parse inline query results JSON object")
        if len(results) > MAX_INLINE_RESULTS:
            raise bad_request("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            self._validate_inline_result(result)
            if result["id"] in seen:
                raise bad_request("RESULT_ID_DUPLICATE")
            seen.add(result["id"])
        state.answered = True
        state.answer = copy.deepcopy(params)
        return True

    async def _m_set_my_commands(self, params: JSONDict, request: web.Request) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("too many commands")
        clean = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand: BotCommand must be an Object")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": name, "description": description})
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        if clean:
            self.commands[key] = clean
        else:
            self.commands.pop(key, None)
        return True

    async def _m_get_my_commands(self, params: JSONDict, request: web.Request) -> list[JSONDict]:
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        return copy.deepcopy(self.commands.get(key, []))

    async def _m_delete_my_commands(self, params: JSONDict, request: web.Request) -> bool:
        self.commands.pop(
            self._commands_key(params.get("scope"), params.get("language_code")), None
        )
        return True

    async def _m_send_chat_action(self, params: JSONDict, request: web.Request) -> bool:
        self._resolve_chat(params.get("chat_id"))
        if params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def _m_get_chat(self, params: JSONDict, request: web.Request) -> JSONDict:
        chat = self._resolve_chat(params.get("chat_id"), sending=False)
        chat.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        if chat["type"] in ("group", "supergroup"):
            chat["permissions"] = {"can_send_messages": True, "can_send_other_messages": True}
        return chat

    def _member(self, chat: JSONDict, user_id: int) -> JSONDict:
        if user_id == self.bot_id:
            user = {key: self.bot_user[key] for key in ("id", "is_bot", "first_name", "username")}
            default = "administrator" if chat["type"] == "channel" else "member"
        elif user_id in self._users:
            user = copy.deepcopy(self._users[user_id])
            default = "member"
        else:
            raise bad_request("user not found")
        status = self._member_status.get((chat["id"], user_id), default)
        member: JSONDict = {"user": user, "status": status}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            is_channel = chat["type"] == "channel"
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": True,
                    "can_restrict_members": True,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": True,
                    "can_edit_stories": True,
                    "can_delete_stories": True,
                }
            )
            if is_channel:
                member.update({"can_post_messages": True, "can_edit_messages": True})
            else:
                member["can_pin_messages"] = True
        elif status == "restricted":
            member.update({"is_member": True, "until_date": 0, "can_edit_tag": False})
            for right in (
                "can_change_info",
                "can_invite_users",
                "can_pin_messages",
                "can_send_messages",
                "can_send_polls",
                "can_send_other_messages",
                "can_add_web_page_previews",
                "can_manage_topics",
                "can_send_audios",
                "can_send_documents",
                "can_send_photos",
                "can_send_videos",
                "can_send_video_notes",
                "can_send_voice_notes",
                "can_react_to_messages",
            ):
                member[right] = False
        elif status == "kicked":
            member["until_date"] = 0
        return member

    async def _m_get_chat_member(self, params: JSONDict, request: web.Request) -> JSONDict:
        chat = self._resolve_chat(params.get("chat_id"), sending=False)
        user_id = params.get("user_id")
        if not isinstance(user_id, int):
            raise bad_request("invalid user_id specified")
        return self._member(chat, user_id)

    async def _m_get_file(self, params: JSONDict, request: web.Request) -> JSONDict:
        stored = self._files.get(str(params.get("file_id", "")))
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
            "file_path": stored.file_path,
        }

    def _input_file(self, params: JSONDict, field_name: str) -> tuple[StoredFile | None, Any]:
        value = params.get(field_name)
        if value is None or value == "":
            raise bad_request(f"there is no {field_name} in the request")
        if isinstance(value, UploadedFile):
            return None, value
        stored = self._files.get(str(value))
        if stored is None:
            if str(value).startswith(("http://", "https://")):
                raise bad_request("failed to get HTTP URL content")
            raise bad_request("wrong file identifier/HTTP URL specified")
        return stored, value

    async def _send_media(
        self,
        params: JSONDict,
        field_name: str,
        build: Callable[[StoredFile | None, Any], JSONDict],
    ) -> JSONDict:
        chat = self._resolve_chat(params.get("chat_id"))
        caption, entities = self._format(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            caption=True,
        )
        markup = self._validate_markup(params.get("reply_markup"))
        message = self._new_bot_message(chat, params)
        message.update(build(*self._input_file(params, field_name)))
        if caption:
            message["caption"] = caption
        if entities:
            message["caption_entities"] = entities
        if markup is not None:
            message["reply_markup"] = markup
        return self._commit_bot_message(message)

    async def _m_send_document(self, params: JSONDict, request: web.Request) -> JSONDict:
        def build(stored: StoredFile | None, value: Any) -> JSONDict:
            if stored is None:
                upload: UploadedFile = value
                stored = self._store_file(
                    upload.content,
                    "documents",
                    file_name=upload.filename,
                    mime_type=upload.content_type,
                )
            return {"document": self._document_object(stored)}

        return await self._send_media(params, "document", build)

    async def _m_send_photo(self, params: JSONDict, request: web.Request) -> JSONDict:
        def build(stored: StoredFile | None, value: Any) -> JSONDict:
            content = stored.content if stored is not None else value.content
            return {"photo": self._photo_sizes(content, 1280, 720)}

        return await self._send_media(params, "photo", build)

    async def _m_send_sticker(self, params: JSONDict, request: web.Request) -> JSONDict:
        def build(stored: StoredFile | None, value: Any) -> JSONDict:
            if stored is None:
                stored = self._store_file(
                    value.content, "stickers", mime_type="image/webp", extension="webp"
                )
            sticker = {
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": stored.file_size,
            }
            if params.get("emoji"):
                sticker["emoji"] = params["emoji"]
            return {"sticker": sticker}

        return await self._send_media(params, "sticker", build)
