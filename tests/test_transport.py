"""The aiohttp Bot API client: what PTB gets back for uploads, timeouts and refused
connections (the rest is covered end to end by the fault tests)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from botapi_emulator import BotApiEmulator
from telegram import Bot
from telegram.error import NetworkError, TimedOut

from bot.telegram.transport import AiohttpRequest

USER = 7070


@pytest.fixture
async def bot(emulator: BotApiEmulator, bot_token: str) -> AsyncIterator[Bot]:
    emulator.add_user(USER)
    client = Bot(
        bot_token,
        base_url=emulator.base_url,
        base_file_url=emulator.base_file_url,
        request=AiohttpRequest(4),
        get_updates_request=AiohttpRequest(),
    )
    async with client:
        yield client


async def test_a_document_upload_arrives_intact(emulator: BotApiEmulator, bot: Bot) -> None:
    content = "질문,답\n언제,10시 17분\n".encode() + bytes(range(256))
    message = await bot.send_document(USER, content, filename="faq.csv", caption="표")
    assert message.document is not None
    assert message.document.file_name == "faq.csv"
    assert message.caption == "표"
    assert emulator.file_content(message.document.file_id) == content


async def test_a_slow_answer_is_a_timeout(emulator: BotApiEmulator, bot: Bot) -> None:
    emulator.delay("getChat", 2.0)
    with pytest.raises(TimedOut):
        await bot.get_chat(USER, read_timeout=0.3)


async def test_a_refused_connection_is_a_network_error(bot_token: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens once the probe is closed
    client = Bot(bot_token, base_url=f"http://127.0.0.1:{port}/bot", request=AiohttpRequest())
    await client.request.initialize()
    try:
        with pytest.raises(NetworkError) as caught:
            await client.get_me()
        assert not isinstance(caught.value, TimedOut)
        assert bot_token.split(":")[1] not in str(caught.value)
    finally:
        await client.request.shutdown()


async def test_requests_fail_clearly_before_initialize() -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest().do_request("http://127.0.0.1:9/x", "GET")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_proxy_in_the_environment_is_used(
    emulator: BotApiEmulator, bot_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.add_user(USER)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = Bot(bot_token, base_url=emulator.base_url, request=AiohttpRequest())
    await client.request.initialize()
    try:
        with pytest.raises(NetworkError):  # the proxy is down, so the request went to it
            await client.get_chat(USER)
        assert not emulator.calls_to("getChat")
    finally:
        await client.request.shutdown()


async def test_no_proxy_in_the_environment_goes_direct(
    emulator: BotApiEmulator, bot_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.add_user(USER)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = Bot(bot_token, base_url=emulator.base_url, request=AiohttpRequest())
    await client.request.initialize()
    try:
        chat = await client.get_chat(USER)
        assert chat.id == USER
    finally:
        await client.request.shutdown()
