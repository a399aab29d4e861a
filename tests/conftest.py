"""Shared pytest fixtures."""

import copy
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from botapi_emulator import BotApiEmulator

from bot.config import Settings
from bot.engine.dialogue import Engine
from bot.knowledge.loader import Knowledge, load_knowledge


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


# --- Knowledge fixtures -------------------------------------------------------------------

SHIPPED_KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "knowledge"
KNOWLEDGE_YAML = "kakaotalk-outage-2020-03-02.yaml"
KNOWLEDGE_ARTICLE = "kakaotalk-outage-2020-03-02.txt"


def dump_knowledge_yaml(data: dict[str, Any]) -> str:
    """YAML text of a knowledge dict, one scalar per line (so line numbers are predictable)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's is 5x faster
    return yaml.dump(data, Dumper=dumper, allow_unicode=True, sort_keys=False, width=100_000)


@pytest.fixture(scope="session")
def shipped_knowledge_dir() -> Path:
    """The knowledge folder shipped with the project."""
    return SHIPPED_KNOWLEDGE_DIR


@pytest.fixture(scope="session")
def shipped_yaml_text() -> str:
    return (SHIPPED_KNOWLEDGE_DIR / KNOWLEDGE_YAML).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def article_text() -> str:
    """The source article, exactly as shipped."""
    return (SHIPPED_KNOWLEDGE_DIR / KNOWLEDGE_ARTICLE).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def _shipped_data(shipped_yaml_text: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(shipped_yaml_text)
    return data


@pytest.fixture
def knowledge_data(_shipped_data: dict[str, Any]) -> dict[str, Any]:
    """A private, mutable copy of the shipped knowledge as plain YAML data."""
    return copy.deepcopy(_shipped_data)


@pytest.fixture
def make_knowledge(tmp_path: Path) -> Callable[..., Path]:
    """Build a knowledge folder in tmp_path: the shipped article plus the given YAML content.

    `content` is a dict (dumped as YAML), a str (written as UTF-8) or bytes (written as is).
    """
    counter = itertools.count()

    def make(content: dict[str, Any] | str | bytes, name: str | None = None) -> Path:
        folder = tmp_path / (name or f"knowledge-{next(counter)}")
        folder.mkdir(parents=True)
        shutil.copyfile(SHIPPED_KNOWLEDGE_DIR / KNOWLEDGE_ARTICLE, folder / KNOWLEDGE_ARTICLE)
        target = folder / KNOWLEDGE_YAML
        if isinstance(content, dict):
            target.write_text(dump_knowledge_yaml(content), encoding="utf-8")
        elif isinstance(content, str):
            target.write_text(content, encoding="utf-8")
        else:
            target.write_bytes(content)
        return folder

    return make


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No BOT_*/TELEGRAM_* variables and no .env: settings come from defaults and the test."""
    for name in list(os.environ):
        if name.startswith(("BOT_", "TELEGRAM_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- Engine fixtures (question understanding) ---------------------------------------------


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    """The shipped knowledge, loaded and validated once per test session."""
    return load_knowledge([SHIPPED_KNOWLEDGE_DIR])


@pytest.fixture(scope="session")
def engine(knowledge: Knowledge) -> Engine:
    """One engine over the shipped knowledge (its match index is built once, here)."""
    return Engine(knowledge)


@pytest.fixture
def bot_settings(tmp_path: Path, emulator: BotApiEmulator, bot_token: str) -> Settings:
    """Settings of a bot that talks to the emulator, with its database in tmp_path."""
    return Settings(
        _env_file=None,
        BOT_DB_PATH=tmp_path / "bot.db",
        TELEGRAM_BOT_TOKEN=bot_token,
        TELEGRAM_API_BASE_URL=emulator.base_url,
        TELEGRAM_API_BASE_FILE_URL=emulator.base_file_url,
        BOT_GROUP_COOLDOWN=0,
    )
