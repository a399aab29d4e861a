"""The real Telegram application, end to end over HTTP against the Bot API emulator."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botapi_emulator import BotApiEmulator
from telegram_helpers import buttons, polling, text_of, to_chat

from bot.config import Settings
from bot.telegram.app import BotApplication, register_commands

USER = 5001
GROUP = -100200300
CHANNEL = -100900900
FORUM = -100777


@pytest.fixture
def settings(bot_settings: Settings) -> Settings:
    return bot_settings


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[BotApplication]:
    async with polling(settings) as application:
        yield application


async def assert_silent(emulator: BotApiEmulator, update: dict[str, Any]) -> None:
    """The update was received and handled, and the bot sent nothing."""
    await emulator.wait_until_confirmed(update)
    await asyncio.sleep(0.3)
    assert emulator.calls_to("sendMessage") == []


async def test_private_question_gets_answer_with_source_and_buttons(
    app: BotApplication, emulator: BotApiEmulator
) -> None:
    emulator.private_message(USER, "카톡 언제 복구됐어?")
    call = await emulator.wait_for_call("sendMessage", to_chat(USER))
    assert call.ok
    assert call.params["parse_mode"] == "HTML"
    shown = text_of(call)
    assert "10시 17분" in shown
    assert "서울경제" in shown
    labels = [b["text"] for b in buttons(call)]
    assert 2 <= len([b for b in buttons(call) if b["callback_data"].startswith("q:")]) <= 3
    assert "👍" in labels and "👎" in labels


async def test_follow_up_uses_the_conversation(
    app: BotApplication, emulator: BotApiEmulator
) -> None:
    emulator.private_message(USER, "카카오톡은 언제 복구됐어?")
    await emulator.wait_for_call("sendMessage", to_chat(USER))
    emulator.private_message(USER, "그럼 카카오스토리는?")
    calls = await emulator.wait_for_call("sendMessage", to_chat(USER), count=2)
    assert "오후 3시" in text_of(calls[1])


async def test_button_press_answers_that_question(
    app: BotApplication, emulator: BotApiEmulator
) -> None:
    emulator.private_message(USER, "원인이 뭐야")
    first = await emulator.wait_for_call("sendMessage", to_chat(USER))
    button = next(b for b in buttons(first) if b["callback_data"].startswith("q:"))
    intent_id = button["callback_data"][2:]
    message = emulator.get_message(USER, first.result["message_id"])
    assert message is not None
    emulator.callback_query(USER, message, button["callback_data"])
    answered = await emulator.wait_for_call("answerCallbackQuery")
    assert answered.ok
    calls = await emulator.wait_for_call("sendMessage", to_chat(USER), count=2)
    settings_service = app.bot_data.service
    assert settings_service is not None
    expected = settings_service.engine.index.intents[intent_id].answer
    assert expected[:20] in text_of(calls[1])


async def test_start_welcomes_with_topics(app: BotApplication, emulator: BotApiEmulator) -> None:
    emulator.private_message(USER, "/start")
    call = await emulator.wait_for_call("sendMessage", to_chat(USER))
    assert "서울경제" in text_of(call)
    assert len(buttons(call)) >= 4


@pytest.mark.parametrize(
    ("command", "expected"),
    [("/source", "백주원"), ("/help", "/topics"), ("/topics", "어떤 주제")],
)
async def test_info_commands(
    app: BotApplication, emulator: BotApiEmulator, command: str, expected: str
) -> None:
    emulator.private_message(USER, command)
    call = await emulator.wait_for_call("sendMessage", to_chat(USER))
    assert expected in text_of(call)


async def test_refusal_offers_topics(app: BotApplication, emulator: BotApiEmulator) -> None:
    emulator.private_message(USER, "2022년 판교 데이터센터 화재 때 카톡은?")
    call = await emulator.wait_for_call("sendMessage", to_chat(USER))
    assert "10시 17분" not in text_of(call)
    assert len(buttons(call)) >= 2


async def test_sticker_gets_a_hint(app: BotApplication, emulator: BotApiEmulator) -> None:
    emulator.sticker_message(USER)
    call = await emulator.wait_for_call("sendMessage", to_chat(USER))
    assert "글로 질문" in text_of(call)


async def test_group_message_without_mention_is_ignored(
    app: BotApplication, emulator: BotApiEmulator
) -> None:
    update = emulator.group_message(GROUP, USER, "카톡 언제 복구됐어?")
    await assert_silent(emulator, update)


async def test_group_mention_is_answered_as_a_reply(
    app: BotApplication, emulator: BotApiEmulator
) -> None:
    update = emulator.group_message(GROUP, USER, "@kakao_outage_bot 언제 복구됐어?")
    call = await emulator.wait_for_call("sendMessage", to_chat(GROUP))
    assert "10시 17분" in text_of(call)
    reply_to = call.params.get("reply_parameters") or {}
    assert reply_to.get("message_id") == update["message"]["message_id"]
    assert "“" not in text_of(call)  # groups get the short form, without quotes


async def test_group_reply_to_the_bot_is_answered(
    app: BotApplication, emulator: BotApiEmulator
) -> None:
    emulator.group_message(GROUP, USER, "@kakao_outage_bot 원인은?")
    first = await emulator.wait_for_call("sendMessage", to_chat(GROUP))
    emulator.group_message(
        GROUP, USER, "몇 시에 시작됐어?", reply_to_bot_message_id=first.result["message_id"]
    )
    calls = await emulator.wait_for_call("sendMessage", to_chat(GROUP), count=2)
    assert "8시 58분" in text_of(calls[1])


async def test_ask_command_for_this_bot_and_for_another(
    app: BotApplication, emulator: BotApiEmulator
) -> None:
    other = emulator.group_message(GROUP, USER, "/ask@some_other_bot 언제 복구됐어?")
    await assert_silent(emulator, other)
    emulator.group_message(GROUP, USER, "/ask@kakao_outage_bot 언제 복구됐어?")
    call = await emulator.wait_for_call("sendMessage", to_chat(GROUP))
    assert "10시 17분" in text_of(call)


async def test_forum_topic_thread_is_preserved(
    app: BotApplication, emulator: BotApiEmulator
) -> None:
    emulator.group_message(
        FORUM, USER, "/ask 얼마나 오래 안됐어?", message_thread_id=42, is_forum=True
    )
    call = await emulator.wait_for_call("sendMessage", to_chat(FORUM))
    assert call.params.get("message_thread_id") == 42
    assert "1시간 20분" in text_of(call)


async def test_channel_post_with_ask_is_answered_in_the_channel(
    app: BotApplication, emulator: BotApiEmulator
) -> None:
    ignored = emulator.channel_post(CHANNEL, "오늘의 공지입니다")
    await assert_silent(emulator, ignored)
    emulator.channel_post(CHANNEL, "/ask 카카오가 밝힌 원인은?")
    call = await emulator.wait_for_call("sendMessage", to_chat(CHANNEL))
    assert "네트워크" in text_of(call)


async def test_inline_query_offers_answer_cards(
    app: BotApplication, emulator: BotApiEmulator
) -> None:
    emulator.inline_query(USER, "언제 복구됐어")
    call = await emulator.wait_for_call("answerInlineQuery")
    assert call.ok
    results = call.params["results"]
    assert 1 <= len(results) <= 3
    first = results[0]["input_message_content"]["message_text"]
    assert "10시 17분" in first
    assert "서울경제" in first


async def test_retry_after_429_then_success(app: BotApplication, emulator: BotApiEmulator) -> None:
    emulator.fail_next("sendMessage", 429, retry_after=1)
    emulator.private_message(USER, "언제 시작됐어?")
    calls = await emulator.wait_for_call("sendMessage", to_chat(USER), count=2, timeout=10)
    assert calls[0].status == 429
    assert calls[1].ok
    assert "8시 58분" in text_of(calls[1])


async def test_server_error_then_success(app: BotApplication, emulator: BotApiEmulator) -> None:
    emulator.fail_next("sendMessage", 500)
    emulator.private_message(USER, "언제 시작됐어?")
    calls = await emulator.wait_for_call("sendMessage", to_chat(USER), count=2, timeout=10)
    assert calls[0].status == 500
    assert calls[1].ok


async def test_malformed_update_does_not_stop_the_bot(
    app: BotApplication, emulator: BotApiEmulator
) -> None:
    emulator.raw_update({"message": {"text": "no chat, no date", "message_id": "x"}})
    emulator.raw_update({"some_future_update_kind": {"foo": 1}})
    emulator.private_message(USER, "언제 시작됐어?")
    call = await emulator.wait_for_call("sendMessage", to_chat(USER), timeout=10)
    assert "8시 58분" in text_of(call)


async def test_very_long_message_gets_a_reply_within_limits(
    app: BotApplication, emulator: BotApiEmulator
) -> None:
    emulator.private_message(USER, ("카톡 언제 복구됐어 <b>&amp; " * 400)[:10_000])
    call = await emulator.wait_for_call("sendMessage", to_chat(USER))
    assert call.ok
    assert len(text_of(call)) <= 4096


async def test_commands_are_registered_per_scope(
    app: BotApplication, emulator: BotApiEmulator
) -> None:
    await register_commands(app)
    scopes = {c.params["scope"]["type"] for c in emulator.calls_to("setMyCommands")}
    assert scopes == {"all_private_chats", "all_group_chats", "all_chat_administrators"}
    private = emulator.get_commands({"type": "all_private_chats"})
    assert {c["command"] for c in private} >= {"start", "ask", "topics", "source", "help"}


async def test_token_never_reaches_the_logs(
    settings: Settings,
    emulator: BotApiEmulator,
    bot_token: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with polling(settings):
        emulator.private_message(USER, "언제 복구됐어?")
        await emulator.wait_for_call("sendMessage", to_chat(USER))
    assert bot_token not in caplog.text
    assert bot_token.split(":")[1] not in caplog.text
