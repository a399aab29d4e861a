"""Faults of the Bot API, through the emulator: the real application survives, recovers, and
every question asked during a fault gets its answer exactly once.

"During a fault" is taken literally: each test waits until the fault has hit (the failing
call is recorded, or the delay rule was taken) before the questions are queued.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from botapi_emulator import BotApiEmulator, Call, parse_html
from telegram_helpers import polling

from bot.config import Settings
from bot.telegram.app import SEND_CONNECTIONS, BotApplication

# Questions with the fact their answer must contain (the knowledge is the shipped one).
QUESTIONS = [
    ("카톡 언제 복구됐어?", "10시 17분"),
    ("언제 시작됐어?", "8시 58분"),
    ("얼마나 오래 안됐어?", "1시간 20분"),
    ("카카오가 밝힌 원인은?", "네트워크"),
    ("카카오스토리는 언제 복구됐어?", "오후 3시"),
]
GROUP = -100300400
POLL_TIMEOUT = 1  # long-poll timeout the application is started with
READ_TIMEOUT = 5  # the default read timeout, which build_application keeps for getUpdates
NGINX_502 = "<html><body><h1>502 Bad Gateway</h1></body></html>"


@pytest.fixture
async def app(bot_settings: Settings) -> AsyncIterator[BotApplication]:
    async with polling(bot_settings) as application:
        yield application


@pytest.fixture
def handler_errors(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """ERROR records of the bot's own code (its error handler logs there). PTB's polling loop
    logs getUpdates failures under telegram.ext, which is expected during these faults."""
    caplog.set_level(logging.WARNING)
    return lambda: [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("bot.") and r.levelno >= logging.ERROR
    ]


def text_of(call: Call) -> str:
    text = str(call.params["text"])
    return parse_html(text)[0] if call.params.get("parse_mode") == "HTML" else text


def ask_all(emulator: BotApiEmulator, first_user: int) -> dict[int, tuple[dict[str, Any], str]]:
    """One question per private chat (chat id = user id): {chat: (update, expected fact)}."""
    asked = {}
    for n, (question, fact) in enumerate(QUESTIONS):
        user = first_user + n
        asked[user] = (emulator.private_message(user, question), fact)
    return asked


async def assert_answered_exactly_once(
    emulator: BotApiEmulator,
    asked: dict[int, tuple[dict[str, Any], str]],
    *,
    timeout: float = 10,
    settle: float = 0.3,
    deliveries: int = 1,
) -> dict[int, list[Call]]:
    """Each chat got exactly one successful answer, with the right fact; returns every
    sendMessage call per chat (failed attempts included)."""
    chats = set(asked)
    await emulator.wait_for_call(
        "sendMessage", lambda c: c.ok and c.params.get("chat_id") in chats, timeout, len(chats)
    )
    await asyncio.sleep(settle)  # any duplicate would show up now
    calls: dict[int, list[Call]] = {chat: [] for chat in chats}
    for call in emulator.calls_to("sendMessage"):
        if call.params.get("chat_id") in chats:
            calls[call.params["chat_id"]].append(call)
    for chat, (_update, fact) in asked.items():
        answers = [c for c in calls[chat] if c.ok]
        assert len(answers) == 1, (
            f"chat {chat}: {len(answers)} answers\n{emulator.calls_summary()}"
        )
        assert fact in text_of(answers[0])
    updates = [update for update, _fact in asked.values()]
    if deliveries == 1:
        emulator.assert_delivered_exactly_once(updates)
    else:
        assert {emulator.deliveries[u["update_id"]] for u in updates} == {deliveries}
    assert not emulator.internal_errors
    return calls


async def wait_for_failure(emulator: BotApiEmulator, method: str, status: int) -> Call:
    call = await emulator.wait_for_call(method, lambda c: c.status == status, timeout=5)
    return call


async def wait_until_delay_taken(emulator: BotApiEmulator, timeout: float = 5) -> None:
    """The pending delay rule was taken by a request (the emulator has no public view)."""
    deadline = time.monotonic() + timeout
    while emulator._delays:
        assert time.monotonic() < deadline, "no request took the delay"
        await asyncio.sleep(0.01)


# --- getUpdates ---------------------------------------------------------------------------


async def test_429_on_get_updates_then_all_answered(
    app: BotApplication, emulator: BotApiEmulator, handler_errors: Callable[[], list[str]]
) -> None:
    emulator.fail_next("getUpdates", 429, retry_after=1)
    failed = await wait_for_failure(emulator, "getUpdates", 429)
    asked = ask_all(emulator, 8100)
    await assert_answered_exactly_once(emulator, asked)
    # The bot honoured retry_after: no getUpdates within the second after the 429.
    later = [c for c in emulator.calls_to("getUpdates") if c.time > failed.time]
    assert later and later[0].time - failed.time >= 1.0
    assert not handler_errors()


async def test_server_errors_on_get_updates_then_all_answered(
    app: BotApplication, emulator: BotApiEmulator, handler_errors: Callable[[], list[str]]
) -> None:
    """A 500, then a 502 with an HTML body (a proxy's error page), on getUpdates."""
    emulator.fail_next("getUpdates", 500)
    emulator.fail_next("getUpdates", 502, body=NGINX_502)
    await wait_for_failure(emulator, "getUpdates", 500)
    asked = ask_all(emulator, 8200)
    await assert_answered_exactly_once(emulator, asked)
    statuses = [c.status for c in emulator.calls_to("getUpdates")]
    assert 500 in statuses and 502 in statuses
    assert not handler_errors()


async def test_slow_get_updates_then_all_answered(
    app: BotApplication, emulator: BotApiEmulator, handler_errors: Callable[[], list[str]]
) -> None:
    """The answer to getUpdates is 2 s late (within the read timeout): nothing is lost."""
    emulator.delay("getUpdates", 2.0)
    await wait_until_delay_taken(emulator)
    started = time.monotonic()
    asked = ask_all(emulator, 8300)
    calls = await assert_answered_exactly_once(emulator, asked)
    first_answer = min(c.time for chat in calls.values() for c in chat)
    assert first_answer - started >= 1.9, "the delay did not apply to these questions"
    assert not handler_errors()


async def test_get_updates_answer_lost_to_a_timeout(
    app: BotApplication, emulator: BotApiEmulator, handler_errors: Callable[[], list[str]]
) -> None:
    """The emulator hands out the questions but answers getUpdates after the client's read
    timeout (long-poll timeout + 5 s): the client gives up, polls again with the same offset
    and gets them again. Each is delivered twice (as Telegram would), answered once."""
    emulator.delay("getUpdates", POLL_TIMEOUT + READ_TIMEOUT + 0.7)
    await wait_until_delay_taken(emulator)
    started = time.monotonic()
    asked = ask_all(emulator, 8400)
    calls = await assert_answered_exactly_once(emulator, asked, timeout=15, deliveries=2)
    first_answer = min(c.time for chat in calls.values() for c in chat)
    assert first_answer - started >= POLL_TIMEOUT + READ_TIMEOUT - 0.5
    # The late answer to the first poll arrives meanwhile; it must not cause a second reply.
    await asyncio.sleep(max(0.0, started + POLL_TIMEOUT + READ_TIMEOUT + 1.0 - time.monotonic()))
    for chat in asked:
        oks = [c for c in emulator.calls_to("sendMessage") if c.ok and c.params["chat_id"] == chat]
        assert len(oks) == 1
    assert not handler_errors()


async def test_api_unreachable_for_two_seconds(
    app: BotApplication, emulator: BotApiEmulator, handler_errors: Callable[[], list[str]]
) -> None:
    """Connection refused for ~2 s while 5 questions (private and group) are queued."""
    await emulator.wait_for_call("getUpdates")  # polling is under way
    await emulator.stop()
    asked = ask_all(emulator, 8500)
    group_updates = [
        emulator.group_message(GROUP, 8600 + n, f"@kakao_outage_bot {question}")
        for n, (question, _fact) in enumerate(QUESTIONS[:2])
    ]
    await asyncio.sleep(2.0)
    calls_while_down = len(emulator.calls)
    await emulator.start()
    await assert_answered_exactly_once(emulator, asked, timeout=15)
    group_answers = Counter(
        (c.params.get("reply_parameters") or {}).get("message_id")
        for c in emulator.calls_to("sendMessage")
        if c.ok and c.params["chat_id"] == GROUP
    )
    assert group_answers == Counter({u["message"]["message_id"]: 1 for u in group_updates})
    emulator.assert_delivered_exactly_once(group_updates)
    assert len(emulator.calls) > calls_while_down
    assert not handler_errors()


async def test_unknown_and_malformed_updates_are_skipped(
    app: BotApplication, emulator: BotApiEmulator, handler_errors: Callable[[], list[str]]
) -> None:
    """Garbage between questions, in one getUpdates batch: the questions are all answered
    once, the garbage is skipped, and polling goes on."""
    await emulator.wait_for_call("getUpdates")
    # Everything is queued before the event loop runs again, so it comes in one batch.
    garbage = [
        {"some_future_update_kind": {"foo": 1}},
        {"message": {"text": "no chat, no date", "message_id": "x"}},
        {"message": {"message_id": 5, "date": "yesterday", "chat": "not an object"}},
        {"callback_query": {"id": 7}},
        {"message": None},
        {"edited_message": {"message_id": 1, "date": 0, "chat": {"id": "abc"}, "text": 3}},
    ]
    asked: dict[int, tuple[dict[str, Any], str]] = {}
    for n, (question, fact) in enumerate(QUESTIONS):
        asked[8700 + n] = (emulator.private_message(8700 + n, question), fact)
        emulator.raw_update(garbage[n % len(garbage)])
    emulator.raw_update(garbage[-1])
    # The first parse of the batch fails and the bot fetches it again to parse one update at
    # a time: each update is handed out twice and handled once.
    await assert_answered_exactly_once(emulator, asked, deliveries=2)
    # Polling still works afterwards, with a fresh question.
    later = emulator.private_message(8799, QUESTIONS[0][0])
    await assert_answered_exactly_once(emulator, {8799: (later, QUESTIONS[0][1])})
    assert emulator.pending_updates() == []
    assert not handler_errors()


async def test_unknown_update_kind_alone_does_not_block(
    app: BotApplication, emulator: BotApiEmulator, handler_errors: Callable[[], list[str]]
) -> None:
    for n in range(3):
        emulator.raw_update({f"future_kind_{n}": {"id": n}})
    asked = ask_all(emulator, 8900)
    await assert_answered_exactly_once(emulator, asked)
    assert not handler_errors()


# --- sendMessage --------------------------------------------------------------------------


async def test_429_on_send_message_then_all_answered(
    app: BotApplication, emulator: BotApiEmulator, handler_errors: Callable[[], list[str]]
) -> None:
    emulator.fail_next("sendMessage", 429, retry_after=1, times=3)
    asked = ask_all(emulator, 9100)
    calls = await assert_answered_exactly_once(emulator, asked, timeout=15)
    statuses = Counter(c.status for chat in calls.values() for c in chat)
    assert statuses == Counter({200: len(asked), 429: 3})
    assert not handler_errors()


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, None), (502, None), (502, NGINX_502)],
    ids=["500", "502", "502-html"],
)
async def test_server_errors_on_send_message_then_all_answered(
    app: BotApplication,
    emulator: BotApiEmulator,
    handler_errors: Callable[[], list[str]],
    status: int,
    body: str | None,
) -> None:
    """A 5xx means the request was not processed: the bot sends again, and only once."""
    emulator.fail_next("sendMessage", status, times=4, body=body)
    asked = ask_all(emulator, 9200)
    calls = await assert_answered_exactly_once(emulator, asked, timeout=15)
    statuses = Counter(c.status for chat in calls.values() for c in chat)
    assert statuses == Counter({200: len(asked), status: 4})
    assert not handler_errors()


async def test_more_slow_sends_than_connections_all_answered(
    app: BotApplication, emulator: BotApiEmulator, handler_errors: Callable[[], list[str]]
) -> None:
    """Every send connection is held by a slow answer for longer than PTB's default pool
    timeout (1 s): the questions behind them wait for a connection instead of failing."""
    emulator.delay("sendMessage", 1.5, times=SEND_CONNECTIONS)
    asked = {}
    for n in range(SEND_CONNECTIONS + 24):
        question, fact = QUESTIONS[n % len(QUESTIONS)]
        asked[9300 + n] = (emulator.private_message(9300 + n, question), fact)
    await assert_answered_exactly_once(emulator, asked, timeout=20)
    assert not handler_errors()
