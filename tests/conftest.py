"""Shared pytest fixtures."""

from collections.abc import AsyncIterator

import pytest
from botapi_emulator import BotApiEmulator


@pytest.fixture
def bot_token() -> str:
    """A syntactically valid, fake bot token (bot id 987654321)."""
    return "987654321:AAH-fake-token-for-tests_0123456789"


@pytest.fixture
async def emulator(bot_token: str) -> AsyncIterator[BotApiEmulator]:
    """A running Bot API emulator on 127.0.0.1 (free port), stopped after the test."""
    emu = BotApiEmulator(token=bot_token)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()
