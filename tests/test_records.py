"""The question records: what a crash may and may not lose."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.records import Records

# Records questions in a child process, then dies without closing anything (as kill -9 would).
RECORD_THEN_DIE = """
import os, sys
from bot.engine.answers import Reply
from bot.records import Records

records = Records(sys.argv[1])
for n in range(int(sys.argv[2])):
    reply = Reply(kind="answer", question=f"q{n}", text="a", confidence=0.9, english=False)
    records.record_question(reply, "private", low_confidence=0.5)
os._exit(0)
"""


def test_recorded_questions_survive_a_process_that_dies_without_closing(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    subprocess.run([sys.executable, "-c", RECORD_THEN_DIE, str(db), "25"], check=True, timeout=60)
    records = Records(db)
    try:
        texts = [r["text"] for r in records.db.query("SELECT text FROM questions ORDER BY id")]
        assert texts == [f"q{n}" for n in range(25)]
        assert records.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        records.close()
