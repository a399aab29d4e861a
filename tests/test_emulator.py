"""Tests of the Bot API emulator itself, driven by a real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from botapi_emulator import (
    BotApiEmulator,
    EntityParseError,
    parse_html,
    parse_markdown_v2,
    utf16_len,
)
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

USER_ID = 424242
GROUP_ID = -1001234567890


@pytest.fixture(autouse=True)
def _no_emulator_bugs(emulator: BotApiEmulator) -> Iterator[None]:
    yield
    assert emulator.internal_errors == []


def make_bot(emu: BotApiEmulator, token: str | None = None) -> Bot:
    return Bot(token or emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url)


@contextlib.asynccontextmanager
async def running_app(
    emu: BotApiEmulator, *handlers: Any
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """A real PTB Application polling the emulator; fails the test on handler errors."""
    app = (
        ApplicationBuilder()
        .token(emu.token)
        .base_url(emu.base_url)
        .base_file_url(emu.base_file_url)
        .build()
    )
    errors: list[object] = []

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        errors.append(context.error)

    for handler in handlers:
        app.add_handler(handler)
    app.add_error_handler(on_error)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert not errors, errors


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_message.text is not None
    await update.effective_message.reply_text(f"echo: {update.effective_message.text}")


# ---------------------------------------------------------------------------------------------
# Plain Bot calls
# ---------------------------------------------------------------------------------------------


async def test_get_me(emulator: BotApiEmulator, bot_token: str) -> None:
    async with make_bot(emulator) as bot:
        me = await bot.get_me()
    assert me.id == 987654321 == int(bot_token.split(":")[0])
    assert me.is_bot
    assert me.first_name == "사고 안내봇"
    assert me.username == "kakao_outage_bot"
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False
    assert me.supports_inline_queries is True
    assert emulator.calls_to("getme")[0].method == "getMe"


async def test_wrong_token_and_unknown_method(emulator: BotApiEmulator) -> None:
    async with make_bot(emulator) as bot:
        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("fooBar")
    with pytest.raises(InvalidToken, match="rejected"):
        async with make_bot(emulator, "123:AAH-wrong-token-for-tests_0123456789"):
            pass

    async with aiohttp.ClientSession() as session:
        url = f"{emulator.base_url}{emulator.token}"
        async with session.post(f"{url}/fooBar") as resp:
            assert resp.status == 404
            assert await resp.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
        async with session.get(f"{url}/GETME") as resp:  # case-insensitive, GET works too
            body = await resp.json()
            assert resp.status == 200 and body["result"]["username"] == "kakao_outage_bot"
        async with session.post(f"{emulator.base_url}1:bad/getMe") as resp:
            assert resp.status == 401
            assert (await resp.json())["description"] == "Unauthorized"
        emulator.add_user(USER_ID)
        async with session.post(f"{url}/sendMessage", json={"chat_id": USER_ID, "text": "j"}) as r:
            assert (await r.json())["result"]["text"] == "j"


async def test_send_message_html(emulator: BotApiEmulator) -> None:
    emulator.add_user(USER_ID, "민수")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("확인", callback_data="ok")]])
    async with make_bot(emulator) as bot:
        msg = await bot.send_message(
            USER_ID,
            "  <b>😀굵게</b> <i>x</i> &lt;&amp;&gt; &#54620; "
            "<a href='https://example.com/?a=1&b=2'>링크</a> "
            '<pre><code class="language-python">print(1)</code></pre>\n',
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
        )
        second = await bot.send_message(USER_ID, "둘째", reply_parameters=ReplyParameters(msg.id))
    assert msg.text == "😀굵게 x <&> 한 링크 print(1)"
    assert msg.from_user is not None and msg.from_user.id == 987654321
    assert msg.chat.type == "private" and msg.chat.first_name == "민수"
    assert abs(msg.date.timestamp() - time.time()) < 5
    assert msg.reply_markup == keyboard
    entities = msg.parse_entities()
    by_type = {entity.type: text for entity, text in entities.items()}
    assert by_type[MessageEntity.BOLD] == "😀굵게"
    assert by_type[MessageEntity.ITALIC] == "x"
    assert by_type[MessageEntity.TEXT_LINK] == "링크"
    assert by_type[MessageEntity.PRE] == "print(1)"
    bold = msg.entities[0]
    assert (bold.offset, bold.length) == (0, 4)  # emoji = 2 UTF-16 units
    link = next(e for e in msg.entities if e.type == MessageEntity.TEXT_LINK)
    assert link.url == "https://example.com/?a=1&b=2"
    pre = next(e for e in msg.entities if e.type == MessageEntity.PRE)
    assert pre.language == "python"
    assert second.id == msg.id + 1
    assert second.reply_to_message is not None and second.reply_to_message.id == msg.id
    assert [m["text"] for m in emulator.sent_messages(USER_ID)] == [msg.text, "둘째"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("line<br>break", 'Unsupported start tag "br" at byte offset 4'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("AT&T", "Character '&' at byte offset 2"),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<span>s</span>", 'Tag "span" must have class "tg-spoiler"'),
        ("<b", "Unclosed start tag at byte offset 0"),
    ],
)
async def test_send_message_bad_html(emulator: BotApiEmulator, text: str, fragment: str) -> None:
    emulator.add_user(USER_ID)
    async with make_bot(emulator) as bot:
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(USER_ID, text, parse_mode=ParseMode.HTML)
    call = emulator.calls_to("sendMessage")[-1]
    assert call.status == 400
    assert call.error is not None
    assert call.error.startswith("Bad Request: can't parse entities: ")
    assert fragment in call.error
    assert emulator.sent_messages() == []


async def test_text_validation(emulator: BotApiEmulator) -> None:
    emulator.add_user(USER_ID)
    async with make_bot(emulator) as bot:
        await bot.send_message(USER_ID, "가" * 4096)
        await bot.send_message(USER_ID, "😀" * 2048)
        await bot.send_message(USER_ID, "<b>" + "a" * 4096 + "</b>", parse_mode=ParseMode.HTML)
        for too_long in ("가" * 4097, "😀" * 2049):
            with pytest.raises(BadRequest, match=r"(?i)message is too long"):
                await bot.send_message(USER_ID, too_long)
        for empty in ("   ", "<b> </b>"):
            with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
                await bot.send_message(USER_ID, empty, parse_mode=ParseMode.HTML)
        too_much_data = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await bot.send_message(USER_ID, "kb", reply_markup=too_much_data)
        ok_data = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="가" * 21)]])
        await bot.send_message(USER_ID, "kb", reply_markup=ok_data)  # 63 bytes
        with pytest.raises(BadRequest, match=r"(?i)button_text_invalid"):
            await bot.send_message(
                USER_ID,
                "kb",
                reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("", url="https://a.b")]]),
            )
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(777, "nobody")
        emulator.set_blocked(USER_ID)
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(USER_ID, "blocked")
    assert len(emulator.sent_messages()) == 4


async def test_markdown_v2_parser() -> None:
    text, entities = parse_markdown_v2(
        "*굵게* _기울임_ __밑줄__ ||스포|| `code` [링크](https://a.b/c\\)d)\\."
    )
    assert text == "굵게 기울임 밑줄 스포 code 링크."
    assert [e["type"] for e in entities] == [
        "bold",
        "italic",
        "underline",
        "spoiler",
        "code",
        "text_link",
    ]
    assert entities[-1]["url"] == "https://a.b/c)d"
    with pytest.raises(EntityParseError, match="reserved"):
        parse_markdown_v2("끝.")
    with pytest.raises(EntityParseError, match="Can't find end of Bold entity"):
        parse_markdown_v2("*open")
    plain, html_entities = parse_html(
        "<tg-spoiler>a</tg-spoiler><blockquote expandable>q</blockquote>"
    )
    assert plain == "aq"
    assert [e["type"] for e in html_entities] == ["spoiler", "expandable_blockquote"]
    assert utf16_len("가😀") == 3


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_retry_after_then_success(emulator: BotApiEmulator) -> None:
    emulator.add_user(USER_ID)
    emulator.fail_next("sendMessage", 429, retry_after=7)
    emulator.fail_next("sendMessage", 500)
    emulator.fail_next("sendMessage", 502)
    async with make_bot(emulator) as bot:
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(USER_ID, "first")
        assert "Retry in 7 seconds" in str(info.value)  # parameters.retry_after was parsed
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(USER_ID, "second")
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(USER_ID, "third")
        msg = await bot.send_message(USER_ID, "fourth")
    assert msg.text == "fourth"
    statuses = [call.status for call in emulator.calls_to("sendMessage")]
    assert statuses == [429, 500, 502, 200]
    assert emulator.calls_to("sendMessage")[0].error == "Too Many Requests: retry after 7"
    assert [m["text"] for m in emulator.sent_messages()] == ["fourth"]


async def test_delay_causes_client_timeout(emulator: BotApiEmulator) -> None:
    emulator.add_user(USER_ID)
    emulator.delay("sendMessage", 1.0)
    async with make_bot(emulator) as bot:
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_message(USER_ID, "slow", read_timeout=0.2)
        assert time.monotonic() - started < 0.9
        # Telegram processed it although the client gave up: the classic duplicate risk.
        assert [m["text"] for m in emulator.sent_messages()] == ["slow"]
        emulator.delay("sendMessage", 0.4, process_first=False)
        with pytest.raises(TimedOut):
            await bot.send_message(USER_ID, "dropped", read_timeout=0.1)
        await asyncio.sleep(0.4)
    assert [m["text"] for m in emulator.sent_messages()] == ["slow"]
    assert emulator.calls_to("sendMessage")[-1].dropped


async def test_get_updates_long_polling(emulator: BotApiEmulator) -> None:
    async with make_bot(emulator) as bot:
        started = time.monotonic()
        assert await bot.get_updates(timeout=dt.timedelta(seconds=0.3)) == ()
        assert time.monotonic() - started >= 0.25

        poll = asyncio.create_task(bot.get_updates(timeout=3))
        await asyncio.sleep(0.1)
        first = emulator.private_message(USER_ID, "안녕하세요")
        started = time.monotonic()
        updates = await poll
        assert time.monotonic() - started < 1
        assert [u.update_id for u in updates] == [first["update_id"]]
        assert updates[0].message is not None and updates[0].message.text == "안녕하세요"

        second = emulator.private_message(USER_ID, "two")
        third = emulator.private_message(USER_ID, "three")
        # Without a higher offset nothing is confirmed: redelivery.
        again = await bot.get_updates(limit=2)
        assert [u.update_id for u in again] == [first["update_id"], second["update_id"]]
        assert emulator.deliveries[first["update_id"]] == 2
        rest = await bot.get_updates(offset=second["update_id"] + 1)
        assert [u.update_id for u in rest] == [third["update_id"]]
        assert emulator.confirmed_offset == second["update_id"] + 1
        assert [u["update_id"] for u in emulator.pending_updates()] == [third["update_id"]]
        assert await bot.get_updates(offset=third["update_id"] + 1) == ()
        assert emulator.pending_updates() == []

        # allowed_updates filters (and the filtered updates get confirmed past later)
        emulator.inline_query(USER_ID, "q")
        text_update = emulator.private_message(USER_ID, "only messages")
        filtered = await bot.get_updates(allowed_updates=["message"])
        assert [u.update_id for u in filtered] == [text_update["update_id"]]

        # A second poller terminates the first one with 409 Conflict.
        poll = asyncio.create_task(bot.get_updates(offset=text_update["update_id"] + 1, timeout=3))
        await asyncio.sleep(0.1)
        async with make_bot(emulator) as other:
            assert await other.get_updates(timeout=0) == ()
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await poll


async def test_application_private_echo_and_group_command(emulator: BotApiEmulator) -> None:
    seen_args: list[list[str]] = []

    async def status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        seen_args.append(list(context.args or []))
        await update.effective_message.reply_text("상태: 정상")

    handlers = (
        CommandHandler("status", status),
        MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, echo),
    )
    async with running_app(emulator, *handlers):
        mark = len(emulator.calls)
        private = emulator.private_message(USER_ID, "카카오톡 장애 원인은? 😀", first_name="민수")
        reply = await emulator.wait_for_call("sendMessage", since=mark)
        assert reply.params["chat_id"] == USER_ID
        assert reply.params["text"] == "echo: 카카오톡 장애 원인은? 😀"

        other_bot = emulator.group_message(GROUP_ID, 555, "/status@another_bot")
        group = emulator.group_message(
            GROUP_ID,
            555,
            "/status@kakao_outage_bot 서버 점검",
            is_forum=True,
            message_thread_id=7,
        )
        entity = group["message"]["entities"][0]
        assert entity == {"offset": 0, "length": 24, "type": "bot_command"}
        assert group["message"]["chat"] == {
            "id": GROUP_ID,
            "type": "supergroup",
            "title": f"Chat {GROUP_ID}",
            "is_forum": True,
        }
        answer = await emulator.wait_for_call(
            "sendMessage", lambda c: c.params["chat_id"] == GROUP_ID, since=mark
        )
        assert answer.params["message_thread_id"] == 7
        assert answer.result["is_topic_message"] is True
        assert answer.result["reply_to_message"]["message_id"] == group["message"]["message_id"]
        await emulator.wait_until_confirmed(group)
    assert seen_args == [["서버", "점검"]]
    assert len(emulator.calls_to("sendMessage")) == 2  # nothing for /status@another_bot
    emulator.assert_delivered_exactly_once([private, other_bot, group])
    assert emulator.pending_updates() == []


async def test_callback_query_round_trip(emulator: BotApiEmulator) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("확인", callback_data="ack:1")]])
        await update.effective_message.reply_text("버튼을 누르세요", reply_markup=keyboard)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("처리했습니다")
        await query.edit_message_text(f"눌림: {query.data}")

    async with running_app(
        emulator, CommandHandler("start", start), CallbackQueryHandler(pressed)
    ):
        emulator.private_message(USER_ID, "/start")
        sent = (await emulator.wait_for_call("sendMessage")).result
        assert sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "ack:1"
        update = emulator.callback_query(USER_ID, sent, "ack:1")
        answer = await emulator.wait_for_call("answerCallbackQuery")
        assert answer.params == {
            "callback_query_id": update["callback_query"]["id"],
            "text": "처리했습니다",
        }
        edit = await emulator.wait_for_call("editMessageText")
        assert edit.ok
    current = emulator.get_message(USER_ID, sent["message_id"])
    assert current is not None
    assert current["text"] == "눌림: ack:1" and "reply_markup" not in current
    assert "edit_date" in current
    async with make_bot(emulator) as bot:
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query(update["callback_query"]["id"])
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query("123")
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await bot.edit_message_text("눌림: ack:1", USER_ID, sent["message_id"])
        assert await bot.delete_message(USER_ID, sent["message_id"])
        with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
            await bot.delete_message(USER_ID, sent["message_id"])


async def test_inline_query_answered(emulator: BotApiEmulator) -> None:
    async def inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.inline_query is not None
        result = InlineQueryResultArticle(
            id="fact-1",
            title="장애 시작",
            input_message_content=InputTextMessageContent(
                "<b>2020-03-02</b> 장애", parse_mode=ParseMode.HTML
            ),
        )
        await update.inline_query.answer([result], cache_time=0)

    async with running_app(emulator, InlineQueryHandler(inline)):
        update = emulator.inline_query(USER_ID, "장애")
        call = await emulator.wait_for_call("answerInlineQuery")
    assert call.ok
    assert call.params["inline_query_id"] == update["inline_query"]["id"]
    assert call.params["results"][0]["id"] == "fact-1"
    assert call.params["results"][0]["input_message_content"]["parse_mode"] == "HTML"

    too_many = [
        InlineQueryResultArticle(
            id=str(i), title="t", input_message_content=InputTextMessageContent("x")
        )
        for i in range(51)
    ]
    second = emulator.inline_query(USER_ID, "more")
    async with make_bot(emulator) as bot:
        with pytest.raises(BadRequest, match=r"(?i)results_too_much"):
            await bot.answer_inline_query(second["inline_query"]["id"], too_many)
        assert await bot.answer_inline_query(second["inline_query"]["id"], too_many[:50])
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_inline_query(second["inline_query"]["id"], too_many[:1])


async def test_get_file_and_download(emulator: BotApiEmulator) -> None:
    content = "장애 보고서\n".encode() * 100
    update = emulator.document_message(USER_ID, "report.txt", content)
    document = update["message"]["document"]
    assert document["file_name"] == "report.txt" and document["file_size"] == len(content)
    async with make_bot(emulator) as bot:
        file = await bot.get_file(document["file_id"])
        assert file.file_path is not None and file.file_path.startswith(emulator.base_file_url)
        assert bytes(await file.download_as_bytearray()) == content
        with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
            await bot.get_file("nope")

        sent = await bot.send_document(
            USER_ID,
            b"uploaded bytes",
            filename="out.bin",
            caption="<i>첨부</i>",
            parse_mode=ParseMode.HTML,
        )
        assert sent.document is not None and sent.document.file_name == "out.bin"
        assert sent.caption == "첨부" and sent.caption_entities[0].type == MessageEntity.ITALIC
        again = await bot.get_file(sent.document.file_id)
        assert bytes(await again.download_as_bytearray()) == b"uploaded bytes"
        resent = await bot.send_document(USER_ID, sent.document.file_id)
        assert resent.document is not None
        assert resent.document.file_id == sent.document.file_id


async def test_misc_methods(emulator: BotApiEmulator) -> None:
    channel = emulator.channel_post(
        -1009876543210, "공지", title="장애 공지", username="kakao_notice"
    )
    emulator.sticker_message(USER_ID)
    emulator.photo_message(USER_ID, caption="사진")
    async with make_bot(emulator) as bot:
        commands = [BotCommand("status", "장애 상태"), BotCommand("help", "도움말")]
        assert await bot.set_my_commands(commands, scope=BotCommandScopeAllGroupChats())
        assert await bot.get_my_commands(scope=BotCommandScopeAllGroupChats()) == tuple(commands)
        assert await bot.get_my_commands() == ()
        with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
            await bot.set_my_commands([BotCommand("Bad-Command", "x")])
        assert await bot.delete_my_commands(scope=BotCommandScopeAllGroupChats())
        assert await bot.get_my_commands(scope=BotCommandScopeAllGroupChats()) == ()

        assert await bot.send_chat_action(USER_ID, "typing")
        member = await bot.get_chat_member(channel["channel_post"]["chat"]["id"], bot.id)
        assert member.status == "administrator"
        assert (await bot.get_chat_member(USER_ID, USER_ID)).status == "member"
        chat = await bot.get_chat("@kakao_notice")
        assert chat.type == "channel" and chat.title == "장애 공지"
        post = await bot.send_message("@kakao_notice", "점검 완료")
        assert post.sender_chat is not None and post.from_user is None

        assert await bot.set_webhook("https://example.com/hook")
        assert (await bot.get_webhook_info()).url == "https://example.com/hook"
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert emulator.pending_updates() == []
        assert await bot.get_updates() == ()
        assert await bot.close()
        assert await bot.log_out()

    emulator.raw_update({"mystery_update": {"x": 1}})
    async with running_app(emulator, MessageHandler(filters.ALL, echo)):
        await emulator.wait_until_confirmed()
    assert emulator.calls_to("sendMessage")[-1].params["text"] == "점검 완료"


async def test_stop_start_same_port(emulator: BotApiEmulator) -> None:
    emulator.add_user(USER_ID)
    port = emulator.port
    async with make_bot(emulator) as bot:
        first = await bot.send_message(USER_ID, "before")
        poll = asyncio.create_task(bot.get_updates(timeout=3))
        await asyncio.sleep(0.1)
        await emulator.stop()
        with pytest.raises(NetworkError):
            await poll  # the open long poll is dropped
        with pytest.raises(NetworkError):
            await bot.get_me()  # connection refused
        queued = emulator.private_message(USER_ID, "while down")
        await emulator.start()
        assert emulator.port == port
        second = await bot.send_message(USER_ID, "after")
        assert second.id == first.id + 2  # the user's message took one id in between
        updates = await bot.get_updates()
        assert [u.update_id for u in updates] == [queued["update_id"]]
    assert [m["text"] for m in emulator.sent_messages()] == ["before", "after"]
    assert emulator.deliveries[queued["update_id"]] == 1


async def test_application_survives_restart(emulator: BotApiEmulator) -> None:
    async with running_app(emulator, MessageHandler(filters.TEXT, echo)):
        emulator.private_message(USER_ID, "one")
        await emulator.wait_for_call("sendMessage")
        await emulator.stop()
        await asyncio.sleep(0.2)
        emulator.private_message(USER_ID, "two")
        await emulator.start()
        await emulator.wait_for_call("sendMessage", count=2, timeout=6)
    emulator.assert_delivered_exactly_once()
    assert [m["text"] for m in emulator.sent_messages()] == ["echo: one", "echo: two"]


async def test_wait_for_call_reports_what_happened(emulator: BotApiEmulator) -> None:
    emulator.add_user(USER_ID)
    async with make_bot(emulator) as bot:
        await bot.send_message(USER_ID, "hello")
    with pytest.raises(AssertionError, match=r"(?s)editMessageText.*sendMessage×1.*hello"):
        await emulator.wait_for_call("editMessageText", timeout=0.1)
    calls = await emulator.wait_for_call(
        "sendMessage", lambda c: c.params["text"] == "hello", count=1
    )
    assert calls.result["text"] == "hello"
