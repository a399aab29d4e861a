"""The SQLite store of the knowledge (sqlite-utils), readable with the sqlite-utils CLI.

Knowledge tables are replaced as a whole, in one transaction, only after validation.
The canonical JSON of each file is kept too, so the bot can rebuild its in-memory
knowledge from the store alone when the files are broken.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.errors import StoreError
from bot.knowledge.loader import Knowledge, KnowledgeSource
from bot.knowledge.schema import KnowledgeFile

logger = logging.getLogger(__name__)

KNOWLEDGE_TABLES = (
    "knowledge_files",
    "incidents",
    "categories",
    "entities",
    "synonyms",
    "intents",
    "utterances",
    "quotes",
    "entity_answers",
    "related",
)

_SCHEMA: dict[str, tuple[dict[str, Any], str | tuple[str, ...] | None]] = {
    "knowledge_files": (
        {"name": str, "sha256": str, "incident_id": str, "json": str, "document": str},
        "name",
    ),
    "incidents": (
        {
            "id": str,
            "title": str,
            "title_en": str,
            "date": str,
            "timezone": str,
            "summary": str,
            "summary_en": str,
            "publisher": str,
            "author": str,
            "published": str,
            "url": str,
            "source_title": str,
            "file": str,
        },
        "id",
    ),
    "categories": ({"id": str, "incident_id": str, "title": str, "title_en": str}, "id"),
    "entities": (
        {"id": str, "incident_id": str, "name": str, "name_en": str, "default_intent": str},
        "id",
    ),
    "synonyms": ({"entity_id": str, "synonym": str}, None),
    "intents": (
        {
            "id": str,
            "incident_id": str,
            "category": str,
            "question": str,
            "question_en": str,
            "answer": str,
            "answer_en": str,
        },
        "id",
    ),
    "utterances": ({"intent_id": str, "kind": str, "text": str}, None),
    "quotes": ({"intent_id": str, "entity_id": str, "quote": str}, None),
    "entity_answers": (
        {"intent_id": str, "entity_id": str, "answer": str, "answer_en": str},
        None,
    ),
    "related": ({"intent_id": str, "related_id": str, "position": int}, None),
}


def _rows(source: KnowledgeSource) -> dict[str, list[dict[str, Any]]]:
    model = source.model
    inc = model.incident
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in KNOWLEDGE_TABLES}
    rows["knowledge_files"].append(
        {
            "name": source.path.name,
            "sha256": source.sha256,
            "incident_id": inc.id,
            "json": model.model_dump_json(),
            "document": source.document_text,
        }
    )
    rows["incidents"].append(
        {
            "id": inc.id,
            "title": inc.title,
            "title_en": inc.title_en,
            "date": inc.date.isoformat(),
            "timezone": inc.timezone,
            "summary": inc.summary,
            "summary_en": inc.summary_en,
            "publisher": inc.source.publisher,
            "author": inc.source.author,
            "published": inc.source.published.isoformat(),
            "url": inc.source.url,
            "source_title": inc.source.title,
            "file": source.path.name,
        }
    )
    for cat in model.categories:
        rows["categories"].append(
            {"id": cat.id, "incident_id": inc.id, "title": cat.title, "title_en": cat.title_en}
        )
    for ent in model.entities:
        rows["entities"].append(
            {
                "id": ent.id,
                "incident_id": inc.id,
                "name": ent.name,
                "name_en": ent.name_en,
                "default_intent": ent.default_intent,
            }
        )
        rows["synonyms"].extend({"entity_id": ent.id, "synonym": s} for s in ent.synonyms)
    for intent in model.intents:
        rows["intents"].append(
            {
                "id": intent.id,
                "incident_id": inc.id,
                "category": intent.category,
                "question": intent.question,
                "question_en": intent.question_en,
                "answer": intent.answer,
                "answer_en": intent.answer_en,
            }
        )
        rows["utterances"].extend(
            {"intent_id": intent.id, "kind": "phrasing", "text": p} for p in intent.phrasings
        )
        rows["utterances"].extend(
            {"intent_id": intent.id, "kind": "keyword", "text": k} for k in intent.keywords
        )
        rows["quotes"].extend(
            {"intent_id": intent.id, "entity_id": None, "quote": q} for q in intent.quotes
        )
        rows["related"].extend(
            {"intent_id": intent.id, "related_id": r, "position": n}
            for n, r in enumerate(intent.related)
        )
        for ea in intent.entity_answers:
            rows["entity_answers"].append(
                {
                    "intent_id": intent.id,
                    "entity_id": ea.entity,
                    "answer": ea.answer,
                    "answer_en": ea.answer_en,
                }
            )
            rows["quotes"].extend(
                {"intent_id": intent.id, "entity_id": ea.entity, "quote": q} for q in ea.quotes
            )
    return rows


class KnowledgeStore:
    """The SQLite database: knowledge tables plus the bot's own records."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite_utils.Database(self.path)
                self.db.enable_wal()
            else:
                self.db = sqlite_utils.Database(memory=True)
            self.db.execute("PRAGMA busy_timeout = 5000")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the database {path}: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> KnowledgeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_integrity(self) -> None:
        """Raise StoreError when SQLite reports the file as damaged."""
        try:
            result = self.db.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"the database {self.path} is damaged: {exc}") from exc
        if result is None or result[0] != "ok":
            raise StoreError(f"the database {self.path} is damaged: {result}")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            with self.db.atomic():
                yield
        except sqlite3.Error as exc:
            raise StoreError(f"database write failed, nothing was changed: {exc}") from exc

    def replace(self, knowledge: Knowledge) -> None:
        """Replace all stored knowledge with `knowledge`, atomically."""
        all_rows: dict[str, list[dict[str, Any]]] = {name: [] for name in KNOWLEDGE_TABLES}
        for source in knowledge.sources:
            for table, rows in _rows(source).items():
                all_rows[table].extend(rows)
        with self._transaction():
            for table in KNOWLEDGE_TABLES:
                columns, pk = _SCHEMA[table]
                t = self.db.table(table)
                if t.exists():
                    self.db.execute(f"DELETE FROM [{table}]")
                else:
                    t.create(columns, pk=pk)
                if all_rows[table]:
                    t.insert_all(all_rows[table])
            self._set_meta("content_hash", knowledge.content_hash)
            self._set_meta("loaded_at", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        self._ensure_indexes()

    def _ensure_indexes(self) -> None:
        for table, column in (
            ("utterances", "intent_id"),
            ("quotes", "intent_id"),
            ("synonyms", "entity_id"),
        ):
            self.db.table(table).create_index([column], if_not_exists=True)

    def _set_meta(self, key: str, value: str) -> None:
        meta = self.db.table("meta")
        if not meta.exists():
            meta.create({"key": str, "value": str}, pk="key")
        meta.upsert({"key": key, "value": value}, pk="key")

    def meta(self, key: str) -> str | None:
        if not self.db.table("meta").exists():
            return None
        rows = list(self.db.query("SELECT value FROM meta WHERE key = ?", [key]))
        return str(rows[0]["value"]) if rows else None

    def content_hash(self) -> str | None:
        """The hash of the knowledge last stored, or None when the store holds none."""
        return self.meta("content_hash")

    def read(self) -> Knowledge | None:
        """Rebuild the stored knowledge (as validated models), or None if there is none."""
        if not self.db.table("knowledge_files").exists():
            return None
        sources: list[KnowledgeSource] = []
        try:
            for row in self.db.query("SELECT * FROM knowledge_files ORDER BY name"):
                model = KnowledgeFile.model_validate_json(row["json"])
                sources.append(
                    KnowledgeSource(Path(row["name"]), model, row["document"], row["sha256"])
                )
        except (sqlite3.Error, ValueError) as exc:
            raise StoreError(f"stored knowledge cannot be read: {exc}") from exc
        if not sources:
            return None
        digest = (
            self.content_hash()
            or hashlib.sha256("".join(s.sha256 for s in sources).encode()).hexdigest()
        )
        intents = {i.id: (i, s) for s in sources for i in s.model.intents}
        return Knowledge(tuple(sources), digest, intents)

    def counts(self) -> dict[str, int]:
        """Row counts of the knowledge tables, for summaries."""
        return {
            name: self.db.table(name).count for name in KNOWLEDGE_TABLES if self.db[name].exists()
        }
