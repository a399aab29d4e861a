"""Configuration: one pydantic-settings object, built once at the entry point."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_KNOWLEDGE = PACKAGE_ROOT / "knowledge"
TOKEN_PATTERN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,60}$")


INSTALLED_KNOWLEDGE = Path(__file__).resolve().parent / "shipped_knowledge"


def _default_knowledge_dir() -> Path:
    """The source checkout's knowledge/, else the copy installed with the package."""
    if SHIPPED_KNOWLEDGE.is_dir():
        return SHIPPED_KNOWLEDGE
    if INSTALLED_KNOWLEDGE.is_dir():
        return INSTALLED_KNOWLEDGE
    return Path.cwd() / "knowledge"


class Settings(BaseSettings):
    """Every setting of the bot; environment variables and `.env` (names in the README)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # Knowledge and storage
    db_path: Path = Field(default=Path("data/incident-bot.db"), alias="BOT_DB_PATH")
    knowledge_dir: Path = Field(default_factory=_default_knowledge_dir, alias="BOT_KNOWLEDGE_DIR")
    max_file_bytes: int = Field(default=1_000_000, alias="BOT_MAX_FILE_BYTES", gt=0)
    max_yaml_aliases: int = Field(default=50, alias="BOT_MAX_YAML_ALIASES", ge=0)

    # Question understanding
    answer_threshold: float = Field(default=0.45, alias="BOT_ANSWER_THRESHOLD", ge=0, le=1)
    suggest_threshold: float = Field(default=0.25, alias="BOT_SUGGEST_THRESHOLD", ge=0, le=1)
    ambiguity_margin: float = Field(default=0.02, alias="BOT_AMBIGUITY_MARGIN", ge=0, le=1)
    clear_answer_threshold: float = Field(
        default=0.30, alias="BOT_CLEAR_ANSWER_THRESHOLD", ge=0, le=1
    )
    clear_margin: float = Field(default=0.10, alias="BOT_CLEAR_MARGIN", ge=0, le=1)
    # A follow-up whose reading is the previous fact or one near it: the context backs it.
    context_answer_threshold: float = Field(
        default=0.40, alias="BOT_CONTEXT_ANSWER_THRESHOLD", ge=0, le=1
    )
    context_margin: float = Field(default=0.08, alias="BOT_CONTEXT_MARGIN", ge=0, le=1)
    context_ttl_seconds: float = Field(default=600.0, alias="BOT_CONTEXT_TTL", gt=0)

    # Telegram
    telegram_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str = Field(
        default="https://api.telegram.org/bot", alias="TELEGRAM_API_BASE_URL"
    )
    telegram_api_base_file_url: str | None = Field(
        default=None, alias="TELEGRAM_API_BASE_FILE_URL"
    )
    group_cooldown_seconds: float = Field(default=3.0, alias="BOT_GROUP_COOLDOWN", ge=0)
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list, alias="BOT_ADMIN_IDS")
    log_level: str = Field(default="INFO", alias="BOT_LOG_LEVEL")

    # Admin
    inbox_retention_days: int = Field(default=90, alias="BOT_INBOX_RETENTION_DAYS", gt=0)
    watch_knowledge: bool = Field(default=False, alias="BOT_WATCH_KNOWLEDGE")
    watch_interval_seconds: float = Field(default=2.0, alias="BOT_WATCH_INTERVAL", gt=0)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
        if isinstance(value, int):
            return [value]
        return value

    def pid_path(self) -> Path:
        """Where a running bot writes its process id (for `incident-bot reload`)."""
        return Path(f"{self.db_path}.pid")

    def file_base_url(self) -> str:
        """The Bot API file URL matching the configured API URL."""
        if self.telegram_api_base_file_url:
            return self.telegram_api_base_file_url
        base = self.telegram_api_base_url
        if base.endswith("/bot"):
            return base[: -len("/bot")] + "/file/bot"
        return base.rstrip("/") + "/file/bot"
