"""Telegram handlers: thin glue between updates and the engine.

Every handler is `async def verb_noun(update, context) -> None`. They never catch
everything themselves: the one error handler logs with context and apologises.
Edited messages are ignored everywhere (the first answer stands), consistently.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, NetworkError, TimedOut

from bot.engine.answers import Reply
from bot.telegram.context import BotContext
from bot.telegram.formatting import (
    ASK_PREFIX,
    FEEDBACK_PREFIX,
    TOPIC_PREFIX,
    Block,
    callback_data,
    format_reply,
    plain_reply,
    question_buttons,
    render_blocks,
    reply_markup,
)

logger = logging.getLogger(__name__)

# A connection error means the request never went out: retrying is safe, and an answer
# whose update is already confirmed would otherwise be lost. Backoff 0.5 s doubling to
# 8 s: about half a minute in all.
SEND_ATTEMPTS = 8
MAX_BACKOFF = 8.0
INLINE_RESULTS = 3


def conversation_key(update: Update) -> str | None:
    """Context is kept per private chat, and per person within a group topic."""
    message = update.effective_message
    chat = update.effective_chat
    if chat is None:
        return None
    if chat.type == ChatType.PRIVATE:
        return f"p:{chat.id}"
    thread = message.message_thread_id if message and message.is_topic_message else 0
    user = update.effective_user
    return f"g:{chat.id}:{thread}:{user.id if user else 0}"


async def _with_retry(action: Any, what: str) -> Any:
    """Retry a send when the connection failed before the request went out.

    RetryAfter is handled by the rate limiter; TimedOut is not retried because the
    message may have been delivered already (a retry could send it twice)."""
    delay = 0.5
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            return await action()
        except TimedOut:
            raise
        except NetworkError as exc:
            if isinstance(exc, BadRequest) or attempt == SEND_ATTEMPTS:
                raise
            logger.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)
    return None


async def send_reply(
    message: Message, reply: Reply, *, short: bool, feedback: int | None = None
) -> None:
    """Send a reply (split if needed) as an answer to `message`, in its topic."""
    parts = format_reply(reply, short=short)
    markup = reply_markup(reply, feedback=None if short else feedback)
    for n, part in enumerate(parts):
        last = n == len(parts) - 1
        await _with_retry(
            lambda part=part, last=last: message.reply_text(
                part,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if last else None,
                do_quote=message.chat.type != ChatType.PRIVATE,
            ),
            "sending an answer",
        )


def _english(update: Update) -> bool:
    user = update.effective_user
    return bool(user and user.language_code and not user.language_code.startswith("ko"))


async def start_private(update: Update, context: BotContext) -> None:
    """Welcome a person: what the bot covers, and topic buttons."""
    message = update.effective_message
    if message is None:
        return
    engine = context.service.engine
    incident = engine.knowledge.sources[0].model.incident
    source = incident.source
    blocks = [
        Block(f"안녕하세요! {incident.title}에 대해 묻고 답하는 챗봇이에요.", "b"),
        Block(
            f"{source.publisher} 기사({source.published:%Y-%m-%d})에 나온 사실만으로 답하고, "
            "모든 답에 기사 속 출처 문장을 붙여 드려요. 기사에 없는 내용은 모른다고 말씀드려요."
        ),
        Block("아래 주제를 누르거나 편하게 질문해 보세요. 예: “언제 복구됐어?”, “원인은?”"),
    ]
    await message.reply_text(
        render_blocks(blocks)[0],
        parse_mode=ParseMode.HTML,
        reply_markup=InlineKeyboardMarkup(question_buttons(engine.topics()[:6])),
    )


async def start_group(update: Update, context: BotContext) -> None:
    """Explain how to ask in a group."""
    message = update.effective_message
    if message is None:
        return
    username = context.bot.username
    text = (
        "이 그룹에서는 불러 주실 때만 답해요.\n"
        f"• @{username} 질문 — 멘션과 함께 질문\n"
        "• 제 메시지에 답장으로 질문\n"
        "• /ask 질문\n"
        f"{context.service.engine.knowledge.sources[0].model.incident.title}에 대해 답해 드려요."
    )
    await message.reply_text(html.escape(text, quote=False), parse_mode=ParseMode.HTML)


async def show_help(update: Update, context: BotContext) -> None:
    """List the commands."""
    message = update.effective_message
    if message is None:
        return
    text = (
        "<b>사용법</b>\n"
        "질문을 그냥 보내세요. 이어지는 질문(“그럼 카카오스토리는?”)도 알아들어요.\n\n"
        "/topics — 주제별 질문 목록\n"
        "/source — 기사 정보\n"
        "/ask 질문 — 그룹에서 질문할 때\n"
        "/help — 이 도움말"
    )
    await message.reply_text(text, parse_mode=ParseMode.HTML)


async def show_source(update: Update, context: BotContext) -> None:
    """Tell where the facts come from: publisher, author, date, link."""
    message = update.effective_message
    if message is None:
        return
    blocks = []
    for knowledge_source in context.service.engine.knowledge.sources:
        src = knowledge_source.model.incident.source
        blocks.append(Block(src.title, "b"))
        blocks.append(Block(f"{src.publisher} · {src.author} · {src.published:%Y-%m-%d %H:%M}"))
        blocks.append(Block(src.url))
    await message.reply_text(
        render_blocks(blocks)[0], parse_mode=ParseMode.HTML, disable_web_page_preview=True
    )


async def show_topics(update: Update, context: BotContext) -> None:
    """A menu of categories; each opens its questions."""
    message = update.effective_message
    if message is None:
        return
    rows = [
        [InlineKeyboardButton(title, callback_data=callback_data(TOPIC_PREFIX, category_id))]
        for category_id, title, _questions in context.service.engine.categories()
    ]
    await message.reply_text("어떤 주제가 궁금하세요?", reply_markup=InlineKeyboardMarkup(rows))


def _mentions_bot(message: Message, username: str, bot_id: int) -> bool:
    for entity in message.entities or ():
        if entity.type == MessageEntity.MENTION:
            if message.parse_entity(entity).lstrip("@").lower() == username.lower():
                return True
        elif (
            entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot_id
        ):
            return True
    return False


def _strip_mention(text: str, username: str) -> str:
    return " ".join(w for w in text.split() if w.lstrip("@").lower() != username.lower())


def _cooling_down(context: BotContext, chat_id: int) -> bool:
    cooldown = context.settings.group_cooldown_seconds
    now = time.monotonic()
    last = context.bot_data.group_last_answer.get(chat_id)
    if last is not None and now - last < cooldown:
        return True
    context.bot_data.group_last_answer[chat_id] = now
    return False


async def answer_text(update: Update, context: BotContext, text: str) -> None:
    """Answer a question in the chat it came from, shaped for that kind of chat."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None:
        return
    private = chat.type == ChatType.PRIVATE
    if not private and _cooling_down(context, chat.id):
        logger.info("group %s is in cooldown; question skipped", chat.id)
        return
    reply, question_id = answer_and_record(context, text, conversation_key(update), chat.type)
    await send_reply(message, reply, short=not private, feedback=question_id if private else None)


def answer_and_record(
    context: BotContext, text: str, conversation: str | None, chat_type: str
) -> tuple[Reply, int | None]:
    """Answer and keep the question, on the event loop itself.

    The engine answers in about a millisecond (p99 1.6 ms; 17 ms on knowledge 100 times the
    size) and the insert takes a twentieth of that. A worker thread cannot run it alongside the
    loop anyway (both need the GIL), and the hop costs more than the work: under load at
    300 questions/s it cost about 1 ms of CPU per answer, mostly the kernel's, in GIL
    hand-overs and wake-ups, and tripled the p99 reply time (140 ms against 47 ms,
    scripts/loadtest.py --rate 300). Reloads, statistics and the inbox still run in
    threads."""
    reply = context.service.ask(text, conversation)
    return reply, record(context, reply, chat_type)


def record(context: BotContext, reply: Reply, chat_type: str) -> int | None:
    """Keep the question for the inbox and statistics; never fail the answer for it."""
    try:
        return context.records.record_question(
            reply, chat_type, low_confidence=context.settings.answer_threshold
        )
    except Exception:
        logger.exception("could not record a question")
        return None


async def answer_private(update: Update, context: BotContext) -> None:
    """Any text in a private chat is a question."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    await answer_text(update, context, message.text)


async def answer_group(update: Update, context: BotContext) -> None:
    """In groups, answer only when addressed: a mention of the bot or a reply to it."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    bot = context.bot
    replied = message.reply_to_message
    addressed = _mentions_bot(message, bot.username, bot.id) or (
        replied is not None and replied.from_user is not None and replied.from_user.id == bot.id
    )
    if not addressed:
        return
    text = _strip_mention(message.text, bot.username)
    await answer_text(update, context, text)


async def ask_command(update: Update, context: BotContext) -> None:
    """/ask 질문 — in any chat."""
    message = update.effective_message
    if message is None:
        return
    question = " ".join(context.args or [])
    if not question.strip():
        await message.reply_text("질문을 함께 적어 주세요. 예: /ask 언제 복구됐어?")
        return
    await answer_text(update, context, question)


async def answer_channel_post(update: Update, context: BotContext) -> None:
    """In a channel: answer posts that mention the bot or start with /ask."""
    post = update.channel_post
    if post is None or post.text is None:
        return
    bot = context.bot
    text = post.text.strip()
    first = text.split(maxsplit=1)[0] if text else ""
    if first.lower() in {"/ask", f"/ask@{bot.username.lower()}"}:
        question = text[len(first) :].strip()
    elif _mentions_bot(post, bot.username, bot.id):
        question = _strip_mention(text, bot.username)
    else:
        return
    if not question:
        return
    reply = context.service.ask(question, None)  # on the loop: see answer_and_record
    for part in format_reply(reply, short=True):
        await _with_retry(
            lambda part=part: context.bot.send_message(
                post.chat.id, part, parse_mode=ParseMode.HTML
            ),
            "posting an answer in a channel",
        )


async def hint_non_text(update: Update, context: BotContext) -> None:
    """Stickers, photos, voice: say what the bot understands."""
    message = update.effective_message
    if message is not None:
        await message.reply_text(
            "글로 질문해 주세요. 사진·스티커·음성은 이해하지 못해요. "
            "/topics 로 주제를 볼 수 있어요."
        )


async def press_button(update: Update, context: BotContext) -> None:
    """A button: ask its question, open a topic, or record feedback."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    data = query.data
    message = query.message if isinstance(query.message, Message) else None
    if data.startswith(ASK_PREFIX):
        await query.answer()
        intent_id = data[len(ASK_PREFIX) :]
        reply = context.service.engine.answer_intent(
            intent_id,
            english=_english(update),
            conversation=conversation_key(update),
            memory=context.service.memory,
        )
        if message is not None:
            private = message.chat.type == ChatType.PRIVATE
            await send_reply(message, reply, short=not private)
    elif data.startswith(TOPIC_PREFIX):
        await query.answer()
        category_id = data[len(TOPIC_PREFIX) :]
        for cid, title, questions in context.service.engine.categories():
            if cid == category_id and message is not None:
                await message.reply_text(
                    f"{title}: 궁금한 질문을 고르세요.",
                    reply_markup=InlineKeyboardMarkup(question_buttons(questions)),
                )
                break
    elif data.startswith(FEEDBACK_PREFIX):
        sign, _, question_id = data[len(FEEDBACK_PREFIX) :].partition(":")
        positive = sign == "+"
        if question_id.isdigit():
            await asyncio.to_thread(context.records.feedback, int(question_id), positive)
        await query.answer("고마워요!" if positive else "알려 주셔서 고마워요. 더 나아질게요.")
        if message is not None:
            try:
                await message.edit_reply_markup(
                    reply_markup=_without_feedback(message.reply_markup)
                )
            except BadRequest as exc:
                logger.info("could not remove feedback buttons: %s", exc)
    else:
        await query.answer("이 버튼은 더 이상 쓸 수 없어요.")


def _without_feedback(markup: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    if markup is None:
        return None
    rows = [
        list(row)
        for row in markup.inline_keyboard
        if not any(
            isinstance(b.callback_data, str) and b.callback_data.startswith(FEEDBACK_PREFIX)
            for b in row
        )
    ]
    return InlineKeyboardMarkup(rows) if rows else None


async def answer_inline(update: Update, context: BotContext) -> None:
    """Inline mode: answer cards for `@bot 질문`, best first."""
    query = update.inline_query
    if query is None:
        return
    text = query.query.strip()
    engine = context.service.engine
    results: list[InlineQueryResultArticle] = []
    if text:
        reply = engine.ask(text)  # on the loop: see answer_and_record
        if reply.answered:
            replies = [reply]
            replies += [
                engine.answer_intent(s.intent_id, english=reply.english) for s in reply.related
            ]
        else:
            replies = [
                engine.answer_intent(s.intent_id, english=reply.english) for s in reply.suggestions
            ]
    else:
        replies = [engine.answer_intent(s.intent_id) for s in engine.topics()]
    for n, item in enumerate(replies[:INLINE_RESULTS]):
        if item.intent_id is None:
            continue
        results.append(
            InlineQueryResultArticle(
                id=f"{n}:{item.intent_id}"[:64],
                title=item.question[:100],
                description=item.text[:200],
                input_message_content=InputTextMessageContent(plain_reply(item)),
            )
        )
    await query.answer(results, cache_time=60, is_personal=False)


async def log_error(update: object, context: BotContext) -> None:
    """Log the error with the update that caused it; tell the person politely."""
    summary = "no update"
    if isinstance(update, Update):
        chat = update.effective_chat
        summary = f"update {update.update_id} in chat {chat.id if chat else '-'}"
    logger.error("error while handling %s", summary, exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        chat = update.effective_chat
        if chat is not None and chat.type == ChatType.PRIVATE:
            try:
                await update.effective_message.reply_text(
                    "죄송해요, 답을 만드는 중에 문제가 생겼어요. 잠시 후 다시 물어봐 주세요."
                )
            except Exception:  # the network may be what failed; logged above already
                logger.warning("could not tell the user about the error")
