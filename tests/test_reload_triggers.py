"""Reloads not asked for in Telegram: `incident-bot reload` (a signal to the running bot)
and watching the knowledge folder. Both take the same safe path as /reload."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from botapi_emulator import BotApiEmulator
from click.testing import CliRunner
from telegram_helpers import polling, text_of, to_chat

from bot.cli import cli
from bot.config import Settings
from bot.records import Records
from bot.telegram.app import on_startup

SHIPPED = Path(__file__).resolve().parent.parent / "knowledge"
YAML_NAME = "kakaotalk-outage-2020-03-02.yaml"
USER = 6060


@pytest.fixture
def knowledge_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    shutil.copytree(SHIPPED, folder)
    return folder


def add_phrasing_by_hand(folder: Path) -> None:
    path = folder / YAML_NAME
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("  - recovery time\n", "  - recovery time\n  - 톡 부활 타이밍\n", 1),
        encoding="utf-8",
    )


async def wait_for_audit(db: Path, action: str, timeout: float = 30.0) -> dict[str, object]:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        records = Records(db)
        try:
            rows = [r for r in records.audit_log(20) if r["action"] == action]
        finally:
            records.close()
        if rows:
            return rows[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no audit entry {action!r} within {timeout}s")


async def test_cli_reload_signals_the_running_bot(
    tmp_path: Path, knowledge_dir: Path, emulator: BotApiEmulator, bot_token: str
) -> None:
    db = tmp_path / "bot.db"
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": bot_token,
        "TELEGRAM_API_BASE_URL": emulator.base_url,
        "TELEGRAM_API_BASE_FILE_URL": emulator.base_file_url,
        "BOT_DB_PATH": str(db),
        "BOT_KNOWLEDGE_DIR": str(knowledge_dir),
    }
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        await emulator.wait_for_call("setMyCommands", timeout=20)
        pid_file = Path(f"{db}.pid")
        for _ in range(400):  # a loaded machine (CI) may take a while
            if pid_file.exists():
                break
            await asyncio.sleep(0.05)
        assert pid_file.read_text().strip() == str(bot.pid)
        emulator.private_message(USER, "톡 부활 타이밍")
        first = await emulator.wait_for_call("sendMessage", to_chat(USER), timeout=20)
        assert "10시 17분" not in text_of(first)

        add_phrasing_by_hand(knowledge_dir)
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", "reload"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        assert f"pid {bot.pid}" in result.stdout
        entry = await wait_for_audit(db, "reload (SIGHUP)")
        assert str(entry["outcome"]).startswith("ok")
        emulator.private_message(USER, "톡 부활 타이밍")
        calls = await emulator.wait_for_call("sendMessage", to_chat(USER), count=2, timeout=20)
        assert "10시 17분" in text_of(calls[1])
    finally:
        bot.send_signal(signal.SIGTERM)
        output, _ = await asyncio.to_thread(bot.communicate, timeout=20)
    assert bot_token not in output
    assert bot_token.split(":")[1] not in output
    assert not Path(f"{db}.pid").exists()


def test_cli_reload_without_a_running_bot_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "x.db"), "reload"])
    assert result.exit_code == 1
    assert "no running bot found" in result.output


def test_cli_audit_prints_entries(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    records = Records(db)
    records.audit(42, "reload", "knowledge folder", "ok: 25 intents")
    records.close()
    result = CliRunner().invoke(cli, ["--db", str(db), "audit"])
    assert result.exit_code == 0
    assert "admin 42" in result.output and "reload" in result.output and "ok: 25" in result.output


async def test_watching_the_folder_reloads_on_change(
    tmp_path: Path, knowledge_dir: Path, emulator: BotApiEmulator, bot_token: str
) -> None:
    settings = Settings(
        BOT_DB_PATH=tmp_path / "bot.db",
        BOT_KNOWLEDGE_DIR=knowledge_dir,
        BOT_WATCH_KNOWLEDGE=True,
        BOT_WATCH_INTERVAL=0.2,
        TELEGRAM_BOT_TOKEN=bot_token,
        TELEGRAM_API_BASE_URL=emulator.base_url,
        TELEGRAM_API_BASE_FILE_URL=emulator.base_file_url,
    )
    async with polling(settings) as app:
        await on_startup(app)
        add_phrasing_by_hand(knowledge_dir)
        entry = await wait_for_audit(tmp_path / "bot.db", "reload (file change)")
        assert str(entry["outcome"]).startswith("ok")
        emulator.private_message(USER, "톡 부활 타이밍")
        call = await emulator.wait_for_call("sendMessage", to_chat(USER), timeout=10)
        assert "10시 17분" in text_of(call)
        # A broken edit is refused and the last good knowledge keeps answering.
        path = knowledge_dir / YAML_NAME
        path.write_text(path.read_text(encoding="utf-8") + "\nbroken: [\n", encoding="utf-8")
        await asyncio.sleep(1.0)
        emulator.private_message(USER, "원인은?")
        calls = await emulator.wait_for_call("sendMessage", to_chat(USER), count=2, timeout=10)
        assert "네트워크" in text_of(calls[1])
