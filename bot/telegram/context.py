"""The typed callback context: handlers reach shared services without casts."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.config import Settings
from bot.records import Records
from bot.service import KnowledgeService


class BotData:
    """Shared state of one running bot (PTB's bot_data)."""

    def __init__(self) -> None:
        self.service: KnowledgeService | None = None
        self.settings: Settings | None = None
        self.records: Records | None = None
        self.group_last_answer: dict[int, float] = {}
        self.reload_tasks: set[asyncio.Task[None]] = set()  # heartbeat, folder watching


class BotContext(CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], BotData]):
    """CallbackContext with the knowledge service and settings as typed properties."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)

    @property
    def service(self) -> KnowledgeService:
        service = self.bot_data.service
        if service is None:
            raise RuntimeError("the knowledge service is not attached to the application")
        return service

    @property
    def records(self) -> Records:
        records = self.bot_data.records
        if records is None:
            raise RuntimeError("records are not attached to the application")
        return records

    @property
    def settings(self) -> Settings:
        settings = self.bot_data.settings
        if settings is None:
            raise RuntimeError("settings are not attached to the application")
        return settings
