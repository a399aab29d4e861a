"""Hostile input: whatever people type, the engine answers within bounds, the knowledge stays
as it was, and every message the bot produces is valid Telegram HTML within the length limit.

Property-based (hypothesis) for the engine and the formatter; end to end through the Bot API
emulator for a fixed set of hostile texts in a private chat and in a group.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from botapi_emulator import BotApiEmulator, Call, EntityParseError, parse_html
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from telegram_helpers import polling

from bot.config import Settings
from bot.engine.answers import Reply
from bot.engine.dialogue import ConversationMemory, Engine
from bot.knowledge.loader import Knowledge, load_knowledge
from bot.telegram.formatting import (
    CALLBACK_LIMIT,
    MESSAGE_LIMIT,
    Block,
    format_reply,
    plain_reply,
    render_blocks,
    reply_markup,
)

KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "knowledge"
DEV_SET = Path(__file__).resolve().parent / "data" / "dev.jsonl"
DEV_QUESTIONS = [
    json.loads(line)["question"] for line in DEV_SET.read_text("utf-8").splitlines()[::12]
]

# Things people (and attackers) paste: markup look-alikes, bidi controls, zero-width and
# combining marks, emoji sequences, control characters, injection strings, question words.
HOSTILE_PIECES = [
    "<b>",
    "</b>",
    "<i>x</i>",
    "</code>",
    "<code>",
    "<pre>",
    '<a href="javascript:alert(1)">',
    "<blockquote>",
    "<tg-spoiler>",
    "&amp;",
    "&",
    "&lt;",
    "&#0;",
    "&#x110000;",
    "&nbsp;",
    "*",
    "**",
    "_",
    "__",
    "`",
    "```",
    "[",
    "]",
    "](http://x)",
    "~",
    "|",
    "\\",
    '"',
    "'",
    "\u200f",  # right-to-left mark
    "\u202e",  # right-to-left override
    "\u202d",
    "\u2066",
    "\u2069",
    "\u200b",  # zero-width space
    "\u200d",  # zero-width joiner
    "\ufeff",
    "\u0301",  # combining acute
    "\u0308\u0308\u0308\u0308",
    "\u3000",
    "\u2028",
    "👍🏽",
    "👨‍👩‍👧‍👦",
    "🇰🇷",
    "🏳️‍🌈",
    "\x00",
    "\x07",
    "\x1b[31m",
    "\r\n",
    "\t",
    "ﷺ",
    "ⓚⓐⓚⓐⓞ",
    "ｋａｋａｏ",
    "카톡",
    "카카오스토리",
    "언제",
    "복구",
    "원인",
    "?",
    "!!!",
    "ㅋㅋ",
    "ㅠㅠ",
    "@kakao_outage_bot",
    "' OR 1=1; --",
    "{{7*7}}",
    "${jndi:ldap://x}",
    "%s%n",
    "2022년",
    "KakaoTalk",
    "when",
]

SPECIAL_TEXTS = [
    "",
    " ",
    "\n\t  \u3000",
    "?!.,;:…",
    "???",
    "...",
    "ㅋㅋㅋㅋ",
    "\u200b\u200b",
    "\u202e\u200f",
    "<>&",
]

pieces = st.one_of(
    st.sampled_from(HOSTILE_PIECES),
    st.sampled_from(DEV_QUESTIONS),
    st.text(max_size=8),
)
long_texts = st.builds(
    lambda base: (base * (10_000 // len(base) + 1))[:10_000],
    st.one_of(st.sampled_from(HOSTILE_PIECES + DEV_QUESTIONS), st.text(min_size=1, max_size=30)),
)
punctuation_only = st.text(
    alphabet=st.characters(categories=["P", "S", "Z", "Cc", "Cf", "Mn"]), max_size=60
)
hostile_texts = st.one_of(
    st.text(max_size=300),  # arbitrary Unicode, control characters included
    st.lists(pieces, max_size=12).map("".join),
    long_texts,
    st.sampled_from(SPECIAL_TEXTS),
    punctuation_only,
)

# Real questions wrapped in hostile decoration: these must still be answered (they make sure
# the "answered" branch of the properties below is exercised, not only refusals).
DECORATED_QUESTIONS = [
    "\u202e카톡 언제 복구됐어?\u200f",
    "*원인은?*",
    "카톡 언제 복구됐어? <b>",
    "`원인은?`\u200b\u0000",
]

PROPERTY_SETTINGS = hsettings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def own_knowledge() -> Knowledge:
    """A private copy of the shipped knowledge: a test that mutated it must not hide it by
    sharing the session copy with other tests."""
    return load_knowledge([KNOWLEDGE_DIR])


@pytest.fixture(scope="module")
def own_engine(own_knowledge: Knowledge) -> Engine:
    return Engine(own_knowledge)


def snapshot(knowledge: Knowledge) -> tuple[str, dict[str, str], list[str]]:
    """Everything a question could conceivably change, in comparable form."""
    intents = {key: intent.model_dump_json() for key, (intent, _src) in knowledge.intents.items()}
    files = [source.model.model_dump_json() + source.document_text for source in knowledge.sources]
    return knowledge.content_hash, intents, files


def check_reply(reply: Reply, engine: Engine) -> None:
    assert reply.kind in {"answer", "suggest", "decline"}
    assert reply.text.strip(), "the reply text is blank"
    assert len(reply.text) <= MESSAGE_LIMIT
    assert isinstance(reply.confidence, float | int)
    assert not math.isnan(reply.confidence)
    assert 0.0 <= reply.confidence <= 1.0
    for suggestion in (*reply.suggestions, *reply.related):
        assert suggestion.intent_id in engine.index.intents
    if reply.kind == "answer":
        assert reply.intent_id in engine.knowledge.intents
        assert reply.source is not None
        assert reply.source.quotes, "an answer without a quote"
        _intent, source = engine.knowledge.intents[reply.intent_id]
        for quote in reply.source.quotes:
            assert quote and quote in source.document_text, f"quote not verbatim: {quote!r}"
    else:
        assert reply.source is None


# --- engine ------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(text=hostile_texts)
@example(text="x" * 10_000)
@example(text="<b>&amp;</code>*_`[]" * 600)
@example(text="\u202e" * 10_000)
@example(text="")
@example(text=DECORATED_QUESTIONS[0])
@example(text=DECORATED_QUESTIONS[1])
def test_engine_never_raises_and_replies_within_bounds(own_engine: Engine, text: str) -> None:
    before = snapshot(own_engine.knowledge)
    memory = ConversationMemory()
    reply = own_engine.ask(text)
    check_reply(reply, own_engine)
    followed = own_engine.ask(text, conversation="c", memory=memory)
    check_reply(followed, own_engine)
    assert snapshot(own_engine.knowledge) == before


@PROPERTY_SETTINGS
@given(texts=st.lists(st.one_of(hostile_texts, st.sampled_from(DEV_QUESTIONS)), max_size=5))
def test_engine_conversation_of_hostile_turns(own_engine: Engine, texts: list[str]) -> None:
    """Follow-ups mixed with garbage, in one conversation: context never breaks anything."""
    before = snapshot(own_engine.knowledge)
    memory = ConversationMemory()
    for n, text in enumerate(texts):
        check_reply(
            own_engine.ask(text, conversation="u1", memory=memory, now=float(n)), own_engine
        )
    assert snapshot(own_engine.knowledge) == before


@pytest.mark.parametrize("text", DECORATED_QUESTIONS)
def test_decorated_questions_are_answered(own_engine: Engine, text: str) -> None:
    """The "answered" branch of the properties is reachable with hostile decoration."""
    reply = own_engine.ask(text)
    check_reply(reply, own_engine)
    assert reply.answered, (text, reply.kind, reply.reason)


# --- formatting --------------------------------------------------------------------------


def check_messages(messages: list[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Every message parses as Telegram HTML and fits; returns the visible texts."""
    visible = []
    for message in messages:
        try:
            plain, _entities = parse_html(message)
        except EntityParseError as exc:  # a cut inside a tag or an entity, or bad escaping
            raise AssertionError(f"invalid Telegram HTML ({exc}): {message[:200]!r}") from None
        assert len(plain) <= limit, (len(plain), limit)
        visible.append(plain)
    return visible


@PROPERTY_SETTINGS
@given(text=hostile_texts, short=st.booleans())
@example(text=DECORATED_QUESTIONS[0], short=False)
@example(text=DECORATED_QUESTIONS[2], short=True)
def test_engine_replies_render_as_valid_telegram_html(
    own_engine: Engine, text: str, short: bool
) -> None:
    reply = own_engine.ask(text)
    messages = format_reply(reply, short=short)
    visible = check_messages(messages)
    assert all(v.strip() for v in visible), "a blank message would be refused by Telegram"
    shown = "\n\n".join(visible)
    assert reply.text in shown
    if reply.answered and not short:
        assert reply.source is not None
        for quote in reply.source.quotes:
            assert quote in shown
    markup = reply_markup(reply, feedback=not short)
    for row in markup.inline_keyboard if markup else ():
        for button in row:
            assert button.callback_data is not None
            assert len(str(button.callback_data).encode()) <= CALLBACK_LIMIT
    assert len(plain_reply(reply)) <= MESSAGE_LIMIT


TAGS = [None, "b", "i", "blockquote", "code"]
# Text that is hard to split: characters that escape to several, spaces, newlines.
split_alphabet = st.sampled_from([*"&<>a b\n가", "&amp;", "\u202e", "👍🏽", "\u0301"])
block_texts = st.one_of(
    st.text(max_size=200),
    st.lists(split_alphabet, max_size=400).map("".join),
    st.builds(
        lambda base, n: base * n,
        st.sampled_from(["&", "<", "a&b ", "&amp;", "x" * 7 + " ", "가나다", "\n"]),
        st.integers(1, 2_500),
    ),
)
blocks_strategy = st.lists(
    st.builds(Block, block_texts, st.sampled_from(TAGS)), min_size=1, max_size=6
)


def _squash(text: str) -> str:
    return "".join(text.split())


@PROPERTY_SETTINGS
@given(blocks=blocks_strategy, limit=st.sampled_from([MESSAGE_LIMIT, MESSAGE_LIMIT, 300, 64]))
@example(blocks=[Block("&" * 5_000)], limit=MESSAGE_LIMIT)
@example(blocks=[Block("<" * 4_000 + "a" * 200, "b")], limit=MESSAGE_LIMIT)
@example(blocks=[Block("a&b " * 2_000, "blockquote")], limit=MESSAGE_LIMIT)
@example(blocks=[Block("x" * 4_090), Block("&&&", "i")], limit=MESSAGE_LIMIT)
def test_render_blocks_output_is_valid_and_fits(blocks: list[Block], limit: int) -> None:
    messages = render_blocks(blocks, limit=limit)
    for message in messages:
        assert len(message) <= limit, "the HTML source itself is over the limit"
    visible = check_messages(messages, limit)
    # Nothing is lost or reordered (splitting may only drop the spaces it splits at).
    assert _squash("".join(visible)) == _squash("".join(b.text for b in blocks))


# --- end to end through the emulator -------------------------------------------------------

USER_BASE = 7100
GROUP = -100555000

E2E_TEXTS = [
    "<b>언제 복구됐어?</b>",
    "</code><pre>&amp;&lt;&#0;&#x110000; &",
    "*원인은?* _굵게_ `code` [link](http://x)",
    "\u202e?어됐구복 제언\u200f",
    "카톡\u0301\u0301\u0301 언제\u200b복구\u200d됐어",
    "👨‍👩‍👧‍👦🇰🇷👍🏽 " * 40,
    "\x00\x07\x1b[31m 제어문자 \x7f",
    "?!.,;:…" * 3,
    "ㅋ" * 4096,
    "' OR 1=1; -- {{7*7}} ${jndi:ldap://x} %s%n",
    "<script>alert('x')</script> 카카오스토리는?",
    "\u3000\u2028 \t ",
    "ｋａｋａｏ ｔａｌｋ ｗｈｅｎ ｒｅｃｏｖｅｒｅｄ?",
    ("카톡 언제 복구됐어 <b>&amp; " * 300)[:4000],
    "ﷺ" * 500,
]


def _visible(call: Call) -> str:
    text = str(call.params["text"])
    return parse_html(text)[0] if call.params.get("parse_mode") == "HTML" else text


async def test_hostile_texts_get_exactly_one_valid_reply_each(
    bot_settings: Settings, emulator: BotApiEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    async with polling(bot_settings):
        private = {}
        group = {}
        for n, text in enumerate(E2E_TEXTS):
            private[USER_BASE + n] = emulator.private_message(USER_BASE + n, text)
            update = emulator.group_message(GROUP, USER_BASE + n, f"@kakao_outage_bot {text}")
            group[update["message"]["message_id"]] = update
        expected = len(private) + len(group)
        await emulator.wait_for_call("sendMessage", count=expected, timeout=20)
        await asyncio.sleep(0.5)  # room for any duplicate to show up
    sends = emulator.calls_to("sendMessage")
    failed = [call.summary() for call in sends if not call.ok]
    assert not failed, failed
    assert len(sends) == expected, emulator.calls_summary()
    per_private = Counter(call.params["chat_id"] for call in sends if call.params["chat_id"] > 0)
    assert per_private == Counter(dict.fromkeys(private, 1))
    per_group_message: Counter[Any] = Counter(
        (call.params.get("reply_parameters") or {}).get("message_id")
        for call in sends
        if call.params["chat_id"] == GROUP
    )
    assert per_group_message == Counter(dict.fromkeys(group, 1))
    for call in sends:
        shown = _visible(call)
        assert shown.strip() and len(shown) <= MESSAGE_LIMIT
    emulator.assert_delivered_exactly_once()
    assert not emulator.internal_errors
    handler_errors = [r for r in caplog.records if r.name.startswith("bot.")]
    assert not handler_errors, [r.getMessage() for r in handler_errors]
