"""Sending: retries on connection errors, never on timeouts; no empty messages."""

from __future__ import annotations

import asyncio

import pytest
from botapi_emulator import parse_html
from telegram.error import BadRequest, NetworkError, TimedOut

from bot.telegram import handlers
from bot.telegram.formatting import MESSAGE_LIMIT, Block, render_blocks


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(handlers.asyncio, "sleep", sleep)
    return waits


def failing(times: int, error: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    async def action() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "sent"

    return calls, action


@pytest.mark.parametrize("failures", [1, 3, handlers.SEND_ATTEMPTS - 1])
def test_connection_errors_are_retried_until_sent(failures: int, no_waiting: list[float]) -> None:
    calls, action = failing(failures, NetworkError("connection refused"))
    assert asyncio.run(handlers._with_retry(action, "test")) == "sent"
    assert len(calls) == failures + 1
    assert no_waiting == sorted(no_waiting)
    assert max(no_waiting) <= handlers.MAX_BACKOFF


def test_an_outage_of_half_a_minute_is_covered(no_waiting: list[float]) -> None:
    calls, action = failing(handlers.SEND_ATTEMPTS, NetworkError("connection refused"))
    with pytest.raises(NetworkError):
        asyncio.run(handlers._with_retry(action, "test"))
    assert len(calls) == handlers.SEND_ATTEMPTS
    assert sum(no_waiting) >= 25


@pytest.mark.parametrize("error", [TimedOut("read timeout"), BadRequest("message is too long")])
def test_timeouts_and_bad_requests_are_not_retried(error: Exception) -> None:
    calls, action = failing(1, error)
    with pytest.raises(type(error)):
        asyncio.run(handlers._with_retry(action, "test"))
    assert len(calls) == 1


@pytest.mark.parametrize(
    "blocks",
    [
        [Block("a" * 4068 + "\n" * 100)],
        [Block("x" * 4095), Block("   ", "b")],
        [Block("   "), Block("답", "i"), Block("\n\n")],
    ],
)
def test_no_message_is_only_whitespace(blocks: list[Block]) -> None:
    messages = render_blocks(blocks)
    for message in messages:
        text, _entities = parse_html(message)
        assert text.strip()
        assert len(text) <= MESSAGE_LIMIT
