"""Helpers shared by the end-to-end tests: run the real application against the emulator."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from botapi_emulator import Call, parse_html

from bot.config import Settings
from bot.service import KnowledgeService
from bot.telegram.app import BotApplication, build_application, stop_background


@contextlib.asynccontextmanager
async def polling(settings: Settings) -> AsyncIterator[BotApplication]:
    """The real application, long-polling the emulator named in `settings`."""
    service = KnowledgeService(settings)
    service.start()
    app = build_application(settings, service)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield app
    finally:
        await stop_background(app)
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


def text_of(call: Call) -> str:
    """The visible text of a sendMessage call, as Telegram would show it."""
    text = str(call.params["text"])
    if call.params.get("parse_mode") == "HTML":
        return parse_html(text)[0]
    return text


def to_chat(chat_id: int) -> Callable[[Call], bool]:
    return lambda call: call.params.get("chat_id") == chat_id


def buttons(call: Call) -> list[dict[str, Any]]:
    markup = call.params.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]
