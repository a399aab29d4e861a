"""Admin commands: reload, upload, rollback, the unanswered-questions inbox, stats, why.

Only the user ids in BOT_ADMIN_IDS may use them, in any chat. A refused attempt gets a
polite answer in a private chat, silence elsewhere, and an audit entry either way. Every
change goes through `KnowledgeService.apply_change` / `reload`: it fully succeeds or
changes nothing.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, ParseMode

from bot.errors import BotError, KnowledgeInvalid
from bot.knowledge import editing
from bot.service import describe_reload
from bot.telegram.context import BotContext
from bot.telegram.formatting import MESSAGE_LIMIT, Block, callback_data, render_blocks

logger = logging.getLogger(__name__)

INBOX_ADD = "ia:"  # ia:<question id>:<intent id>  add the question as a phrasing
INBOX_CHOOSE = "ic:"  # ic:<question id>             choose another intent
INBOX_IGNORE = "ii:"  # ii:<question id>             ignore the group
MAX_PROBLEMS_SHOWN = 15

Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


def actor_of(update: Update) -> int:
    user = update.effective_user
    return user.id if user else 0


def is_admin(update: Update, context: BotContext) -> bool:
    return actor_of(update) in set(context.settings.admin_ids)


def admin_only(action: str) -> Callable[[Handler], Handler]:
    """Run the handler for admins only; refuse and audit everyone else."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(update: Update, context: BotContext) -> None:
            if is_admin(update, context):
                await handler(update, context)
                return
            context.records.audit(actor_of(update), action, _detail(update), "refused")
            logger.warning("refused %s for user %s", action, actor_of(update))
            chat = update.effective_chat
            query = update.callback_query
            if query is not None:
                await query.answer("관리자만 할 수 있어요.", show_alert=True)
            elif chat is not None and chat.type == ChatType.PRIVATE:
                message = update.effective_message
                if message is not None:
                    await message.reply_text("죄송해요, 이 명령은 관리자만 쓸 수 있어요.")

        return guarded

    return decorate


def _detail(update: Update) -> str:
    message = update.effective_message
    if update.callback_query is not None:
        return f"button {update.callback_query.data}"
    if message is not None and message.document is not None:
        return f"upload {message.document.file_name}"
    return (message.text or "")[:200] if message else ""


async def _say(message: Message, lines: list[str], title: str | None = None) -> None:
    blocks = ([Block(title, "b")] if title else []) + [Block("\n".join(lines))]
    for part in render_blocks(blocks):
        await message.reply_text(part, parse_mode=ParseMode.HTML)


def _problems(exc: KnowledgeInvalid) -> list[str]:
    shown = [str(p) for p in exc.problems[:MAX_PROBLEMS_SHOWN]]
    if len(exc.problems) > MAX_PROBLEMS_SHOWN:
        shown.append(f"… and {len(exc.problems) - MAX_PROBLEMS_SHOWN} more")
    return shown


async def _run_change(
    update: Update,
    context: BotContext,
    action: str,
    work: Callable[[], Any],
    detail: str,
) -> bool:
    """Run a reload-like operation off the event loop; report and audit the outcome."""
    message = update.effective_message
    if message is None:
        return False
    actor = actor_of(update)
    try:
        report = await asyncio.to_thread(work)
    except KnowledgeInvalid as exc:
        context.records.audit(actor, action, detail, f"refused: {len(exc.problems)} problem(s)")
        await _say(
            message,
            [
                *_problems(exc),
                "",
                "이전 지식이 그대로 유지됩니다 (the previous knowledge is still active).",
            ],
            "지식 파일에 문제가 있어요",
        )
        return False
    except BotError as exc:
        context.records.audit(actor, action, detail, f"refused: {exc}")
        await _say(message, [str(exc), "이전 지식이 그대로 유지됩니다."], "변경하지 않았어요")
        return False
    if isinstance(report, tuple):
        report = report[1]
    lines = describe_reload(report)
    context.records.audit(actor, action, detail, "ok: " + "; ".join(lines)[:500])
    await _say(message, lines, "적용했어요")
    return True


def _editing(
    context: BotContext, edit: Callable[..., editing.Change], *args: Any
) -> Callable[[], Any]:
    """A knowledge-file edit with the configured limits, applied and reloaded as one."""
    settings = context.settings

    def change() -> editing.Change:
        return edit(
            settings.knowledge_dir,
            *args,
            max_bytes=settings.max_file_bytes,
            max_aliases=settings.max_yaml_aliases,
        )

    return lambda: context.service.apply_change(change)


@admin_only("reload")
async def reload_knowledge(update: Update, context: BotContext) -> None:
    """/reload — re-read, validate, self-check and swap in the knowledge folder."""
    await _run_change(update, context, "reload", context.service.reload, "knowledge folder")


@admin_only("upload")
async def upload_knowledge(update: Update, context: BotContext) -> None:
    """A .yaml/.yml document from an admin: validate, install atomically, reload."""
    message = update.effective_message
    if message is None or message.document is None:
        return
    document = message.document
    name = document.file_name or ""
    settings = context.settings
    try:
        editing.safe_file_name(name)
    except editing.EditRefused as exc:
        context.records.audit(actor_of(update), "upload", f"upload {name}", f"refused: {exc}")
        await _say(message, [str(exc)], "받을 수 없는 파일이에요")
        return
    if document.file_size is not None and document.file_size > settings.max_file_bytes:
        text = f"{name} is {document.file_size} bytes, over the limit of {settings.max_file_bytes}"
        context.records.audit(actor_of(update), "upload", f"upload {name}", f"refused: {text}")
        await _say(message, [text], "파일이 너무 커요")
        return
    telegram_file = await document.get_file()
    content = bytes(await telegram_file.download_as_bytearray())

    work = _editing(context, editing.write_file, name, content)
    await _run_change(update, context, "upload", work, f"upload {name}")


@admin_only("rollback")
async def rollback_upload(update: Update, context: BotContext) -> None:
    """/rollback — restore the previous version of the last uploaded file and reload."""
    work = _editing(context, editing.rollback)
    await _run_change(update, context, "rollback", work, "last upload")


@admin_only("unanswered")
async def show_unanswered(update: Update, context: BotContext) -> None:
    """/unanswered — the most frequent recent questions the bot could not answer."""
    message = update.effective_message
    if message is None:
        return
    groups = await asyncio.to_thread(context.records.inbox)
    if not groups:
        await message.reply_text("받은편지함이 비어 있어요. 최근 답하지 못한 질문이 없어요.")
        return
    engine = context.service.engine
    for group in groups:
        rows = []
        if group.best_intent and group.best_intent in engine.index.intents:
            label = engine.question_of(group.best_intent)[:40]
            rows.append(
                [
                    InlineKeyboardButton(
                        f"추가: {label}",
                        callback_data=callback_data(
                            INBOX_ADD, f"{group.question_id}:{group.best_intent}"
                        ),
                    )
                ]
            )
        rows.append(
            [
                InlineKeyboardButton(
                    "다른 질문 고르기",
                    callback_data=callback_data(INBOX_CHOOSE, str(group.question_id)),
                ),
                InlineKeyboardButton(
                    "무시", callback_data=callback_data(INBOX_IGNORE, str(group.question_id))
                ),
            ]
        )
        text = (
            f"<b>{html.escape(group.text[:300], quote=False)}</b>\n"
            f"{group.count}번 · 가장 가까운 답: {html.escape(group.best_intent or '-')} "
            f"({group.best_score:.2f})"
        )
        await message.reply_text(
            text, parse_mode=ParseMode.HTML, reply_markup=InlineKeyboardMarkup(rows)
        )


@admin_only("inbox")
async def decide_inbox(update: Update, context: BotContext) -> None:
    """The inbox buttons: add as a phrasing, choose another intent, or ignore."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    data = query.data
    message = query.message if isinstance(query.message, Message) else None
    records = context.records
    if data.startswith(INBOX_IGNORE):
        question_id = int(data[len(INBOX_IGNORE) :])
        group = records.group_of(question_id)
        records.close_inbox(group.member_ids if group else [question_id], "ignored")
        records.audit(actor_of(update), "inbox ignore", str(question_id), "ok")
        await query.answer("무시했어요.")
        if message is not None:
            await message.edit_reply_markup(reply_markup=None)
        return
    if data.startswith(INBOX_CHOOSE):
        question_id = int(data[len(INBOX_CHOOSE) :])
        await query.answer()
        rows = [
            [
                InlineKeyboardButton(
                    s.question[:60],
                    callback_data=callback_data(INBOX_ADD, f"{question_id}:{s.intent_id}"),
                )
            ]
            for _cid, _title, questions in context.service.engine.categories()
            for s in questions
        ]
        if message is not None:
            await message.reply_text(
                "어느 질문의 다른 표현으로 추가할까요?", reply_markup=InlineKeyboardMarkup(rows)
            )
        return
    if data.startswith(INBOX_ADD):
        question_id_text, _, intent_id = data[len(INBOX_ADD) :].partition(":")
        question = records.question(int(question_id_text))
        if question is None:
            await query.answer("이 질문을 찾을 수 없어요.", show_alert=True)
            return
        await query.answer("추가하는 중…")
        group = records.group_of(int(question_id_text))
        text = str(question["text"])

        work = _editing(context, editing.add_phrasing, intent_id, text)
        if await _run_change(update, context, "inbox add", work, f"{text!r} -> {intent_id}"):
            records.close_inbox(group.member_ids if group else [int(question_id_text)], "added")
            if message is not None:
                await message.edit_reply_markup(reply_markup=None)


@admin_only("stats")
async def show_stats(update: Update, context: BotContext) -> None:
    """/stats — questions in the last day and week, answered rate, top intents."""
    message = update.effective_message
    if message is None:
        return
    stats = await asyncio.to_thread(context.records.stats)
    lines = [
        f"최근 24시간 질문: {stats.day}",
        f"최근 7일 질문: {stats.week} (답한 비율 {stats.answered_rate_week:.0%})",
        "자주 받은 질문: " + (", ".join(f"{i} {n}" for i, n in stats.top_intents) or "-"),
        "답하지 못한 이유: " + (", ".join(f"{r} {n}" for r, n in stats.refusals) or "-"),
        "대화 종류별: "
        + (", ".join(f"{c} {n} (답 {a})" for c, n, a in stats.by_chat_type) or "-"),
    ]
    await _say(message, lines, "통계")


@admin_only("why")
async def explain_why(update: Update, context: BotContext) -> None:
    """/why 질문 — how the engine read a question: normal form, candidates, decision."""
    message = update.effective_message
    if message is None:
        return
    question = " ".join(context.args or [])
    if not question.strip():
        await message.reply_text("사용법: /why 질문")
        return
    engine = context.service.engine
    query, candidates, intent_id, confidence, reason = engine.understand(question)
    reply = engine.ask(question)
    t = engine.thresholds
    lines = [
        f"normalised: {' '.join(query.stems) or '(empty)'}",
        f"entities: {', '.join(query.entities) or '-'}",
        # The best match can still be declined ('경주 지진 때 몇 시간?': a figure its
        # answer never gives), so both are shown.
        f"decision: {reply.kind} ({reply.reason or reason}), answered {reply.intent_id or '-'}, "
        f"best match {intent_id or '-'}, confidence {confidence:.2f}",
        *(
            f"  {c.intent_id}: {c.score:.1f} (terms {c.terms:.2f}) ← {c.utterance}"
            for c in candidates[:5]
        ),
        f"thresholds: answer {t.answer}, clear {t.clear_answer}+{t.clear_margin}, "
        f"in context {t.context_answer}+{t.context_margin}, "
        f"suggest {t.suggest}, margin {t.margin}",
    ]
    text = "\n".join(lines)
    await _say(message, [text[: MESSAGE_LIMIT - 100]], "/why")
