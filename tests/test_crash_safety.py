"""Crash safety of the knowledge store.

`kill -9` of `incident-bot load` at several moments, inside the store transaction included:
the database then holds the old or the new knowledge, complete, and the bot still answers.
A damaged database at start-up is moved aside and rebuilt; a missing one is created.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.bench import synthetic_knowledge_dir
from bot.config import Settings
from bot.knowledge.loader import load_knowledge
from bot.knowledge.store import KnowledgeStore
from bot.service import KnowledgeService

SHIPPED = Path(__file__).resolve().parent.parent / "knowledge"
BIG_FILE_BYTES = 200_000_000
FACTOR = 20
QUESTION = "언제 복구됐어?"
FACT = "10시 17분"


def incident_bot() -> list[str]:
    script = Path(sys.executable).with_name("incident-bot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    env["BOT_MAX_FILE_BYTES"] = str(BIG_FILE_BYTES)
    return env


@dataclass(frozen=True)
class Corpus:
    """The old (shipped) and the new (synthetic, FACTOR times larger) knowledge."""

    root: Path
    big_dir: Path
    base_db: Path  # holds the old knowledge
    old_hash: str
    new_hash: str
    old_intents: int
    new_intents: int
    old_counts: dict[str, int]
    new_counts: dict[str, int]
    completed_db: Path  # the base database after a load that was not interrupted
    wal_peak: int  # the largest -wal file seen during that load (reached at the commit)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    root = tmp_path_factory.mktemp("crash")
    big_dir = synthetic_knowledge_dir(SHIPPED, FACTOR, root / "big")
    old = load_knowledge([SHIPPED])
    new = load_knowledge([big_dir], max_file_bytes=BIG_FILE_BYTES)
    assert old.content_hash != new.content_hash
    base_db = root / "base.db"
    with KnowledgeStore(base_db) as store:
        store.replace(old)
        old_counts = store.counts()
    with KnowledgeStore(root / "new.db") as store:
        store.replace(new)
        new_counts = store.counts()
    assert old_counts != new_counts
    assert not Path(f"{base_db}-wal").exists()  # checkpointed on close: a clean starting point
    # One load without a kill: the control case, and the size the -wal file reaches.
    completed_db = root / "completed.db"
    shutil.copyfile(base_db, completed_db)
    sizes: list[int] = []

    def watch(_elapsed: float, wal: int) -> bool:
        sizes.append(wal)
        return False

    run = load_and_kill(completed_db, big_dir, watch, root)
    assert not run.killed and max(sizes) > 0
    return Corpus(
        root=root,
        big_dir=big_dir,
        base_db=base_db,
        old_hash=old.content_hash,
        new_hash=new.content_hash,
        old_intents=len(old.intents),
        new_intents=len(new.intents),
        old_counts=old_counts,
        new_counts=new_counts,
        completed_db=completed_db,
        wal_peak=max(sizes),
    )


@dataclass(frozen=True)
class Kill:
    killed: bool  # False: the load finished before the trigger fired
    elapsed: float
    wal_bytes: int  # size of the -wal file when the signal was sent (-1: none)


def load_and_kill(
    db: Path, knowledge: Path, trigger: Callable[[float, int], bool], cwd: Path
) -> Kill:
    """Run `incident-bot load` and SIGKILL it as soon as trigger(elapsed, wal_bytes) holds
    (wal_bytes is -1 while there is no -wal file)."""
    wal = Path(f"{db}-wal")
    started = time.monotonic()
    proc = subprocess.Popen(
        [*incident_bot(), "--db", str(db), "--knowledge", str(knowledge), "load"],
        env=child_env(),
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            elapsed = time.monotonic() - started
            try:
                size = wal.stat().st_size
            except FileNotFoundError:
                size = -1
            if proc.poll() is not None:
                return Kill(False, elapsed, size)
            if trigger(elapsed, size):
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
                assert proc.returncode == -signal.SIGKILL
                return Kill(True, elapsed, size)
            assert elapsed < 30, "the load took far too long"
            time.sleep(0.0005)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def stored_state(db: Path, corpus: Corpus) -> str:
    """'old' or 'new': the store opens, passes its integrity check, and holds one complete
    snapshot (JSON copy, tables and content hash all agree)."""
    with KnowledgeStore(db) as store:
        store.check_integrity()
        digest = store.content_hash()
        knowledge = store.read()
        counts = store.counts()
    assert knowledge is not None, "the store holds no knowledge at all"
    assert digest in (corpus.old_hash, corpus.new_hash), f"unknown content hash {digest}"
    state = "old" if digest == corpus.old_hash else "new"
    intents = corpus.old_intents if state == "old" else corpus.new_intents
    expected_counts = corpus.old_counts if state == "old" else corpus.new_counts
    assert knowledge.content_hash == digest
    assert len(knowledge.intents) == intents
    assert counts == expected_counts, f"tables do not match the {state} knowledge: {counts}"
    return state


def ask(db: Path, cwd: Path, knowledge: Path | None = None) -> dict[str, object]:
    args = [*incident_bot(), "--db", str(db)]
    if knowledge is not None:
        args += ["--knowledge", str(knowledge)]
    result = subprocess.run(
        [*args, "ask", "--json", QUESTION],
        env=child_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return answer


# When to kill, given (seconds since start, -wal bytes, -wal bytes at the commit); and where
# the kill lands: "before" the store is opened, "inside" the write transaction (the commit
# frame is the last one written, so below the peak size it cannot have been written yet), or
# "commit" (the commit frame written, the checkpoint not yet done).
TRIGGERS: dict[str, tuple[Callable[[float, int, int], bool], str]] = {
    "while-parsing-0.3s": (lambda elapsed, wal, peak: elapsed >= 0.3, "before"),
    "transaction-begins": (lambda elapsed, wal, peak: wal > 0, "inside"),
    "transaction-quarter-written": (lambda elapsed, wal, peak: wal >= peak // 4, "inside"),
    "transaction-half-written": (lambda elapsed, wal, peak: wal >= peak // 2, "inside"),
    "committed-not-checkpointed": (lambda elapsed, wal, peak: wal >= peak, "commit"),
}


@pytest.mark.parametrize("moment", list(TRIGGERS))
def test_kill_9_during_load_leaves_old_or_new_knowledge(
    corpus: Corpus, tmp_path: Path, moment: str
) -> None:
    condition, where = TRIGGERS[moment]
    db = tmp_path / "bot.db"
    for _attempt in range(3):  # the transaction lasts ~50 ms: retry if the poll missed it
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(corpus.base_db, db)
        kill = load_and_kill(
            db, corpus.big_dir, lambda e, w: condition(e, w, corpus.wal_peak), tmp_path
        )
        if kill.killed:
            break
    assert kill.killed, f"the load always finished before the kill ({kill})"
    if where == "before":
        assert kill.wal_bytes <= 0, "the kill was meant to land before the store was opened"
    else:
        assert kill.wal_bytes > 0, kill

    state = stored_state(db, corpus)
    if where == "before" or (where == "inside" and kill.wal_bytes < corpus.wal_peak):
        assert state == "old"
    # The bot answers from what was stored (the knowledge folder given here does not exist,
    # so start-up falls back on the store)...
    from_store = ask(db, tmp_path, knowledge=tmp_path / "no-such-folder")
    assert from_store["answered"] is True and FACT in str(from_store["answer"])
    assert stored_state(db, corpus) == state
    # ...and the store takes writes again: a normal start re-stores the shipped knowledge.
    normal = ask(db, tmp_path)
    assert normal["answered"] is True and FACT in str(normal["answer"])
    assert stored_state(db, corpus) == "old"


def test_completed_load_stores_the_new_knowledge(corpus: Corpus) -> None:
    """The control case: without a kill the same load replaces the knowledge."""
    assert stored_state(corpus.completed_db, corpus) == "new"
    assert not Path(f"{corpus.completed_db}-wal").exists()


# --- damaged or missing database at start-up --------------------------------------------


def _settings(db: Path) -> Settings:
    return Settings(_env_file=None, BOT_DB_PATH=db, BOT_KNOWLEDGE_DIR=SHIPPED)


def _damage_pages(db: Path) -> None:
    """Random bytes over everything after the first page (the header stays valid)."""
    data = bytearray(db.read_bytes())
    rng = random.Random(1)
    data[4096:] = bytes(rng.randrange(256) for _ in range(len(data) - 4096))
    db.write_bytes(bytes(data))


def _random_bytes(db: Path) -> None:
    db.write_bytes(random.Random(2).randbytes(len(db.read_bytes())))


def _truncated(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])


def _text_file(db: Path) -> None:
    db.write_text("this is not a database\n", encoding="utf-8")


@pytest.mark.parametrize("damage", [_damage_pages, _random_bytes, _truncated, _text_file])
def test_damaged_database_is_moved_aside_and_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: Callable[[Path], None]
) -> None:
    db = tmp_path / "bot.db"
    KnowledgeService(_settings(db)).start()
    damage(db)
    damaged = db.read_bytes()

    caplog.set_level(logging.INFO)
    service = KnowledgeService(_settings(db))
    service.start()

    reply = service.ask(QUESTION)
    assert reply.answered and FACT in reply.text
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors, "no ERROR log line about the damaged database"
    assert any(
        ("damaged" in r.getMessage() or "cannot open" in r.getMessage())
        and str(db) in r.getMessage()
        for r in errors
    )
    moved = sorted(tmp_path.glob("bot.db.corrupt-*"))
    assert moved and moved[0].read_bytes() == damaged
    with KnowledgeStore(db) as store:
        store.check_integrity()
        assert store.content_hash() == service.engine.knowledge.content_hash


def test_missing_database_is_created(tmp_path: Path) -> None:
    db = tmp_path / "not" / "yet" / "there" / "bot.db"
    service = KnowledgeService(_settings(db))
    service.start()
    assert service.ask(QUESTION).answered
    assert db.exists()
    with KnowledgeStore(db) as store:
        stored = store.read()
        assert stored is not None
        assert stored.content_hash == service.engine.knowledge.content_hash
