"""What the bot keeps about its own use: asked questions (for the inbox and statistics)
and the audit log of admin actions. Stored in the same SQLite file as the knowledge, in
tables a knowledge reload never touches. No user names are kept; the audit names the
acting admin by Telegram id.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils
from rapidfuzz import fuzz

from bot.engine.answers import Reply
from bot.language.normalize import clean, to_jamo

QUESTIONS = "questions"
AUDIT = "audit"
INBOX_OPEN = "open"
# The questions table's columns after its integer primary key, in order.
QUESTION_SCHEMA: dict[str, type] = {
    "asked_at": str,
    "text": str,
    "chat_type": str,
    "kind": str,
    "reason": str,
    "intent": str,
    "confidence": float,
    "best_intent": str,
    "best_score": float,
    "feedback": str,
    "inbox": str,
}
_INSERT_QUESTION = (
    f"INSERT INTO [{QUESTIONS}] ([{'], ['.join(QUESTION_SCHEMA)}]) "
    f"VALUES ({', '.join('?' * len(QUESTION_SCHEMA))})"
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


@dataclass(frozen=True)
class InboxGroup:
    """Similar unanswered questions, most frequent first."""

    question_id: int  # the representative question
    text: str
    count: int
    best_intent: str | None
    best_score: float
    member_ids: tuple[int, ...]


@dataclass(frozen=True)
class Stats:
    day: int
    week: int
    answered_rate_week: float
    top_intents: list[tuple[str, int]]
    refusals: list[tuple[str, int]]
    by_chat_type: list[tuple[str, int, int]]  # chat type, questions, answered


class Records:
    """Questions and audit entries; safe to call from several threads."""

    def __init__(self, path: Path | str, *, retention_days: int = 90) -> None:
        self.retention_days = retention_days
        self._lock = threading.Lock()
        if str(path) == ":memory:":
            self.db = sqlite_utils.Database(memory=True)
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite_utils.Database(sqlite3.connect(str(path), check_same_thread=False))
            self.db.enable_wal()
            # In WAL mode NORMAL still never corrupts the file and a process crash loses
            # nothing; only a power cut may lose the last questions. FULL would fsync every
            # question (2.5 ms each, serialised by the lock), capping answers near 400/s.
            self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("PRAGMA busy_timeout = 5000")
        with self._lock:
            self._ensure_tables()

    def _ensure_tables(self) -> None:
        if not self.db.table(QUESTIONS).exists():
            self.db.table(QUESTIONS).create(
                {"id": int, **QUESTION_SCHEMA},
                pk="id",
            )
            self.db.table(QUESTIONS).create_index(["asked_at"])
        if not self.db.table(AUDIT).exists():
            self.db.table(AUDIT).create(
                {"id": int, "at": str, "actor": int, "action": str, "detail": str, "outcome": str},
                pk="id",
            )

    def close(self) -> None:
        self.db.close()

    def record_question(self, reply: Reply, chat_type: str, *, low_confidence: float) -> int:
        """Store one question; declined and unsure ones go to the inbox. Returns its id."""
        best = reply.candidates[0] if reply.candidates else None
        unsure = reply.kind != "answer" or reply.confidence < low_confidence
        worth_review = unsure and reply.reason not in {"empty", "small_talk", "acknowledged"}
        row: dict[str, Any] = {
            "asked_at": _iso(_now()),
            "text": reply.question[:1000],
            "chat_type": chat_type,
            "kind": reply.kind,
            "reason": reply.reason,
            "intent": reply.intent_id if reply.answered else None,
            "confidence": round(reply.confidence, 4),
            "best_intent": best.intent_id if best else reply.intent_id,
            "best_score": round(best.score / 100.0, 4) if best else reply.confidence,
            "feedback": None,
            "inbox": INBOX_OPEN if worth_review else None,
        }
        # One parameterised statement: Table.insert looks the table and its views up on
        # every call, most of the 0.09 ms an insert took at 300 questions/s.
        with self._lock, self.db.conn:
            cursor = self.db.execute(_INSERT_QUESTION, [row[column] for column in QUESTION_SCHEMA])
        row_id = cursor.lastrowid
        assert row_id is not None
        return int(row_id)

    def feedback(self, question_id: int, positive: bool) -> bool:
        """Record 👍/👎 on an answered question; 👎 puts it into the inbox."""
        with self._lock:
            rows = list(self.db.query("SELECT id FROM questions WHERE id = ?", [question_id]))
            if not rows:
                return False
            update: dict[str, Any] = {"feedback": "up" if positive else "down"}
            if not positive:
                update["inbox"] = INBOX_OPEN
            self.db.table(QUESTIONS).update(question_id, update)
        return True

    def question(self, question_id: int) -> dict[str, Any] | None:
        with self._lock:
            rows = list(self.db.query("SELECT * FROM questions WHERE id = ?", [question_id]))
        return rows[0] if rows else None

    def close_inbox(self, question_ids: list[int] | tuple[int, ...], status: str) -> None:
        with self._lock:
            for question_id in question_ids:
                self.db.table(QUESTIONS).update(question_id, {"inbox": status})

    def purge(self) -> int:
        """Forget questions older than the retention period; return how many."""
        cutoff = _iso(_now() - dt.timedelta(days=self.retention_days))
        with self._lock:
            cursor = self.db.execute("DELETE FROM questions WHERE asked_at < ?", [cutoff])
            self.db.conn.commit()
        return int(cursor.rowcount or 0)

    def inbox(self, *, days: int = 7, limit: int = 10) -> list[InboxGroup]:
        """Open inbox questions of the last `days`, grouped by similarity."""
        since = _iso(_now() - dt.timedelta(days=days))
        with self._lock:
            rows = list(
                self.db.query(
                    "SELECT id, text, best_intent, best_score FROM questions "
                    "WHERE inbox = ? AND asked_at >= ? ORDER BY id",
                    [INBOX_OPEN, since],
                )
            )
        groups: list[dict[str, Any]] = []
        for row in rows:
            key = to_jamo(clean(row["text"]).replace(" ", ""))
            for group in groups:
                if fuzz.ratio(key, group["key"]) >= 85:
                    group["members"].append(row)
                    break
            else:
                groups.append({"key": key, "members": [row]})
        groups.sort(key=lambda g: (-len(g["members"]), -g["members"][-1]["id"]))
        out = []
        for group in groups[:limit]:
            members = group["members"]
            votes = Counter(m["best_intent"] for m in members if m["best_intent"])
            best_intent = votes.most_common(1)[0][0] if votes else None
            first = members[-1]
            out.append(
                InboxGroup(
                    question_id=int(first["id"]),
                    text=str(first["text"]),
                    count=len(members),
                    best_intent=best_intent,
                    best_score=float(first["best_score"] or 0.0),
                    member_ids=tuple(int(m["id"]) for m in members),
                )
            )
        return out

    def group_of(self, question_id: int, *, days: int = 7) -> InboxGroup | None:
        """The open inbox group a question belongs to."""
        for group in self.inbox(days=days, limit=1000):
            if question_id in group.member_ids:
                return group
        return None

    def stats(self) -> Stats:
        now = _now()
        day = _iso(now - dt.timedelta(days=1))
        week = _iso(now - dt.timedelta(days=7))
        with self._lock:
            q = self.db.query
            n_day = next(q("SELECT count(*) AS n FROM questions WHERE asked_at >= ?", [day]))["n"]
            week_row = next(
                q(
                    "SELECT count(*) AS n, sum(kind = 'answer') AS answered FROM questions "
                    "WHERE asked_at >= ?",
                    [week],
                )
            )
            top = [
                (r["intent"], r["n"])
                for r in q(
                    "SELECT intent, count(*) AS n FROM questions WHERE asked_at >= ? AND "
                    "intent IS NOT NULL GROUP BY intent ORDER BY n DESC LIMIT 5",
                    [week],
                )
            ]
            refusals = [
                (r["reason"] or r["kind"], r["n"])
                for r in q(
                    "SELECT kind, reason, count(*) AS n FROM questions WHERE asked_at >= ? "
                    "AND kind != 'answer' GROUP BY kind, reason ORDER BY n DESC",
                    [week],
                )
            ]
            chats = [
                (r["chat_type"], r["n"], r["answered"] or 0)
                for r in q(
                    "SELECT chat_type, count(*) AS n, sum(kind = 'answer') AS answered "
                    "FROM questions WHERE asked_at >= ? GROUP BY chat_type ORDER BY n DESC",
                    [week],
                )
            ]
        total = int(week_row["n"] or 0)
        answered = int(week_row["answered"] or 0)
        return Stats(
            day=int(n_day),
            week=total,
            answered_rate_week=answered / total if total else 0.0,
            top_intents=top,
            refusals=refusals,
            by_chat_type=chats,
        )

    def audit(self, actor: int, action: str, detail: str, outcome: str) -> None:
        """Write one admin action to the audit log."""
        with self._lock:
            self.db.table(AUDIT).insert(
                {
                    "at": _iso(_now()),
                    "actor": actor,
                    "action": action,
                    "detail": detail[:2000],
                    "outcome": outcome[:2000],
                }
            )

    def audit_log(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.db.query("SELECT * FROM audit ORDER BY id DESC LIMIT ?", [limit]))
