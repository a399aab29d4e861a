"""Small named exceptions, turned into user messages at the edges (CLI, Telegram)."""

from __future__ import annotations

from dataclasses import dataclass


class BotError(Exception):
    """Base class of every error this package raises on purpose."""


@dataclass(frozen=True)
class KnowledgeProblem:
    """One thing wrong in one knowledge file, precise enough to fix it."""

    file: str
    message: str
    line: int | None = None
    entry: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [where]
        if self.entry:
            parts.append(self.entry)
        if self.field:
            parts.append(f"field '{self.field}'")
        return f"{': '.join(parts)}: {self.message}"


class KnowledgeInvalid(BotError):
    """The knowledge files have problems; nothing was changed."""

    def __init__(self, problems: list[KnowledgeProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class StoreError(BotError):
    """The SQLite store could not be read or written."""


class ConfigError(BotError):
    """The configuration is missing something or is malformed."""


class ReloadInProgress(BotError):
    """Another reload is already running."""
