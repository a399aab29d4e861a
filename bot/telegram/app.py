"""Building and running the Telegram application (python-telegram-bot v22, async)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.config import TOKEN_PATTERN, Settings
from bot.errors import BotError, ConfigError
from bot.knowledge.loader import knowledge_files
from bot.records import Records
from bot.service import KnowledgeService, describe_reload
from bot.telegram import admin, handlers
from bot.telegram.context import BotContext, BotData
from bot.telegram.transport import AiohttpRequest

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30.0
SEND_CONNECTIONS = 16

PRIVATE_COMMANDS = [
    BotCommand("start", "처음 안내와 주제"),
    BotCommand("topics", "주제별 질문 목록"),
    BotCommand("source", "기사 정보(출처)"),
    BotCommand("ask", "질문하기"),
    BotCommand("help", "사용법"),
]
GROUP_COMMANDS = [
    BotCommand("ask", "질문하기 (예: /ask 언제 복구됐어?)"),
    BotCommand("source", "기사 정보(출처)"),
    BotCommand("help", "사용법"),
]
ADMIN_COMMANDS = [*GROUP_COMMANDS, BotCommand("start", "그룹에서 질문하는 방법")]
# Shown in the private chats of the bot's own admins (BOT_ADMIN_IDS).
BOT_ADMIN_COMMANDS = [
    *PRIVATE_COMMANDS,
    BotCommand("reload", "지식 파일 다시 읽기 (관리자)"),
    BotCommand("rollback", "마지막 업로드 되돌리기 (관리자)"),
    BotCommand("unanswered", "답하지 못한 질문함 (관리자)"),
    BotCommand("stats", "이용 통계 (관리자)"),
    BotCommand("why", "질문 분석 보기 (관리자)"),
]

BotApplication = Application[Any, BotContext, dict[Any, Any], dict[Any, Any], BotData, Any]


@dataclass(frozen=True)
class WebhookOptions:
    url: str
    listen: str = "0.0.0.0"
    port: int = 8443
    secret_token: str | None = None
    url_path: str = ""


class ResilientBot(ExtBot[int]):
    """An ExtBot whose polling survives updates it cannot parse.

    python-telegram-bot parses a getUpdates batch as a whole: one malformed update makes
    the whole batch fail, the offset never advances and polling retries the same batch
    forever. Here the batch is fetched again and parsed one update at a time; an update
    that cannot be parsed is logged and replaced by an empty one with the same id, so the
    offset moves past it and every other update is still handled."""

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        try:
            return await super().get_updates(*args, **kwargs)
        except TelegramError:
            raise
        except Exception as exc:  # a parsing error: see the class docstring
            logger.warning("a getUpdates batch could not be parsed (%s); parsing one by one", exc)
        offset = kwargs.get("offset", args[0] if args else None)
        limit = kwargs.get("limit", args[1] if len(args) > 1 else None)
        allowed = kwargs.get("allowed_updates", args[3] if len(args) > 3 else None)
        raw = await self._post(
            "getUpdates",
            {"offset": offset, "limit": limit, "timeout": 0, "allowed_updates": allowed},
        )
        updates: list[Update] = []
        for item in raw if isinstance(raw, list) else []:
            try:
                update = Update.de_json(item, self)
            except Exception as exc:
                update_id = item.get("update_id") if isinstance(item, dict) else None
                if not isinstance(update_id, int):
                    continue
                logger.warning("skipping malformed update %s: %s", update_id, exc)
                update = Update(update_id=update_id)
            self.insert_callback_data(update)
            updates.append(update)
        return tuple(updates)


def require_token(settings: Settings) -> str:
    """The token, or one clear sentence saying what is wrong (never the token itself)."""
    if settings.telegram_token is None or not settings.telegram_token.get_secret_value():
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN is not set: put the token from @BotFather in the environment "
            "or in a .env file."
        )
    token = settings.telegram_token.get_secret_value().strip()
    if not TOKEN_PATTERN.match(token):
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN is malformed: it should look like 123456789:AAE... "
            "(digits, a colon, then 35 letters, digits, - or _)."
        )
    return token


_redacted_tokens: set[str] = set()


def install_redaction(token: str) -> None:
    """Keep the token out of every log record, whoever logs it and whichever handler
    writes it (httpx logs request URLs, which carry the token)."""
    if not token or token in _redacted_tokens:
        return
    _redacted_tokens.add(token)
    secret = token.split(":", 1)[-1]
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error path
            return record
        if secret in message:
            record.msg = message.replace(token, "<token>").replace(secret, "<token>")
            record.args = ()
        return record

    logging.setLogRecordFactory(factory)
    logging.getLogger("httpx").setLevel(logging.WARNING)


async def register_commands(application: BotApplication) -> None:
    """The command menu, with separate scopes for private chats, groups and admins."""
    bot = application.bot
    await bot.set_my_commands(PRIVATE_COMMANDS, scope=BotCommandScopeAllPrivateChats())
    await bot.set_my_commands(GROUP_COMMANDS, scope=BotCommandScopeAllGroupChats())
    await bot.set_my_commands(ADMIN_COMMANDS, scope=BotCommandScopeAllChatAdministrators())
    settings = application.bot_data.settings
    for admin_id in settings.admin_ids if settings else []:
        try:
            await bot.set_my_commands(BOT_ADMIN_COMMANDS, scope=BotCommandScopeChat(admin_id))
        except BotError:
            raise
        except Exception as exc:  # the admin has not started a chat with the bot yet
            logger.info("admin menu for %s not set: %s", admin_id, exc)


async def reload_in_background(application: BotApplication, trigger: str) -> None:
    """A reload asked for by a signal or a file change: same safe path, result logged."""
    service = application.bot_data.service
    records = application.bot_data.records
    if service is None:
        return
    try:
        report = await asyncio.to_thread(service.reload)
    except BotError as exc:
        logger.error(
            "reload (%s) refused; the previous knowledge is still active:\n%s", trigger, exc
        )
        if records is not None:
            records.audit(0, f"reload ({trigger})", "knowledge folder", f"refused: {exc}"[:500])
        return
    lines = describe_reload(report)
    logger.info("reload (%s): %s", trigger, "; ".join(lines))
    if records is not None:
        records.audit(0, f"reload ({trigger})", "knowledge folder", "ok: " + "; ".join(lines))


def _folder_signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    signature = []
    for path in knowledge_files([folder]):
        with contextlib.suppress(OSError):
            stat = path.stat()
            signature.append((path.name, stat.st_mtime_ns, stat.st_size))
    return tuple(signature)


async def watch_knowledge(
    application: BotApplication,
    folder: Path,
    interval: float,
    seen: tuple[tuple[str, int, int], ...],
) -> None:
    """Reload when a knowledge file changes from `seen` (polling: works on every file
    system)."""
    while True:
        await asyncio.sleep(interval)
        current = _folder_signature(folder)
        if current != seen:
            await asyncio.sleep(interval / 2)  # let an editor finish writing
            if _folder_signature(folder) == current:
                seen = current
                await reload_in_background(application, "file change")


async def _heartbeat(path: Path) -> None:
    while True:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{time.time():.0f}\n", encoding="utf-8")
        await asyncio.sleep(HEARTBEAT_SECONDS)


def heartbeat_path(settings: Settings) -> Path:
    return Path(f"{settings.db_path}.heartbeat")


async def on_startup(application: BotApplication) -> None:
    """Register commands, say who the bot is and what it can read."""
    me = application.bot.bot
    logger.info(
        "running as @%s (id %s); reads all group messages: %s; inline mode: %s",
        me.username,
        me.id,
        me.can_read_all_group_messages,
        me.supports_inline_queries,
    )
    if not me.can_read_all_group_messages:
        logger.info("privacy mode is on: in groups the bot sees commands, mentions and replies")
    await register_commands(application)
    service = application.bot_data.service
    if service is not None:
        service.keep_heap_frozen()  # the start-up's objects are all made by now
    settings = application.bot_data.settings
    if settings is not None:
        # Long-lived tasks are ours to cancel (PTB's stop() would wait for them forever).
        background = application.bot_data.reload_tasks
        background.add(asyncio.create_task(_heartbeat(heartbeat_path(settings))))
        if settings.watch_knowledge:
            background.add(
                asyncio.create_task(
                    watch_knowledge(
                        application,
                        settings.knowledge_dir,
                        settings.watch_interval_seconds,
                        _folder_signature(settings.knowledge_dir),
                    )
                )
            )
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGHUP,
                lambda: application.create_task(reload_in_background(application, "SIGHUP")),
            )
        with contextlib.suppress(OSError):
            settings.pid_path().parent.mkdir(parents=True, exist_ok=True)
            settings.pid_path().write_text(f"{os.getpid()}\n", encoding="utf-8")


async def stop_background(application: BotApplication) -> None:
    """Cancel the heartbeat and folder-watching tasks."""
    tasks = application.bot_data.reload_tasks
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    tasks.clear()


async def on_shutdown(application: BotApplication) -> None:
    """Stop background tasks, remove the pid file and close the records database."""
    await stop_background(application)
    settings = application.bot_data.settings
    if settings is not None:
        with contextlib.suppress(OSError):
            if settings.pid_path().read_text(encoding="utf-8").strip() == str(os.getpid()):
                settings.pid_path().unlink()
    if application.bot_data.records is not None:
        application.bot_data.records.close()


def build_application(
    settings: Settings, service: KnowledgeService, token: str | None = None
) -> BotApplication:
    """The application with every handler wired, in a deliberate order."""
    token = token or require_token(settings)
    install_redaction(token)
    context_types = ContextTypes(context=BotContext, bot_data=BotData)
    bot = ResilientBot(
        token=token,
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.file_base_url(),
        # 16 connections cover Telegram's 30 messages/s at a 0.5 s round trip; a request
        # waits for a free one (it has not been sent yet) rather than fail after 1 s.
        request=AiohttpRequest(connection_pool_size=SEND_CONNECTIONS, pool_timeout=30.0),
        get_updates_request=AiohttpRequest(),
        rate_limiter=AIORateLimiter(max_retries=3),
    )
    application: BotApplication = (
        ApplicationBuilder()
        .bot(bot)
        .context_types(context_types)
        .concurrent_updates(True)
        .post_init(on_startup)
        .post_shutdown(on_shutdown)
        .build()
    )
    application.bot_data.service = service
    application.bot_data.settings = settings
    records = Records(settings.db_path, retention_days=settings.inbox_retention_days)
    records.purge()
    application.bot_data.records = records

    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    new_message = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("start", handlers.start_private, private & new_message))
    application.add_handler(CommandHandler("start", handlers.start_group, groups & new_message))
    application.add_handler(CommandHandler("help", handlers.show_help, new_message))
    application.add_handler(CommandHandler("source", handlers.show_source, new_message))
    application.add_handler(CommandHandler("topics", handlers.show_topics, new_message))
    application.add_handler(CommandHandler("ask", handlers.ask_command, new_message))
    for command, callback in (
        ("reload", admin.reload_knowledge),
        ("rollback", admin.rollback_upload),
        ("unanswered", admin.show_unanswered),
        ("stats", admin.show_stats),
        ("why", admin.explain_why),
    ):
        application.add_handler(CommandHandler(command, callback, new_message))
    application.add_handler(
        MessageHandler(private & new_message & filters.Document.ALL, admin.upload_knowledge)
    )
    application.add_handler(
        MessageHandler(
            filters.TEXT & ~filters.COMMAND & private & new_message, handlers.answer_private
        )
    )
    application.add_handler(
        MessageHandler(
            filters.TEXT & ~filters.COMMAND & groups & new_message, handlers.answer_group
        )
    )
    application.add_handler(
        MessageHandler(
            filters.UpdateType.CHANNEL_POST & filters.TEXT, handlers.answer_channel_post
        )
    )
    application.add_handler(
        MessageHandler(
            private & new_message & ~filters.TEXT & ~filters.StatusUpdate.ALL,
            handlers.hint_non_text,
        )
    )
    application.add_handler(
        CallbackQueryHandler(
            admin.decide_inbox,
            pattern=f"^({admin.INBOX_ADD}|{admin.INBOX_CHOOSE}|{admin.INBOX_IGNORE})",
        )
    )
    application.add_handler(CallbackQueryHandler(handlers.press_button))
    application.add_handler(InlineQueryHandler(handlers.answer_inline))
    application.add_error_handler(handlers.log_error)
    return application


def run(
    settings: Settings, service: KnowledgeService, webhook: WebhookOptions | None = None
) -> None:
    """Run until interrupted: long polling by default, a webhook when asked."""
    token = require_token(settings)
    application = build_application(settings, service, token)
    if webhook is None:
        application.run_polling(allowed_updates=Update.ALL_TYPES, bootstrap_retries=-1)
    else:
        application.run_webhook(
            listen=webhook.listen,
            port=webhook.port,
            url_path=webhook.url_path,
            webhook_url=webhook.url,
            secret_token=webhook.secret_token,
            allowed_updates=Update.ALL_TYPES,
            # A refused setWebhook (a bad URL) must stop with its error, not retry forever.
            bootstrap_retries=3,
        )
