"""Admin operations end to end through the Bot API emulator: who may run them, reload,
upload, rollback, the inbox loop, statistics, and reloads under load."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from botapi_emulator import BotApiEmulator, Call
from telegram_helpers import buttons, polling, text_of, to_chat

from bot.config import Settings
from bot.records import Records
from bot.telegram.app import BotApplication

ADMIN = 4242
STRANGER = 5151
GROUP = -100300400
SHIPPED = Path(__file__).resolve().parent.parent / "knowledge"
YAML_NAME = "kakaotalk-outage-2020-03-02.yaml"
ADMIN_COMMANDS = ["/reload", "/rollback", "/unanswered", "/stats", "/why 원인은?"]


@pytest.fixture
def knowledge_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    shutil.copytree(SHIPPED, folder)
    return folder


@pytest.fixture
def settings(
    tmp_path: Path, knowledge_dir: Path, emulator: BotApiEmulator, bot_token: str
) -> Settings:
    return Settings(
        BOT_DB_PATH=tmp_path / "bot.db",
        BOT_KNOWLEDGE_DIR=knowledge_dir,
        BOT_ADMIN_IDS=str(ADMIN),
        BOT_MAX_FILE_BYTES=400_000,
        TELEGRAM_BOT_TOKEN=bot_token,
        TELEGRAM_API_BASE_URL=emulator.base_url,
        TELEGRAM_API_BASE_FILE_URL=emulator.base_file_url,
        BOT_GROUP_COOLDOWN=0,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[BotApplication]:
    async with polling(settings) as application:
        yield application


def records_of(app: BotApplication) -> Records:
    records = app.bot_data.records
    assert records is not None
    return records


def shipped_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((SHIPPED / YAML_NAME).read_text(encoding="utf-8"))
    return data


def dump(data: dict[str, Any]) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode("utf-8")


def with_new_intent(data: dict[str, Any]) -> dict[str, Any]:
    """The knowledge plus an intent about the article's section (IT/과학)."""
    data["intents"].append(
        {
            "id": "article_section",
            "category": "source",
            "question": "어느 분야 기사인가요?",
            "phrasings": [
                "어느 분야 기사인가요?",
                "기사 카테고리 뭐야",
                "무슨 섹션 기사임",
                "분야가 뭐야",
                "카테고리는?",
                "IT 섹션 기사야?",
                "어떤 분야로 분류됐어",
                "섹션 알려줘",
            ],
            "answer": "서울경제의 IT/과학 분야 기사입니다.",
            "quotes": ["서울경제 / IT/과학"],
        }
    )
    return data


async def ask(emulator: BotApiEmulator, user: int, text: str, count: int) -> str:
    """Send a private message and return the text of the `count`-th reply to that chat."""
    emulator.private_message(user, text)
    found = await emulator.wait_for_call("sendMessage", to_chat(user), count=count, timeout=15)
    return text_of(found if isinstance(found, Call) else found[-1])


async def test_non_admin_is_refused_every_admin_command_and_it_is_recorded(
    app: BotApplication, emulator: BotApiEmulator
) -> None:
    for n, command in enumerate(ADMIN_COMMANDS, 1):
        reply = await ask(emulator, STRANGER, command, n)
        assert "관리자만" in reply
    group_updates = [emulator.group_message(GROUP, STRANGER, c) for c in ADMIN_COMMANDS]
    await emulator.wait_until_confirmed(group_updates[-1])
    await asyncio.sleep(0.3)
    assert emulator.sent_messages(GROUP) == []  # silence in groups
    refused = [r for r in records_of(app).audit_log(100) if r["outcome"] == "refused"]
    actions = {r["action"] for r in refused}
    assert actions == {"reload", "rollback", "unanswered", "stats", "why"}
    assert all(r["actor"] == STRANGER for r in refused)
    assert len(refused) == 2 * len(ADMIN_COMMANDS)


async def test_non_admin_upload_is_refused(
    app: BotApplication, emulator: BotApiEmulator, knowledge_dir: Path
) -> None:
    before = (knowledge_dir / YAML_NAME).read_bytes()
    emulator.document_message(STRANGER, YAML_NAME, dump(with_new_intent(shipped_data())))
    call = await emulator.wait_for_call("sendMessage", to_chat(STRANGER))
    assert "관리자만" in text_of(call)
    assert (knowledge_dir / YAML_NAME).read_bytes() == before


async def test_reload_with_a_broken_file_keeps_the_old_knowledge(
    app: BotApplication, emulator: BotApiEmulator, knowledge_dir: Path
) -> None:
    path = knowledge_dir / YAML_NAME
    path.write_text(
        path.read_text(encoding="utf-8").replace("10시 17분까지 약", "10시 18분까지 약"),
        encoding="utf-8",
    )
    reply = await ask(emulator, ADMIN, "/reload", 1)
    assert "not verbatim" in reply
    assert YAML_NAME in reply
    assert "이전 지식이 그대로" in reply
    answer = await ask(emulator, ADMIN, "언제 복구됐어?", 2)
    assert "10시 17분" in answer
    audit = records_of(app).audit_log(1)[0]
    assert audit["action"] == "reload" and audit["outcome"].startswith("refused")


async def test_reload_with_a_new_intent_answers_it(
    app: BotApplication, emulator: BotApiEmulator, knowledge_dir: Path
) -> None:
    before = await ask(emulator, ADMIN, "이 기사는 무슨 카테고리야", 1)
    assert "IT/과학" not in before
    (knowledge_dir / YAML_NAME).write_bytes(dump(with_new_intent(shipped_data())))
    reply = await ask(emulator, ADMIN, "/reload", 2)
    assert "intents added: article_section" in reply
    assert "self-check" in reply
    after = await ask(emulator, ADMIN, "이 기사는 무슨 카테고리야", 3)
    assert "IT/과학" in after


async def test_upload_good_then_rollback(
    app: BotApplication, emulator: BotApiEmulator, knowledge_dir: Path
) -> None:
    original = (knowledge_dir / YAML_NAME).read_bytes()
    emulator.document_message(ADMIN, YAML_NAME, dump(with_new_intent(shipped_data())))
    call = await emulator.wait_for_call("sendMessage", to_chat(ADMIN), timeout=15)
    assert "적용했어요" in text_of(call)
    assert "article_section" in text_of(call)
    assert (knowledge_dir / ".backups").is_dir()
    answer = await ask(emulator, ADMIN, "기사 카테고리가 뭐야", 2)
    assert "IT/과학" in answer
    reply = await ask(emulator, ADMIN, "/rollback", 3)
    assert "intents removed: article_section" in reply
    assert (knowledge_dir / YAML_NAME).read_bytes() == original
    audit = [r["action"] for r in records_of(app).audit_log(10)]
    assert audit[:2] == ["rollback", "upload"]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("../evil.yaml", b"incident: {}", "not allowed"),
        ("..\\evil.yaml", b"incident: {}", "not allowed"),
        (".hidden.yaml", b"incident: {}", "not allowed"),
        ("notes.txt", b"hello", "not allowed"),
        ("broken.yaml", b"incident: [unclosed", "YAML error"),
        ("second.yaml", b"incident:\n  id: x\n", "required field is missing"),
    ],
)
async def test_bad_uploads_change_nothing(
    app: BotApplication,
    emulator: BotApiEmulator,
    knowledge_dir: Path,
    tmp_path: Path,
    name: str,
    content: bytes,
    expected: str,
) -> None:
    before = sorted(p.name for p in knowledge_dir.iterdir())
    emulator.document_message(ADMIN, name, content)
    call = await emulator.wait_for_call("sendMessage", to_chat(ADMIN), timeout=15)
    assert expected in text_of(call)
    assert sorted(p.name for p in knowledge_dir.iterdir() if p.name != ".backups") == [
        n for n in before if n != ".backups"
    ]
    assert not (tmp_path / "evil.yaml").exists()
    answer = await ask(emulator, ADMIN, "언제 복구됐어?", 2)
    assert "10시 17분" in answer


async def test_oversized_upload_is_refused(
    app: BotApplication, emulator: BotApiEmulator, knowledge_dir: Path
) -> None:
    content = dump(shipped_data()) + b"# " + b"x" * 500_000 + b"\n"
    emulator.document_message(ADMIN, "big.yaml", content)
    call = await emulator.wait_for_call("sendMessage", to_chat(ADMIN), timeout=15)
    assert "limit" in text_of(call)
    assert not (knowledge_dir / "big.yaml").exists()


async def test_inbox_loop_from_declined_to_answered(
    app: BotApplication, emulator: BotApiEmulator, knowledge_dir: Path
) -> None:
    question = "톡 부활 타이밍"
    first = await ask(emulator, STRANGER, question, 1)
    assert "10시 17분" not in first
    await ask(emulator, STRANGER, "톡 부활 타이밍??", 2)  # the same, asked again
    emulator.private_message(ADMIN, "/unanswered")
    card = await emulator.wait_for_call(
        "sendMessage", lambda c: to_chat(ADMIN)(c) and question in text_of(c), timeout=10
    )
    assert "2번" in text_of(card)
    choose = next(b for b in buttons(card) if b["callback_data"].startswith("ic:"))
    message = emulator.get_message(ADMIN, card.result["message_id"])
    assert message is not None
    emulator.callback_query(ADMIN, message, choose["callback_data"])
    menu = await emulator.wait_for_call(
        "sendMessage", lambda c: to_chat(ADMIN)(c) and "어느 질문" in text_of(c), timeout=10
    )
    target = next(b for b in buttons(menu) if b["callback_data"].endswith(":outage_end"))
    menu_message = emulator.get_message(ADMIN, menu.result["message_id"])
    assert menu_message is not None
    emulator.callback_query(ADMIN, menu_message, target["callback_data"])
    applied = await emulator.wait_for_call(
        "sendMessage", lambda c: to_chat(ADMIN)(c) and "적용했어요" in text_of(c), timeout=15
    )
    assert "phrasings: +1" in text_of(applied)
    assert question in (knowledge_dir / YAML_NAME).read_text(encoding="utf-8")
    answer = await ask(emulator, STRANGER, question, 3)
    assert "10시 17분" in answer
    assert records_of(app).inbox() == []


async def test_thumbs_down_puts_the_question_in_the_inbox(
    app: BotApplication, emulator: BotApiEmulator
) -> None:
    emulator.private_message(STRANGER, "카톡 언제 복구됐어?")
    call = await emulator.wait_for_call("sendMessage", to_chat(STRANGER))
    down = next(b for b in buttons(call) if b["text"] == "👎")
    message = emulator.get_message(STRANGER, call.result["message_id"])
    assert message is not None
    emulator.callback_query(STRANGER, message, down["callback_data"])
    await emulator.wait_for_call("answerCallbackQuery")
    for _ in range(50):
        if records_of(app).inbox():
            break
        await asyncio.sleep(0.05)
    (group,) = records_of(app).inbox()
    assert group.text == "카톡 언제 복구됐어?"


async def test_stats_and_why(app: BotApplication, emulator: BotApiEmulator) -> None:
    await ask(emulator, STRANGER, "원인은?", 1)
    await ask(emulator, STRANGER, "오늘 날씨 어때", 2)
    stats = await ask(emulator, ADMIN, "/stats", 1)
    assert "최근 24시간 질문: 2" in stats
    assert "official_cause" in stats
    why = await ask(emulator, ADMIN, "/why 카톡 원잉이 뭐야", 2)
    assert "normalised:" in why and "official_cause" in why and "thresholds" in why
    # a best match declined all the same: both are shown
    why = await ask(emulator, ADMIN, "/why 2016년 카톡 몇 시간 멈췄어?", 3)
    assert "decline (not_covered), answered -, best match outage_duration" in why


async def test_questions_in_flight_during_reloads_all_get_answers(
    app: BotApplication, emulator: BotApiEmulator
) -> None:
    service = app.bot_data.service
    assert service is not None
    users = [7000 + n for n in range(200)]
    for user in users:
        emulator.private_message(user, "카톡 언제 복구됐어?" if user % 2 else "원인은?")
    reloads = [asyncio.to_thread(service.reload) for _ in range(10)]
    results = await asyncio.gather(*reloads, return_exceptions=True)
    calls = await emulator.wait_for_call(
        "sendMessage", lambda c: c.params.get("chat_id") in set(users), count=200, timeout=120
    )
    assert all(c.ok for c in calls)
    by_chat = {c.params["chat_id"]: text_of(c) for c in calls}
    assert len(by_chat) == 200
    for user, text in by_chat.items():
        assert ("10시 17분" if user % 2 else "네트워크") in text
    errors = [r for r in results if isinstance(r, Exception)]
    # Overlapping reloads are refused politely (one at a time); none may fail otherwise.
    assert all(type(e).__name__ == "ReloadInProgress" for e in errors)
    assert len(errors) < 10
